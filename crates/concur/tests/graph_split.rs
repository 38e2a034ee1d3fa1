//! Sibling cancellation: the first find resolves the group and stops queued and running siblings;
//! no find gives `None`; failures are reported only when nothing was found; tokens survive the wire.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use concur::{CancelToken, Error, Executor, FirstFound, State, ThreadPool};

/// Spins until the token fires, counting each spin: a running sibling that must be stopped.
fn spin_until_cancelled(token: &CancelToken, spins: &AtomicUsize) -> Option<u64> {
    while !token.is_cancelled() {
        spins.fetch_add(1, Ordering::Relaxed);
        std::thread::yield_now();
    }
    None
}

#[test]
fn first_find_cancels_queued_siblings_and_stops_running_ones() {
    let pool = ThreadPool::new(2).unwrap();
    let group = FirstFound::new(|d: &Option<u64>| d.is_some());
    let spins = Arc::new(AtomicUsize::new(0));
    // Sibling 0 runs until told to stop; it occupies one worker.
    let (token, s) = (group.token(), spins.clone());
    let (started_tx, started_rx) = mpsc::channel();
    let runner = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            spin_until_cancelled(&token, &s)
        })
        .unwrap();
    group.add(runner.clone());
    started_rx.recv().unwrap();
    // Sibling 1 holds the other worker until we let it find the answer.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let finder = pool.submit(move || go_rx.recv().ok().map(|_| 3)).unwrap();
    group.add(finder);
    // Siblings 2..: queued behind both.
    let queued: Vec<_> = (0..3).map(|_| pool.submit(|| Some(99)).unwrap()).collect();
    for q in &queued {
        group.add(q.clone());
    }
    let result = group.finish();
    go_tx.send(()).unwrap();
    assert_eq!(result.result(), Ok(Some(Some(3))));
    assert_eq!(
        runner.result(),
        Ok(None),
        "the running sibling saw the token and returned"
    );
    for q in &queued {
        assert_eq!(q.state(), State::Cancelled);
    }
}

#[test]
fn nothing_found_is_none_and_a_failure_is_named_only_without_a_find() {
    let pool = ThreadPool::new(2).unwrap();
    let group = FirstFound::new(|x: &u32| *x > 100);
    for x in [1, 2, 3] {
        group.add(pool.submit(move || x).unwrap());
    }
    assert_eq!(group.finish().result(), Ok(None));

    let group = FirstFound::new(|x: &u32| *x > 100);
    group.add(pool.submit(|| 1).unwrap());
    group.add(
        pool.submit(|| -> u32 { panic!("range 7..9 unreadable") })
            .unwrap(),
    );
    assert_eq!(
        group.finish().result(),
        Err(Error::dependency_failed(
            "#1",
            Error::Panicked("range 7..9 unreadable".into())
        ))
    );

    let group = FirstFound::new(|x: &u32| *x > 100);
    let bad = pool.submit(|| -> u32 { panic!("lost") }).unwrap();
    bad.wait();
    group.add(bad);
    group.add(pool.submit(|| 500).unwrap());
    assert_eq!(
        group.finish().result(),
        Ok(Some(500)),
        "a find wins over an earlier failure"
    );
}

#[test]
fn late_siblings_are_cancelled_and_an_empty_group_finds_nothing() {
    let pool = ThreadPool::new(1).unwrap();
    let group = FirstFound::new(|_: &u8| true);
    group.add(concur::Handle::ready(Ok(1)));
    assert_eq!(group.handle().result(), Ok(Some(1)));
    assert!(group.token().is_cancelled());
    let (tx, rx) = mpsc::channel::<()>();
    let blocker = pool.submit(move || rx.recv().map_or(0, |_| 1)).unwrap();
    let late = pool.submit(|| 2).unwrap();
    group.add(late.clone());
    assert!(late.cancelled());
    tx.send(()).unwrap();
    assert_eq!(blocker.result(), Ok(1));

    assert_eq!(FirstFound::new(|_: &u8| true).finish().result(), Ok(None));
}

#[test]
fn cancelling_the_group_cancels_every_sibling() {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let blocker = pool.submit(move || rx.recv().map_or(0, |_| 1)).unwrap();
    let group = FirstFound::new(|_: &u8| true);
    let token = group.token();
    let sibling = pool.submit(|| 5).unwrap();
    group.add(sibling.clone());
    let result = group.finish();
    assert!(result.cancel());
    assert!(sibling.cancelled());
    assert!(token.is_cancelled());
    tx.send(()).unwrap();
    assert_eq!(blocker.result(), Ok(1));
}

fn search((n, lo, hi, stop): (u64, u64, u64, CancelToken)) -> Option<u64> {
    (lo..hi)
        .take_while(|_| !stop.is_cancelled())
        .find(|d| n % d == 0)
}
concur::task! { static SEARCH: fn((u64, u64, u64, CancelToken)) -> Option<u64> = search; }

#[test]
fn registered_tasks_take_the_token_in_their_input() {
    let pool = ThreadPool::new(2).unwrap();
    let n = 999_983u64 * 1_000_003;
    let group = FirstFound::new(|d: &Option<u64>| d.is_some());
    let step = 250_000;
    for k in 0..4 {
        let lo = 2 + k * step;
        group.add(
            pool.submit_task(&SEARCH, (n, lo, lo + step, group.token()))
                .unwrap(),
        );
    }
    assert_eq!(group.finish().result(), Ok(Some(Some(999_983))));
}

#[test]
fn a_token_decoded_in_its_own_process_is_the_same_flag() {
    let token = CancelToken::new();
    let bytes = postcard::to_stdvec(&token).unwrap();
    let decoded: CancelToken = postcard::from_bytes(&bytes).unwrap();
    assert!(!decoded.is_cancelled());
    token.cancel();
    assert!(decoded.is_cancelled());
    assert_eq!(decoded.check(), Err(Error::Cancelled));

    // An id this process never made (as in a worker process): a flag of its own, never set.
    let foreign: CancelToken =
        postcard::from_bytes(&postcard::to_stdvec(&u64::MAX).unwrap()).unwrap();
    assert!(!foreign.is_cancelled());
}
