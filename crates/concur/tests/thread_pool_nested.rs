//! Tasks that wait on tasks of their own pool never deadlock, even on one worker.

use std::sync::Arc;
use std::time::Duration;

use concur::{as_completed, wait, ReturnWhen, ThreadPool};

fn nested(pool: Arc<ThreadPool>, depth: u32) -> u32 {
    if depth == 0 {
        return 0;
    }
    let p = pool.clone();
    let child = pool.submit(move || nested(p, depth - 1)).unwrap();
    child.result().unwrap() + 1
}

#[test]
fn one_worker_nested_three_deep() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let p = pool.clone();
    let top = pool.submit(move || nested(p, 3)).unwrap();
    assert_eq!(top.result_timeout(Duration::from_secs(30)), Ok(3));
}

#[test]
fn every_worker_busy_waiting_on_children() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let parents: Vec<_> = (0..6)
        .map(|i| {
            let p = pool.clone();
            pool.submit(move || {
                let kids: Vec<_> = (0..4)
                    .map(|k| p.submit(move || i * 10 + k).unwrap())
                    .collect();
                as_completed(kids, None)
                    .map(|h| h.unwrap().result().unwrap())
                    .sum::<u32>()
            })
            .unwrap()
        })
        .collect();
    for (i, h) in parents.into_iter().enumerate() {
        let i = i as u32;
        assert_eq!(
            h.result_timeout(Duration::from_secs(30)),
            Ok(4 * i * 10 + 6)
        );
    }
}

#[test]
fn map_and_wait_inside_a_one_worker_pool() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let p = pool.clone();
    let h = pool
        .submit(move || {
            let squares: u64 = p.map(|x: u64| x * x, 0..10).map(Result::unwrap).sum();
            let hs: Vec<_> = (0..3).map(|i| p.submit(move || i).unwrap()).collect();
            let (done, not_done) = wait(hs, None, ReturnWhen::AllCompleted);
            (squares, done.len(), not_done.len())
        })
        .unwrap();
    assert_eq!(h.result_timeout(Duration::from_secs(30)), Ok((285, 3, 0)));
}

#[test]
fn timed_wait_inside_a_worker_still_times_out() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let h = pool
        .submit(|| {
            let (_promise, never) = concur::Promise::<u8>::new();
            never.wait_timeout(Duration::from_millis(20))
        })
        .unwrap();
    assert_eq!(h.result(), Ok(false));
}

/// Both workers sleep inside tasks, helping while they wait. A job is queued (its wake-up may go
/// to either) just as one of them is released to go on with other, non-helping work: if the
/// released one took the wake-up, it must pass it on, or the job would wait for the other.
#[test]
fn a_released_waiter_passes_its_wake_up_on_to_the_other_sleeper() {
    let pool = ThreadPool::new(2).unwrap();
    for round in 0..200 {
        let (release_a, a_waits_on) = concur::Promise::<()>::new();
        let (release_b, b_waits_on) = concur::Promise::<()>::new();
        let (go_on, a_then_blocks_on) = std::sync::mpsc::channel::<()>();
        let a = pool
            .submit(move || {
                a_waits_on.wait();
                a_then_blocks_on.recv().is_ok()
            })
            .unwrap();
        let b = pool.submit(move || b_waits_on.wait()).unwrap();
        while !(a.running() && b.running()) {
            std::thread::yield_now();
        }
        let job = pool.submit(|| 7).unwrap();
        release_a.complete(Ok(()));
        assert_eq!(
            job.result_timeout(Duration::from_secs(20)),
            Ok(7),
            "round {round}: the job waited for the second waiter"
        );
        go_on.send(()).unwrap();
        release_b.complete(Ok(()));
        assert_eq!((a.result(), b.result()), (Ok(true), Ok(())));
    }
}
