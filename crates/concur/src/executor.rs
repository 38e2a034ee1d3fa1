//! The [`Executor`] trait, and `map` written once on top of submitting chunks.
//!
//! Every executor — [`Sequential`](crate::Sequential), [`ThreadPool`](crate::ThreadPool), the
//! process pool, `concur-mpi`'s `MpiPool` — implements two required methods: submit one task, and
//! submit a *chunk* of inputs for one task as a single unit of work. Everything else (ordered and
//! unordered `map`, chunking, the bounded in-flight window) lives here in [`Map`], so every
//! executor behaves the same way.
//!
//! # What `Map` promises
//!
//! - **Lazy**: nothing is submitted before the first call to `next`.
//! - **Bounded**: at most `window` chunks are in flight at once (default: twice the executor's
//!   workers), plus the finished chunk being read, so at most `(window + 1) * chunksize` inputs
//!   are pulled ahead of the consumer and an endless input iterator runs in constant memory.
//! - **Every item answers**: each input yields exactly one `Result`. A panicking item fails only
//!   itself; a chunk lost as a whole (a dead worker, a shut-down executor) fails each of its items
//!   with the same error.
//! - **Order**: [`Executor::map_task`] yields in input order; [`Executor::map_task_unordered`] in
//!   completion order (chunk by chunk; in input order within a chunk).

use std::collections::VecDeque;
use std::iter::Fuse;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{Error, ItemResult, Result};
use crate::handle::Handle;
use crate::task::{TaskFn, Wire};

/// The handle of a submitted chunk: one result per input, in input order.
pub type ChunkHandle<O> = Handle<Vec<ItemResult<O>>>;

/// A pool that runs registered tasks. Switching threads -> processes -> MPI is choosing another
/// implementation of this trait; code written against it never changes.
///
/// ```
/// use concur::{Executor, Sequential, ThreadPool};
///
/// fn is_even(n: u64) -> bool {
///     n % 2 == 0
/// }
/// concur::task! { static IS_EVEN: fn(u64) -> bool = is_even; }
///
/// fn count_even(executor: &impl Executor) -> usize {
///     executor.map_task(&IS_EVEN, 0..100).filter(|r| *r.as_ref().unwrap()).count()
/// }
/// assert_eq!(count_even(&Sequential), 50);
/// assert_eq!(count_even(&ThreadPool::new(2).unwrap()), 50);
/// ```
pub trait Executor {
    /// How many tasks can run at once.
    fn workers(&self) -> usize;

    /// Submits `task(input)`; the handle comes back at once.
    fn submit_task<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        input: I,
    ) -> Result<Handle<O>>;

    /// Submits `task` over `inputs` as one unit of work (one message to a process, one job on a
    /// thread). Each input gets its own result; a panic fails only its item.
    fn submit_chunk<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: Vec<I>,
    ) -> Result<ChunkHandle<O>>;

    /// How many chunks `map` keeps in flight unless told otherwise.
    fn default_window(&self) -> usize {
        2 * self.workers().max(1)
    }

    /// `task` over every input, results in input order. Lazy and bounded; see [`Map`].
    fn map_task<I, O, It>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: It,
    ) -> Map<'_, It::IntoIter, O>
    where
        I: Wire,
        O: Wire,
        It: IntoIterator<Item = I>,
        Self: Sized,
    {
        Map::new(
            inputs.into_iter(),
            true,
            self.default_window(),
            move |chunk| self.submit_chunk(task, chunk),
        )
    }

    /// `task` over every input, results as they complete. Lazy and bounded; see [`Map`].
    fn map_task_unordered<I, O, It>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: It,
    ) -> Map<'_, It::IntoIter, O>
    where
        I: Wire,
        O: Wire,
        It: IntoIterator<Item = I>,
        Self: Sized,
    {
        Map::new(
            inputs.into_iter(),
            false,
            self.default_window(),
            move |chunk| self.submit_chunk(task, chunk),
        )
    }
}

/// A submitted chunk and how many inputs it holds.
type InFlight<O> = (ChunkHandle<O>, usize);

type SubmitChunk<'a, I, O> = Box<dyn FnMut(Vec<I>) -> Result<ChunkHandle<O>> + 'a>;

/// A lazy, bounded, chunked `map` over any executor. An iterator of one `Result` per input.
///
/// Set [`chunksize`](Map::chunksize) and [`window`](Map::window) before the first `next`.
///
/// ```
/// let pool = concur::ThreadPool::new(2).unwrap();
/// let total: u64 = pool
///     .map(|x: u64| x * 3, 0..1_000_000) // lazily generated: constant memory
///     .chunksize(1024)
///     .window(8)
///     .map(Result::unwrap)
///     .sum();
/// assert_eq!(total, 3 * (999_999 * 1_000_000 / 2));
/// ```
pub struct Map<'a, It: Iterator, O> {
    inputs: Fuse<It>,
    submit: SubmitChunk<'a, It::Item, O>,
    ordered: bool,
    chunksize: usize,
    window: usize,
    /// Ordered mode: chunks in submission order.
    in_order: VecDeque<InFlight<O>>,
    /// Unordered mode: chunks as they complete.
    completed: (Sender<InFlight<O>>, Receiver<InFlight<O>>),
    in_flight: usize,
    ready: std::vec::IntoIter<ItemResult<O>>,
}

impl<'a, It, O> Map<'a, It, O>
where
    It: Iterator,
    O: Send + 'static,
{
    /// A map that submits chunks through `submit`. Executors call this; users call `map` on one.
    pub fn new(
        inputs: It,
        ordered: bool,
        window: usize,
        submit: impl FnMut(Vec<It::Item>) -> Result<ChunkHandle<O>> + 'a,
    ) -> Self {
        Map {
            inputs: inputs.fuse(),
            submit: Box::new(submit),
            ordered,
            chunksize: 1,
            window: window.max(1),
            in_order: VecDeque::new(),
            completed: crossbeam_channel::unbounded(),
            in_flight: 0,
            ready: Vec::new().into_iter(),
        }
    }

    /// Inputs per unit of work (default 1). Larger chunks amortise the per-task cost, as
    /// Python's `chunksize` does. Zero counts as one.
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.chunksize = chunksize.max(1);
        self
    }

    /// Chunks in flight at most (default: twice the workers). Zero counts as one.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Submits chunks until the window is full or the inputs run out.
    fn fill(&mut self) {
        while self.in_flight < self.window {
            let chunk: Vec<It::Item> = self.inputs.by_ref().take(self.chunksize).collect();
            if chunk.is_empty() {
                return;
            }
            let len = chunk.len();
            let handle = match (self.submit)(chunk) {
                Ok(handle) => handle,
                Err(e) => Handle::ready(Ok(errors(e, len))),
            };
            self.in_flight += 1;
            if self.ordered {
                self.in_order.push_back((handle, len));
            } else {
                let tx = self.completed.0.clone();
                handle.add_done_callback(move |h| {
                    let _ = tx.send((h.clone(), len));
                });
            }
        }
    }

    fn next_chunk(&mut self) -> Option<InFlight<O>> {
        if self.ordered {
            self.in_order.pop_front()
        } else if self.in_flight == 0 {
            None
        } else {
            crate::thread_pool::recv_helping(&self.completed.1, None)
        }
    }
}

impl<It, O> Iterator for Map<'_, It, O>
where
    It: Iterator,
    O: Send + 'static,
{
    type Item = Result<O>;

    fn next(&mut self) -> Option<Result<O>> {
        loop {
            if let Some(item) = self.ready.next() {
                return Some(item.map_err(|e| *e));
            }
            self.fill();
            let (handle, len) = self.next_chunk()?;
            self.in_flight -= 1;
            self.ready = match handle.into_result() {
                Ok(results) => results,
                Err(e) => errors(e, len),
            }
            .into_iter();
            self.fill();
        }
    }
}

/// One copy of `error` per item of a chunk that failed as a whole.
fn errors<O>(error: Error, len: usize) -> Vec<ItemResult<O>> {
    (0..len).map(|_| Err(Box::new(error.clone()))).collect()
}
