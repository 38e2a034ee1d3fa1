//! Traced runs: the executor [`Mode`] picks, recording a timeline of every task.
//!
//! Contract: [`with_executor_traced`] is [`with_executor`] plus the run's [`TaskEvent`]s when
//! asked: thread and process pools are built with tracing on; the sequential mode runs on
//! [`TracedSequential`], which times each call on the caller (`Worker::Caller`). A mode with no
//! tracing yet (MPI) runs untraced and returns `None` for its events.
//! [`execute`](super::execute) and [`execute_work`](super::execute_work) run every mode
//! through it (with [`Options::trace`](super::Options::trace)).

use std::sync::Arc;
use std::time::Instant;

use concur::trace::{Outcome, TaskEvent, Trace, Worker};
use concur::{Executor, Handle, TaskFn, Wire};

use super::{with_executor, Mode, WithExecutor};

/// [`concur::Sequential`], recording one event per call in its own [`Trace`].
#[derive(Debug)]
pub struct TracedSequential {
    /// The recorded timeline.
    pub trace: Arc<Trace>,
}

impl TracedSequential {
    fn timed<T>(
        &self,
        label: &str,
        call: impl FnOnce() -> concur::Result<Handle<T>>,
    ) -> concur::Result<Handle<T>> {
        // A task's own failures are values (`Result<T, String>`); only a refused submit shows here.
        timed(
            &self.trace,
            Worker::Caller,
            label,
            call,
            |handle| match handle {
                Ok(_) => Outcome::Ok,
                Err(e) => Outcome::Failed(e.to_string()),
            },
        )
    }
}

/// Runs `call` on this thread and records it in `trace` as one task of `worker` named `label`
/// (submitted when it starts), with the outcome `outcome` reads from its output.
pub fn timed<R>(
    trace: &Trace,
    worker: Worker,
    label: &str,
    call: impl FnOnce() -> R,
    outcome: impl FnOnce(&R) -> Outcome,
) -> R {
    let (id, submitted) = (trace.next_id(), Instant::now());
    let output = call();
    let outcome = outcome(&output);
    let finished = trace.offset(Instant::now());
    let started = trace.offset(submitted);
    let event = TaskEvent {
        id,
        label: label.to_string().into(),
        worker,
        submitted: started,
        started,
        finished,
        outcome,
    };
    trace.record(0, event);
    output
}

impl Executor for TracedSequential {
    fn workers(&self) -> usize {
        1
    }

    fn submit_task<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        input: I,
    ) -> concur::Result<Handle<O>> {
        self.timed(task.name(), || concur::Sequential.submit_task(task, input))
    }

    fn submit_chunk<I: Wire, O: Wire>(
        &self,
        task: &'static TaskFn<I, O>,
        inputs: Vec<I>,
    ) -> concur::Result<concur::ChunkHandle<O>> {
        self.timed(task.name(), || {
            concur::Sequential.submit_chunk(task, inputs)
        })
    }

    fn default_window(&self) -> usize {
        1
    }
}

/// [`with_executor`], with tracing on when `trace` is and the mode supports it; also returns
/// the events (`None` when untraced).
pub fn with_executor_traced<W: WithExecutor>(
    mode: Mode,
    workers: usize,
    trace: bool,
    work: W,
) -> anyhow::Result<(W::Output, Option<Vec<TaskEvent>>)> {
    if !trace {
        return Ok((with_executor(mode, workers, work)?, None));
    }
    match mode {
        Mode::Sequential => {
            let executor = TracedSequential {
                trace: Arc::new(Trace::new(1)),
            };
            let output = work.run(&executor);
            Ok((output, Some(executor.trace.events())))
        }
        Mode::Threads => {
            let pool = concur::ThreadPool::builder()
                .workers(workers)
                .trace(true)
                .build()?;
            let output = work.run(&pool);
            pool.shutdown(true, false);
            Ok((output, pool.trace().map(|t| t.events())))
        }
        Mode::Processes => {
            let pool = concur::ProcessPool::builder()
                .workers(workers)
                .trace(true)
                .build()?;
            let output = work.run(&pool);
            pool.shutdown(true, false);
            Ok((output, pool.trace().map(|t| t.events())))
        }
        _ => Ok((with_executor(mode, workers, work)?, None)),
    }
}

#[cfg(test)]
mod tests {
    use crate::workloads::{execute, primes, Mode, Options};

    #[test]
    fn execute_records_one_event_per_task_only_when_asked() {
        for mode in [Mode::Sequential, Mode::Threads] {
            for trace in [false, true] {
                let options = Options {
                    mode,
                    workers: Some(2),
                    as_completed: false,
                    trace,
                };
                let report =
                    execute(primes::experiment(vec![7, 8, 9, 97]), options, |_, _| {}).unwrap();
                assert_eq!(report.results.len(), 4);
                match (trace, report.events) {
                    (false, None) => {}
                    (true, Some(events)) => assert_eq!(events.len(), 4, "{mode:?}"),
                    (_, events) => panic!("{mode:?} trace={trace}: {events:?}"),
                }
            }
        }
    }
}
