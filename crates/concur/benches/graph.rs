//! Scheduling overhead of task dependencies, side by side with rayon, on 1 M-node graphs.
//!
//! Both pools have 2 workers. Each node's own work is one addition, so the time per iteration is
//! nearly all scheduling; criterion's throughput line (elements = nodes) gives nodes per second,
//! and time / `NODES` is the cost per task.
//!
//! - `tree_1m`: a binary-tree reduction, 2^19 leaves and 2^20 - 1 nodes in all. concur
//!   `graph`: a declared [`Graph`] (`push_fn` per node, then `run`; building is timed too).
//!   concur `submit_after`: every leaf is `ThreadPool::submit`, every inner node
//!   `ThreadPool::submit_after([left, right])` (dependencies added while it runs). rayon:
//!   `rayon::join` at every inner node (the idiomatic recursive form).
//! - `wavefront_1m`: a 1000 x 1000 grid where cell (i, j) needs (i-1, j) and (i, j-1). concur:
//!   a declared `Graph`, or `submit_after` per cell, built row by row. rayon: `rayon::scope`,
//!   each cell spawned by the neighbour that completes its dependencies (an atomic count per
//!   cell).
//!
//! Goal (issue 6): concur ≤ 1 µs per task.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use concur::graph::Graph;
use concur::{Handle, ThreadPool};

#[path = "common/graph_shapes.rs"]
mod graph_shapes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use graph_shapes::{cell, LEAVES, SIDE};

const WORKERS: usize = 2;
const TREE_NODES: u64 = 2 * LEAVES - 1;

/// Builds a declared graph of `shape`, runs it, and reads the value of the node it returns.
fn graph_run(
    pool: &ThreadPool,
    shape: fn(&mut Graph<u64>, &ThreadPool) -> concur::graph::NodeId,
) -> u64 {
    let mut g = Graph::new();
    let last = shape(&mut g, pool);
    g.run().unwrap().node(last).result().unwrap()
}

fn concur_tree(pool: &ThreadPool) -> u64 {
    let mut level: Vec<Handle<u64>> = (0..LEAVES)
        .map(|i| pool.submit(move || i).unwrap())
        .collect();
    while level.len() > 1 {
        let mut pairs = level.into_iter();
        let mut next = Vec::with_capacity(pairs.len() / 2);
        while let (Some(l), Some(r)) = (pairs.next(), pairs.next()) {
            next.push(pool.submit_after([l, r], |v| v[0] + v[1]));
        }
        level = next;
    }
    level.pop().unwrap().result().unwrap()
}

fn rayon_tree(lo: u64, n: u64) -> u64 {
    if n == 1 {
        return lo;
    }
    let (a, b) = rayon::join(|| rayon_tree(lo, n / 2), || rayon_tree(lo + n / 2, n / 2));
    a + b
}

fn concur_wavefront(pool: &ThreadPool) -> u64 {
    let mut above: Vec<Handle<u64>> = Vec::new();
    for i in 0..SIDE {
        let mut row: Vec<Handle<u64>> = Vec::with_capacity(SIDE);
        for j in 0..SIDE {
            let h = match (i, j) {
                (0, 0) => pool.submit(|| 1).unwrap(),
                (0, _) => pool.submit_after([row[j - 1].clone()], |v| cell(0, v[0])),
                (_, 0) => pool.submit_after([above[0].clone()], |v| cell(v[0], 0)),
                _ => {
                    pool.submit_after([above[j].clone(), row[j - 1].clone()], |v| cell(v[0], v[1]))
                }
            };
            row.push(h);
        }
        above = row;
    }
    above[SIDE - 1].result().unwrap()
}

struct Grid {
    values: Vec<AtomicU64>,
    waiting: Vec<AtomicU8>,
}

fn rayon_cell<'s>(grid: &'s Grid, scope: &rayon::Scope<'s>, i: usize, j: usize) {
    let at = |i: usize, j: usize| grid.values[i * SIDE + j].load(Ordering::Acquire);
    let up = if i > 0 { at(i - 1, j) } else { 0 };
    let left = if j > 0 { at(i, j - 1) } else { 0 };
    let v = if i == 0 && j == 0 { 1 } else { cell(up, left) };
    grid.values[i * SIDE + j].store(v, Ordering::Release);
    for (ni, nj) in [(i + 1, j), (i, j + 1)] {
        if ni < SIDE
            && nj < SIDE
            && grid.waiting[ni * SIDE + nj].fetch_sub(1, Ordering::AcqRel) == 1
        {
            scope.spawn(move |s| rayon_cell(grid, s, ni, nj));
        }
    }
}

fn rayon_wavefront() -> u64 {
    let grid = Grid {
        values: (0..SIDE * SIDE).map(|_| AtomicU64::new(0)).collect(),
        waiting: (0..SIDE * SIDE)
            .map(|k| AtomicU8::new(u8::from(k / SIDE > 0) + u8::from(k % SIDE > 0)))
            .collect(),
    };
    rayon::scope(|s| rayon_cell(&grid, s, 0, 0));
    grid.values[SIDE * SIDE - 1].load(Ordering::Acquire)
}

fn benches(c: &mut Criterion) {
    let pool = ThreadPool::new(WORKERS).unwrap();
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap();
    let expected_tree = LEAVES * (LEAVES - 1) / 2;

    let mut g = c.benchmark_group("tree_1m");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(TREE_NODES));
    g.bench_function("concur/graph", |b| {
        b.iter(|| {
            assert_eq!(
                black_box(graph_run(&pool, graph_shapes::tree)),
                expected_tree
            )
        })
    });
    g.bench_function("concur/submit_after", |b| {
        b.iter(|| assert_eq!(black_box(concur_tree(&pool)), expected_tree))
    });
    g.bench_function("rayon/join", |b| {
        b.iter(|| {
            assert_eq!(
                rayon_pool.install(|| black_box(rayon_tree(0, LEAVES))),
                expected_tree
            )
        })
    });
    g.finish();

    let expected_wave = rayon_pool.install(rayon_wavefront);
    let mut g = c.benchmark_group("wavefront_1m");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements((SIDE * SIDE) as u64));
    g.bench_function("concur/graph", |b| {
        b.iter(|| {
            assert_eq!(
                black_box(graph_run(&pool, graph_shapes::wavefront)),
                expected_wave
            )
        })
    });
    g.bench_function("concur/submit_after", |b| {
        b.iter(|| assert_eq!(black_box(concur_wavefront(&pool)), expected_wave))
    });
    g.bench_function("rayon/scope", |b| {
        b.iter(|| {
            assert_eq!(
                rayon_pool.install(|| black_box(rayon_wavefront())),
                expected_wave
            )
        })
    });
    g.finish();
}

criterion_group!(graph, benches);
criterion_main!(graph);
