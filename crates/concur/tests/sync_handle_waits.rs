//! Waits between handles join the wait-for graph: a cycle of tasks waiting on each other is an
//! `Error::Deadlock` on one of them, never a hang.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use concur::{Error, Handle, ThreadPool};

type Slot = Arc<Mutex<Option<Handle<u32>>>>;

#[test]
fn two_tasks_waiting_on_each_other_get_a_deadlock_error() {
    for workers in [1, 2] {
        let pool = ThreadPool::new(workers).unwrap();
        let a_slot: Slot = Arc::default();
        let b_slot: Slot = Arc::default();
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let ready_rx = Arc::new(Mutex::new(ready_rx));
        let wait_on = |slot: Slot, ready: Arc<Mutex<mpsc::Receiver<()>>>| {
            move || {
                ready.lock().unwrap().recv().unwrap();
                let other = slot.lock().unwrap().clone().unwrap();
                match other.result() {
                    Ok(v) => v + 1,
                    Err(Error::Deadlock(_)) => 100,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        };
        let a = pool
            .submit(wait_on(b_slot.clone(), ready_rx.clone()))
            .unwrap();
        let b = pool
            .submit(wait_on(a_slot.clone(), ready_rx.clone()))
            .unwrap();
        *a_slot.lock().unwrap() = Some(a.clone());
        *b_slot.lock().unwrap() = Some(b.clone());
        ready_tx.send(()).unwrap();
        ready_tx.send(()).unwrap();
        let (ra, rb) = (
            a.result_timeout(Duration::from_secs(30)).unwrap(),
            b.result_timeout(Duration::from_secs(30)).unwrap(),
        );
        // Exactly one wait was refused; the other task then read its value.
        let mut got = [ra, rb];
        got.sort_unstable();
        assert_eq!(got, [100, 101], "workers={workers}");
    }
}

#[test]
fn a_task_waiting_on_itself_is_refused() {
    let pool = ThreadPool::new(1).unwrap();
    let slot: Slot = Arc::default();
    let s = slot.clone();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let me = pool
        .submit(move || {
            go_rx.recv().unwrap();
            let me = s.lock().unwrap().clone().unwrap();
            match me.result() {
                Err(Error::Deadlock(why)) => {
                    assert!(why.contains("concur-0"), "{why}");
                    7
                }
                other => panic!("expected a deadlock, got {other:?}"),
            }
        })
        .unwrap();
    *slot.lock().unwrap() = Some(me.clone());
    go_tx.send(()).unwrap();
    assert_eq!(me.result_timeout(Duration::from_secs(30)), Ok(7));
}

#[test]
fn ordinary_nested_waits_are_not_refused() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let p = pool.clone();
    let outer = pool
        .submit(move || {
            let q = p.clone();
            let mid = p
                .submit(move || q.submit(|| 1u32).unwrap().result().unwrap() + 1)
                .unwrap();
            mid.result().unwrap() + 1
        })
        .unwrap();
    assert_eq!(outer.result_timeout(Duration::from_secs(30)), Ok(3));
}
