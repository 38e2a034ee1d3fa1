//! The thread pool side by side with the crates users would otherwise pick, in one run.
//!
//! Every pool has 2 workers. Groups (criterion reports the median time per iteration and, from
//! the declared throughput, tasks per second; divide the time by the task count for the cost per
//! task):
//!
//! - `noop_1m`: submit 1,000,000 no-op tasks, then wait for every result, in order (issue 2's
//!   "amortized over 1 M tasks"). `concur/submit_result` waits on each handle in turn;
//!   `concur/submit_result_traced` is the same with tracing on. Against `rayon/spawn_channel`
//!   (`ThreadPool::spawn` + a channel), tokio's `JoinSet::spawn_blocking` on the runtime
//!   `#[tokio::main]` builds (`tokio/spawn_blocking_default`: up to 512 blocking threads) and on
//!   one tuned to 2 workers and 2 blocking threads (`tokio/spawn_blocking_2_threads`), and
//!   `threadpool/execute_channel` (the `threadpool` crate + a channel). The channels are
//!   crossbeam's.
//! - `as_completed_100k`: submit 100,000 no-ops and take their results in completion order:
//!   [`concur::as_completed`] against the same three, whose channel (or `JoinSet::join_next`)
//!   already yields in completion order.
//! - `map_1m`: a chunked map of a cheap function over 1,000,000 lazily generated `u64`s:
//!   concur's `map` (closure) and `map_task` (registered task), chunks of 1,024, against rayon's
//!   `par_iter` over the same range, reduced in parallel (`par_iter`) or collected in input order
//!   and summed by the caller as concur's `map` is (`par_iter_collect`).
//!
//! Goals (issue 2): concur ≤ 1.5× rayon per task, ≤ 1/10 of tokio's `spawn_blocking` (as tokio
//! ships; the tuned runtime is there to show how much of its cost is its thread policy). For a
//! noisy shared machine, `examples/pool_overhead.rs` runs the `noop` contenders in interleaved
//! rounds and prints medians and ratios.

use std::hint::black_box;
use std::time::Duration;

use concur::{as_completed, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rayon::prelude::*;

#[path = "common/tokio_noops.rs"]
mod tokio_noops;
use tokio_noops::spawn_blocking_noops;

const WORKERS: usize = 2;
const NOOP_TASKS: u64 = 1_000_000;
const AS_COMPLETED_TASKS: u64 = 100_000;
const MAP_ITEMS: u64 = 1_000_000;
const CHUNK: usize = 1024;

/// The mapped function: `black_box` keeps the compiler from vectorising it away, so every case
/// pays for each item as a real task would.
fn triple(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}
concur::task! { static TRIPLE: fn(u64) -> u64 = triple; }

/// The sum of the no-op tasks' results over `0..n`, which every case must produce, so that none
/// can skip work.
const fn noop_sum(n: u64) -> u64 {
    n * (n - 1) / 2
}
/// The sum every `map_1m` case must produce.
const MAP_SUM: u64 = 3 * (MAP_ITEMS * (MAP_ITEMS - 1) / 2);

fn short<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
}

/// One no-op task of the channel-based baselines: sends its input back to the submitter.
struct SendBack {
    tx: crossbeam_channel::Sender<u64>,
    i: u64,
}

impl SendBack {
    fn run(self) {
        let _ = self.tx.send(black_box(self.i));
    }
}

/// Hands `n` [`SendBack`] tasks to `spawn` (which runs each on a pool), then receives every
/// result, in completion order; returns their sum.
fn spawn_and_drain(n: u64, spawn: impl Fn(SendBack)) -> u64 {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..n {
        spawn(SendBack { tx: tx.clone(), i });
    }
    (0..n)
        .map(|_| rx.recv().expect("a worker dropped its sender"))
        .sum()
}

/// A concur pool and a rayon pool, `WORKERS` threads each.
fn concur_and_rayon() -> (concur::ThreadPool, rayon::ThreadPool) {
    let concur_pool = concur::ThreadPool::new(WORKERS).expect("concur pool");
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool");
    (concur_pool, rayon_pool)
}

/// Submits `n` no-ops to a concur pool; their handles in submission order.
fn submit_all(pool: &concur::ThreadPool, n: u64) -> Vec<concur::Handle<u64>> {
    (0..n)
        .map(|i| pool.submit(move || black_box(i)).expect("submit"))
        .collect()
}

/// Drives a concur `map` in chunks of `CHUNK` and sums its results in the caller.
fn chunked_sum<It: Iterator>(map: concur::Map<'_, It, u64>) -> u64 {
    map.chunksize(CHUNK).map(|r| r.expect("triple")).sum()
}

/// Waits on each handle in turn; the sum of the results.
fn sum_in_order(handles: Vec<concur::Handle<u64>>) -> u64 {
    handles
        .into_iter()
        .map(|h| h.into_result().expect("no-op"))
        .sum()
}

/// The competitors of both no-op groups, 2 workers each, except `tokio_default`: tokio as
/// `#[tokio::main]` builds it (a worker per core, `spawn_blocking` on up to 512 threads).
struct Others {
    rayon: rayon::ThreadPool,
    tokio_default: tokio::runtime::Runtime,
    tokio_2: tokio::runtime::Runtime,
    threadpool: threadpool::ThreadPool,
}

impl Others {
    fn new() -> Others {
        Others {
            rayon: rayon::ThreadPoolBuilder::new()
                .num_threads(WORKERS)
                .build()
                .expect("rayon pool"),
            tokio_default: tokio::runtime::Runtime::new().expect("tokio runtime"),
            tokio_2: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .max_blocking_threads(WORKERS)
                .build()
                .expect("tokio runtime"),
            threadpool: threadpool::ThreadPool::new(WORKERS),
        }
    }

    /// Adds the competitors over `n` no-ops to `group`; each takes its results in completion
    /// order.
    fn bench<M: criterion::measurement::Measurement>(
        &self,
        group: &mut BenchmarkGroup<'_, M>,
        n: u64,
    ) {
        group.bench_function("rayon/spawn_channel", |b| {
            b.iter(|| {
                let sum = spawn_and_drain(n, |task| self.rayon.spawn(move || task.run()));
                assert_eq!(sum, noop_sum(n));
            })
        });
        for (name, tokio) in [
            ("tokio/spawn_blocking_default", &self.tokio_default),
            ("tokio/spawn_blocking_2_threads", &self.tokio_2),
        ] {
            group.bench_function(name, |b| {
                b.iter(|| assert_eq!(spawn_blocking_noops(tokio, n), noop_sum(n)))
            });
        }
        group.bench_function("threadpool/execute_channel", |b| {
            b.iter(|| {
                let sum = spawn_and_drain(n, |task| self.threadpool.execute(move || task.run()));
                assert_eq!(sum, noop_sum(n));
            })
        });
    }
}

fn noop(c: &mut Criterion) {
    let concur_pool = concur::ThreadPool::new(WORKERS).expect("concur pool");
    let others = Others::new();
    let mut group = c.benchmark_group("noop_1m");
    short(&mut group);
    group.throughput(Throughput::Elements(NOOP_TASKS));

    group.bench_function("concur/submit_result", |b| {
        b.iter(|| {
            let sum = sum_in_order(submit_all(&concur_pool, NOOP_TASKS));
            assert_eq!(sum, noop_sum(NOOP_TASKS));
        })
    });

    // The same with tracing on (issue 7: at most 10% over `concur/submit_result`); the trace is
    // cleared between iterations so its memory does not grow.
    let traced_pool = concur::ThreadPool::builder()
        .workers(WORKERS)
        .trace(true)
        .build()
        .expect("traced pool");
    group.bench_function("concur/submit_result_traced", |b| {
        b.iter(|| {
            let sum = sum_in_order(submit_all(&traced_pool, NOOP_TASKS));
            assert_eq!(sum, noop_sum(NOOP_TASKS));
            traced_pool.trace().expect("traced").clear();
        })
    });
    others.bench(&mut group, NOOP_TASKS);
    group.finish();

    let mut group = c.benchmark_group("as_completed_100k");
    short(&mut group);
    group.throughput(Throughput::Elements(AS_COMPLETED_TASKS));
    group.bench_function("concur/as_completed", |b| {
        b.iter(|| {
            let handles = submit_all(&concur_pool, AS_COMPLETED_TASKS);
            let sum: u64 = as_completed(handles, None)
                .map(|h| h.expect("no timeout").into_result().expect("no-op"))
                .sum();
            assert_eq!(sum, noop_sum(AS_COMPLETED_TASKS));
        })
    });
    others.bench(&mut group, AS_COMPLETED_TASKS);
    group.finish();
}

fn map(c: &mut Criterion) {
    let (concur_pool, rayon_pool) = concur_and_rayon();

    let mut group = c.benchmark_group("map_1m");
    short(&mut group);
    group.throughput(Throughput::Elements(MAP_ITEMS));

    group.bench_function("concur/map_chunk1024", |b| {
        b.iter(|| assert_eq!(chunked_sum(concur_pool.map(triple, 0..MAP_ITEMS)), MAP_SUM))
    });

    group.bench_function("concur/map_task_chunk1024", |b| {
        b.iter(|| {
            assert_eq!(
                chunked_sum(concur_pool.map_task(&TRIPLE, 0..MAP_ITEMS)),
                MAP_SUM
            )
        })
    });

    group.bench_function("rayon/par_iter", |b| {
        b.iter(|| {
            let sum: u64 = rayon_pool.install(|| (0..MAP_ITEMS).into_par_iter().map(triple).sum());
            assert_eq!(sum, MAP_SUM);
        })
    });

    // Like concur's `map`, hands every result to the caller in input order, then sums there.
    group.bench_function("rayon/par_iter_collect", |b| {
        b.iter(|| {
            let results: Vec<u64> =
                rayon_pool.install(|| (0..MAP_ITEMS).into_par_iter().map(triple).collect());
            assert_eq!(results.into_iter().sum::<u64>(), MAP_SUM);
        })
    });
    group.finish();
}

criterion_group!(benches, noop, map);
criterion_main!(benches);
