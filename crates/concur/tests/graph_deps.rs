//! Dependencies between handles: values flow in order, failures and cancellations travel
//! (named, transitively), on closures and on registered tasks over any executor.

use std::sync::mpsc;
use std::sync::Arc;

use concur::graph::{after, submit_after};
use concur::{Error, Executor, Handle, Sequential, State, ThreadPool};

fn concat(parts: Vec<String>) -> String {
    parts.concat()
}
concur::task! { static CONCAT: fn(Vec<String>) -> String = concat; }

fn failed(dependency: &str, cause: Error) -> Error {
    Error::dependency_failed(dependency, cause)
}

/// A task that holds a worker of `pool` until the sender sends; it returns `true` then.
fn blocker(pool: &ThreadPool) -> (mpsc::Sender<()>, Handle<bool>) {
    let (tx, rx) = mpsc::channel::<()>();
    (tx, pool.submit(move || rx.recv().is_ok()).unwrap())
}

#[test]
fn dependent_receives_values_in_declared_order() {
    let pool = ThreadPool::new(2).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    // The first dependency finishes last; the order of values is still the declared one.
    let slow = pool
        .submit(move || {
            rx.recv().unwrap();
            "slow".to_string()
        })
        .unwrap();
    let fast = pool.submit(|| "fast".to_string()).unwrap();
    fast.wait();
    let joined = pool.submit_after([slow, fast], |v| v.join("+"));
    tx.send(()).unwrap();
    assert_eq!(joined.result().unwrap(), "slow+fast");
}

#[test]
fn registered_task_after_dependencies_on_thread_pool_and_sequential() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let a = pool.submit_task(&CONCAT, vec!["a".into()]).unwrap();
    let b = pool
        .submit_task(&CONCAT, vec!["b".into(), "c".into()])
        .unwrap();
    let ab = submit_after(&pool, [a, b], &CONCAT, |v| v);
    assert_eq!(ab.result().unwrap(), "abc");

    let seq = Arc::new(Sequential);
    let x = seq.submit_task(&CONCAT, vec!["x".into()]).unwrap();
    let xx = submit_after(&seq, [x.clone(), x], &CONCAT, |v| v);
    assert_eq!(xx.result().unwrap(), "xx");
}

#[test]
fn no_dependencies_starts_at_once_and_chains_run_deep() {
    let pool = ThreadPool::new(1).unwrap();
    let mut h = pool.submit_after(Vec::<Handle<u64>>::new(), |_| 0u64);
    for _ in 0..1000 {
        h = pool.submit_after([h], |v| v[0] + 1);
    }
    assert_eq!(h.result().unwrap(), 1000);
}

#[test]
fn failure_names_the_dependency_and_travels_down_the_chain() {
    let pool = ThreadPool::new(2).unwrap();
    let ok = pool.submit(|| 1).unwrap();
    let bad = pool
        .submit(|| -> i32 { panic!("book 7 is missing") })
        .unwrap();
    let mid = pool.submit_after([ok.clone(), bad], |v| v.iter().sum::<i32>());
    let top = pool.submit_after([ok, mid.clone()], |v| v.iter().sum::<i32>());
    let panicked = Error::Panicked("book 7 is missing".into());
    assert_eq!(mid.result(), Err(failed("#1", panicked.clone())));
    assert_eq!(top.result(), Err(failed("#1", failed("#1", panicked))));
    assert_eq!(top.state(), State::Finished);
    assert_eq!(
        top.error().unwrap().to_string(),
        "dependency `#1` failed, because `#1` failed: task panicked: book 7 is missing"
    );
}

#[test]
fn a_failure_does_not_wait_for_the_other_dependencies() {
    let pool = ThreadPool::new(2).unwrap();
    let (tx, blocked) = blocker(&pool);
    let bad = pool.submit(|| -> bool { panic!("no") }).unwrap();
    let dependent = pool.submit_after([blocked.clone(), bad], |v| v[0]);
    // Resolves while `blocked` is still running: it cannot finish before `tx` sends.
    assert!(matches!(
        dependent.result(),
        Err(Error::DependencyFailed { .. })
    ));
    assert!(!blocked.done());
    tx.send(()).unwrap();
    assert_eq!(blocked.result(), Ok(true));
}

#[test]
fn cancelling_a_dependency_cancels_its_dependents_transitively() {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, blocker) = blocker(&pool);
    let queued = pool.submit(|| 5).unwrap();
    let child = pool.submit_after([queued.clone()], |v| v[0] * 2);
    let grandchild = pool.submit_after([child.clone()], |v| v[0] * 2);
    assert!(queued.cancel());
    assert_eq!(child.state(), State::Cancelled);
    assert_eq!(grandchild.state(), State::Cancelled);
    assert_eq!(
        grandchild.result(),
        Err(failed("#0", failed("#0", Error::Cancelled)))
    );
    tx.send(()).unwrap();
    assert_eq!(blocker.result(), Ok(true));
}

#[test]
fn a_cancelled_dependent_never_runs() {
    let pool = ThreadPool::new(2).unwrap();
    let (tx, dep) = blocker(&pool);
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ran.clone();
    let dependent = pool.submit_after([dep.clone()], move |_| {
        r.store(true, std::sync::atomic::Ordering::SeqCst)
    });
    assert!(dependent.cancel());
    tx.send(()).unwrap();
    dep.wait();
    pool.shutdown(true, false); // every queued task has run by now
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(dependent.result(), Err(Error::Cancelled));
}

#[test]
fn cancelling_a_submitted_dependent_cancels_the_executors_handle() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let (tx, blocker) = blocker(&pool);
    // `after` with our own start: we keep the inner handle to observe it.
    let (inner_tx, inner_rx) = mpsc::channel();
    let p = pool.clone();
    let dep = Handle::ready(Ok(1));
    let outer = after([dep], move |_| {
        let inner = p.submit(|| 7)?; // queued behind the blocker
        inner_tx.send(inner.clone()).unwrap();
        Ok(inner)
    });
    let inner = inner_rx.recv().unwrap();
    assert!(outer.cancel());
    assert!(inner.cancelled(), "the queued inner task was cancelled too");
    tx.send(()).unwrap();
    assert_eq!(blocker.result(), Ok(true));
}

#[test]
fn a_refusing_executor_fails_the_dependent_with_its_error() {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, dep) = blocker(&pool);
    let dependent = pool.submit_after([dep.clone()], |v| v[0]);
    pool.shutdown(false, false); // `dep` still runs; the dependent is queued after the stop
    tx.send(()).unwrap();
    assert_eq!(dep.result(), Ok(true));
    assert_eq!(dependent.result(), Err(Error::Shutdown));

    let panicking_start = after([Handle::ready(Ok(1))], |_| -> concur::Result<Handle<i32>> {
        panic!("bad start")
    });
    assert_eq!(
        panicking_start.result(),
        Err(Error::Panicked("bad start".into()))
    );
}

#[test]
fn a_failure_travels_down_a_long_chain_on_a_small_stack() {
    let pool = ThreadPool::builder()
        .workers(1)
        .stack_size(128 * 1024)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let first = pool
        .submit(move || -> u64 {
            rx.recv().unwrap();
            panic!("first link broke")
        })
        .unwrap();
    let mut last = first.clone();
    for _ in 0..100_000 {
        last = pool.submit_after([last], |v| v[0] + 1);
    }
    tx.send(()).unwrap(); // the failure now travels 100,000 links inside the worker's callbacks
    assert_eq!(
        last.result(),
        Err(Error::DependencyFailed {
            dependency: "#0".into(),
            root: Some("#0".into()),
            cause: Box::new(Error::Panicked("first link broke".into())),
        })
    );
}

#[test]
fn dependencies_already_finished_when_submitting_behave_the_same() {
    let pool = ThreadPool::new(1).unwrap();
    let ok = Handle::ready(Ok(2));
    let bad = Handle::<i32>::ready(Err(Error::Panicked("early".into())));
    let cancelled = pool.submit_after([Handle::<i32>::ready(Err(Error::Shutdown))], |v| v[0]);
    cancelled.cancel(); // already failed: stays failed, not cancelled
    let (promise, gone) = concur::Promise::<i32>::new();
    promise.cancel();
    assert_eq!(
        pool.submit_after([ok.clone(), ok.clone()], |v| v[0] * v[1])
            .result(),
        Ok(4)
    );
    let failed_now = pool.submit_after([ok.clone(), bad], |v| v[0]);
    assert_eq!(
        failed_now.result(),
        Err(failed("#1", Error::Panicked("early".into())))
    );
    assert_eq!(failed_now.state(), State::Finished);
    let cancelled_now = pool.submit_after([ok, gone], |v| v[0]);
    assert_eq!(cancelled_now.state(), State::Cancelled);
    assert_eq!(cancelled_now.result(), Err(failed("#1", Error::Cancelled)));
    assert_eq!(cancelled.result(), Err(failed("#0", Error::Shutdown)));
}
