//! [`ThreadPool`]: a fixed set of worker threads sharing one FIFO queue.
//!
//! # What it promises
//!
//! - `submit` never blocks and returns a [`Handle`] at once; jobs start in submission order.
//! - A panicking task fails only its handle; the worker catches the panic and goes on, so the
//!   pool keeps its size.
//! - **No deadlock from waiting inside a task.** A worker thread that blocks on a handle (or in
//!   `as_completed`, `wait`, `map`) runs other queued jobs of its pool while it waits, so a task
//!   may submit children and wait for them even on a one-worker pool, nested as deep as the stack
//!   allows. Python's `ThreadPoolExecutor` deadlocks here.
//! - If the initializer fails on any worker, the pool is *broken*: every queued and future task
//!   fails with [`Error::Broken`] naming the initializer's error.
//! - `shutdown(wait, cancel_pending)` stops accepting work (later submits are `Err(Shutdown)`),
//!   optionally cancels what is queued, and optionally joins the workers. Dropping the pool is
//!   `shutdown(true, false)`: every accepted task runs.
//!
//! # Cost per task
//!
//! A submit allocates once (the handle's cell holds the closure, see [`handle`](crate::handle))
//! and takes the queue's lock once; nothing is freed on the worker. Idle workers spin and yield
//! briefly before they park, and a submit wakes one parked worker only when some worker is
//! parked, so a busy pool makes no wake-up syscalls. Tracing off costs one untaken branch.
//!
//! # How shutdown stays exact
//!
//! The queue carries a *closed* flag under its lock. A submit checks it and queues its job in one
//! critical section; `shutdown` sets it, then queues one stop message per worker. Every accepted
//! job is therefore queued before the first stop message, and FIFO order runs it before any
//! worker exits. A job that is never run (its pool vanished) resolves as
//! `Shutdown` through its promise's drop (handle rule 4).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{select, Receiver, Sender, TryRecvError};

use crate::error::{panic_message, Error, Result};
use crate::executor::{ChunkHandle, Executor, Map};
use crate::handle::{Handle, Job, Promise};
use crate::task::{run_each, TaskFn, Wire};
use crate::trace::{Outcome, TaskEvent, Trace, Worker as TraceWorker};

/// What a traced job remembers from its submission. The trace itself is the running worker's
/// pool's (a job only ever runs on its own pool's workers), so a job holds no `Arc` to it: no
/// reference count bounces between the submitting thread and the workers.
struct Traced {
    id: u64,
    label: &'static str,
    submitted: Instant,
}

/// Runs `f` for the task with handle id `id`: panics caught, as a task of the wait-for graph
/// (waits made by `f` are waits of this task).
fn run_task<T>(f: impl FnOnce() -> T, id: usize) -> Result<T> {
    let _running = crate::sync::handle_waits::running(id);
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Error::Panicked(panic_message(&*p)))
}

/// The work a worker runs for `f`, given its handle's id.
fn work<T, F>(f: F) -> impl FnOnce(usize) -> Result<T> + Send + 'static
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    move |id| run_task(f, id)
}

/// [`work`], recorded on the timeline. A separate closure type, so that an untraced pool's jobs
/// do not carry the stamp, and a traced pool's need no second allocation for it.
fn traced_work<T, F>(f: F, t: Traced) -> impl FnOnce(usize) -> Result<T> + Send + 'static
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    move |id| {
        let started = Instant::now();
        let outcome = run_task(f, id);
        let finished = Instant::now();
        let worker = WORKER_INDEX.with(|i| i.get());
        WORKER_OF.with(|pool| {
            let pool = pool.borrow();
            let Some(trace) = pool.as_ref().and_then(|p| p.trace.as_ref()) else {
                return;
            };
            trace.record(
                worker,
                TaskEvent {
                    id: t.id,
                    label: Cow::Borrowed(t.label),
                    worker: TraceWorker::Thread(worker),
                    submitted: trace.offset(t.submitted),
                    started: trace.offset(started),
                    finished: trace.offset(finished),
                    outcome: Outcome::failed_if(outcome.as_ref().err()),
                },
            );
        });
        outcome
    }
}

enum Message {
    Run(Job),
    Stop,
}

type Initializer = Arc<dyn Fn() -> std::result::Result<(), String> + Send + Sync>;

/// The pool's FIFO queue of messages, with the parking of idle workers.
///
/// A `VecDeque` behind a lock: pushing and popping never allocate or free per job (a linked
/// channel frees a block on the worker for every few jobs, which contends with the submitter's
/// allocations in `malloc`). An idle worker first spins and yields briefly, watching `len`; then
/// it counts itself in `sleepers` and blocks on `bell`, and a push rings the bell only while
/// someone sleeps, so a busy pool makes no wake-up syscalls.
///
/// No lost wake-up: a worker registers as a sleeper under the lock, after seeing the queue
/// empty under that same lock; a push reads `sleepers` under the lock after queueing. Whichever
/// takes the lock second sees the other's write. A woken worker may find the job taken by another
/// (a spurious wake-up); it just looks again.
struct Queue {
    messages: Mutex<Messages>,
    /// `messages.len()`, stored under the lock; read without it only as a hint while spinning.
    len: AtomicUsize,
    /// Workers blocked (or about to block) on `bell`; changed under the lock.
    sleepers: AtomicUsize,
    bell: Sender<()>,
    /// The receiving end of `bell`; bounded by the number of workers, so ringing never allocates.
    rung: Receiver<()>,
}

/// What [`Queue`]'s lock guards.
struct Messages {
    queued: VecDeque<Message>,
    /// Set by `shutdown`: jobs are refused from then on.
    closed: bool,
}

impl Queue {
    fn new(workers: usize) -> Queue {
        let (bell, rung) = crossbeam_channel::bounded(workers);
        Queue {
            messages: Mutex::new(Messages {
                queued: VecDeque::new(),
                closed: false,
            }),
            len: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            bell,
            rung,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Messages> {
        // Only this module's code runs under the lock, and none of it panics.
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job`, or gives it back if the queue is closed.
    fn push_job(&self, job: Job) -> std::result::Result<(), Job> {
        let messages = self.lock();
        if messages.closed {
            return Err(job);
        }
        self.push_locked(messages, Message::Run(job));
        Ok(())
    }

    /// Queues `message` even if the queue is closed (stop messages).
    fn push(&self, message: Message) {
        self.push_locked(self.lock(), message);
    }

    fn push_locked(&self, mut messages: std::sync::MutexGuard<'_, Messages>, message: Message) {
        messages.queued.push_back(message);
        self.len.store(messages.queued.len(), Ordering::Relaxed);
        let sleeping = self.sleepers.load(Ordering::Relaxed) > 0;
        drop(messages);
        if sleeping {
            // Full means every sleeper already has a wake-up coming.
            let _ = self.bell.try_send(());
        }
    }

    /// Refuses jobs from now on; returns whether it already did.
    fn close(&self) -> bool {
        std::mem::replace(&mut self.lock().closed, true)
    }

    fn try_pop(&self) -> Option<Message> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut messages = self.lock();
        let message = messages.queued.pop_front();
        self.len.store(messages.queued.len(), Ordering::Relaxed);
        message
    }

    /// Spins and yields briefly for a message; `None` if none came.
    fn pop_spinning(&self) -> Option<Message> {
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            if let Some(message) = self.try_pop() {
                return Some(message);
            }
            if backoff.is_completed() {
                return None;
            }
            backoff.snooze();
        }
    }

    /// Registers this thread as a sleeper unless a message is queued, which it takes instead.
    fn sleep_or_pop(&self) -> Option<Message> {
        let mut messages = self.lock();
        if let Some(message) = messages.queued.pop_front() {
            self.len.store(messages.queued.len(), Ordering::Relaxed);
            return Some(message);
        }
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Ends a sleep begun by [`sleep_or_pop`](Self::sleep_or_pop).
    fn woke(&self) {
        let _messages = self.lock();
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Rings for a sleeper if work is queued: called by a helping waiter that leaves, in case it
    /// consumed the wake-up meant for that work. (Woken through the bell, it saw everything the
    /// ringer saw, so these loads are not stale.)
    fn pass_on(&self) {
        if self.len.load(Ordering::Relaxed) > 0 && self.sleepers.load(Ordering::Relaxed) > 0 {
            let _ = self.bell.try_send(());
        }
    }

    /// The next message, blocking while there is none.
    fn pop(&self) -> Message {
        loop {
            if let Some(message) = self.pop_spinning().or_else(|| self.sleep_or_pop()) {
                return message;
            }
            let _ = self.rung.recv();
            self.woke();
        }
    }
}

struct Shared {
    queue: Queue,
    broken: OnceLock<String>,
    workers: usize,
    trace: Option<Arc<Trace>>,
}

impl Shared {
    /// Queues `job`; if the pool refuses it, the job's handle is failed with the same error.
    fn push(&self, job: Job) -> Result<()> {
        if let Some(why) = self.broken.get() {
            job.fail(Error::Broken(why.clone()));
            return Err(Error::Broken(why.clone()));
        }
        self.queue.push_job(job).map_err(|job| {
            job.fail(Error::Shutdown);
            Error::Shutdown
        })
    }

    /// A job's submission stamp, when the pool traces.
    fn stamp(&self, label: &'static str) -> Option<Traced> {
        self.trace.as_ref().map(|trace| Traced {
            id: trace.next_id(),
            label,
            submitted: Instant::now(),
        })
    }

    fn run(&self, message: Message) -> bool {
        match message {
            Message::Run(job) => {
                match self.broken.get() {
                    Some(why) => job.fail(Error::Broken(why.clone())),
                    None => job.run(),
                }
                true
            }
            Message::Stop => false,
        }
    }

    fn break_pool(&self, why: String) {
        let _ = self.broken.set(why);
        let why = self.broken.get().cloned().unwrap_or_default();
        while let Some(message) = self.queue.try_pop() {
            match message {
                Message::Run(job) => job.fail(Error::Broken(why.clone())),
                Message::Stop => {
                    self.queue.push(Message::Stop);
                    break;
                }
            }
        }
    }
}

thread_local! {
    /// The pool whose worker this thread is, if any.
    static WORKER_OF: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    /// This worker's index in its pool (for traces).
    static WORKER_INDEX: Cell<usize> = const { Cell::new(0) };
}

/// Whether the current thread is a [`ThreadPool`] worker.
#[cfg_attr(concur_loom, allow(dead_code))]
pub(crate) fn on_worker_thread() -> bool {
    WORKER_OF.with(|w| w.borrow().is_some())
}

/// Receives from `rx`, or gives up at `deadline` (`None` also when `rx` is disconnected).
///
/// On a pool worker it runs the pool's queued jobs while it waits: the heart of the no-deadlock
/// promise. A stop message met here is put back for the worker loop to find.
pub(crate) fn recv_helping<M>(rx: &Receiver<M>, deadline: Option<Instant>) -> Option<M> {
    let pool = WORKER_OF.with(|w| w.borrow().clone());
    let Some(pool) = pool else {
        return match deadline {
            None => rx.recv().ok(),
            Some(d) => rx.recv_deadline(d).ok(),
        };
    };
    /// Passes a wake-up on whenever the helping waiter leaves.
    struct Leaving<'a>(&'a Queue);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.pass_on();
        }
    }
    let _leaving = Leaving(&pool.queue);
    let never = crossbeam_channel::never();
    let plain_recv = || match deadline {
        None => rx.recv().ok(),
        Some(d) => rx.recv_deadline(d).ok(),
    };
    loop {
        match rx.try_recv() {
            Ok(m) => return Some(m),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        let message = pool.queue.try_pop().or_else(|| pool.queue.sleep_or_pop());
        if let Some(message) = message {
            if let Message::Stop = message {
                pool.queue.push(Message::Stop);
                return plain_recv();
            }
            pool.run(message);
            continue;
        }
        // Registered as a sleeper: wait for `rx`, a job or the deadline.
        let timeout = match deadline {
            Some(d) => crossbeam_channel::at(d),
            None => never.clone(),
        };
        select! {
            recv(rx) -> m => {
                pool.queue.woke();
                return m.ok();
            }
            recv(pool.queue.rung) -> _ => pool.queue.woke(),
            recv(timeout) -> _ => {
                pool.queue.woke();
                return None;
            }
        }
    }
}

/// Blocks on a done-signal from a handle (see [`Handle::wait`]); whether it came before `deadline`.
#[cfg_attr(concur_loom, allow(dead_code))]
pub(crate) fn help_until(done: &Receiver<()>, deadline: Option<Instant>) -> bool {
    recv_helping(done, deadline).is_some()
}

/// See [`ThreadPool::spawner`]. Holding one does not keep the workers alive: after shutdown,
/// spawned work resolves [`Error::Shutdown`].
#[derive(Clone)]
pub(crate) struct Spawner(Arc<Shared>);

impl Spawner {
    /// Queues `f` to complete `promise` (or fails `promise` with the pool's refusal).
    pub(crate) fn spawn<T, F>(&self, promise: Promise<T>, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let job = match self.0.stamp("dependent") {
            None => Job::for_promise(promise, work(f)),
            Some(t) => Job::for_promise(promise, traced_work(f, t)),
        };
        let _ = self.0.push(job);
    }

    /// Whether this spawner queues on `pool`.
    pub(crate) fn is_of(&self, pool: &ThreadPool) -> bool {
        Arc::ptr_eq(&self.0, &pool.shared)
    }
}

/// Configures a [`ThreadPool`].
///
/// ```
/// let pool = concur::ThreadPool::builder()
///     .workers(4)
///     .thread_name("crawler")
///     .stack_size(512 * 1024)
///     .initializer(|| Ok(()))
///     .build()
///     .unwrap();
/// assert_eq!(pool.workers(), 4);
/// ```
#[must_use]
pub struct ThreadPoolBuilder {
    workers: Option<usize>,
    thread_name: String,
    stack_size: Option<usize>,
    initializer: Option<Initializer>,
    trace: bool,
}

impl ThreadPoolBuilder {
    /// Number of worker threads (default: [`std::thread::available_parallelism`]). Zero is an error.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Prefix of the worker threads' names; workers are named `prefix-0`, `prefix-1`, ...
    /// (default `concur`).
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// Stack size of each worker thread, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs once on every worker before it takes work. If it returns an error or panics, the
    /// pool is broken: every task fails with [`Error::Broken`] carrying this message.
    pub fn initializer(
        mut self,
        init: impl Fn() -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.initializer = Some(Arc::new(init));
        self
    }

    /// Records a timeline of every task (see [`Trace`]); off by default.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Starts the workers.
    pub fn build(self) -> Result<ThreadPool> {
        let workers = match self.workers {
            Some(0) => {
                return Err(Error::Config(
                    "a thread pool needs at least one worker".into(),
                ))
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let shared = Arc::new(Shared {
            queue: Queue::new(workers),
            broken: OnceLock::new(),
            workers,
            trace: self.trace.then(|| Arc::new(Trace::new(workers))),
        });
        let mut threads = Vec::with_capacity(workers);
        for index in 0..workers {
            let mut builder =
                std::thread::Builder::new().name(format!("{}-{index}", self.thread_name));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let worker_shared = shared.clone();
            let init = self.initializer.clone();
            let spawned = builder.spawn(move || worker_loop(worker_shared, init, index));
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    let pool = ThreadPool {
                        shared,
                        threads: Mutex::new(threads),
                    };
                    pool.shutdown(true, true);
                    return Err(Error::Config(format!(
                        "cannot start worker thread {index}: {e}"
                    )));
                }
            }
        }
        Ok(ThreadPool {
            shared,
            threads: Mutex::new(threads),
        })
    }
}

fn worker_loop(shared: Arc<Shared>, init: Option<Initializer>, index: usize) {
    WORKER_INDEX.with(|i| i.set(index));
    if let Some(init) = init {
        let failure = match catch_unwind(AssertUnwindSafe(|| init())) {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("initializer failed: {e}")),
            Err(p) => Some(format!("initializer panicked: {}", panic_message(&*p))),
        };
        if let Some(why) = failure {
            shared.break_pool(why);
        }
    }
    WORKER_OF.with(|w| *w.borrow_mut() = Some(shared.clone()));
    while shared.run(shared.queue.pop()) {}
    WORKER_OF.with(|w| *w.borrow_mut() = None);
}

/// A pool of worker threads running closures and registered tasks.
///
/// ```
/// use concur::{as_completed, ThreadPool};
///
/// let pool = ThreadPool::new(4).unwrap();
/// let handles: Vec<_> = (1..=5u64).map(|n| pool.submit(move || n * n).unwrap()).collect();
/// let mut squares: Vec<u64> = as_completed(handles, None).map(|h| h.unwrap().result().unwrap()).collect();
/// squares.sort();
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
///
/// // Input order, lazily, in chunks:
/// let cubes: Vec<u64> = pool.map(|n: u64| n.pow(3), 1..=4).chunksize(2).map(Result::unwrap).collect();
/// assert_eq!(cubes, [1, 8, 27, 64]);
/// ```
pub struct ThreadPool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ThreadPool {
    /// A pool of `workers` threads with default settings. Zero workers is an error.
    pub fn new(workers: usize) -> Result<ThreadPool> {
        ThreadPool::builder().workers(workers).build()
    }

    /// A builder for every setting.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder {
            workers: None,
            thread_name: "concur".into(),
            stack_size: None,
            initializer: None,
            trace: false,
        }
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// Queues `f` and returns its handle at once. `Err(Shutdown)` after shutdown; `Err(Broken)`
    /// if the initializer failed.
    pub fn submit<T, F>(&self, f: F) -> Result<Handle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_labeled("closure", f)
    }

    fn submit_labeled<T, F>(&self, label: &'static str, f: F) -> Result<Handle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, handle) = match self.shared.stamp(label) {
            None => Job::new(work(f)),
            Some(t) => Job::new(traced_work(f, t)),
        };
        self.shared.push(job)?;
        Ok(handle)
    }

    /// The timeline recorder, if the pool was built with [`ThreadPoolBuilder::trace`].
    pub fn trace(&self) -> Option<&Arc<Trace>> {
        self.shared.trace.as_ref()
    }

    /// A cloneable right to queue work on this pool from any thread, for work whose handle was
    /// handed out before it could be queued (a task waiting for its dependencies, see
    /// [`graph`](crate::graph)).
    pub(crate) fn spawner(&self) -> Spawner {
        Spawner(self.shared.clone())
    }

    /// `f` over every input, results in input order: lazy, bounded and chunked (see [`Map`]).
    pub fn map<I, O, F, It>(&self, f: F, inputs: It) -> Map<'_, It::IntoIter, O>
    where
        F: Fn(I) -> O + Send + Sync + 'static,
        I: Send + 'static,
        O: Send + 'static,
        It: IntoIterator<Item = I>,
    {
        self.closure_map(f, inputs, true)
    }

    /// `f` over every input, results in completion order: lazy, bounded and chunked.
    pub fn map_unordered<I, O, F, It>(&self, f: F, inputs: It) -> Map<'_, It::IntoIter, O>
    where
        F: Fn(I) -> O + Send + Sync + 'static,
        I: Send + 'static,
        O: Send + 'static,
        It: IntoIterator<Item = I>,
    {
        self.closure_map(f, inputs, false)
    }

    fn closure_map<I, O, F, It>(&self, f: F, inputs: It, ordered: bool) -> Map<'_, It::IntoIter, O>
    where
        F: Fn(I) -> O + Send + Sync + 'static,
        I: Send + 'static,
        O: Send + 'static,
        It: IntoIterator<Item = I>,
    {
        let f = Arc::new(f);
        Map::new(
            inputs.into_iter(),
            ordered,
            2 * self.workers(),
            move |chunk: Vec<I>| {
                let f = f.clone();
                self.submit(move || run_each(chunk, |x| f(x)))
            },
        )
    }

    /// Stops accepting work. With `cancel_pending`, queued tasks are cancelled (their handles say
    /// so); otherwise they still run. With `wait`, blocks until every worker has exited. Calling
    /// it again is harmless. Called from one of the pool's own tasks, it never waits for itself.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        let was_closed = self.shared.queue.close();
        if cancel_pending {
            let mut stops = 0;
            while let Some(message) = self.shared.queue.try_pop() {
                match message {
                    Message::Run(job) => job.fail(Error::Cancelled),
                    Message::Stop => stops += 1,
                }
            }
            for _ in 0..stops {
                self.shared.queue.push(Message::Stop);
            }
        }
        if !was_closed {
            for _ in 0..self.shared.workers {
                self.shared.queue.push(Message::Stop);
            }
        }
        if wait {
            let me = std::thread::current().id();
            let threads =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
            for t in threads {
                if t.thread().id() != me {
                    let _ = t.join();
                }
            }
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl Executor for ThreadPool {
    fn workers(&self) -> usize {
        self.shared.workers
    }

    fn submit_task<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        input: I,
    ) -> Result<Handle<O>> {
        self.submit_labeled(task.name(), move || task.call(input))
    }

    fn submit_chunk<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: Vec<I>,
    ) -> Result<ChunkHandle<O>> {
        self.submit_labeled(task.name(), move || run_each(inputs, |x| task.call(x)))
    }
}
