//! A million tasks, one percent of them panicking: every handle resolves exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use concur::{Error, ThreadPool};

const TASKS: usize = if cfg!(miri) { 1_000 } else { 1_000_000 };

#[test]
fn million_tasks_each_resolve_exactly_once() {
    // Silence the default hook's message for the ten thousand expected panics.
    std::panic::set_hook(Box::new(|_| {}));
    let pool = ThreadPool::new(2).unwrap();
    let resolved = Arc::new(AtomicUsize::new(0));
    let panicked = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let h = pool
            .submit(move || {
                if i % 100 == 0 {
                    panic!("task {i} fails on purpose");
                }
                i
            })
            .unwrap();
        let (r, p) = (resolved.clone(), panicked.clone());
        h.add_done_callback(move |h| {
            r.fetch_add(1, Ordering::Relaxed);
            if h.failure().is_some() {
                p.fetch_add(1, Ordering::Relaxed);
            }
        });
        handles.push(h);
    }
    let mut ok = 0;
    for (i, h) in handles.into_iter().enumerate() {
        match h.into_result() {
            Ok(v) => {
                assert_eq!(v, i);
                ok += 1;
            }
            Err(Error::Panicked(msg)) => assert_eq!(msg, format!("task {i} fails on purpose")),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    drop(pool);
    let _ = std::panic::take_hook();
    assert_eq!(ok, TASKS - TASKS / 100);
    assert_eq!(
        resolved.load(Ordering::Relaxed),
        TASKS,
        "each callback ran exactly once"
    );
    assert_eq!(panicked.load(Ordering::Relaxed), TASKS / 100);
}
