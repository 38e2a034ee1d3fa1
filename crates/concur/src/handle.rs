//! The result handle: concur's answer to Python's `concurrent.futures.Future`.
//!
//! An executor hands out a [`Handle<T>`] the moment a task is submitted and keeps the matching
//! [`Promise<T>`] to fill in later. The handle can be polled (`done`, `running`, `cancelled`),
//! waited on (with or without a timeout), cancelled while pending, given done-callbacks, read many
//! times (`result` clones the value) or once (`into_result` moves it), and `.await`ed from any async
//! runtime (it implements [`IntoFuture`] and needs no particular executor).
//!
//! # State rules
//!
//! These rules are the contract the loom model (`handle::loom_model`) checks. Other modules cite them
//! by number.
//!
//! 1. The state only moves forward: `Pending -> Running -> Finished`, `Pending -> Cancelled`, and
//!    `Running -> Cancelled` only where the executor installed a running-cancel hook (a process
//!    pool kills the worker). `Finished` and `Cancelled` are *terminal*.
//! 2. The first terminal transition wins. It happens while holding the handle's lock, together
//!    with storing the outcome; any later completion attempt is ignored.
//! 3. After the terminal transition, and outside the lock, every done-callback runs exactly once
//!    and every waiting thread and task is woken. A thread registers as a waiter (under the lock)
//!    before it blocks, so completion can skip the wake-up syscall when nobody waits. A callback added after that point runs at once,
//!    in the thread that adds it.
//! 4. A [`Promise`] dropped before completing completes its handle with [`Error::Shutdown`], so
//!    every handle resolves exactly once even if its executor goes away.
//!
//! # Memory ordering
//!
//! The state lives in an atomic so the `done()` family never takes the lock. The terminal store is
//! a `Release` made under the lock after the outcome is written; readers load with `Acquire` and
//! then take the lock to read the outcome, so a reader that sees a terminal state always finds the
//! outcome in place.
//!
//! # One allocation per task
//!
//! A task's state, its outcome and, for executors that queue closures (the thread pool), the
//! closure itself live in one reference-counted cell: handles see it with the closure's type
//! erased, the executor's queue holds it as a `Job`. Submitting therefore allocates once, and
//! the cell is usually freed by the submitting thread (it drops the last handle), which keeps the
//! allocator's per-thread caches warm. The cell is kept small, because a million queued tasks are
//! a million cells streaming through the caches: done-callbacks, async wakers and the
//! running-cancel hook live in a separate box made on first use, and an error outcome is boxed,
//! so a task returning a `u64` takes 80 bytes (it took 176).
//!
//! The loom build keeps `std`'s `Arc` (loom's cannot be unsized), so the model checks the state's
//! atomic, lock and condvar, not the reference count.
//!
//! # Reading the result more than once
//!
//! [`Handle::result`] clones the value (it needs `T: Clone`) and can be called any number of times
//! from any clone of the handle, like Python's `Future.result()`. [`Handle::into_result`] and
//! `.await` move the value out without cloning; after that, other clones of the same handle read
//! [`Error::Taken`]. Errors are always cloned, so every reader of a failed task sees its error.

use std::fmt;
use std::future::IntoFuture;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[cfg(concur_loom)]
use loom::sync::{
    atomic::{AtomicU8, Ordering},
    Condvar, Mutex, MutexGuard,
};
use std::sync::Arc;
#[cfg(not(concur_loom))]
use std::sync::{
    atomic::{AtomicU8, Ordering},
    Condvar, Mutex, MutexGuard,
};

use crate::error::{panic_message, Error, Result};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const CANCELLED: u8 = 3;

/// Where a task is in its life (rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Submitted, not started; [`Handle::cancel`] still succeeds.
    Pending,
    /// A worker is running it.
    Running,
    /// It ended with a value or an error (a panic, a dead worker, a broken executor).
    Finished,
    /// It was cancelled and will never produce a value.
    Cancelled,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            PENDING => State::Pending,
            RUNNING => State::Running,
            FINISHED => State::Finished,
            _ => State::Cancelled,
        }
    }
}

type Callback<T> = Box<dyn FnOnce(&Handle<T>) + Send>;

struct Inner<T> {
    /// `Some` once terminal, until `into_result` moves a value out. The error is boxed: errors
    /// are rare, and a small outcome keeps every task's cell small.
    outcome: Option<std::result::Result<T, Box<Error>>>,
    /// What few tasks need, allocated on first use.
    extras: Option<Box<Extras<T>>>,
    /// Threads blocked on `done`; completion skips the notify syscall when there are none.
    waiters: u32,
}

/// The rarely used parts of a task's state: done-callbacks, async wakers and the running-cancel
/// hook. Boxed apart, so a task that needs none of them (most) stays in a smaller allocation.
struct Extras<T> {
    callbacks: Vec<Callback<T>>,
    wakers: Vec<Waker>,
    cancel_running: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> Inner<T> {
    fn extras(&mut self) -> &mut Extras<T> {
        self.extras.get_or_insert_with(|| {
            Box::new(Extras {
                callbacks: Vec::new(),
                wakers: Vec::new(),
                cancel_running: None,
            })
        })
    }
}

/// One task's shared allocation: its state and, in `job`, whatever the executor stored beside it
/// (`()` for a bare [`Promise`], the closure to run for a [`Job`]).
struct Cell<T, J: ?Sized> {
    state: AtomicU8,
    inner: Mutex<Inner<T>>,
    done: Condvar,
    job: J,
}

/// What a [`Cell`] may carry beside the state, once its type is erased.
trait Payload: Send + Sync {}
impl<P: Send + Sync> Payload for P {}

/// A cell as handles and promises see it.
type Shared<T> = Cell<T, dyn Payload>;

impl<T, J> Cell<T, J> {
    fn new(job: J) -> Self {
        Cell {
            state: AtomicU8::new(PENDING),
            inner: Mutex::new(Inner {
                outcome: None,
                extras: None,
                waiters: 0,
            }),
            done: Condvar::new(),
            job,
        }
    }
}

impl<T, J: ?Sized> Cell<T, J> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Callbacks and wakers run outside the lock (rule 3), so nothing user-supplied can poison it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self) -> bool {
        self.state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn id(&self) -> usize {
        self as *const Self as *const () as usize
    }
}

/// The reading side of a submitted task. Cheap to clone; every clone sees the same task.
pub struct Handle<T> {
    shared: Arc<Shared<T>>,
}

/// The writing side of a task: the executor keeps it and completes it exactly once.
///
/// Executors outside this crate (the process pool, `concur-mpi`) use it to build handles for work
/// they run their own way. Dropping it without completing resolves the handle with
/// [`Error::Shutdown`] (rule 4).
pub struct Promise<T: Send + 'static> {
    shared: Arc<Shared<T>>,
}

static CALLBACK_PANICS: AtomicU64 = AtomicU64::new(0);

/// How many done-callbacks have panicked in this process so far.
///
/// A panicking callback is caught, counted here and reported on stderr; it never reaches the
/// worker thread that completed the task, and the other callbacks still run.
pub fn callback_panics() -> u64 {
    CALLBACK_PANICS.load(std::sync::atomic::Ordering::Relaxed)
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Handle {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field(
                "state",
                &State::from_u8(self.shared.state.load(Ordering::Acquire)),
            )
            .finish()
    }
}

impl<T> PartialEq for Handle<T> {
    /// Two handles are equal when they are clones of the same task's handle.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Eq for Handle<T> {}

impl<T: Send + 'static> Promise<T> {
    /// A new pending task: the promise to complete and the handle to give the submitter.
    pub fn new() -> (Promise<T>, Handle<T>) {
        let shared: Arc<Shared<T>> = Arc::new(Cell::new(()));
        (
            Promise {
                shared: shared.clone(),
            },
            Handle { shared },
        )
    }

    /// Moves the task from pending to running. Returns `false` if it was cancelled first, in which
    /// case the executor must not run it.
    pub fn start(&self) -> bool {
        self.shared.start()
    }

    /// Lets [`Handle::cancel`] succeed while the task runs: `hook` is called once, outside the
    /// handle's lock, after the handle has been completed as cancelled. The process pool uses it
    /// to kill the worker running the task.
    pub fn on_cancel_running(&self, hook: impl FnOnce() + Send + 'static) {
        self.shared.lock().extras().cancel_running = Some(Box::new(hook));
    }

    /// Whether the task has reached a terminal state (for example cancelled by a reader).
    pub fn is_done(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) >= FINISHED
    }

    /// Completes the task with its value or error (rule 2: ignored if already terminal).
    pub fn complete(self, outcome: Result<T>) {
        complete(&self.shared, FINISHED, outcome, false);
    }

    /// Completes a task that will not run with `error`; [`Error::Cancelled`] counts as a cancel.
    fn fail(self, error: Error) {
        fail(&self.shared, error);
    }

    /// Completes a task that never started as cancelled (for example by `shutdown` with
    /// `cancel_pending`).
    pub fn cancel(self) {
        complete(&self.shared, CANCELLED, Err(Error::Cancelled), false);
    }

    /// Completes a task that never started as cancelled, with `error` saying why (for example a
    /// cancelled dependency, see [`graph`](crate::graph)). Its readers see `error` instead of
    /// [`Error::Cancelled`]; `cancelled()` is true.
    pub fn cancel_with(self, error: Error) {
        complete(&self.shared, CANCELLED, Err(error), false);
    }

    /// The id its handles report from [`Handle::id`].
    pub fn id(&self) -> usize {
        self.shared.id()
    }

    /// A handle reading this promise's task.
    pub fn handle(&self) -> Handle<T> {
        Handle {
            shared: self.shared.clone(),
        }
    }
}

impl<T: Send + 'static> Drop for Promise<T> {
    fn drop(&mut self) {
        if !self.is_done() {
            complete(&self.shared, FINISHED, Err(Error::Shutdown), false);
        }
    }
}

/// The terminal transition (rules 2 and 3). With `from_pending`, it happens only if the task has
/// not started (a plain cancel); otherwise from any non-terminal state. Returns whether this call
/// made it.
fn complete<T: Send + 'static>(
    shared: &Arc<Shared<T>>,
    to: u8,
    outcome: Result<T>,
    from_pending: bool,
) -> bool {
    let (extras, waiters) = {
        let mut inner = shared.lock();
        let state = shared.state.load(Ordering::Acquire);
        if state >= FINISHED || (from_pending && state != PENDING) {
            return false;
        }
        if from_pending
            && shared
                .state
                .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return false; // a worker started it just now
        }
        inner.outcome = Some(outcome.map_err(Box::new));
        shared.state.store(to, Ordering::Release);
        (inner.extras.take(), inner.waiters)
    };
    if waiters > 0 {
        shared.done.notify_all();
    }
    let Some(extras) = extras else {
        return true;
    };
    let Extras {
        callbacks,
        wakers,
        cancel_running,
    } = *extras;
    drop(cancel_running);
    for waker in wakers {
        waker.wake();
    }
    if !callbacks.is_empty() {
        let handle = Handle {
            shared: shared.clone(),
        };
        for callback in callbacks {
            run_callback(callback, &handle);
        }
    }
    true
}

/// Completes a task that will not run: as cancelled for [`Error::Cancelled`], else as failed.
fn fail<T: Send + 'static>(shared: &Arc<Shared<T>>, error: Error) {
    match error {
        Error::Cancelled => complete(shared, CANCELLED, Err(Error::Cancelled), false),
        error => complete(shared, FINISHED, Err(error), false),
    };
}

/// A unit of work queued on an executor, bound to the handle it resolves.
///
/// [`Job::run`] starts the task (unless its handle was cancelled first), runs the work and
/// completes the handle with its outcome; [`Job::fail`] resolves the handle without running it.
/// A job dropped without either resolves its handle with [`Error::Shutdown`] (rule 4). In every
/// case the work closure is dropped as soon as the job is run or refused.
pub(crate) struct Job(Option<Arc<dyn Runnable>>);

/// A job with its types erased: what [`Job`] holds.
trait Runnable: Send + Sync {
    fn run(self: Arc<Self>);
    fn fail(self: Arc<Self>, error: Error);
}

/// The work of a job until a worker takes it.
///
/// # Safety rule
///
/// Only [`Job`] calls [`Work::take`], through [`Runnable::run`] or [`Runnable::fail`], each of
/// which consumes the job's unique reference (a `Job` is not `Clone`, and handles see the cell's
/// payload only as `dyn Payload`, which has no methods). So `take` runs at most once per job, on
/// one thread, and never concurrently with anything else touching the slot.
struct Work<W>(std::cell::UnsafeCell<Option<W>>);

// SAFETY: shared references to a `Work` only reach its contents through `take`, which the safety
// rule above confines to one call on one thread; the work itself moves to that thread, hence
// `W: Send`.
unsafe impl<W: Send> Sync for Work<W> {}

impl<W> Work<W> {
    fn new(work: W) -> Self {
        Work(std::cell::UnsafeCell::new(Some(work)))
    }

    /// Moves the work out. Callers follow the safety rule above.
    fn take(&self) -> Option<W> {
        // SAFETY: by the safety rule, this is the only access to the slot, ever, but for the
        // drop of the whole cell, which cannot overlap a borrow of it.
        unsafe { (*self.0.get()).take() }
    }
}

/// A job stored in its handle's own cell (one allocation, see the module docs).
impl<T, W> Runnable for Cell<T, Work<W>>
where
    T: Send + 'static,
    W: FnOnce(usize) -> Result<T> + Send + 'static,
{
    fn run(self: Arc<Self>) {
        if let Some(work) = self.job.take() {
            if self.start() {
                let outcome = work(self.id());
                complete(&(self as Arc<Shared<T>>), FINISHED, outcome, false);
            }
        }
    }

    fn fail(self: Arc<Self>, error: Error) {
        drop(self.job.take());
        fail(&(self as Arc<Shared<T>>), error);
    }
}

/// A job completing a [`Promise`] made earlier (for work queued after its handle was handed out).
impl<T, W> Runnable for Work<(Promise<T>, W)>
where
    T: Send + 'static,
    W: FnOnce(usize) -> Result<T> + Send + 'static,
{
    fn run(self: Arc<Self>) {
        if let Some((promise, work)) = self.take() {
            if promise.start() {
                let outcome = work(promise.id());
                promise.complete(outcome);
            }
        }
    }

    fn fail(self: Arc<Self>, error: Error) {
        if let Some((promise, work)) = self.take() {
            drop(work);
            promise.fail(error);
        }
    }
}

impl Job {
    /// A job running `work` and the handle it resolves, in one allocation. `work` gets the
    /// handle's [`id`](Handle::id).
    pub(crate) fn new<T, W>(work: W) -> (Job, Handle<T>)
    where
        T: Send + 'static,
        W: FnOnce(usize) -> Result<T> + Send + 'static,
    {
        let cell = Arc::new(Cell::<T, _>::new(Work::new(work)));
        let handle = Handle {
            shared: cell.clone(),
        };
        (Job(Some(cell)), handle)
    }

    /// A job running `work` to complete `promise`; `work` gets the promise's id.
    pub(crate) fn for_promise<T, W>(promise: Promise<T>, work: W) -> Job
    where
        T: Send + 'static,
        W: FnOnce(usize) -> Result<T> + Send + 'static,
    {
        Job(Some(Arc::new(Work::new((promise, work)))))
    }

    /// Runs the work unless the handle was cancelled first, then completes the handle.
    pub(crate) fn run(mut self) {
        if let Some(job) = self.0.take() {
            job.run();
        }
    }

    /// Resolves the handle without running the work: cancelled for [`Error::Cancelled`], else
    /// failed with `error`.
    pub(crate) fn fail(mut self, error: Error) {
        if let Some(job) = self.0.take() {
            job.fail(error);
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(job) = self.0.take() {
            job.fail(Error::Shutdown);
        }
    }
}

fn run_callback<T>(callback: Callback<T>, handle: &Handle<T>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(handle))) {
        CALLBACK_PANICS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "concur: a done-callback panicked (ignored): {}",
            panic_message(&*payload)
        );
    }
}

impl<T: Send + 'static> Handle<T> {
    /// A handle that is already finished with `outcome`; what an inline executor returns.
    pub fn ready(outcome: Result<T>) -> Handle<T> {
        let (promise, handle) = Promise::new();
        promise.complete(outcome);
        handle
    }

    /// An identity shared by all clones of this handle (and no other handle while it lives).
    pub fn id(&self) -> usize {
        self.shared.id()
    }

    /// The task's current state.
    pub fn state(&self) -> State {
        State::from_u8(self.shared.state.load(Ordering::Acquire))
    }

    /// Whether the task finished or was cancelled. Never blocks.
    pub fn done(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) >= FINISHED
    }

    /// Whether a worker is running the task now.
    pub fn running(&self) -> bool {
        self.state() == State::Running
    }

    /// Whether the task was cancelled.
    pub fn cancelled(&self) -> bool {
        self.state() == State::Cancelled
    }

    /// Cancels the task if it has not started, as Python does, and returns whether it is now
    /// cancelled (`true` also if it already was). A running task is not interrupted (`false`),
    /// except on executors that can stop running work, such as the process pool, which kills the
    /// worker. A cancelled task's done-callbacks run.
    ///
    /// ```
    /// let pool = concur::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().ok()).unwrap();
    /// let queued = pool.submit(|| 42).unwrap();
    /// assert!(queued.cancel());
    /// assert!(queued.result().is_err());
    /// tx.send(()).unwrap();
    /// assert_eq!(blocker.result(), Ok(Some(())));
    /// ```
    pub fn cancel(&self) -> bool {
        if complete(&self.shared, CANCELLED, Err(Error::Cancelled), true) {
            return true;
        }
        let hook = {
            let mut inner = self.shared.lock();
            match self.shared.state.load(Ordering::Acquire) {
                RUNNING => inner.extras.as_mut().and_then(|e| e.cancel_running.take()),
                state => return state == CANCELLED,
            }
        };
        match hook {
            // Rule 1: only a hook makes a running task cancellable; it runs only if the cancel won.
            Some(hook) => {
                let won = complete(&self.shared, CANCELLED, Err(Error::Cancelled), false);
                if won {
                    hook();
                }
                won || self.cancelled()
            }
            None => false,
        }
    }

    /// Blocks until the task is done.
    ///
    /// On a worker thread of a [`ThreadPool`](crate::ThreadPool) it runs other queued tasks of that
    /// pool while it waits, so a task that waits on a task it submitted never deadlocks the pool.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the task is done or `timeout` has passed; returns whether it is done.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Some(Instant::now() + timeout))
    }

    /// Blocks until done or until `deadline` (if any); returns whether it is done. It also
    /// returns `false` at once where waiting would deadlock (see [`wait_checked`](Self::wait_checked)).
    pub fn wait_until(&self, deadline: Option<Instant>) -> bool {
        self.wait_checked(deadline).unwrap_or(false)
    }

    /// Like [`wait_until`](Self::wait_until), but a wait that can never end — this thread runs a
    /// task that the awaited task (transitively) waits on — is `Err(Error::Deadlock)` instead of
    /// a hang. `result` and `into_result` report it the same way.
    pub fn wait_checked(&self, deadline: Option<Instant>) -> Result<bool> {
        if self.done() {
            return Ok(true);
        }
        #[cfg(not(concur_loom))]
        let _waiting = crate::sync::handle_waits::begin_wait(self.id())?;
        #[cfg(not(concur_loom))]
        if crate::thread_pool::on_worker_thread() {
            let (tx, rx) = crossbeam_channel::bounded(1);
            self.add_done_callback(move |_| {
                let _ = tx.send(());
            });
            return Ok(crate::thread_pool::help_until(&rx, deadline));
        }
        let mut inner = self.shared.lock();
        inner.waiters += 1;
        let done = loop {
            if self.done() {
                break true;
            }
            inner = match deadline {
                None => self
                    .shared
                    .done
                    .wait(inner)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break false;
                    }
                    self.shared
                        .done
                        .wait_timeout(inner, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        };
        inner.waiters -= 1;
        Ok(done)
    }

    /// Waits for the task and returns a clone of its value, or its error. May be called any number
    /// of times, from any clone of the handle.
    ///
    /// ```
    /// let pool = concur::ThreadPool::new(2).unwrap();
    /// let h = pool.submit(|| "hello".to_string()).unwrap();
    /// assert_eq!(h.result().unwrap(), "hello");
    /// assert_eq!(h.result().unwrap(), "hello");
    /// ```
    pub fn result(&self) -> Result<T>
    where
        T: Clone,
    {
        self.wait_checked(None)?;
        self.peek()
            .expect("done handle has an outcome or it was taken")
    }

    /// Like [`result`](Self::result), but gives up after `timeout` with [`Error::Timeout`]; the task
    /// goes on and the handle can be waited on again.
    pub fn result_timeout(&self, timeout: Duration) -> Result<T>
    where
        T: Clone,
    {
        if !self.wait_checked(Some(Instant::now() + timeout))? {
            return Err(Error::Timeout(timeout));
        }
        self.peek()
            .expect("done handle has an outcome or it was taken")
    }

    /// Waits for the task and moves its value out without cloning. Other clones of this handle
    /// then read [`Error::Taken`]; errors stay readable by all.
    pub fn into_result(self) -> Result<T> {
        self.wait_checked(None)?;
        self.take()
    }

    /// Waits for the task; returns its error if it failed or was cancelled, `None` if it produced
    /// a value (Python's `Future.exception()`).
    pub fn error(&self) -> Option<Error> {
        if let Err(deadlock) = self.wait_checked(None) {
            return Some(deadlock);
        }
        self.failure()
    }

    /// Registers `callback` to run once when the task is done, in the thread that completes it;
    /// if the task is already done it runs now, in this thread (rule 3). A callback that panics is
    /// caught and reported (see [`callback_panics`]); it never harms the pool.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = concur::ThreadPool::new(1).unwrap();
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let h = pool.submit(|| 1).unwrap();
    /// h.wait();
    /// let c = calls.clone();
    /// h.add_done_callback(move |h| {
    ///     assert!(h.done());
    ///     c.fetch_add(1, Ordering::SeqCst);
    /// });
    /// assert_eq!(calls.load(Ordering::SeqCst), 1); // already done: ran at once
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(&Handle<T>) + Send + 'static) {
        {
            let mut inner = self.shared.lock();
            if !self.done() {
                inner.extras().callbacks.push(Box::new(callback));
                return;
            }
        }
        run_callback(Box::new(callback), self);
    }

    /// If the task failed or was cancelled, its error; `None` while pending or after a value.
    /// Never blocks.
    pub fn failure(&self) -> Option<Error> {
        if !self.done() {
            return None;
        }
        match &self.shared.lock().outcome {
            Some(Err(e)) => Some(Error::clone(e)),
            _ => None,
        }
    }

    fn peek(&self) -> Option<Result<T>>
    where
        T: Clone,
    {
        match &self.shared.lock().outcome {
            Some(Ok(value)) => Some(Ok(value.clone())),
            Some(Err(e)) => Some(Err(Error::clone(e))),
            None if self.done() => Some(Err(Error::Taken)),
            None => None,
        }
    }

    fn take(&self) -> Result<T> {
        let mut inner = self.shared.lock();
        match inner.outcome.take() {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => {
                let error = Error::clone(&e);
                inner.outcome = Some(Err(e));
                Err(error)
            }
            None => Err(Error::Taken),
        }
    }
}

/// The future behind `handle.await`: resolves to the task's outcome, moving the value out.
///
/// It needs no runtime: the worker that completes the task wakes the awaiting task's waker.
pub struct HandleFuture<T> {
    handle: Handle<T>,
}

impl<T: Send + 'static> std::future::Future for HandleFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let handle = &self.get_mut().handle;
        {
            let mut inner = handle.shared.lock();
            if !handle.done() {
                let wakers = &mut inner.extras().wakers;
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
        }
        Poll::Ready(handle.take())
    }
}

impl<T: Send + 'static> IntoFuture for Handle<T> {
    type Output = Result<T>;
    type IntoFuture = HandleFuture<T>;

    /// ```
    /// let pool = concur::ThreadPool::new(1).unwrap();
    /// let h = pool.submit(|| 6 * 7).unwrap();
    /// // Any executor can drive it; here a minimal one from the standard library's parts.
    /// let value = concur::block_on(async { h.await });
    /// assert_eq!(value, Ok(42));
    /// ```
    fn into_future(self) -> HandleFuture<T> {
        HandleFuture { handle: self }
    }
}

/// Runs a future to completion on the current thread, parking between polls.
///
/// A small convenience for tests and examples; real async programs `.await` handles inside their
/// own runtime.
#[cfg(not(concur_loom))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::Wake;
    struct Unparker(std::thread::Thread);
    impl Wake for Unparker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(concur_loom)]
mod loom_model {
    //! The state machine under every interleaving loom can find: completion racing cancel,
    //! a blocking wait and a late callback.
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    #[test]
    fn complete_vs_cancel_vs_wait_vs_callback() {
        loom::model(|| {
            let (promise, handle) = Promise::<u32>::new();
            let calls = Arc::new(AtomicUsize::new(0));

            let worker = thread::spawn(move || {
                if promise.start() {
                    promise.complete(Ok(7));
                }
            });
            let canceller = {
                let h = handle.clone();
                thread::spawn(move || h.cancel())
            };
            let c = calls.clone();
            handle.add_done_callback(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            });
            let waited = handle.result();
            let cancelled = canceller.join().unwrap();
            worker.join().unwrap();

            // Exactly one outcome, consistent with the cancel's answer (rules 1 and 2).
            match waited {
                Ok(v) => {
                    assert_eq!(v, 7);
                    assert!(!cancelled);
                    assert_eq!(handle.state(), State::Finished);
                }
                Err(e) => {
                    assert_eq!(e, Error::Cancelled);
                    assert!(cancelled);
                    assert_eq!(handle.state(), State::Cancelled);
                }
            }
            // The callback ran exactly once (rule 3).
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn dropped_promise_resolves_waiter() {
        loom::model(|| {
            let (promise, handle) = Promise::<u32>::new();
            let t = thread::spawn(move || drop(promise));
            assert_eq!(handle.result(), Err(Error::Shutdown));
            t.join().unwrap();
        });
    }
}

#[cfg(all(test, not(concur_loom)))]
mod job_tests {
    //! [`Job`]: the one-allocation path the thread pool takes.
    use super::*;

    #[test]
    fn a_job_returning_a_u64_fits_in_80_bytes_with_its_reference_counts() {
        // What each of a million queued tasks costs in memory (176 bytes before callbacks,
        // wakers and errors moved out of line).
        fn cell_size<T, W>(_: &W) -> usize {
            std::mem::size_of::<Cell<T, Work<W>>>() + 2 * std::mem::size_of::<usize>()
        }
        let captured = 7u64;
        let work = move |_: usize| -> Result<u64> { Ok(captured) };
        assert!(
            cell_size::<u64, _>(&work) <= 80,
            "{}",
            cell_size::<u64, _>(&work)
        );
    }

    #[test]
    fn a_run_job_completes_its_handle_with_the_work_given_its_id() {
        let (job, handle) = Job::new(Ok);
        assert_eq!(handle.state(), State::Pending);
        job.run();
        assert_eq!(handle.result(), Ok(handle.id()));
    }

    #[test]
    fn a_dropped_job_resolves_shutdown_and_drops_its_work_at_once() {
        let token = Arc::new(());
        let held = token.clone();
        let (job, handle) = Job::new(move |_| {
            drop(held);
            Ok(1u32)
        });
        assert_eq!(Arc::strong_count(&token), 2);
        drop(job);
        assert_eq!(handle.result(), Err(Error::Shutdown));
        assert_eq!(Arc::strong_count(&token), 1, "the work outlived its job");
    }

    #[test]
    fn a_cancelled_job_never_runs_and_its_work_is_dropped_when_dequeued() {
        let token = Arc::new(());
        let held = token.clone();
        let (job, handle) = Job::new(move |_| -> Result<u32> { panic!("ran {held:?}") });
        assert!(handle.cancel());
        assert_eq!(Arc::strong_count(&token), 2);
        job.run();
        assert_eq!(Arc::strong_count(&token), 1);
        assert_eq!(handle.result(), Err(Error::Cancelled));
        assert!(handle.cancelled());
    }

    #[test]
    fn a_failed_job_reports_its_error_and_cancelled_counts_as_cancel() {
        let (job, handle) = Job::new(|_| Ok(1u32));
        job.fail(Error::Broken("init".into()));
        assert_eq!(handle.result(), Err(Error::Broken("init".into())));
        let (job, handle) = Job::new(|_| Ok(1u32));
        job.fail(Error::Cancelled);
        assert!(handle.cancelled());
    }

    #[test]
    fn a_promise_job_completes_the_promise_made_earlier() {
        let (promise, handle) = Promise::new();
        let id = promise.id();
        Job::for_promise(promise, Ok).run();
        assert_eq!(handle.result(), Ok(id));
        let (promise, handle) = Promise::<u32>::new();
        drop(Job::for_promise(promise, |_| Ok(1)));
        assert_eq!(handle.result(), Err(Error::Shutdown));
    }
}
