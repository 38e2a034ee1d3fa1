//! `as_completed` and `wait` over handles, as in Python's `concurrent.futures`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use concur::{as_completed, wait, Error, Promise, ReturnWhen, ThreadPool};

#[test]
fn yields_in_completion_order_with_done_first() {
    let (p1, h1) = Promise::<u32>::new();
    let (p2, h2) = Promise::<u32>::new();
    let (p3, h3) = Promise::<u32>::new();
    p3.complete(Ok(3));
    let mut it = as_completed([h1.clone(), h2.clone(), h3.clone(), h1.clone()], None);
    assert_eq!(it.next().unwrap().unwrap(), h3, "already-done first");
    p2.complete(Ok(2));
    assert_eq!(it.next().unwrap().unwrap(), h2);
    p1.complete(Ok(1));
    assert_eq!(it.next().unwrap().unwrap(), h1);
    assert!(it.next().is_none(), "a handle passed twice is yielded once");
}

#[test]
fn timeout_counts_from_the_call() {
    let (p1, h1) = Promise::<u32>::new();
    let (_p2, h2) = Promise::<u32>::new();
    let start = Instant::now();
    let mut it = as_completed([h1, h2], Some(Duration::from_millis(100)));
    std::thread::sleep(Duration::from_millis(60));
    p1.complete(Ok(1));
    assert!(it.next().unwrap().is_ok());
    assert_eq!(
        it.next().unwrap(),
        Err(Error::Timeout(Duration::from_millis(100)))
    );
    assert!(it.next().is_none());
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[test]
fn as_completed_with_a_real_pool_sees_everything() {
    let pool = ThreadPool::new(2).unwrap();
    let handles: Vec<_> = (0..200u64)
        .map(|i| pool.submit(move || i * 2).unwrap())
        .collect();
    let mut got: Vec<u64> = as_completed(handles, None)
        .map(|h| h.unwrap().result().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..200).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn wait_first_completed_returns_early() {
    let (p1, h1) = Promise::<u32>::new();
    let (_p2, h2) = Promise::<u32>::new();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        p1.complete(Ok(1));
    });
    let (done, not_done) = wait([h1.clone(), h2.clone()], None, ReturnWhen::FirstCompleted);
    assert_eq!(done, vec![h1]);
    assert_eq!(not_done, vec![h2]);
    t.join().unwrap();
}

#[test]
fn wait_first_exception_ignores_cancellation() {
    let (p1, h1) = Promise::<u32>::new();
    let (p2, h2) = Promise::<u32>::new();
    let (_p3, h3) = Promise::<u32>::new();
    assert!(h1.cancel());
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        rx.recv().unwrap();
        p2.complete(Err(Error::Panicked("boom".into())));
    });
    tx.send(()).unwrap();
    let (done, not_done) = wait(
        [h1.clone(), h2.clone(), h3.clone()],
        None,
        ReturnWhen::FirstException,
    );
    assert_eq!(done, vec![h1, h2]);
    assert_eq!(not_done, vec![h3]);
    t.join().unwrap();
    drop(p1);
}

#[test]
fn wait_all_completed_times_out_with_the_rest_not_done() {
    let (p1, h1) = Promise::<u32>::new();
    let (_p2, h2) = Promise::<u32>::new();
    p1.complete(Ok(1));
    let (done, not_done) = wait(
        [h1.clone(), h2.clone()],
        Some(Duration::from_millis(30)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!((done, not_done), (vec![h1], vec![h2]));
}

#[test]
fn wait_on_nothing_returns_at_once() {
    let (done, not_done) = wait(
        Vec::<concur::Handle<u8>>::new(),
        None,
        ReturnWhen::AllCompleted,
    );
    assert!(done.is_empty() && not_done.is_empty());
}
