//! [`Sequential`]: the executor that runs each task at once, in the caller's thread.
//!
//! It is the baseline every other mode is measured against, and what Python's built-in `map`
//! does. `submit_task` returns an already-finished handle; `map_task` keeps a window of one, so
//! it computes one item ahead of the consumer at most. A panicking task becomes an error on its
//! handle, as on every executor. [`TracedSequential`] is the same executor recording a
//! timeline: one [`TaskEvent`](crate::trace::TaskEvent) per submitted task or chunk, on the
//! [`Worker::Caller`] row.

use std::sync::Arc;

use crate::error::Result;
use crate::executor::{ChunkHandle, Executor};
use crate::handle::Handle;
use crate::task::{run_each, TaskFn, Wire};
use crate::trace::{Outcome, Trace, Worker};

/// Runs every task inline, one after another.
///
/// ```
/// use concur::{Executor, Sequential};
/// fn inc(x: u8) -> u8 {
///     x + 1
/// }
/// concur::task! { static INC: fn(u8) -> u8 = inc; }
/// assert_eq!(Sequential.submit_task(&INC, 1).unwrap().result(), Ok(2));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl Executor for Sequential {
    fn workers(&self) -> usize {
        1
    }

    fn submit_task<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        input: I,
    ) -> Result<Handle<O>> {
        let outcome = run_each(vec![input], |x| task.call(x))
            .pop()
            .expect("one input, one result");
        Ok(Handle::ready(outcome.map_err(|e| *e)))
    }

    fn submit_chunk<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: Vec<I>,
    ) -> Result<ChunkHandle<O>> {
        Ok(Handle::ready(Ok(run_each(inputs, |x| task.call(x)))))
    }

    fn default_window(&self) -> usize {
        1
    }
}

/// [`Sequential`], recording every task (or chunk) it runs in a [`Trace`]: submitted = started
/// (nothing queues), the caller as the worker, the task's name as the label and its outcome (a
/// chunk fails on the timeline when any of its items failed).
///
/// ```
/// use concur::{Executor, TracedSequential};
/// fn half(x: u32) -> u32 {
///     assert!(x % 2 == 0, "odd");
///     x / 2
/// }
/// concur::task! { static HALF: fn(u32) -> u32 = half; }
/// let executor = TracedSequential::new();
/// let halves: Vec<_> = executor.map_task(&HALF, [4, 5]).collect();
/// assert!(halves[0] == Ok(2) && halves[1].is_err());
/// let events = executor.trace().events();
/// assert_eq!(events.len(), 2);
/// assert!(events[1].outcome != concur::trace::Outcome::Ok);
/// ```
#[derive(Debug, Clone)]
pub struct TracedSequential {
    trace: Arc<Trace>,
}

impl TracedSequential {
    /// A sequential executor with a fresh trace.
    pub fn new() -> TracedSequential {
        TracedSequential {
            trace: Arc::new(Trace::new(1)),
        }
    }

    /// The recorded timeline.
    pub fn trace(&self) -> &Arc<Trace> {
        &self.trace
    }
}

impl Default for TracedSequential {
    fn default() -> Self {
        TracedSequential::new()
    }
}

impl Executor for TracedSequential {
    fn workers(&self) -> usize {
        1
    }

    fn submit_task<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        input: I,
    ) -> Result<Handle<O>> {
        self.trace.time(
            Worker::Caller,
            task.name(),
            || Sequential.submit_task(task, input),
            |handle| match handle {
                Ok(handle) => Outcome::failed_if(handle.failure()),
                Err(e) => Outcome::failed_if(Some(e)),
            },
        )
    }

    fn submit_chunk<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: Vec<I>,
    ) -> Result<ChunkHandle<O>> {
        let results = self.trace.time(
            Worker::Caller,
            task.name(),
            || run_each(inputs, |x| task.call(x)),
            |results| Outcome::failed_if(results.iter().find_map(|r| r.as_ref().err())),
        );
        Ok(Handle::ready(Ok(results)))
    }

    fn default_window(&self) -> usize {
        1
    }
}
