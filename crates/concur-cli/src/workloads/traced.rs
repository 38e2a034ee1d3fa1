//! Traced runs: the executor [`Mode`] picks, recording a timeline of every task.
//!
//! Contract: [`execute_traced`] is [`execute`](super::execute) plus the run's
//! [`TaskEvent`]s: thread and process pools are built with tracing on; the sequential mode runs
//! on [`TracedSequential`], which times each call on the caller (`Worker::Caller`). A mode with
//! no tracing yet (async, MPI) runs untraced and returns `None` for its events.

use std::sync::Arc;
use std::time::Instant;

use concur::trace::{Outcome, TaskEvent, Trace, Worker};
use concur::{Executor, Handle, TaskFn, Wire};

use super::{run_on, with_executor, Experiment, Mode, Options, Report, WithExecutor};

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
        let (id, submitted) = (self.trace.next_id(), Instant::now());
        let handle = call();
        // A task's own failures are values (`Result<T, String>`); only a refused submit shows here.
        let outcome = match &handle {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        let finished = self.trace.offset(Instant::now());
        let started = self.trace.offset(submitted);
        let event = TaskEvent {
            id,
            label: label.to_string(),
            worker: Worker::Caller,
            submitted: started,
            started,
            finished,
            outcome,
        };
        self.trace.record(0, event);
        handle
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

/// [`with_executor`] with tracing on where the mode supports it; also returns the events.
pub fn with_executor_traced<W: WithExecutor>(
    mode: Mode,
    workers: usize,
    work: W,
) -> anyhow::Result<(W::Output, Option<Vec<TaskEvent>>)> {
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

struct Traced<I: 'static, T: 'static> {
    experiment: Experiment<I, T>,
    as_completed: bool,
}

impl<I: Wire, T: Wire> WithExecutor for Traced<I, T> {
    type Output = (Vec<(serde_json::Value, Result<T, String>)>, f64);

    fn run<E: Executor>(self, executor: &E) -> Self::Output {
        let started = Instant::now();
        let results = run_on(executor, self.experiment, self.as_completed, |_, _| {});
        (results, started.elapsed().as_secs_f64())
    }
}

/// Runs `experiment` as `options` say, traced; the report and the timeline (if the mode has one).
pub fn execute_traced<I: Wire, T: Wire>(
    experiment: Experiment<I, T>,
    options: Options,
) -> anyhow::Result<(Report<T>, Option<Vec<TaskEvent>>)> {
    if options.mode == Mode::Async {
        // The async runtime has no executor to trace; its run is reported untraced.
        return Ok((super::execute(experiment, options, |_, _| {})?, None));
    }
    let workers = options.mode.workers(options.workers)?;
    let (command, key) = (experiment.command, experiment.key);
    let started = Instant::now();
    let work = Traced {
        experiment,
        as_completed: options.as_completed,
    };
    let ((results, work_seconds), events) = with_executor_traced(options.mode, workers, work)?;
    let report = Report {
        command,
        key,
        mode: options.mode,
        workers,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        work_seconds,
        results,
    };
    Ok((report, events))
}
