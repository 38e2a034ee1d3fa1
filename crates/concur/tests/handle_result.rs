//! Reading results: many reads by clone, one move, callbacks, panics, and `.await`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use concur::{Error, Handle, Promise, ThreadPool};

#[test]
fn result_can_be_read_many_times_and_moved_once() {
    let pool = ThreadPool::new(2).unwrap();
    let h = pool.submit(|| vec![1, 2, 3]).unwrap();
    let other = h.clone();
    assert_eq!(h.result(), Ok(vec![1, 2, 3]));
    assert_eq!(other.result(), Ok(vec![1, 2, 3]));
    assert_eq!(h.into_result(), Ok(vec![1, 2, 3]));
    assert_eq!(other.result(), Err(Error::Taken));
    assert_eq!(other.into_result(), Err(Error::Taken));
}

#[test]
fn errors_stay_readable_after_into_result() {
    let pool = ThreadPool::new(1).unwrap();
    let h = pool
        .submit(|| -> u8 { panic!("bad book {}", "Gulliver") })
        .unwrap();
    let other = h.clone();
    let expected = Err(Error::Panicked("bad book Gulliver".into()));
    assert_eq!(h.into_result(), expected);
    assert_eq!(other.result(), expected);
    assert_eq!(
        other.error(),
        Some(Error::Panicked("bad book Gulliver".into()))
    );
}

#[test]
fn callbacks_run_exactly_once_before_and_after_completion() {
    let (promise, handle) = Promise::<u32>::new();
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let c = calls.clone();
        handle.add_done_callback(move |h| {
            assert_eq!(h.result(), Ok(4));
            c.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    promise.complete(Ok(4));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let c = calls.clone();
    handle.add_done_callback(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "a late callback runs at once"
    );
}

#[test]
fn panicking_callback_is_caught_and_pool_survives() {
    let pool = ThreadPool::new(1).unwrap();
    let before = concur::callback_panics();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let gate = pool.submit(move || rx.recv().unwrap()).unwrap();
    let h = pool.submit(|| 1).unwrap();
    let (later_tx, later_rx) = std::sync::mpsc::channel();
    h.add_done_callback(|_| panic!("callback bug"));
    h.add_done_callback(move |_| later_tx.send(()).unwrap());
    tx.send(()).unwrap();
    gate.wait();
    assert_eq!(h.result(), Ok(1));
    // Callbacks run after waiters are woken; the second one signals that both have run.
    later_rx
        .recv()
        .expect("the callback after the panicking one still ran");
    assert!(concur::callback_panics() > before);
    // The worker that ran the panicking callback is alive.
    assert_eq!(pool.submit(|| 2).unwrap().result(), Ok(2));
}

#[test]
fn dropped_promise_resolves_as_shutdown() {
    let (promise, handle) = Promise::<String>::new();
    drop(promise);
    assert_eq!(handle.result(), Err(Error::Shutdown));
}

#[test]
fn ready_handles_are_done() {
    let h = Handle::ready(Ok(3));
    assert!(h.done() && !h.cancelled());
    assert_eq!(h.result(), Ok(3));
}

#[test]
fn await_without_a_runtime_and_inside_tokio() {
    let pool = ThreadPool::new(2).unwrap();
    let h = pool.submit(|| 40 + 2).unwrap();
    assert_eq!(concur::block_on(async { h.await }), Ok(42));

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let slow = pool
        .submit(|| {
            std::thread::sleep(std::time::Duration::from_millis(30));
            "late"
        })
        .unwrap();
    let failed = pool.submit(|| -> u8 { panic!("nope") }).unwrap();
    rt.block_on(async {
        assert_eq!(slow.await, Ok("late"));
        assert_eq!(failed.await, Err(Error::Panicked("nope".into())));
    });
}
