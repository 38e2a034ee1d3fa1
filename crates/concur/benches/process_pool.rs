//! Process pool benchmarks, side by side with `procspawn::Pool` in one run:
//!
//! - `round_trip`: one no-op task submitted and awaited (1 worker);
//! - `map_u64`: a chunked `map` of a no-op over u64 inputs (2 workers), in tasks per second;
//!   procspawn has no `map`, so its side ships the same chunks by hand (and so does
//!   `concur_by_hand`, for a like-for-like transport comparison).
//!
//! - `primes_seed`: the seed's nine numbers by trial division, sequential against 2 processes.
//!
//! Before criterion runs (only under `cargo bench`, not `cargo test`), a plain loop measures the
//! round trip's p50 and p99 directly, which criterion's mean-centred report does not show.

use std::hint::black_box;
use std::time::{Duration, Instant};

use concur::{Executor, ProcessPool};
use criterion::{BenchmarkId, Criterion, Throughput};

fn noop(x: u64) -> u64 {
    x
}
concur::task! { static NOOP: fn(u64) -> u64 = noop; }

fn noop_chunk(xs: Vec<u64>) -> Vec<u64> {
    xs
}
concur::task! { static NOOP_CHUNK: fn(Vec<u64>) -> Vec<u64> = noop_chunk; }

const MAP_INPUTS: u64 = 1_000_000;

/// The seed experiment's numbers: primality by trial division, the CPU-bound workload.
const SEED_NUMBERS: [u64; 9] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
    3399726899288419,
    1125828054422712,
    237397848077029,
];

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}
concur::task! { static IS_PRIME: fn(u64) -> bool = is_prime; }

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.50), at(0.99))
}

/// p50 and p99 of the no-op round trip, measured one call at a time.
fn plain_loop_latencies() {
    const CALLS: usize = 20_000;
    let pool = ProcessPool::new(1).unwrap();
    for _ in 0..1000 {
        pool.submit_task(&NOOP, 1).unwrap().result().unwrap();
    }
    let samples = (0..CALLS as u64)
        .map(|i| {
            let t = Instant::now();
            black_box(pool.submit_task(&NOOP, i).unwrap().result().unwrap());
            t.elapsed()
        })
        .collect();
    let (p50, p99) = percentiles(samples);
    println!(
        "plain loop, {CALLS} no-op round trips, concur ProcessPool(1): p50 {p50:?}, p99 {p99:?}"
    );

    let pool = procspawn::Pool::new(1).unwrap();
    for _ in 0..200 {
        pool.spawn(1u64, noop).join().unwrap();
    }
    let samples = (0..CALLS as u64 / 4)
        .map(|i| {
            let t = Instant::now();
            black_box(pool.spawn(i, noop).join().unwrap());
            t.elapsed()
        })
        .collect();
    let (p50, p99) = percentiles(samples);
    println!(
        "plain loop, {} no-op round trips, procspawn::Pool(1): p50 {p50:?}, p99 {p99:?}",
        CALLS / 4
    );
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    let pool = ProcessPool::new(1).unwrap();
    group.bench_function("concur", |b| {
        b.iter(|| {
            pool.submit_task(&NOOP, black_box(7))
                .unwrap()
                .result()
                .unwrap()
        })
    });
    drop(pool);
    let pool = procspawn::Pool::new(1).unwrap();
    group.bench_function("procspawn", |b| {
        b.iter(|| pool.spawn(black_box(7u64), noop).join().unwrap())
    });
    group.finish();
}

fn map_u64(c: &mut Criterion) {
    let mut group = c.benchmark_group("map_u64");
    group.throughput(Throughput::Elements(MAP_INPUTS));
    group.sample_size(20);
    let pool = ProcessPool::new(2).unwrap();
    for chunk in [1_000usize, 100_000] {
        group.bench_with_input(BenchmarkId::new("concur", chunk), &chunk, |b, &chunk| {
            b.iter(|| {
                let sum: u64 = pool
                    .map_task(&NOOP, 0..MAP_INPUTS)
                    .chunksize(chunk)
                    .map(Result::unwrap)
                    .sum();
                assert_eq!(sum, MAP_INPUTS * (MAP_INPUTS - 1) / 2);
            })
        });
    }
    // The same hand-made chunks procspawn gets below: one Vec<u64> in, one out, no per-item
    // results (and so no per-item panic isolation).
    let chunk = 100_000u64;
    group.bench_with_input(
        BenchmarkId::new("concur_by_hand", chunk),
        &chunk,
        |b, &chunk| {
            b.iter(|| {
                let handles: Vec<_> = (0..MAP_INPUTS / chunk)
                    .map(|i| {
                        pool.submit_task(&NOOP_CHUNK, (i * chunk..(i + 1) * chunk).collect())
                            .unwrap()
                    })
                    .collect();
                let sum: u64 = handles
                    .into_iter()
                    .flat_map(|h| h.into_result().unwrap())
                    .sum();
                assert_eq!(sum, MAP_INPUTS * (MAP_INPUTS - 1) / 2);
            })
        },
    );
    drop(pool);
    let pool = procspawn::Pool::new(2).unwrap();
    group.bench_with_input(BenchmarkId::new("procspawn", chunk), &chunk, |b, &chunk| {
        b.iter(|| {
            let handles: Vec<_> = (0..MAP_INPUTS / chunk)
                .map(|i| {
                    pool.spawn(
                        (i * chunk..(i + 1) * chunk).collect::<Vec<u64>>(),
                        noop_chunk,
                    )
                })
                .collect();
            let sum: u64 = handles.into_iter().flat_map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, MAP_INPUTS * (MAP_INPUTS - 1) / 2);
        })
    });
    group.finish();
}

fn primes_seed(c: &mut Criterion) {
    let mut group = c.benchmark_group("primes_seed");
    group.sample_size(10);
    let count = |flags: Vec<concur::Result<bool>>| {
        flags.into_iter().filter(|f| *f.as_ref().unwrap()).count()
    };
    group.bench_function("sequential", |b| {
        b.iter(|| {
            assert_eq!(
                count(
                    concur::Sequential
                        .map_task(&IS_PRIME, SEED_NUMBERS)
                        .collect()
                ),
                5
            )
        })
    });
    let pool = ProcessPool::new(2).unwrap();
    group.bench_function("processes_2", |b| {
        b.iter(|| assert_eq!(count(pool.map_task(&IS_PRIME, SEED_NUMBERS).collect()), 5))
    });
    group.finish();
}

criterion::criterion_group!(benches, round_trip, map_u64, primes_seed);

fn main() {
    concur::init();
    procspawn::init();
    if std::env::args().any(|a| a == "--bench") {
        plain_loop_latencies();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
