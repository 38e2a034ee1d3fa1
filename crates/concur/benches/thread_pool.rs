//! The thread pool side by side with the crates users would otherwise pick, in one run.
//!
//! Every pool has 2 workers. Groups (criterion reports the median time per iteration and, from
//! the declared throughput, tasks per second; divide the time by `TASKS` for the cost per task):
//!
//! - `noop_100k`: submit 100,000 no-op tasks, then wait for every result. `concur/submit_result`
//!   waits on each handle in turn; `concur/as_completed` drains [`concur::as_completed`] over all
//!   of them; `concur/submit_result_traced` is the first with tracing on. Against `rayon/spawn_channel` (`ThreadPool::spawn` + a channel),
//!   `tokio/spawn_blocking` (a `JoinSet` on a multi-thread runtime) and
//!   `threadpool/execute_channel` (the `threadpool` crate + a channel). The channels are
//!   crossbeam's, the one concur itself uses.
//! - `map_1m`: a chunked map of a cheap function over 1,000,000 lazily generated `u64`s:
//!   concur's `map` (closure) and `map_task` (registered task), chunks of 1,024, against rayon's
//!   `par_iter` over the same range, reduced in parallel (`par_iter`) or collected in input order
//!   and summed by the caller as concur's `map` is (`par_iter_collect`).
//!
//! Goals (issue 2): concur ≤ 1.5× rayon per task, ≤ 1/10 of tokio's `spawn_blocking`.

use std::hint::black_box;
use std::time::Duration;

use concur::{as_completed, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rayon::prelude::*;

const WORKERS: usize = 2;
const TASKS: u64 = 100_000;
const MAP_ITEMS: u64 = 1_000_000;
const CHUNK: usize = 1024;

/// The mapped function: `black_box` keeps the compiler from vectorising it away, so every case
/// pays for each item as a real task would.
fn triple(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}
concur::task! { static TRIPLE: fn(u64) -> u64 = triple; }

/// The sum every `noop_100k` case must produce, so that none can skip work.
const NOOP_SUM: u64 = TASKS * (TASKS - 1) / 2;
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

/// Hands `TASKS` [`SendBack`] tasks to `spawn` (which runs each on a pool), then receives every
/// result; returns their sum.
fn spawn_and_drain(spawn: impl Fn(SendBack)) -> u64 {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..TASKS {
        spawn(SendBack { tx: tx.clone(), i });
    }
    (0..TASKS)
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

/// Submits `TASKS` no-ops to a concur pool; their handles in submission order.
fn submit_all(pool: &concur::ThreadPool) -> Vec<concur::Handle<u64>> {
    (0..TASKS)
        .map(|i| pool.submit(move || black_box(i)).expect("submit"))
        .collect()
}

/// Drives a concur `map` in chunks of `CHUNK` and sums its results in the caller.
fn chunked_sum<It: Iterator>(map: concur::Map<'_, It, u64>) -> u64 {
    map.chunksize(CHUNK).map(|r| r.expect("triple")).sum()
}

fn noop(c: &mut Criterion) {
    let (concur_pool, rayon_pool) = concur_and_rayon();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .max_blocking_threads(WORKERS)
        .build()
        .expect("tokio runtime");
    let threadpool_pool = threadpool::ThreadPool::new(WORKERS);

    let mut group = c.benchmark_group("noop_100k");
    short(&mut group);
    group.throughput(Throughput::Elements(TASKS));

    group.bench_function("concur/submit_result", |b| {
        b.iter(|| {
            let handles = submit_all(&concur_pool);
            let sum: u64 = handles
                .into_iter()
                .map(|h| h.into_result().expect("no-op"))
                .sum();
            assert_eq!(sum, NOOP_SUM);
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
            let handles = submit_all(&traced_pool);
            let sum: u64 = handles
                .into_iter()
                .map(|h| h.into_result().expect("no-op"))
                .sum();
            assert_eq!(sum, NOOP_SUM);
            traced_pool.trace().expect("traced").clear();
        })
    });

    group.bench_function("concur/as_completed", |b| {
        b.iter(|| {
            let handles = submit_all(&concur_pool);
            let sum: u64 = as_completed(handles, None)
                .map(|h| h.expect("no timeout").into_result().expect("no-op"))
                .sum();
            assert_eq!(sum, NOOP_SUM);
        })
    });

    group.bench_function("rayon/spawn_channel", |b| {
        b.iter(|| {
            let sum = spawn_and_drain(|task| rayon_pool.spawn(move || task.run()));
            assert_eq!(sum, NOOP_SUM);
        })
    });

    group.bench_function("tokio/spawn_blocking", |b| {
        b.iter(|| {
            let sum = tokio_rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..TASKS {
                    set.spawn_blocking(move || black_box(i));
                }
                let mut sum = 0;
                while let Some(r) = set.join_next().await {
                    sum += r.expect("no-op");
                }
                sum
            });
            assert_eq!(sum, NOOP_SUM);
        })
    });

    group.bench_function("threadpool/execute_channel", |b| {
        b.iter(|| {
            let sum = spawn_and_drain(|task| threadpool_pool.execute(move || task.run()));
            assert_eq!(sum, NOOP_SUM);
        })
    });
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
