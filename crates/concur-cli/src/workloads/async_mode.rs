//! `--mode async`: every item's download in flight at once on **one** OS thread, as the seed's
//! coroutines do.
//!
//! Contract: [`run`] starts a tokio current-thread runtime and one reqwest async client, and
//! drives the experiment's async form ([`super::Experiment::run_async`]) for every input with at
//! most `concurrency` in flight. Results reach `each` in input order (`buffered`), or in
//! completion order with `as_completed` (`buffer_unordered`); they come back in input order
//! either way. A failed item is that item's error; a panicking one becomes that item's error
//! naming it, never the run's. An experiment without an async form (a CPU-bound one: primes,
//! fingerprint) is refused before any work, naming the modes that fit. Given a [`Trace`], it
//! records one event per item on the caller's row (the runtime's one thread): submitted when the
//! run starts, started when the item is first polled (it entered the `concurrency` window),
//! finished when its future completed — so the bars overlap, which is what coroutines look like.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use concur::trace::{Outcome as TaskOutcome, TaskEvent, Trace, Worker};

use anyhow::{anyhow, bail};
use futures_util::future::LocalBoxFuture;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;

use super::{in_input_order, label_text, Experiment};

/// Requests in flight when `--workers` is not given: aiohttp's default connection limit.
pub const DEFAULT_CONCURRENCY: usize = 100;

/// An item's async form: given the run's HTTP client and the input, its result.
pub type AsyncTask<I, T> = fn(reqwest::Client, I) -> LocalBoxFuture<'static, Result<T, String>>;

/// The results in input order (labelled) and the seconds from the first request to the last result.
pub type Outcome<T> = (Vec<(Value, Result<T, String>)>, f64);

/// Runs `experiment` as the module doc says.
pub fn run<I: 'static, T: 'static>(
    experiment: Experiment<I, T>,
    concurrency: usize,
    as_completed: bool,
    trace: Option<&Trace>,
    mut each: impl FnMut(&Value, &Result<T, String>),
) -> anyhow::Result<Outcome<T>> {
    let Some(task) = experiment.run_async else {
        bail!(
            "{} is CPU-bound: --mode async runs only I/O-bound workloads (wordfreq); \
             use --mode sequential, threads or processes",
            experiment.command
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the async runtime: {e}"))?;
    let (labels, inputs): (Vec<Value>, Vec<I>) = experiment.inputs.into_iter().unzip();
    let mut results: Vec<Option<Result<T, String>>> = labels.iter().map(|_| None).collect();
    let started = Instant::now();
    runtime.block_on(async {
        let client = sources_client()?;
        let labels = &labels;
        let items = inputs.into_iter().enumerate().map(|(i, input)| {
            let client = client.clone();
            async move {
                let began = Instant::now(); // first polled: inside the window
                let outcome = AssertUnwindSafe(task(client, input)).catch_unwind().await;
                let result = outcome.unwrap_or_else(|panic| {
                    let text = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(format!("{}: task panicked: {text}", label_text(&labels[i])))
                });
                (i, result, began, Instant::now())
            }
        });
        let items = futures_util::stream::iter(items);
        let mut done = if as_completed {
            items.buffer_unordered(concurrency.max(1)).boxed_local()
        } else {
            items.buffered(concurrency.max(1)).boxed_local()
        };
        while let Some((i, result, began, ended)) = done.next().await {
            if let Some(trace) = trace {
                trace.record(
                    0,
                    TaskEvent {
                        id: i as u64,
                        label: label_text(&labels[i]).into(),
                        worker: Worker::Caller,
                        submitted: trace.offset(started),
                        started: trace.offset(began),
                        finished: trace.offset(ended),
                        outcome: TaskOutcome::failed_if(result.as_ref().err()),
                    },
                );
            }
            each(&labels[i], &result);
            results[i] = Some(result);
        }
        anyhow::Ok(())
    })?;
    let work_seconds = started.elapsed().as_secs_f64();
    let results = in_input_order(labels, results);
    Ok((results, work_seconds))
}

fn sources_client() -> anyhow::Result<reqwest::Client> {
    crate::sources::async_client().map_err(anyhow::Error::msg)
}
