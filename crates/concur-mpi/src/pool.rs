//! [`MpiPool`]: the [`Executor`] whose workers are the other ranks of an MPI job.
//!
//! # What it promises
//!
//! - **One program, every rank.** [`MpiPool::start`] initializes MPI. On rank 0 it returns the
//!   pool; on every other rank it serves tasks until rank 0 stops the pool, finalizes MPI and
//!   exits the process with status 0: it never returns there. Code before `start` runs on every
//!   rank, so print nothing and touch no shared file before it.
//! - **Dynamic scheduling.** Rank 0 keeps a queue in submission order and gives its head to
//!   whichever worker rank is idle (the most recently idle first); each worker runs one unit of
//!   work (a task or a `map` chunk) at a time, so a rank that finishes early gets the next chunk
//!   and a slow chunk never holds up the others. There is no static split.
//! - **Every handle resolves exactly once**: with the value, the item's own panic
//!   ([`Error::Panicked`] with its message), [`Error::Unregistered`], [`Error::Wire`],
//!   [`Error::Cancelled`] (cancelled while queued; a running task cannot be cancelled, because
//!   a rank cannot be killed without killing the job), [`Error::Broken`] (every worker rank
//!   broke the protocol) or [`Error::Shutdown`].
//! - **A world of one rank** (no `mpirun`, or `mpirun -n 1`) still works: tasks run on rank 0's
//!   MPI thread through the same encode/decode path, one at a time, after a warning on stderr.
//! - **Clean shutdown.** [`shutdown`](MpiPool::shutdown) (or dropping the pool) lets the queued
//!   work finish, sends every worker rank `Exit`, and finalizes MPI on every rank; worker ranks
//!   exit with status 0, so `mpirun` does too when `main` returns normally. MPI cannot be
//!   initialized twice, so a process starts at most one pool.
//!
//! # When a rank dies
//!
//! MPI owns the job. If any rank exits without finalizing (a task calls `exit`, aborts, is
//! killed or segfaults), MPICH's `mpiexec` kills every other rank, rank 0 included, and exits
//! non-zero (with the dead rank's status, or 9 for a rank it killed; for a signal it prints
//! `BAD TERMINATION ...` naming the pid and the signal). No handle resolves, because the process
//! holding them is gone; nothing hangs. Use [`concur::ProcessPool`] where one task's crash must
//! not cost the others' results. The test `a_dead_rank_ends_the_whole_job_non_zero_without_hanging`
//! checks this for `exit(3)` and `abort()`.
//!
//! # Threads on rank 0
//!
//! One thread, `concur-mpi`, initializes MPI, makes every MPI call (`MPI_THREAD_FUNNELED`) and
//! finalizes it. Submitting from any thread queues the work on a channel and wakes it. It also
//! completes handles, so done-callbacks run on it: keep them short, and never block in one on
//! another handle of the same pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use concur::task::{encode_chunk, encode_one};
use concur::{ChunkHandle, Error, Executor, Handle, Promise, Result, TaskFn, Trace, Wire};
use crossbeam_channel::Sender;
use mpi::topology::Communicator;
use mpi::Threading;

/// The largest message MPI carries in one send of bytes (its counts are C `int`s), less room
/// for the header.
pub const MAX_PAYLOAD: usize = i32::MAX as usize - 4096;

/// The executor side of one submitted unit of work, its output type erased.
pub(crate) trait Completion: Send {
    /// Pending -> running; `false` if it was cancelled first (then it must not run).
    fn start(&self) -> bool;
    /// Completes the handle from a worker's `Done` payload, or with the error.
    fn finish(self: Box<Self>, outcome: Result<&[u8]>);
    /// Completes a task that never started as cancelled.
    fn cancel(self: Box<Self>);
}

struct Typed<T: Send + 'static, D> {
    promise: Promise<T>,
    decode: D,
}

impl<T, D> Completion for Typed<T, D>
where
    T: Send + 'static,
    D: FnOnce(&[u8]) -> Result<T> + Send,
{
    fn start(&self) -> bool {
        self.promise.start()
    }

    fn finish(self: Box<Self>, outcome: Result<&[u8]>) {
        let outcome = outcome.and_then(self.decode);
        self.promise.complete(outcome);
    }

    fn cancel(self: Box<Self>) {
        self.promise.cancel();
    }
}

/// A queued unit of work: a registered task's name, its encoded inputs, and its promise.
pub(crate) struct Job {
    pub(crate) task: &'static str,
    pub(crate) payload: Vec<u8>,
    pub(crate) done: Box<dyn Completion>,
    /// Its trace id and submission time, when the pool traces.
    pub(crate) traced: Option<(u64, Instant)>,
}

/// What the pool tells its MPI thread.
pub(crate) enum Order {
    Run(Job),
    Stop { cancel_pending: bool },
}

/// What the MPI thread found when it initialized MPI.
pub(crate) enum Role {
    Root {
        size: i32,
        trace: Option<Arc<Trace>>,
    },
    Worker,
}

/// The executor over an MPI job's ranks; see the [module docs](self) for what it promises.
///
/// ```no_run
/// use concur::{as_completed, Executor};
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// concur::task! { static SQUARE: fn(u64) -> u64 = square; }
///
/// fn main() -> concur::Result<()> {
///     let pool = concur_mpi::MpiPool::start()?; // ranks 1.. serve here, then exit(0)
///     let handles: Vec<_> = (1..=3).map(|x| pool.submit_task(&SQUARE, x)).collect::<Result<_, _>>()?;
///     let mut squares: Vec<u64> = as_completed(handles, None).map(|h| h?.result()).collect::<Result<_, _>>()?;
///     squares.sort();
///     assert_eq!(squares, [1, 4, 9]);
///     let sum: u64 = pool.map_task(&SQUARE, 0..1000).chunksize(100).map(Result::unwrap).sum();
///     assert_eq!(sum, 332_833_500);
///     Ok(())
/// }
/// ```
pub struct MpiPool {
    orders: Sender<Order>,
    closed: AtomicBool,
    thread: Mutex<Option<JoinHandle<i32>>>,
    thread_id: ThreadId,
    size: i32,
    trace: Option<Arc<Trace>>,
}

/// Configures an [`MpiPool`]; every rank must build it the same way.
#[derive(Debug, Default)]
#[must_use]
pub struct MpiPoolBuilder {
    trace: bool,
}

impl MpiPoolBuilder {
    /// Record a [`Trace`] on rank 0: one event per unit of work, with the rank that ran it
    /// ([`concur::trace::Worker::Rank`]), started when rank 0 sent it and finished when its
    /// answer arrived (so transfer time counts as running time).
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Starts the pool; see [`MpiPool::start`].
    pub fn start(self) -> Result<MpiPool> {
        MpiPool::start_with(self.trace)
    }
}

impl MpiPool {
    /// Initializes MPI and starts the pool: returns it on rank 0; on every other rank serves
    /// tasks until rank 0 stops the pool, finalizes MPI and exits the process with status 0.
    ///
    /// Fails with [`Error::Config`] if MPI was already initialized in this process (a second
    /// pool, or a program that initialized MPI itself) or gives less than
    /// `MPI_THREAD_FUNNELED`.
    pub fn start() -> Result<MpiPool> {
        MpiPool::start_with(false)
    }

    /// A builder for the pool's settings.
    pub fn builder() -> MpiPoolBuilder {
        MpiPoolBuilder::default()
    }

    /// The timeline recorder, if the pool was built with [`MpiPoolBuilder::trace`].
    pub fn trace(&self) -> Option<&Arc<Trace>> {
        self.trace.as_ref()
    }

    fn start_with(trace: bool) -> Result<MpiPool> {
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (orders, receiver) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("concur-mpi".into())
            .spawn(move || mpi_thread(ready_tx, receiver, trace))
            .map_err(|e| Error::Config(format!("cannot start the MPI thread: {e}")))?;
        let thread_id = thread.thread().id();
        let died = |thread: JoinHandle<i32>| {
            let _ = thread.join();
            Error::Config("the MPI thread ended while initializing MPI".into())
        };
        match ready_rx.recv() {
            Ok(Ok(Role::Root { size, trace })) => Ok(MpiPool {
                orders,
                closed: AtomicBool::new(false),
                thread: Mutex::new(Some(thread)),
                thread_id,
                size,
                trace,
            }),
            Ok(Ok(Role::Worker)) => {
                drop(orders);
                let code = thread.join().unwrap_or(1);
                std::process::exit(code)
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(died(thread)),
        }
    }

    /// The number of ranks in `MPI_COMM_WORLD`, rank 0 included.
    pub fn world_size(&self) -> usize {
        self.size as usize
    }

    /// Stops accepting work (later submits are `Err(Shutdown)`). With `cancel_pending`, queued
    /// tasks are cancelled; otherwise they still run. Once the queue is empty and every running
    /// task has answered, every worker rank is told to exit and MPI is finalized. With `wait`,
    /// blocks until then (never from a done-callback, which runs on the MPI thread). Calling it
    /// again is harmless.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.orders.send(Order::Stop { cancel_pending });
        if !wait || std::thread::current().id() == self.thread_id {
            return;
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    fn submit_work<T: Send + 'static>(
        &self,
        task: &'static str,
        payload: Vec<u8>,
        decode: impl FnOnce(&[u8]) -> Result<T> + Send + 'static,
    ) -> Result<Handle<T>> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::Wire(format!(
                "the inputs of `{task}` take {} bytes, more than one MPI message carries ({MAX_PAYLOAD} bytes)",
                payload.len()
            )));
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Shutdown);
        }
        let (promise, handle) = Promise::new();
        let job = Job {
            task,
            payload,
            done: Box::new(Typed { promise, decode }),
            traced: self.trace.as_ref().map(|t| (t.next_id(), Instant::now())),
        };
        // A job that loses the race with `shutdown` is dropped by the MPI thread: its promise
        // then resolves the handle with `Shutdown`.
        self.orders
            .send(Order::Run(job))
            .map_err(|_| Error::Shutdown)?;
        Ok(handle)
    }
}

impl Drop for MpiPool {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

/// The MPI thread: initializes MPI, runs rank 0's scheduler or a worker's loop, finalizes MPI.
/// Returns the exit status for a worker rank.
fn mpi_thread(
    ready: Sender<Result<Role>>,
    orders: crossbeam_channel::Receiver<Order>,
    trace: bool,
) -> i32 {
    let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Funneled) else {
        let _ = ready.send(Err(Error::Config(
            "MPI is already initialized (or finalized) in this process: MpiPool::start can run once per process"
                .into(),
        )));
        return 1;
    };
    if threading == Threading::Single {
        let _ = ready.send(Err(Error::Config(
            "the MPI library only supports MPI_THREAD_SINGLE; concur-mpi needs MPI_THREAD_FUNNELED"
                .into(),
        )));
        return 1;
    }
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    let _ = crate::RANK.set(rank);
    let code = if rank == 0 {
        let trace = trace.then(|| Arc::new(Trace::new(size as usize)));
        let _ = ready.send(Ok(Role::Root {
            size,
            trace: trace.clone(),
        }));
        crate::scheduler::run(&world, orders, trace);
        0
    } else {
        let _ = ready.send(Ok(Role::Worker));
        crate::worker::serve(&world)
    };
    drop(universe); // MPI_Finalize, on the thread that initialized MPI
    code
}

impl Executor for MpiPool {
    /// The worker ranks (`size - 1`), or 1 in a world of one rank, where rank 0 runs the tasks.
    fn workers(&self) -> usize {
        (self.size as usize).saturating_sub(1).max(1)
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
