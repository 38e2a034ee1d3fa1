//! The cost of deadlock detection when there is no deadlock: uncontended lock + unlock.
//!
//! One thread, so nothing waits; the time per iteration is one lock and one unlock.
//!
//! - `uncontended`: `concur::sync::Mutex` (holding no other lock: only thread-local bookkeeping)
//!   against `std::sync::Mutex` and `parking_lot::Mutex`.
//! - `nested`: lock the inner mutex while holding an outer one, an order already recorded, so
//!   concur also checks its thread-local cache of known orders. Same three mutexes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended");
    let concur_m = concur::sync::Mutex::new("bench", 0u64);
    let std_m = std::sync::Mutex::new(0u64);
    let pl_m = parking_lot::Mutex::new(0u64);
    g.bench_function("concur::sync::Mutex", |b| {
        b.iter(|| *concur_m.lock().unwrap() += black_box(1))
    });
    g.bench_function("std::sync::Mutex", |b| {
        b.iter(|| *std_m.lock().unwrap() += black_box(1))
    });
    g.bench_function("parking_lot::Mutex", |b| {
        b.iter(|| *pl_m.lock() += black_box(1))
    });
    g.finish();

    let mut g = c.benchmark_group("nested");
    let concur_outer = concur::sync::Mutex::new("outer", ());
    let std_outer = std::sync::Mutex::new(());
    let pl_outer = parking_lot::Mutex::new(());
    {
        let _o = concur_outer.lock().unwrap();
        g.bench_function("concur::sync::Mutex", |b| {
            b.iter(|| *concur_m.lock().unwrap() += black_box(1))
        });
    }
    {
        let _o = std_outer.lock().unwrap();
        g.bench_function("std::sync::Mutex", |b| {
            b.iter(|| *std_m.lock().unwrap() += black_box(1))
        });
    }
    {
        let _o = pl_outer.lock();
        g.bench_function("parking_lot::Mutex", |b| {
            b.iter(|| *pl_m.lock() += black_box(1))
        });
    }
    g.finish();
}

criterion_group!(sync, benches);
criterion_main!(sync);
