//! The worker process's side: how a binary becomes a worker, and the loop it runs.
//!
//! A worker is the pool's own executable, started again with [`WORKER_FD_ENV`] naming the file
//! descriptor of its end of a socketpair. [`init`] (called first thing in `main`) sees the variable
//! and never returns: it runs [`run`] and exits the process. Without the variable it returns at
//! once and the program goes on as usual.
//!
//! # What the loop promises
//!
//! - It says `Hello` first, then runs the initializer if asked, then answers every `Run` with
//!   exactly one `Done` or `Failed` frame, in order. Tasks run on the main thread, one at a time.
//! - A name the binary lacks answers [`Error::Unregistered`]; a panicking item fails only that
//!   item (the registry catches it).
//! - It exits with status 0 on `Exit` or when the pool's end of the channel closes (the parent
//!   died or dropped the pool); with status 1 when a frame from the parent is malformed. The
//!   parent's death while a task runs is covered by `PR_SET_PDEATHSIG`, set before `exec`.
//! - Stdout and stderr are the parent's; tasks may print freely, the channel is separate.

use std::io::{BufReader, BufWriter, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;

use super::wire::{self, ToParent, ToWorker};
use crate::error::{Error, Result};
use crate::task;

/// The environment variable that tells a starting process it is a worker, and which descriptor
/// its channel is.
pub const WORKER_FD_ENV: &str = "CONCUR_WORKER_FD";

/// The name of the test that [`enable_test_workers!`](crate::enable_test_workers) defines: worker
/// processes of a test binary are started with this test as their only filter.
pub const TEST_ENTRY: &str = "__concur_worker_entry";

/// Enters worker mode if this process was started as a process-pool worker; otherwise returns at
/// once. Call it first thing in `main`, before parsing arguments or starting threads.
///
/// In worker mode it never returns: it serves tasks until the pool lets it go, then exits the
/// process. A binary that creates a [`ProcessPool`](crate::ProcessPool) without calling it gets a
/// clear error from the pool instead of a hang.
///
/// ```no_run
/// fn shout(text: String) -> String {
///     text.to_uppercase()
/// }
/// concur::task! { static SHOUT: fn(String) -> String = shout; }
///
/// fn main() {
///     concur::init(); // before anything else: a worker never gets past this line
///     // ... the program: parse arguments, build process pools, submit SHOUT ...
/// }
/// ```
pub fn init() {
    let Some(fd) = std::env::var_os(WORKER_FD_ENV) else {
        return;
    };
    // Children of the worker's tasks must not believe they are workers too.
    std::env::remove_var(WORKER_FD_ENV);
    let code = match fd.to_str().and_then(|s| s.parse::<i32>().ok()) {
        Some(fd) if fd > 2 => match run(fd) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("concur worker {}: {e}", std::process::id());
                1
            }
        },
        _ => {
            eprintln!("concur worker: {WORKER_FD_ENV}={fd:?} is not a descriptor number");
            1
        }
    };
    std::process::exit(code);
}

/// Serves the pool on descriptor `fd` until told to exit or the channel closes.
fn run(fd: i32) -> Result<()> {
    // SAFETY: the pool passed this descriptor, the worker's end of a socketpair it created for this
    // process alone, and nothing else in this process refers to it: we take sole ownership.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    // SAFETY: fcntl on a descriptor we own; FD_CLOEXEC keeps programs that tasks `exec` from
    // inheriting the channel (they would hold it open after the worker died).
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    let reader_stream = stream
        .try_clone()
        .map_err(|e| Error::Wire(format!("cloning the channel: {e}")))?;
    let mut reader = BufReader::with_capacity(64 * 1024, reader_stream);
    let mut writer = BufWriter::with_capacity(64 * 1024, stream);
    let send = |w: &mut BufWriter<UnixStream>, msg: &ToParent, payload: &[u8]| -> Result<()> {
        wire::write_frame(&mut *w, msg, payload)
            .and_then(|()| w.flush())
            .map_err(|e| Error::Wire(format!("writing to the pool: {e}")))
    };
    send(
        &mut writer,
        &ToParent::Hello {
            protocol: wire::PROTOCOL,
            pid: std::process::id(),
        },
        &[],
    )?;
    let mut frame = Vec::new();
    loop {
        if !wire::read_frame(&mut reader, usize::MAX, &mut frame)? {
            return Ok(()); // the pool went away
        }
        let (msg, payload) = wire::decode::<ToWorker>(&frame)?;
        match msg {
            ToWorker::Exit => return Ok(()),
            ToWorker::Init { task } => {
                let reply = match run_initializer(task, payload) {
                    Ok(()) => ToParent::Ready,
                    Err(message) => ToParent::InitFailed { message },
                };
                let failed = matches!(reply, ToParent::InitFailed { .. });
                send(&mut writer, &reply, &[])?;
                if failed {
                    return Ok(());
                }
            }
            ToWorker::Run { task } => match task::lookup(task).and_then(|t| t.run_chunk(payload)) {
                Ok(results) if results.len() > wire::MAX_PAYLOAD => {
                    let error = Error::Wire(format!(
                        "the results of `{task}` take {} bytes, more than one frame carries",
                        results.len()
                    ));
                    send(&mut writer, &ToParent::Failed { error }, &[])?
                }
                Ok(results) => send(&mut writer, &ToParent::Done, &results)?,
                Err(error) => send(&mut writer, &ToParent::Failed { error }, &[])?,
            },
        }
    }
}

/// Runs the initializer `name` (a `TaskFn<A, Result<(), String>>`) on its one encoded argument.
fn run_initializer(name: &str, payload: &[u8]) -> std::result::Result<(), String> {
    let task = task::lookup(name).map_err(|e| format!("initializer: {e}"))?;
    let out = task
        .run_chunk(payload)
        .map_err(|e| format!("initializer `{name}`: {e}"))?;
    let out: Vec<Result<std::result::Result<(), String>>> = postcard::from_bytes(&out)
        .map_err(|e| format!("initializer `{name}` must return Result<(), String>: {e}"))?;
    match out.into_iter().next() {
        Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(e))) => Err(format!("initializer `{name}` failed: {e}")),
        Some(Err(e)) => Err(format!("initializer `{name}`: {e}")),
        None => Err(format!("initializer `{name}` returned nothing")),
    }
}

/// Makes a test binary able to serve as a process-pool worker under plain `cargo test`.
///
/// Invoke it once at the top level of every integration-test crate that creates a
/// [`ProcessPool`](crate::ProcessPool). It defines a test named [`TEST_ENTRY`] that does nothing
/// in a normal run; the pool starts its workers as `<test binary> __concur_worker_entry
/// --test-threads=1 --nocapture -q`, so in a worker the test harness runs only that test, which
/// calls [`init`] and becomes the worker. (A normal binary calls [`init`] in `main` before
/// looking at its arguments, so those extra arguments never reach it.)
///
/// ```ignore
/// concur::enable_test_workers!();
/// ```
#[macro_export]
macro_rules! enable_test_workers {
    () => {
        #[test]
        fn __concur_worker_entry() {
            $crate::init();
        }
    };
}
