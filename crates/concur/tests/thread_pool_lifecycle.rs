//! Building, breaking, shutting down and dropping a thread pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use concur::{Error, ThreadPool};

#[test]
fn zero_workers_is_an_error() {
    assert!(matches!(ThreadPool::new(0), Err(Error::Config(_))));
}

#[test]
fn builder_names_threads_and_sets_worker_count() {
    let pool = ThreadPool::builder()
        .workers(3)
        .thread_name("books")
        .build()
        .unwrap();
    assert_eq!(pool.workers(), 3);
    let name = pool
        .submit(|| std::thread::current().name().map(String::from))
        .unwrap()
        .result()
        .unwrap();
    assert!(name.unwrap().starts_with("books-"));
}

#[test]
fn default_worker_count_is_available_parallelism() {
    let pool = ThreadPool::builder().build().unwrap();
    assert_eq!(
        pool.workers(),
        std::thread::available_parallelism().unwrap().get()
    );
}

#[test]
fn stack_size_is_honoured() {
    let pool = ThreadPool::builder()
        .workers(1)
        .stack_size(16 * 1024 * 1024)
        .build()
        .unwrap();
    // 8 MiB on the stack would overflow a default 2 MiB worker stack.
    let h = pool.submit(|| {
        let big = [1u8; 8 * 1024 * 1024];
        std::hint::black_box(&big)
            .iter()
            .map(|&b| u64::from(b))
            .sum::<u64>()
    });
    assert_eq!(h.unwrap().result(), Ok(8 * 1024 * 1024));
}

#[test]
fn failing_initializer_breaks_the_pool_clearly() {
    let (tx, rx) = mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(rx);
    let pool = ThreadPool::builder()
        .workers(1)
        .initializer(move || {
            rx.lock().unwrap().recv().unwrap();
            Err("database unreachable".to_string())
        })
        .build()
        .unwrap();
    let pending = pool.submit(|| 1).unwrap();
    tx.send(()).unwrap();
    let err = pending.result().unwrap_err();
    assert_eq!(
        err,
        Error::Broken("initializer failed: database unreachable".into())
    );
    assert!(err.to_string().contains("database unreachable"));
    assert!(matches!(pool.submit(|| 2), Err(Error::Broken(_))));
}

#[test]
fn panicking_initializer_breaks_the_pool() {
    let pool = ThreadPool::builder()
        .workers(2)
        .initializer(|| panic!("no config"))
        .build()
        .unwrap();
    let h = pool.submit(|| 1).unwrap();
    assert_eq!(
        h.result(),
        Err(Error::Broken("initializer panicked: no config".into()))
    );
}

#[test]
fn submit_after_shutdown_is_an_error_value() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown(true, false);
    pool.shutdown(true, false);
    assert_eq!(pool.submit(|| 1).err(), Some(Error::Shutdown));
}

#[test]
fn shutdown_cancel_pending_cancels_queued_but_not_running() {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    let running = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            rx.recv().unwrap();
            "finished"
        })
        .unwrap();
    started_rx.recv().unwrap();
    let queued: Vec<_> = (0..5).map(|i| pool.submit(move || i).unwrap()).collect();
    pool.shutdown(false, true);
    for h in &queued {
        assert_eq!(h.result(), Err(Error::Cancelled));
    }
    tx.send(()).unwrap();
    assert_eq!(running.result(), Ok("finished"));
}

#[test]
fn drop_runs_every_accepted_task_and_waits() {
    let ran = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = {
        let pool = ThreadPool::new(2).unwrap();
        (0..50)
            .map(|_| {
                let r = ran.clone();
                pool.submit(move || {
                    std::thread::sleep(Duration::from_micros(200));
                    r.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap()
            })
            .collect()
    };
    assert_eq!(ran.load(Ordering::SeqCst), 50, "drop waited for all");
    assert!(handles.iter().all(|h| h.result().is_ok()));
}

#[test]
fn shutdown_racing_submitters_leaves_no_handle_unresolved() {
    for _ in 0..50 {
        let pool = Arc::new(ThreadPool::new(2).unwrap());
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    (0..200)
                        .filter_map(|i| pool.submit(move || i).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        pool.shutdown(false, false);
        for s in submitters {
            for h in s.join().unwrap() {
                assert!(
                    h.wait_timeout(Duration::from_secs(30)),
                    "accepted task never resolved"
                );
            }
        }
    }
}

#[test]
fn a_panicking_task_keeps_the_pool_size() {
    let pool = ThreadPool::new(2).unwrap();
    for _ in 0..10 {
        let h = pool.submit(|| -> () { panic!("task bug") }).unwrap();
        assert_eq!(h.result(), Err(Error::Panicked("task bug".into())));
    }
    // Both workers still exist: two tasks can block at once and meet.
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let b = barrier.clone();
            pool.submit(move || b.wait().is_leader()).unwrap()
        })
        .collect();
    let leaders = hs.iter().filter(|h| h.result().unwrap()).count();
    assert_eq!(leaders, 1);
}
