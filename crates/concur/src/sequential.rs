//! [`Sequential`]: the executor that runs each task at once, in the caller's thread.
//!
//! It is the baseline every other mode is measured against, and what Python's built-in `map`
//! does. `submit_task` returns an already-finished handle; `map_task` keeps a window of one, so
//! it computes one item ahead of the consumer at most. A panicking task becomes an error on its
//! handle, as on every executor.

use crate::error::Result;
use crate::executor::{ChunkHandle, Executor};
use crate::handle::Handle;
use crate::task::{run_each, TaskFn, Wire};

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
        Ok(Handle::ready(outcome))
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
