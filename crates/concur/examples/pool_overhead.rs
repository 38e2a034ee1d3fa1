//! Per-task cost of concur's thread pool against rayon, the `threadpool` crate and tokio, measured
//! in interleaved rounds so that a noisy, shared machine slows every contender alike.
//!
//! `cargo run --release -p concur --example pool_overhead -- [tasks] [rounds] [only]` (default
//! 1,000,000 tasks, 7 rounds; `only` runs just the contenders whose name contains it, for
//! profiling). Each round runs every contender once: submit `tasks` no-ops, then wait for every
//! result; each round starts one contender later than the round before, because the first to
//! run after another pays for the memory that one freed. Every pool has 2 workers, except tokio
//! as users get it: `Runtime::new()`, what `#[tokio::main]` builds, whose `spawn_blocking` may
//! start up to 512 threads. tokio also runs tuned to the others' size (2 workers, at most 2
//! blocking threads). It prints, per contender, the median over rounds of the wall-clock and the
//! CPU time (all threads) per task, and the wall-clock ratios to rayon, to default tokio (the
//! issue-2 goal: ≤ 1/10) and to tuned tokio. The same contenders, in the same way, as the
//! criterion bench `noop` group (`benches/thread_pool.rs`), plus concur with tracing on (the cost
//! of recording a timeline) and a floor: the same number of handles created, completed and read
//! back on one thread, with no pool and no other thread.

use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../benches/common/tokio_noops.rs"]
mod tokio_noops;
use tokio_noops::spawn_blocking_noops;

const WORKERS: usize = 2;

/// CPU time used so far by every thread of this process.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Sends `i` back to the submitter: the task of the channel-based baselines.
fn send_back(tx: crossbeam_channel::Sender<u64>, i: u64) {
    let _ = tx.send(black_box(i));
}

/// Submits `n` tasks through `spawn`, then sums the `n` results from the channel.
fn spawn_and_drain(n: u64, spawn: impl Fn(crossbeam_channel::Sender<u64>, u64)) -> u64 {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..n {
        spawn(tx.clone(), i);
    }
    (0..n).map(|_| rx.recv().expect("a worker hung up")).sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let tasks: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("tasks"));
    let rounds: usize = args.next().map_or(7, |a| a.parse().expect("rounds"));
    let only = args.next().unwrap_or_default();
    let expected = tasks * (tasks - 1) / 2;

    let concur_pool = concur::ThreadPool::new(WORKERS).expect("concur pool");
    let traced_pool = concur::ThreadPool::builder()
        .workers(WORKERS)
        .trace(true)
        .build()
        .expect("traced concur pool");
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool");
    let threadpool_pool = threadpool::ThreadPool::new(WORKERS);
    // tokio as `#[tokio::main]` builds it (one worker per core, up to 512 blocking threads), and
    // tuned to the others' size: 2 workers and at most 2 blocking threads.
    let tokio_default = tokio::runtime::Runtime::new().expect("tokio runtime");
    let tokio_2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .max_blocking_threads(WORKERS)
        .build()
        .expect("tokio runtime");
    let submit_all = || -> Vec<concur::Handle<u64>> {
        (0..tasks)
            .map(|i| concur_pool.submit(move || black_box(i)).expect("submit"))
            .collect()
    };
    type Case<'a> = (&'a str, Box<dyn Fn() -> u64 + 'a>);
    let cases: Vec<Case> = vec![
        (
            "concur submit->result",
            Box::new(|| {
                submit_all()
                    .into_iter()
                    .map(|h| h.into_result().expect("no-op"))
                    .sum()
            }),
        ),
        (
            "concur submit->result, traced",
            Box::new(|| {
                let handles: Vec<_> = (0..tasks)
                    .map(|i| traced_pool.submit(move || black_box(i)).expect("submit"))
                    .collect();
                let sum = handles
                    .into_iter()
                    .map(|h| h.into_result().expect("no-op"))
                    .sum();
                traced_pool.trace().expect("traced").clear(); // each round records anew
                sum
            }),
        ),
        (
            "concur as_completed",
            Box::new(|| {
                concur::as_completed(submit_all(), None)
                    .map(|h| h.expect("no timeout").into_result().expect("no-op"))
                    .sum()
            }),
        ),
        (
            "floor: 1 thread, no pool",
            Box::new(|| {
                // What creating, completing and reading `tasks` handles costs with no pool at
                // all: the least any pool handing out a handle per task can cost here.
                let handles: Vec<_> = (0..tasks)
                    .map(|i| concur::Handle::ready(Ok(black_box(i))))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.into_result().expect("ready"))
                    .sum()
            }),
        ),
        (
            "rayon spawn+channel",
            Box::new(|| spawn_and_drain(tasks, |tx, i| rayon_pool.spawn(move || send_back(tx, i)))),
        ),
        (
            "threadpool+channel",
            Box::new(|| {
                spawn_and_drain(tasks, |tx, i| {
                    threadpool_pool.execute(move || send_back(tx, i))
                })
            }),
        ),
        (
            "tokio spawn_blocking, default",
            Box::new(|| spawn_blocking_noops(&tokio_default, tasks)),
        ),
        (
            "tokio spawn_blocking, 2 threads",
            Box::new(|| spawn_blocking_noops(&tokio_2, tasks)),
        ),
    ];

    let mut wall = vec![Vec::new(); cases.len()];
    let mut cpu = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        // Each round starts one contender later: no contender always runs right after another.
        for i in (0..cases.len()).map(|k| (k + round) % cases.len()) {
            let (name, case) = &cases[i];
            if !name.contains(&only) {
                wall[i].push(f64::NAN);
                cpu[i].push(f64::NAN);
                continue;
            }
            let (t0, c0) = (Instant::now(), cpu_time());
            let sum = case();
            let (t1, c1) = (Instant::now(), cpu_time());
            assert_eq!(sum, expected, "{name} lost results");
            wall[i].push((t1 - t0).as_nanos() as f64 / tasks as f64);
            cpu[i].push((c1 - c0).as_nanos() as f64 / tasks as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<(f64, f64)> = (0..cases.len())
        .map(|i| (median(&mut wall[i]), median(&mut cpu[i])))
        .collect();
    let wall_of = |prefix: &str| {
        let i = cases.iter().position(|(name, _)| name.starts_with(prefix));
        medians[i.expect("a contender by that name")].0
    };
    let rayon = wall_of("rayon");
    let tokio = wall_of("tokio spawn_blocking, default");
    let tokio_2 = wall_of("tokio spawn_blocking, 2");
    println!("{tasks} no-op tasks, {WORKERS} workers, median of {rounds} interleaved rounds");
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "pool", "wall ns", "cpu ns", "/rayon", "/tokio", "/tokio-2"
    );
    for ((name, _), (w, c)) in cases.iter().zip(&medians) {
        println!(
            "{name:<32} {w:>8.0} {c:>8.0} {:>7.2}x {:>7.3}x {:>8.3}x",
            w / rayon,
            w / tokio,
            w / tokio_2
        );
    }
}
