//! Traced runs: the executor [`Mode`] picks, recording a timeline of every task.
//!
//! Contract: [`with_executor_traced`] is [`with_executor`] plus the run's [`TaskEvent`]s when
//! asked: thread and process pools are built with tracing on; the sequential mode runs on
//! [`concur::TracedSequential`], which times each call on the caller (`Worker::Caller`). A mode
//! with no tracing here (MPI) runs untraced and returns `None` for its events; async runs are
//! traced by [`super::async_mode`] itself.
//! [`execute`](super::execute) and [`execute_work`](super::execute_work) run every mode
//! through it (with [`Options::trace`](super::Options::trace)).

use concur::trace::TaskEvent;

use super::{with_executor, Mode, WithExecutor};

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
            let executor = concur::TracedSequential::new();
            let output = work.run(&executor);
            Ok((output, Some(executor.trace().events())))
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
