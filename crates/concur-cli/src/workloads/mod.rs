//! The experiments, each a plain function registered as a task, and the one runner they share.
//!
//! Contract:
//! - Every workload ([`wordfreq`], [`fingerprint`], [`primes`]) is a `concur::task!` whose input is
//!   a serde value and whose output is `Result<T, String>`: a failed item (a missing book, bad
//!   UTF-8) is a *value* naming the item, so it crosses any executor, process boundaries included,
//!   and never loses the other items' results.
//! - [`execute`] runs an [`Experiment`] on the executor that [`Mode`] picks. The code that runs
//!   a workload ([`run_on`]) is generic over `E: concur::Executor` and never branches on the mode;
//!   adding a mode is one more arm in [`with_executor`].
//! - Ordering: results reach the `each` callback in input order (`map_task`), or in completion
//!   order with `as_completed` (`submit_task` each + `concur::as_completed`); the [`Report`]
//!   always holds them in input order.
//! - `--mode async` is not an executor: [`execute`] hands an experiment with an async form
//!   ([`Experiment::run_async`], I/O-bound workloads only) to [`async_mode`], and refuses one
//!   without, naming the modes that fit.
//! - Tracing: with [`Options::trace`], thread and process pools are built with tracing on and the
//!   sequential mode runs on [`concur::TracedSequential`]; the [`Report`] then carries the run's
//!   [`concur::TaskEvent`]s (async: one per item, see [`async_mode`]). MPI runs are never traced
//!   (`events: None`).
//! - Timing: `elapsed_seconds` spans what the seed's timer spans (starting the executor, the work,
//!   the callback's printing, shutting the executor down); `work_seconds` only the first submit
//!   to the last result.

pub mod async_mode;
pub mod count;
pub mod deadlock;
pub mod fingerprint;
pub mod primes;
pub mod traced;
pub mod wordfreq;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::bail;
use concur::{Executor, TaskFn, Wire};
use serde::Serialize;
use serde_json::{json, Value};

/// How tasks are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One after another in the calling thread.
    Sequential,
    /// A pool of worker threads.
    Threads,
    /// A pool of crash-isolated worker processes.
    Processes,
    /// Concurrent downloads on one OS thread (tokio current-thread runtime, reqwest); I/O-bound
    /// workloads only (wordfreq); `--workers` limits the requests in flight (default 100).
    Async,
    /// MPI ranks (not in this build yet).
    Mpi,
}

impl Mode {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Threads => "threads",
            Mode::Processes => "processes",
            Mode::Async => "async",
            Mode::Mpi => "mpi",
        }
    }

    /// How many workers a run in this mode uses for `--workers` (`None`: one per CPU).
    pub fn workers(self, workers: Option<usize>) -> anyhow::Result<usize> {
        match workers {
            Some(0) => bail!("--workers 0: at least one worker is needed"),
            _ if self == Mode::Sequential => Ok(1),
            #[cfg(feature = "mpi")]
            _ if self == Mode::Mpi => {
                Ok(MPI_POOL.with(|p| p.borrow().as_ref().map_or(1, concur::Executor::workers)))
            }
            None if self == Mode::Async => Ok(async_mode::DEFAULT_CONCURRENCY),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }
}

/// Work that needs an executor, whichever it is: the way to call generic code from a runtime
/// choice (`Executor` is not object-safe).
pub trait WithExecutor {
    /// What the work returns.
    type Output;
    /// Does the work on `executor`.
    fn run<E: Executor>(self, executor: &E) -> Self::Output;
}

#[cfg(feature = "mpi")]
thread_local! {
    /// The MPI pool of `--mode mpi`, on rank 0 (see [`start_mpi`]).
    static MPI_POOL: std::cell::RefCell<Option<concur_mpi::MpiPool>> = const { std::cell::RefCell::new(None) };
}

/// Starts MPI for `--mode mpi`; call it before reading any input. On rank 0 it returns and the
/// pool serves `with_executor(Mode::Mpi, ..)` until [`stop_mpi`]; on every other rank it runs
/// tasks until rank 0 stops, then ends the process with status 0 (it never returns there).
#[cfg(feature = "mpi")]
pub fn start_mpi() -> anyhow::Result<()> {
    let pool = concur_mpi::MpiPool::start()?;
    MPI_POOL.with(|p| *p.borrow_mut() = Some(pool));
    Ok(())
}

/// Stops the MPI pool (tells every rank to exit and finalizes MPI); harmless if none runs.
#[cfg(feature = "mpi")]
pub fn stop_mpi() {
    MPI_POOL.with(|p| drop(p.borrow_mut().take()));
}

/// Starts the executor `mode` names with `workers` workers, runs `work` on it, and shuts it down.
pub fn with_executor<W: WithExecutor>(
    mode: Mode,
    workers: usize,
    work: W,
) -> anyhow::Result<W::Output> {
    match mode {
        Mode::Sequential => Ok(work.run(&concur::Sequential)),
        Mode::Threads => {
            let pool = concur::ThreadPool::new(workers)?;
            let output = work.run(&pool);
            pool.shutdown(true, false);
            Ok(output)
        }
        Mode::Processes => {
            let pool = concur::ProcessPool::new(workers)?;
            let output = work.run(&pool);
            pool.shutdown(true, false);
            Ok(output)
        }
        #[cfg(feature = "mpi")]
        Mode::Mpi => MPI_POOL.with(|pool| match &*pool.borrow() {
            Some(pool) => Ok(work.run(pool)),
            None => bail!("--mode mpi: MPI was not started (call workloads::start_mpi first)"),
        }),
        #[cfg(not(feature = "mpi"))]
        Mode::Mpi => bail!(
            "mode \"mpi\" needs a build with MPI: cargo build --release --features mpi \
             (and a system MPI), then mpirun -n 4 target/release/concur ... --mode mpi"
        ),
        Mode::Async => bail!(
            "--mode async runs only I/O-bound workloads (wordfreq); use --mode sequential, threads or processes"
        ),
    }
}

/// One experiment: a task, its inputs, and how its output is labelled.
pub struct Experiment<I: 'static, T: 'static> {
    /// The command name (`wordfreq`, ...), as JSON's `command`.
    pub command: &'static str,
    /// The key that names an item in JSON errors (`name` or `n`).
    pub key: &'static str,
    /// The task to run on every input.
    pub task: &'static TaskFn<I, Result<T, String>>,
    /// Each input with its label (the book's name, the number).
    pub inputs: Vec<(Value, I)>,
    /// The task's async form for `--mode async`; `None` for a CPU-bound workload.
    pub run_async: Option<async_mode::AsyncTask<I, T>>,
}

impl<I: 'static, T: 'static> Experiment<I, T> {
    /// An experiment over books, keyed by `name`: `input(name, location)` is each book's input.
    pub fn over_books(
        command: &'static str,
        task: &'static TaskFn<I, Result<T, String>>,
        books: Vec<(String, crate::sources::Location)>,
        input: impl Fn(String, crate::sources::Location) -> I,
    ) -> Self {
        let inputs = books
            .into_iter()
            .map(|(name, location)| (Value::String(name.clone()), input(name, location)))
            .collect();
        Experiment {
            command,
            key: "name",
            task,
            inputs,
            run_async: None,
        }
    }
}

/// How to run an experiment.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The executor.
    pub mode: Mode,
    /// `--workers` (`None`: one per CPU).
    pub workers: Option<usize>,
    /// Submit each input and take results as they complete.
    pub as_completed: bool,
    /// Record a timeline of the run ([`Report::events`]).
    pub trace: bool,
}

/// What a run produced.
#[derive(Debug)]
pub struct Report<T> {
    /// The command name.
    pub command: &'static str,
    /// The key naming an item in errors.
    pub key: &'static str,
    /// The mode it ran in.
    pub mode: Mode,
    /// The workers it used.
    pub workers: usize,
    /// Seconds from starting the executor to shutting it down (printing included).
    pub elapsed_seconds: f64,
    /// Seconds from the first submit to the last result.
    pub work_seconds: f64,
    /// Every input's label and result, in input order.
    pub results: Vec<(Value, Result<T, String>)>,
    /// The run's timeline, with [`Options::trace`] in a mode that records one.
    pub events: Option<Vec<concur::TaskEvent>>,
}

impl<T: Serialize> Report<T> {
    /// Whether any item failed.
    pub fn failed(&self) -> bool {
        self.results.iter().any(|(_, r)| r.is_err())
    }

    /// The JSON object the issue specifies, plus `work_seconds`.
    pub fn to_json(&self) -> Value {
        let results: Vec<Value> = self
            .results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect();
        let errors: Vec<Value> = self
            .results
            .iter()
            .filter_map(|(label, r)| {
                r.as_ref()
                    .err()
                    .map(|e| json!({ self.key: label, "error": e }))
            })
            .collect();
        json!({
            "command": self.command,
            "mode": self.mode.name(),
            "workers": self.workers,
            "elapsed_seconds": self.elapsed_seconds,
            "work_seconds": self.work_seconds,
            "results": results,
            "errors": errors,
        })
    }
}

/// A label as text: a JSON string without its quotes, anything else as JSON.
pub fn label_text(label: &Value) -> String {
    match label {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs `experiment` as `options` say, calling `each` with every result as it arrives.
pub fn execute<I: Wire, T: Wire>(
    experiment: Experiment<I, T>,
    options: Options,
    each: impl FnMut(&Value, &Result<T, String>),
) -> anyhow::Result<Report<T>> {
    let (command, key) = (experiment.command, experiment.key);
    execute_with(command, key, options, |workers| {
        if options.mode == Mode::Async {
            let trace = options.trace.then(|| concur::Trace::new(1));
            let as_completed = options.as_completed;
            let output = async_mode::run(experiment, workers, as_completed, trace.as_ref(), each)?;
            return Ok((output, trace.map(|t| t.events())));
        }
        let run = Run {
            experiment,
            as_completed: options.as_completed,
            each,
        };
        traced::with_executor_traced(options.mode, workers, options.trace, run)
    })
}

/// Runs any `work` that yields labelled results and its work time, timed into a [`Report`].
pub fn execute_work<T, W>(
    command: &'static str,
    key: &'static str,
    options: Options,
    work: W,
) -> anyhow::Result<Report<T>>
where
    W: WithExecutor<Output = Work<T>>,
{
    execute_with(command, key, options, |workers| {
        traced::with_executor_traced(options.mode, workers, options.trace, work)
    })
}

/// What a run returns: every input's label and result, in input order, and the work seconds.
pub type Work<T> = (Vec<(Value, Result<T, String>)>, f64);

/// Times `run(workers)` (the work and its timeline, if traced) into a [`Report`].
fn execute_with<T>(
    command: &'static str,
    key: &'static str,
    options: Options,
    run: impl FnOnce(usize) -> anyhow::Result<(Work<T>, Option<Vec<concur::TaskEvent>>)>,
) -> anyhow::Result<Report<T>> {
    let workers = options.mode.workers(options.workers)?;
    let started = Instant::now();
    let ((results, work_seconds), events) = run(workers)?;
    Ok(Report {
        command,
        key,
        mode: options.mode,
        workers,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        work_seconds,
        results,
        events,
    })
}

struct Run<I: 'static, T: 'static, F> {
    experiment: Experiment<I, T>,
    as_completed: bool,
    each: F,
}

impl<I: Wire, T: Wire, F: FnMut(&Value, &Result<T, String>)> WithExecutor for Run<I, T, F> {
    type Output = Work<T>;

    fn run<E: Executor>(self, executor: &E) -> Self::Output {
        let started = Instant::now();
        let results = run_on(executor, self.experiment, self.as_completed, self.each);
        (results, started.elapsed().as_secs_f64())
    }
}

/// Runs every input of `experiment` on `executor` (the same code for every mode), calling `each`
/// in input order, or completion order with `as_completed`; returns the results in input order.
/// A task that fails as a whole (a panic, a dead worker) becomes that item's error, naming it.
pub fn run_on<E: Executor, I: Wire, T: Wire>(
    executor: &E,
    experiment: Experiment<I, T>,
    as_completed: bool,
    mut each: impl FnMut(&Value, &Result<T, String>),
) -> Vec<(Value, Result<T, String>)> {
    let (labels, inputs): (Vec<Value>, Vec<I>) = experiment.inputs.into_iter().unzip();
    let failed = |i: usize, e: concur::Error| Err(format!("{}: {e}", label_text(&labels[i])));
    let mut results: Vec<Option<Result<T, String>>> = labels.iter().map(|_| None).collect();
    if as_completed {
        let mut index_of = HashMap::new();
        let mut handles = Vec::new();
        for (i, input) in inputs.into_iter().enumerate() {
            match executor.submit_task(experiment.task, input) {
                Ok(handle) => {
                    index_of.insert(handle.id(), i);
                    handles.push(handle);
                }
                Err(e) => {
                    let result = failed(i, e);
                    each(&labels[i], &result);
                    results[i] = Some(result);
                }
            }
        }
        for handle in concur::as_completed(handles, None).flatten() {
            let i = index_of[&handle.id()];
            let result = handle.into_result().unwrap_or_else(|e| failed(i, e));
            each(&labels[i], &result);
            results[i] = Some(result);
        }
    } else {
        for (i, result) in executor.map_task(experiment.task, inputs).enumerate() {
            let result = result.unwrap_or_else(|e| failed(i, e));
            each(&labels[i], &result);
            results[i] = Some(result);
        }
    }
    in_input_order(labels, results)
}

/// Each label with its result; an item whose result never came back is an error naming it.
fn in_input_order<T>(
    labels: Vec<Value>,
    results: Vec<Option<Result<T, String>>>,
) -> Vec<(Value, Result<T, String>)> {
    labels
        .into_iter()
        .zip(results)
        .map(|(label, r)| {
            let r =
                r.unwrap_or_else(|| Err(format!("{}: no result came back", label_text(&label))));
            (label, r)
        })
        .collect()
}
