//! `map` and `map_unordered`: order, completeness, laziness, the bounded window, per-item errors.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use concur::{Error, Executor, Sequential, ThreadPool};
use proptest::prelude::*;

fn triple(x: u32) -> u64 {
    u64::from(x) * 3
}
concur::task! { static TRIPLE: fn(u32) -> u64 = triple; }

fn fails_on_seven(x: u32) -> u32 {
    assert!(x != 7, "seven is not allowed");
    x
}
concur::task! { static FAILS_ON_SEVEN: fn(u32) -> u32 = fails_on_seven; }

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 64 }))]

    #[test]
    fn map_keeps_input_order(xs in proptest::collection::vec(any::<u32>(), 0..300), chunk in 1usize..40, window in 1usize..8) {
        let pool = ThreadPool::new(2).unwrap();
        let got: Vec<u64> = pool.map(triple, xs.clone()).chunksize(chunk).window(window).map(Result::unwrap).collect();
        prop_assert_eq!(got, xs.iter().map(|&x| triple(x)).collect::<Vec<_>>());
    }

    #[test]
    fn map_unordered_returns_every_input_once(n in 0usize..500, chunk in 1usize..40) {
        let pool = ThreadPool::new(2).unwrap();
        let mut got: Vec<usize> = pool.map_unordered(|x: usize| x, 0..n).chunksize(chunk).map(Result::unwrap).collect();
        got.sort_unstable();
        prop_assert_eq!(got, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn map_task_matches_across_executors(xs in proptest::collection::vec(any::<u32>(), 0..100)) {
        let pool = ThreadPool::new(2).unwrap();
        let threaded: Vec<_> = pool.map_task(&TRIPLE, xs.clone()).collect();
        let sequential: Vec<_> = Sequential.map_task(&TRIPLE, xs).collect();
        prop_assert_eq!(threaded, sequential);
    }
}

#[test]
fn a_panicking_item_fails_only_itself() {
    let pool = ThreadPool::new(2).unwrap();
    let got: Vec<_> = pool.map_task(&FAILS_ON_SEVEN, 0..10).chunksize(4).collect();
    for (i, r) in got.iter().enumerate() {
        if i == 7 {
            assert_eq!(r, &Err(Error::Panicked("seven is not allowed".into())));
        } else {
            assert_eq!(r, &Ok(i as u32));
        }
    }
    let unordered: HashSet<_> = pool
        .map_task_unordered(&FAILS_ON_SEVEN, 0..10)
        .filter_map(Result::ok)
        .collect();
    assert_eq!(unordered.len(), 9);
}

#[test]
fn map_is_lazy_and_bounded_over_an_endless_iterator() {
    let pool = ThreadPool::new(2).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let inputs = (0u64..).inspect(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
    });
    let mut map = pool.map(|x: u64| x + 1, inputs).chunksize(5).window(3);
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        0,
        "nothing is pulled before the first next()"
    );
    for expected in 1..=100 {
        assert_eq!(map.next(), Some(Ok(expected)));
        let in_flight = pulled.load(Ordering::SeqCst) - expected as usize;
        // Three chunks in flight plus the rest of the chunk being read.
        assert!(
            in_flight < 5 * (3 + 1),
            "{in_flight} inputs pulled ahead, the window allows 19"
        );
    }
}

#[test]
fn map_after_shutdown_gives_one_error_per_item() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown(true, false);
    let got: Vec<_> = pool.map(|x: u8| x, 0..5).chunksize(2).collect();
    assert_eq!(got, vec![Err(Error::Shutdown); 5]);
}

#[test]
fn sequential_map_runs_in_the_caller() {
    let me = std::thread::current().id();
    fn whoami(_: ()) -> String {
        format!("{:?}", std::thread::current().id())
    }
    concur::task! { static WHOAMI: fn(()) -> String = whoami; }
    let ids: Vec<_> = Sequential
        .map_task(&WHOAMI, [(), ()])
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, vec![format!("{me:?}"); 2]);
}
