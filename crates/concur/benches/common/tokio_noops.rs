//! The tokio contender of the thread-pool comparisons: shared by `benches/thread_pool.rs` and
//! `examples/pool_overhead.rs`, so both measure the same thing.

use std::hint::black_box;

/// Spawns `n` no-op tasks with `spawn_blocking` on `rt` (a `JoinSet`, as a tokio user would),
/// waits for every one, and returns the sum of their results.
pub fn spawn_blocking_noops(rt: &tokio::runtime::Runtime, n: u64) -> u64 {
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            set.spawn_blocking(move || black_box(i));
        }
        let mut sum = 0;
        while let Some(r) = set.join_next().await {
            sum += r.expect("no-op");
        }
        sum
    })
}
