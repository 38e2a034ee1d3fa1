//! Spawning, watching, reaping, respawning and killing worker processes.
//!
//! # Threads
//!
//! - **The supervisor** (one per pool) starts every worker process and enforces task timeouts.
//!   All workers are started from this one long-lived thread because `PR_SET_PDEATHSIG` fires when
//!   the *thread* that forked a child exits, not the process: a worker started from a short-lived
//!   thread would be killed with it.
//! - **A watcher per worker** performs the handshake, then reads the worker's replies, completes
//!   their handles and dispatches the next queued task. When the channel ends it reaps the
//!   process, fails or retries the task it was running, and asks the supervisor for a replacement.
//!
//! # Rules
//!
//! 1. A pid is signalled only while holding the pool lock and only while its slot is not
//!    `dying`; the watcher sets `dying` under that lock *before* it reaps. So the pool never
//!    signals a pid that was reaped and maybe reused.
//! 2. Each task a worker runs gets a fresh sequence number; a kill (timeout, cancel) names the
//!    number it means and is ignored if the worker has moved on to another task.
//! 3. Every process started is reaped by its watcher, and the supervisor joins every watcher
//!    before it exits, so a dropped pool leaves no zombie.

use std::collections::BinaryHeap;
use std::io::{self, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::wire::{self, FrameError, ToParent, ToWorker};
use super::worker::{TEST_ENTRY, WORKER_FD_ENV};
use super::{Kill, Outbox, Shared, Slot};
use crate::error::{Error, Result};

/// What the supervisor is asked to do.
pub(super) enum Order {
    /// Start one more worker.
    Spawn,
    /// Kill worker `wid` if it is still running task `seq` at `at` (rule 2).
    Deadline {
        at: Instant,
        wid: u64,
        seq: u64,
        timeout: Duration,
    },
    /// Join every watcher and exit.
    Stop,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due(std::cmp::Reverse<Instant>, u64, u64, Duration);

/// How many workers in a row may die before their handshake before the pool gives up.
const STARTUP_ATTEMPTS: u32 = 10;

/// The supervisor thread's loop.
pub(super) fn supervise(shared: Arc<Shared>, orders: Receiver<Order>) {
    let mut watchers: Vec<JoinHandle<()>> = Vec::new();
    let mut due = BinaryHeap::new();
    loop {
        let order = match due.peek() {
            Some(Due(at, ..)) => orders.recv_deadline(at.0),
            None => orders.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match order {
            Ok(Order::Spawn) => {
                watchers.retain(|w| !w.is_finished());
                if let Some(w) = start_worker(&shared) {
                    watchers.push(w);
                }
            }
            Ok(Order::Deadline {
                at,
                wid,
                seq,
                timeout,
            }) => due.push(Due(std::cmp::Reverse(at), wid, seq, timeout)),
            Ok(Order::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        while due.peek().is_some_and(|d| d.0 .0 <= now) {
            let Due(_, wid, seq, timeout) = due.pop().expect("peeked");
            shared.kill_running(wid, seq, Kill::Timeout(timeout));
        }
    }
    for w in watchers {
        let _ = w.join();
    }
}

/// Starts a worker process and its watcher; on failure breaks the pool, naming the program.
fn start_worker(shared: &Arc<Shared>) -> Option<JoinHandle<()>> {
    let started = spawn_process(&shared.config.program).and_then(|(child, stream)| {
        let io = Arc::new(stream);
        let wid = shared.add_slot(Slot::new(child.id(), io.clone()));
        let watcher_shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("concur-watch-{}", child.id()))
            .spawn(move || watch(watcher_shared, wid, child, io))
    });
    match started {
        Ok(w) => Some(w),
        Err(e) => {
            shared.spawn_failed(format!(
                "cannot start worker process {}: {e}",
                shared.config.program.display()
            ));
            None
        }
    }
}

/// Starts `program` as a worker: a socketpair whose far end it inherits, the parent-death
/// signal, stdin from /dev/null, stdout and stderr shared with us.
fn spawn_process(program: &std::path::Path) -> io::Result<(Child, UnixStream)> {
    let (ours, theirs) = UnixStream::pair()?;
    let fd = theirs.as_raw_fd();
    let parent = std::process::id() as libc::pid_t;
    let mut command = Command::new(program);
    command
        .args([TEST_ENTRY, "--test-threads=1", "--nocapture", "-q"])
        .env(WORKER_FD_ENV, fd.to_string())
        .stdin(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (fcntl, prctl, getppid) and allocates nothing. Clearing FD_CLOEXEC affects only the
    // child's copy of the descriptor table, so other children never inherit this channel.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect: then nobody would kill us.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let child = command.spawn()?;
    drop(theirs);
    Ok((child, ours))
}

/// The watcher of worker `wid`: handshake, then replies until the channel ends, then the reaping.
fn watch(shared: Arc<Shared>, wid: u64, mut child: Child, io: Arc<UnixStream>) {
    super::POOL_THREAD.with(|p| p.set(true));
    let pid = child.id();
    let end = match io.try_clone() {
        Ok(stream) => serve(
            &shared,
            wid,
            pid,
            BufReader::with_capacity(64 * 1024, stream),
        ),
        Err(e) => Err(Error::Wire(format!(
            "cloning the channel of worker {pid}: {e}"
        ))),
    };
    // Make sure it is gone before waiting for it: it may have closed its end and gone on living.
    shared.kill_worker(wid, end.err().map(|e| Kill::Protocol(e.to_string())));
    shared.mark_dying(wid);
    // Rule 1: `dying` is set, nobody signals this pid any more; reaping now is safe.
    let status = loop {
        match child.wait() {
            Ok(status) => break Some(status),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break None,
        }
    };
    let cause = status.map_or_else(|| "could not be reaped".to_owned(), describe_status);
    shared.worker_gone(wid, pid, cause, status.and_then(|s| s.signal()).is_some());
}

/// Reads the next frame from worker `pid`. `Ok(false)` when the channel ended or broke: the worker
/// is gone or going, and its exit status will say why. A timeout or an invalid frame is an error.
fn next_frame(
    reader: &mut BufReader<UnixStream>,
    max: usize,
    frame: &mut Vec<u8>,
    pid: u32,
) -> Result<bool> {
    match wire::read_frame(reader, max, frame) {
        Ok(more) => Ok(more),
        Err(FrameError::Ended(_)) => Ok(false),
        Err(FrameError::TimedOut) => Err(Error::Wire(format!(
            "worker {pid} did not answer its handshake in time"
        ))),
        Err(FrameError::Invalid(why)) => Err(Error::Wire(format!("worker {pid}: {why}"))),
    }
}

/// Handshake, then the reply loop. `Ok` when the worker's channel ended; `Err` when the worker
/// broke the protocol.
fn serve(
    shared: &Arc<Shared>,
    wid: u64,
    pid: u32,
    mut reader: BufReader<UnixStream>,
) -> Result<()> {
    let config = &shared.config;
    let mut frame = Vec::new();
    let set_timeout = |r: &BufReader<UnixStream>, t: Option<Duration>| {
        r.get_ref()
            .set_read_timeout(t)
            .map_err(|e| Error::Wire(format!("worker {pid}: {e}")))
    };
    set_timeout(&reader, Some(config.handshake_timeout))?;
    if !next_frame(&mut reader, config.max_frame, &mut frame, pid)? {
        return Ok(()); // died before saying hello; worker_gone explains
    }
    match wire::decode::<ToParent>(&frame)?.0 {
        ToParent::Hello { protocol, .. } if protocol == wire::PROTOCOL => {}
        ToParent::Hello { protocol, .. } => {
            return Err(Error::Wire(format!(
                "worker {pid} speaks protocol {protocol}, the pool speaks {}",
                wire::PROTOCOL
            )))
        }
        other => {
            return Err(Error::Wire(format!(
                "worker {pid} began with {other:?} instead of Hello"
            )))
        }
    }
    if let Some((task, arg)) = &config.initializer {
        let io = shared.io(wid);
        if let Some(io) = io {
            wire::write_frame(&*io, &ToWorker::Init { task }, arg).map_err(|e| {
                Error::Wire(format!("sending the initializer to worker {pid}: {e}"))
            })?;
        }
        if !next_frame(&mut reader, config.max_frame, &mut frame, pid)? {
            return Ok(());
        }
        match wire::decode::<ToParent>(&frame)?.0 {
            ToParent::Ready => {}
            ToParent::InitFailed { message } => {
                shared.break_pool(format!("worker process {pid}: {message}"));
                return Ok(());
            }
            other => {
                return Err(Error::Wire(format!(
                    "worker {pid} answered {other:?} to its initializer"
                )))
            }
        }
    }
    set_timeout(&reader, None)?;
    shared.flush(shared.ready(wid));
    loop {
        if !next_frame(&mut reader, config.max_frame, &mut frame, pid)? {
            return Ok(());
        }
        let (reply, payload) = wire::decode::<ToParent>(&frame)?;
        let outcome = match reply {
            ToParent::Done => Ok(payload),
            ToParent::Failed { error } => Err(error),
            other => {
                return Err(Error::Wire(format!(
                    "worker {pid} sent {other:?} while running a task"
                )))
            }
        };
        let (job, outbox, ran) = shared.finished(wid).ok_or_else(|| {
            Error::Wire(format!(
                "worker {pid} sent a result while it was running no task"
            ))
        })?;
        shared.flush(outbox);
        if let Some(ran) = ran {
            shared.record(ran, outcome.as_ref().err());
        }
        match outcome {
            Ok(payload) => job.finish(payload),
            Err(error) => job.fail(error),
        }
        shared.changed.notify_all();
    }
}

/// Sends each frame of `outbox`. A failed write means the worker died; its watcher handles that.
///
/// Writing to a dead worker is `EPIPE`, never a fatal `SIGPIPE`: std sends on a `UnixStream`
/// with `MSG_NOSIGNAL` on Linux (and Rust programs ignore `SIGPIPE` from the start anyway).
pub(super) fn send(outbox: Outbox) {
    for (io, run) in outbox {
        let _ = match run {
            Some((task, payload)) => wire::write_frame(&*io, &ToWorker::Run { task }, &payload),
            None => wire::write_frame(&*io, &ToWorker::Exit, &[]),
        };
    }
}

/// SIGKILLs `pid`. Callers hold the pool lock and have checked the slot is not dying (rule 1).
pub(super) fn kill(pid: u32) {
    // SAFETY: kill(2) has no memory-safety preconditions; by rule 1 `pid` is our unreaped child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

/// "killed by signal 9 (SIGKILL)", "exited with status 3".
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!(
            "killed by signal {sig} ({}){}",
            signal_name(sig),
            if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            }
        ),
        (None, None) => format!("ended with {status}"),
    }
}

/// The conventional name of a signal number.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "unnamed signal",
    }
}

/// Whether a worker that died before its handshake should simply be replaced.
pub(super) fn retry_startup(failures: u32, by_signal: bool) -> bool {
    by_signal && failures < STARTUP_ATTEMPTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_name_the_signal_or_the_exit_code() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(libc::SIGSEGV | 0x80)),
            "killed by signal 11 (SIGSEGV), core dumped"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(signal_name(64), "unnamed signal");
    }

    #[test]
    fn startup_deaths_are_retried_only_when_signalled_and_not_forever() {
        assert!(retry_startup(1, true));
        assert!(
            !retry_startup(1, false),
            "a clean exit before hello means a misconfigured binary"
        );
        assert!(!retry_startup(STARTUP_ATTEMPTS, true));
    }
}
