//! Cancelling handles: only pending tasks cancel (as in Python), callbacks still run exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use concur::{Error, State, ThreadPool};

/// A one-worker pool whose worker is stuck until the returned sender sends.
fn blocked_pool() -> (ThreadPool, mpsc::Sender<()>, concur::Handle<()>) {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    let blocker = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            rx.recv().unwrap();
        })
        .unwrap();
    started_rx.recv().unwrap();
    (pool, tx, blocker)
}

#[test]
fn cancel_pending_succeeds_and_task_never_runs() {
    let (pool, release, blocker) = blocked_pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = pool
        .submit(move || r.fetch_add(1, Ordering::SeqCst))
        .unwrap();
    assert_eq!(queued.state(), State::Pending);
    assert!(queued.cancel());
    assert!(queued.cancel(), "cancelling twice still answers true");
    assert!(queued.cancelled() && queued.done() && !queued.running());
    assert_eq!(queued.result(), Err(Error::Cancelled));
    release.send(()).unwrap();
    blocker.wait();
    drop(pool); // runs everything left
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn cancel_running_or_finished_fails() {
    let (pool, release, blocker) = blocked_pool();
    assert!(blocker.running());
    assert!(
        !blocker.cancel(),
        "a running thread task cannot be cancelled"
    );
    release.send(()).unwrap();
    assert_eq!(blocker.result(), Ok(()));
    assert!(!blocker.cancel(), "a finished task cannot be cancelled");
    assert_eq!(blocker.state(), State::Finished);
    drop(pool);
}

#[test]
fn cancel_runs_done_callbacks_once() {
    let (pool, release, _blocker) = blocked_pool();
    let calls = Arc::new(AtomicUsize::new(0));
    let queued = pool.submit(|| 5).unwrap();
    let c = calls.clone();
    queued.add_done_callback(move |h| {
        assert!(h.cancelled());
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert!(queued.cancel());
    assert!(queued.cancel());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    release.send(()).unwrap();
}

#[test]
fn cancel_racing_start_has_one_winner() {
    let pool = ThreadPool::new(2).unwrap();
    for _ in 0..2_000 {
        let h = pool.submit(|| 1).unwrap();
        let cancelled = h.cancel();
        match h.result() {
            Ok(1) => assert!(!cancelled),
            Err(Error::Cancelled) => assert!(cancelled),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

#[test]
fn timed_result_times_out_and_task_goes_on() {
    let (pool, release, blocker) = blocked_pool();
    let h = pool.submit(|| 9).unwrap();
    assert_eq!(
        h.result_timeout(Duration::from_millis(20)),
        Err(Error::Timeout(Duration::from_millis(20)))
    );
    assert!(!h.done());
    release.send(()).unwrap();
    assert_eq!(h.result_timeout(Duration::from_secs(30)), Ok(9));
    blocker.wait();
}
