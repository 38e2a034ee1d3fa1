//! [`ProcessPool`]: the [`Executor`] over crash-isolated worker processes.
//!
//! Workers are this program's own executable started again in worker mode (see [`init`]); they
//! run registered tasks (see [`task!`](crate::task!)) looked up by name, with arguments and
//! results in postcard over a private socketpair (see [`wire`]). Stdout and stdin are never used
//! for the channel, so tasks may print freely.
//!
//! # What it promises
//!
//! - **Every handle resolves exactly once**, whatever happens to the workers: with the value,
//!   the item's own panic, [`Error::WorkerDied`] naming the pid and the signal or exit status,
//!   [`Error::TaskTimeout`], [`Error::Cancelled`], [`Error::Unregistered`], [`Error::Broken`] or
//!   [`Error::Shutdown`].
//! - **Crash isolation**: a worker that dies (abort, SIGSEGV, SIGKILL, `exit(3)`, OOM kill) fails
//!   only the chunk it was running (or retries it, up to `max_retries` times) and is replaced.
//! - **Stopping running work**: with a task timeout, a task that runs too long has its worker
//!   killed and its handle fails with [`Error::TaskTimeout`]; `cancel()` on a running handle kills
//!   its worker too. Either way a replacement starts.
//! - **No leftovers**: dropping the pool waits for accepted work, then reaps every worker (no
//!   zombies). If this process dies, even by SIGKILL, its workers die with it
//!   (`PR_SET_PDEATHSIG`, and end of stream on the channel).
//! - Tasks start in submission order on whichever worker is idle (the most recently idle first,
//!   whose caches are warm). A `map` ships whole chunks: one message each way per chunk.
//!
//! # Enabling worker mode
//!
//! A binary calls [`init`] first thing in `main`. An integration-test crate instead invokes
//! [`enable_test_workers!`](crate::enable_test_workers) once at its top level. Without either,
//! building a pool fails with [`Error::Config`] saying so, rather than hanging.
//!
//! # Threads in the parent
//!
//! One supervisor thread per pool starts workers and enforces timeouts; one watcher thread per
//! worker reads its replies and completes handles. Done-callbacks run on that watcher, so keep
//! them short: one that blocks on another handle of the same pool may stall it. Submitting writes
//! the task straight to an idle worker from the submitting thread, so a round trip costs one
//! message each way and two thread wake-ups in the parent. Rules for signalling and reaping are
//! in `supervisor.rs`.

mod supervisor;
pub mod wire;
mod worker;

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

pub use supervisor::{describe_status, signal_name};
pub use worker::{init, TEST_ENTRY, WORKER_FD_ENV};

use crate::error::{Error, Result};
use crate::executor::{ChunkHandle, Executor};
use crate::handle::{Handle, Promise};
use crate::task::{encode_chunk, encode_one, TaskFn, Wire};
use crate::trace::{Outcome, TaskEvent, Trace, Worker as TraceWorker};
use supervisor::Order;

/// Frames to write once the pool lock is released: a task (`Some((name, inputs))`) or `Exit`.
type Outbox = Vec<(Arc<UnixStream>, Option<(&'static str, Arc<Vec<u8>>)>)>;

/// Why the pool killed a worker; decides the error of the task it was running.
enum Kill {
    Timeout(Duration),
    Cancelled,
    Protocol(String),
    /// Not a kill: it reached `max_tasks_per_child` and was told to exit.
    Retired,
}

/// A submitted task with its types erased: what the pool queues and completes.
trait Job: Send {
    fn start(&self) -> bool;
    fn is_done(&self) -> bool;
    fn on_cancel_running(&self, hook: Box<dyn FnOnce() + Send>);
    /// Completes the handle from a worker's `Done` payload.
    fn finish(self: Box<Self>, payload: &[u8]);
    /// Completes the handle with `error` (`Cancelled` marks it cancelled).
    fn fail(self: Box<Self>, error: Error);
}

struct TypedJob<T: Send + 'static, D> {
    promise: Promise<T>,
    decode: D,
}

impl<T, D> Job for TypedJob<T, D>
where
    T: Send + 'static,
    D: FnOnce(&[u8]) -> Result<T> + Send,
{
    fn start(&self) -> bool {
        self.promise.start()
    }

    fn is_done(&self) -> bool {
        self.promise.is_done()
    }

    fn on_cancel_running(&self, hook: Box<dyn FnOnce() + Send>) {
        self.promise.on_cancel_running(hook);
    }

    fn finish(self: Box<Self>, payload: &[u8]) {
        let outcome = (self.decode)(payload);
        self.promise.complete(outcome);
    }

    fn fail(self: Box<Self>, error: Error) {
        match error {
            Error::Cancelled => self.promise.cancel(),
            e => self.promise.complete(Err(e)),
        }
    }
}

/// A queued or running task.
struct Work {
    job: Box<dyn Job>,
    task: &'static str,
    payload: Arc<Vec<u8>>,
    retries: u32,
    started: bool,
    /// Timeline stamps, when the pool traces.
    stamp: Option<Stamp>,
}

/// When a traced task was submitted and last sent to a worker.
struct Stamp {
    id: u64,
    submitted: Instant,
    sent: Option<Instant>,
}

/// A finished task's stamp and the worker that ran it, recorded once its outcome is known.
pub(super) struct Ran {
    stamp: Stamp,
    task: &'static str,
    pid: u32,
}

/// One live worker process, from spawn until its watcher has reaped it.
struct Slot {
    pid: u32,
    io: Arc<UnixStream>,
    /// The task it runs, with its sequence number (supervisor rule 2).
    running: Option<(u64, Work)>,
    /// Set when the pool kills it; it then takes no more work.
    kill: Option<Kill>,
    /// Set by the watcher before reaping; nobody signals it afterwards (supervisor rule 1).
    dying: bool,
    ready: bool,
    tasks: usize,
}

impl Slot {
    fn new(pid: u32, io: Arc<UnixStream>) -> Slot {
        Slot {
            pid,
            io,
            running: None,
            kill: None,
            dying: false,
            ready: false,
            tasks: 0,
        }
    }
}

struct State {
    queue: VecDeque<Work>,
    slots: HashMap<u64, Slot>,
    idle: Vec<u64>,
    next_wid: u64,
    seq: u64,
    closed: bool,
    broken: Option<String>,
    /// Spawn orders sent to the supervisor and not yet carried out.
    spawning: usize,
    /// Workers in a row that died before they were ready.
    startup_failures: u32,
}

struct Config {
    workers: usize,
    max_tasks_per_child: Option<usize>,
    max_retries: u32,
    task_timeout: Option<Duration>,
    initializer: Option<(&'static str, Vec<u8>)>,
    max_frame: usize,
    program: PathBuf,
    handshake_timeout: Duration,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled whenever a worker becomes ready or goes away and whenever a task completes.
    changed: Condvar,
    config: Config,
    orders: Sender<Order>,
    trace: Option<Arc<Trace>>,
}

thread_local! {
    /// Set on the pool's own threads (watchers), which must never wait for the pool to stop.
    static POOL_THREAD: Cell<bool> = const { Cell::new(false) };
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Handles are completed and callbacks run outside this lock, so it is never poisoned by
        // user code; recover anyway rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn flush(&self, outbox: Outbox) {
        supervisor::send(outbox);
    }

    fn request_spawn(&self, st: &mut State) {
        st.spawning += 1;
        let _ = self.orders.send(Order::Spawn);
    }

    /// Gives queued work to idle workers. Runs under the lock; the frames go out after it.
    /// Sends queued work to idle workers. Once the pool is closed and nothing live is queued,
    /// idle workers are told to exit (work cancelled while queued no longer counts).
    fn dispatch(self: &Arc<Self>, st: &mut State, outbox: &mut Outbox) {
        self.send_queued(st, outbox);
        if st.closed {
            st.queue.retain(|w| !w.job.is_done());
            if st.queue.is_empty() {
                for wid in std::mem::take(&mut st.idle) {
                    if let Some(slot) = st.slots.get(&wid) {
                        outbox.push((slot.io.clone(), None));
                    }
                }
            }
        }
    }

    fn send_queued(self: &Arc<Self>, st: &mut State, outbox: &mut Outbox) {
        while !st.queue.is_empty() {
            let Some(&wid) = st.idle.last() else { break };
            let mut work = st.queue.pop_front().expect("queue is not empty");
            if work.job.is_done() {
                continue; // cancelled while queued; its promise is complete, dropping it is silent
            }
            st.seq += 1;
            let seq = st.seq;
            let pool = Arc::downgrade(self);
            work.job.on_cancel_running(Box::new(move || {
                if let Some(pool) = pool.upgrade() {
                    pool.kill_running(wid, seq, Kill::Cancelled);
                }
            }));
            if !work.started {
                if !work.job.start() {
                    continue;
                }
                work.started = true;
            }
            st.idle.pop();
            if let Some(stamp) = &mut work.stamp {
                stamp.sent = Some(Instant::now());
            }
            let slot = st.slots.get_mut(&wid).expect("idle workers have slots");
            outbox.push((slot.io.clone(), Some((work.task, work.payload.clone()))));
            slot.running = Some((seq, work));
            if let Some(timeout) = self.config.task_timeout {
                let at = Instant::now() + timeout;
                let _ = self.orders.send(Order::Deadline {
                    at,
                    wid,
                    seq,
                    timeout,
                });
            }
        }
    }

    /// Worker `wid` can take work: make it idle and dispatch, or let it go if none will come.
    fn make_idle(self: &Arc<Self>, st: &mut State, wid: u64, outbox: &mut Outbox) {
        let Some(slot) = st.slots.get(&wid) else {
            return;
        };
        if slot.kill.is_some() || slot.dying {
            return;
        }
        if st.broken.is_some() {
            outbox.push((slot.io.clone(), None));
            return;
        }
        st.idle.push(wid);
        self.dispatch(st, outbox);
    }

    fn push(self: &Arc<Self>, work: Work) -> Result<()> {
        let mut outbox = Vec::new();
        let refused = {
            let mut st = self.lock();
            if let Some(why) = &st.broken {
                Some((work, Error::Broken(why.clone())))
            } else if st.closed {
                Some((work, Error::Shutdown))
            } else {
                st.queue.push_back(work);
                self.dispatch(&mut st, &mut outbox);
                None
            }
        };
        self.flush(outbox);
        match refused {
            Some((_work, e)) => Err(e),
            None => Ok(()),
        }
    }

    fn add_slot(&self, slot: Slot) -> u64 {
        let mut st = self.lock();
        st.spawning = st.spawning.saturating_sub(1);
        let wid = st.next_wid;
        st.next_wid += 1;
        st.slots.insert(wid, slot);
        wid
    }

    fn spawn_failed(self: &Arc<Self>, why: String) {
        {
            let mut st = self.lock();
            st.spawning = st.spawning.saturating_sub(1);
        }
        self.break_pool(why);
    }

    /// Records a finished task on the timeline.
    fn record(&self, ran: Ran, failure: Option<&Error>) {
        let (Some(trace), Some(sent)) = (&self.trace, ran.stamp.sent) else {
            return;
        };
        trace.record(
            ran.pid as usize,
            TaskEvent {
                id: ran.stamp.id,
                label: ran.task.into(),
                worker: TraceWorker::Process(ran.pid),
                submitted: trace.offset(ran.stamp.submitted),
                started: trace.offset(sent),
                finished: trace.offset(Instant::now()),
                outcome: Outcome::failed_if(failure),
            },
        );
    }

    fn io(&self, wid: u64) -> Option<Arc<UnixStream>> {
        self.lock().slots.get(&wid).map(|s| s.io.clone())
    }

    /// The handshake of `wid` is complete.
    fn ready(self: &Arc<Self>, wid: u64) -> Outbox {
        let mut outbox = Vec::new();
        {
            let mut st = self.lock();
            st.startup_failures = 0;
            if let Some(slot) = st.slots.get_mut(&wid) {
                slot.ready = true;
            }
            self.make_idle(&mut st, wid, &mut outbox);
        }
        self.changed.notify_all();
        outbox
    }

    /// Worker `wid` answered: its task, and what to send next.
    fn finished(self: &Arc<Self>, wid: u64) -> Option<(Box<dyn Job>, Outbox, Option<Ran>)> {
        let mut outbox = Vec::new();
        let mut st = self.lock();
        let slot = st.slots.get_mut(&wid)?;
        let (_, work) = slot.running.take()?;
        let ran = work.stamp.map(|stamp| Ran {
            stamp,
            task: work.task,
            pid: slot.pid,
        });
        slot.tasks += 1;
        if self
            .config
            .max_tasks_per_child
            .is_some_and(|max| slot.tasks >= max)
        {
            slot.kill.get_or_insert(Kill::Retired);
            outbox.push((slot.io.clone(), None));
        } else {
            self.make_idle(&mut st, wid, &mut outbox);
        }
        Some((work.job, outbox, ran))
    }

    /// Kills `wid` if it still runs task `seq` (supervisor rules 1 and 2).
    fn kill_running(&self, wid: u64, seq: u64, why: Kill) {
        let mut st = self.lock();
        if let Some(slot) = st.slots.get_mut(&wid) {
            if !slot.dying
                && slot.kill.is_none()
                && slot.running.as_ref().is_some_and(|r| r.0 == seq)
            {
                slot.kill = Some(why);
                supervisor::kill(slot.pid);
            }
        }
    }

    /// Kills `wid` whatever it runs: its channel ended (`why` is `None`; a process that already
    /// exited keeps its exit status) or it broke the protocol.
    fn kill_worker(&self, wid: u64, why: Option<Kill>) {
        let mut st = self.lock();
        if let Some(slot) = st.slots.get_mut(&wid) {
            if !slot.dying {
                if slot.kill.is_none() {
                    slot.kill = why;
                }
                supervisor::kill(slot.pid);
            }
        }
    }

    fn mark_dying(&self, wid: u64) {
        let mut st = self.lock();
        st.idle.retain(|&w| w != wid);
        if let Some(slot) = st.slots.get_mut(&wid) {
            slot.dying = true;
        }
    }

    /// Worker `wid` (process `pid`) was reaped; `cause` says how it ended.
    fn worker_gone(self: &Arc<Self>, wid: u64, pid: u32, cause: String, by_signal: bool) {
        let mut outbox = Vec::new();
        let mut failed = Vec::new();
        {
            let mut st = self.lock();
            let Some(mut slot) = st.slots.remove(&wid) else {
                return;
            };
            let wanted = st.broken.is_none() && !(st.closed && st.queue.is_empty());
            if !slot.ready {
                if let (Some(Kill::Protocol(why)), true) = (&slot.kill, wanted) {
                    let why = format!("worker process {pid}: {why}");
                    failed.extend(self.break_locked(&mut st, why, &mut outbox));
                } else if wanted {
                    st.startup_failures += 1;
                    if supervisor::retry_startup(st.startup_failures, by_signal) {
                        self.request_spawn(&mut st);
                    } else {
                        let why = format!(
                            "worker process {pid} {cause} before it was ready: does `main` call \
                             concur::init() first (or the test crate invoke concur::enable_test_workers!())?"
                        );
                        failed.extend(self.break_locked(&mut st, why, &mut outbox));
                    }
                }
            } else {
                if let Some((_, mut work)) = slot.running.take() {
                    let error = match slot.kill.take() {
                        Some(Kill::Timeout(timeout)) => Some(Error::TaskTimeout { pid, timeout }),
                        Some(Kill::Cancelled) => Some(Error::Cancelled),
                        Some(Kill::Protocol(why)) => {
                            Some(Error::Wire(format!("worker process {pid}: {why}")))
                        }
                        Some(Kill::Retired) | None
                            if work.retries < self.config.max_retries
                                && !work.job.is_done()
                                && st.broken.is_none() =>
                        {
                            None
                        }
                        Some(Kill::Retired) | None => Some(Error::WorkerDied { pid, cause }),
                    };
                    match error {
                        Some(error) => failed.push((work, error)),
                        None => {
                            work.retries += 1;
                            st.queue.push_front(work);
                        }
                    }
                }
                if st.broken.is_none() && !(st.closed && st.queue.is_empty()) {
                    self.request_spawn(&mut st);
                }
                self.dispatch(&mut st, &mut outbox);
            }
        }
        self.flush(outbox);
        for (work, error) in failed {
            work.job.fail(error);
        }
        self.changed.notify_all();
    }

    /// Marks the pool broken: queued work is returned to be failed, idle workers are let go.
    fn break_locked(&self, st: &mut State, why: String, outbox: &mut Outbox) -> Vec<(Work, Error)> {
        let why = st.broken.get_or_insert(why).clone();
        for wid in st.idle.drain(..) {
            if let Some(slot) = st.slots.get(&wid) {
                outbox.push((slot.io.clone(), None));
            }
        }
        st.queue
            .drain(..)
            .map(|w| (w, Error::Broken(why.clone())))
            .collect()
    }

    fn break_pool(&self, why: String) {
        let mut outbox = Vec::new();
        let failed = {
            let mut st = self.lock();
            self.break_locked(&mut st, why, &mut outbox)
        };
        self.flush(outbox);
        for (work, error) in failed {
            work.job.fail(error);
        }
        self.changed.notify_all();
    }
}

type Initializer = (&'static str, Vec<u8>);

/// Configures a [`ProcessPool`].
///
/// ```no_run
/// # fn warm_up(_: ()) -> Result<(), String> { Ok(()) }
/// # concur::task! { static WARM_UP: fn(()) -> Result<(), String> = warm_up; }
/// use std::time::Duration;
/// let pool = concur::ProcessPool::builder()
///     .workers(4)
///     .max_tasks_per_child(1000)
///     .max_retries(1)
///     .task_timeout(Duration::from_secs(30))
///     .initializer(&WARM_UP, ())
///     .build()?;
/// # Ok::<(), concur::Error>(())
/// ```
#[must_use]
pub struct ProcessPoolBuilder {
    workers: Option<usize>,
    max_tasks_per_child: Option<usize>,
    max_retries: u32,
    task_timeout: Option<Duration>,
    initializer: Option<std::result::Result<Initializer, Error>>,
    max_frame: usize,
    handshake_timeout: Duration,
    program: Option<PathBuf>,
    trace: bool,
}

impl ProcessPoolBuilder {
    /// Records a timeline of every task (see [`Trace`]): one row per worker pid; off by default.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Number of worker processes (default: [`std::thread::available_parallelism`]). Zero is an
    /// error.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Replace each worker after it has run this many tasks (chunks), as Python's
    /// `max_tasks_per_child` does. Zero is an error.
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.max_tasks_per_child = Some(tasks);
        self
    }

    /// Resubmit a task whose worker died (not one that timed out or was cancelled) up to this many
    /// times before failing it with [`Error::WorkerDied`]. Default 0: tasks may have side effects.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Kill the worker of any task (chunk) that runs longer than `timeout`; its handle fails with
    /// [`Error::TaskTimeout`] within about `timeout` plus a few milliseconds.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// Run `init(arg)` in every worker before it takes work. If it returns `Err` or panics (or is
    /// not registered), the pool is broken: queued and later tasks fail with [`Error::Broken`]
    /// naming the worker and the message.
    pub fn initializer<A: Wire>(
        mut self,
        init: &'static TaskFn<A, std::result::Result<(), String>>,
        arg: A,
    ) -> Self {
        let encoded = postcard::to_stdvec(&vec![arg])
            .map(|bytes| (init.name(), bytes))
            .map_err(|e| {
                Error::Wire(format!(
                    "encoding the argument of initializer `{}`: {e}",
                    init.name()
                ))
            });
        self.initializer = Some(encoded);
        self
    }

    /// Largest frame accepted from a worker, in bytes (default 1 GiB). A larger one is a
    /// [`Error::Wire`] on the task and the worker is replaced.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// How long a new worker may take to say hello and run its initializer (default 30 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The executable to start as workers (default: this program's own,
    /// [`std::env::current_exe`]). It must call [`init`] first in `main` and register the tasks
    /// the pool will be given.
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// Starts the workers and waits until each has said hello and run the initializer.
    ///
    /// Fails with [`Error::Config`] if the settings are wrong, if this process is itself a worker
    /// that skipped [`init`], or if the workers cannot start (the message names the program and
    /// the pid and exit status of a worker that died early).
    pub fn build(self) -> Result<ProcessPool> {
        if std::env::var_os(WORKER_FD_ENV).is_some() {
            return Err(Error::Config(
                "this process was started as a concur worker but did not call concur::init() first in main \
                 (or, in a test crate, invoke concur::enable_test_workers!()); refusing to start workers \
                 of its own"
                    .into(),
            ));
        }
        let workers = match self.workers {
            Some(0) => {
                return Err(Error::Config(
                    "a process pool needs at least one worker".into(),
                ))
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_tasks_per_child == Some(0) {
            return Err(Error::Config(
                "max_tasks_per_child must be at least 1".into(),
            ));
        }
        let program = match self.program {
            Some(program) => program,
            None => std::env::current_exe().map_err(|e| {
                Error::Config(format!(
                    "cannot find this program's executable to start workers: {e}"
                ))
            })?,
        };
        let (orders, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                slots: HashMap::new(),
                idle: Vec::new(),
                next_wid: 0,
                seq: 0,
                closed: false,
                broken: None,
                spawning: 0,
                startup_failures: 0,
            }),
            changed: Condvar::new(),
            config: Config {
                workers,
                max_tasks_per_child: self.max_tasks_per_child,
                max_retries: self.max_retries,
                task_timeout: self.task_timeout,
                initializer: self.initializer.transpose()?,
                max_frame: self.max_frame,
                program,
                handshake_timeout: self.handshake_timeout,
            },
            orders,
            trace: self.trace.then(|| Arc::new(Trace::new(workers))),
        });
        let supervisor_shared = shared.clone();
        let supervisor = std::thread::Builder::new()
            .name("concur-supervisor".into())
            .spawn(move || supervisor::supervise(supervisor_shared, receiver))
            .map_err(|e| Error::Config(format!("cannot start the supervisor thread: {e}")))?;
        let pool = ProcessPool {
            shared,
            supervisor: Mutex::new(Some(supervisor)),
        };
        let mut st = pool.shared.lock();
        for _ in 0..workers {
            pool.shared.request_spawn(&mut st);
        }
        loop {
            if let Some(why) = &st.broken {
                let why = why.clone();
                drop(st);
                drop(pool);
                return Err(Error::Config(why));
            }
            if st.slots.values().filter(|s| s.ready).count() >= workers {
                break;
            }
            st = pool
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        drop(st);
        Ok(pool)
    }
}

/// A pool of worker processes running registered tasks, crash-isolated.
///
/// ```
/// use concur::{Executor, ProcessPool};
///
/// fn collatz_steps(mut n: u64) -> u32 {
///     let mut steps = 0;
///     while n > 1 {
///         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///         steps += 1;
///     }
///     steps
/// }
/// concur::task! { static COLLATZ: fn(u64) -> u32 = collatz_steps; }
///
/// fn main() -> concur::Result<()> {
///     concur::init(); // first thing in main: a worker never gets past this line
///
///     let pool = ProcessPool::new(2)?;
///     assert_eq!(pool.submit_task(&COLLATZ, 27)?.result()?, 111);
///     let steps: Vec<u32> = pool.map_task(&COLLATZ, 1..=6).chunksize(3).collect::<Result<_, _>>()?;
///     assert_eq!(steps, [0, 1, 7, 2, 5, 8]);
///     Ok(())
/// }
/// ```
pub struct ProcessPool {
    shared: Arc<Shared>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl ProcessPool {
    /// A pool of `workers` processes with default settings.
    pub fn new(workers: usize) -> Result<ProcessPool> {
        ProcessPool::builder().workers(workers).build()
    }

    /// A builder for every setting.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder {
            workers: None,
            max_tasks_per_child: None,
            max_retries: 0,
            task_timeout: None,
            initializer: None,
            max_frame: wire::DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(30),
            program: None,
            trace: false,
        }
    }

    /// The timeline recorder, if the pool was built with [`ProcessPoolBuilder::trace`].
    pub fn trace(&self) -> Option<&Arc<Trace>> {
        self.shared.trace.as_ref()
    }

    /// The process ids of the live workers that have finished their handshake, in no particular
    /// order.
    pub fn pids(&self) -> Vec<u32> {
        self.shared
            .lock()
            .slots
            .values()
            .filter(|s| s.ready && !s.dying)
            .map(|s| s.pid)
            .collect()
    }

    /// Stops accepting work (later submits are `Err(Shutdown)`). With `cancel_pending`, queued
    /// tasks are cancelled; otherwise they still run. With `wait`, blocks until every worker has
    /// exited and been reaped. Calling it again is harmless; from a done-callback (which runs on a
    /// pool thread) it never waits.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        let mut outbox = Vec::new();
        let cancelled: Vec<Work> = {
            let mut st = self.shared.lock();
            st.closed = true;
            let cancelled = if cancel_pending {
                st.queue.drain(..).collect()
            } else {
                Vec::new()
            };
            self.shared.dispatch(&mut st, &mut outbox);
            cancelled
        };
        self.shared.flush(outbox);
        for work in cancelled {
            work.job.fail(Error::Cancelled);
        }
        if !wait || POOL_THREAD.with(Cell::get) {
            return;
        }
        {
            let mut st = self.shared.lock();
            while !(st.slots.is_empty() && st.spawning == 0) {
                st = self
                    .shared
                    .changed
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        let _ = self.shared.orders.send(Order::Stop);
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.join();
        }
    }

    fn submit_work<T: Send + 'static>(
        &self,
        task: &'static str,
        payload: Vec<u8>,
        decode: impl FnOnce(&[u8]) -> Result<T> + Send + 'static,
    ) -> Result<Handle<T>> {
        if payload.len() > wire::MAX_PAYLOAD {
            return Err(Error::Wire(format!(
                "the inputs of `{task}` take {} bytes, more than one frame carries ({} bytes)",
                payload.len(),
                wire::MAX_PAYLOAD
            )));
        }
        let (promise, handle) = Promise::new();
        self.shared.push(Work {
            job: Box::new(TypedJob { promise, decode }),
            task,
            payload: Arc::new(payload),
            retries: 0,
            started: false,
            stamp: self.shared.trace.as_ref().map(|trace| Stamp {
                id: trace.next_id(),
                submitted: Instant::now(),
                sent: None,
            }),
        })?;
        Ok(handle)
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl Executor for ProcessPool {
    fn workers(&self) -> usize {
        self.shared.config.workers
    }

    fn submit_task<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        input: I,
    ) -> Result<Handle<O>> {
        let (payload, decode) = encode_one(task, input)?;
        self.submit_work(task.name(), payload, decode)
    }

    fn submit_chunk<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: Vec<I>,
    ) -> Result<ChunkHandle<O>> {
        let (payload, decode) = encode_chunk(task, inputs)?;
        self.submit_work(task.name(), payload, decode)
    }
}
