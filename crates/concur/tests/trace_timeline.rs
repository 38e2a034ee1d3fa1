//! Timelines: one event per task, on the worker that ran it, exported as Chrome trace JSON.

use std::collections::HashSet;
use std::time::Duration;

use concur::trace::{Outcome, Worker};
use concur::{Executor, ThreadPool};

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}
concur::task! { static NAP: fn(u64) -> u64 = nap; }

#[test]
fn every_task_is_one_event_on_its_worker() {
    let pool = ThreadPool::builder()
        .workers(2)
        .trace(true)
        .build()
        .unwrap();
    let handles: Vec<_> = (0..6).map(|_| pool.submit_task(&NAP, 5).unwrap()).collect();
    let bad = pool.submit(|| -> u8 { panic!("traced failure") }).unwrap();
    handles.iter().for_each(|h| h.wait());
    bad.wait();
    let events = pool.trace().unwrap().events();
    assert_eq!(events.len(), 7);
    let ids: HashSet<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 7, "each task recorded once");
    let workers: HashSet<Worker> = events.iter().map(|e| e.worker).collect();
    assert!(workers
        .iter()
        .all(|w| matches!(w, Worker::Thread(0) | Worker::Thread(1))));
    for e in &events {
        assert!(e.submitted <= e.started && e.started <= e.finished);
        if e.label == NAP.name() {
            assert!(e.finished - e.started >= Duration::from_millis(5));
            assert_eq!(e.outcome, Outcome::Ok);
        } else {
            assert_eq!(e.label, "closure");
            assert_eq!(
                e.outcome,
                Outcome::Failed("task panicked: traced failure".into())
            );
        }
    }
    // Tasks on the same worker never overlap.
    for w in &workers {
        let mut mine: Vec<_> = events.iter().filter(|e| e.worker == *w).collect();
        mine.sort_by_key(|e| e.started);
        assert!(mine.windows(2).all(|p| p[0].finished <= p[1].started));
    }
}

#[test]
fn chrome_json_is_valid_and_complete() {
    let pool = ThreadPool::builder()
        .workers(2)
        .trace(true)
        .build()
        .unwrap();
    let sum: u64 = pool
        .map_task(&NAP, [1, 2, 3, 4])
        .chunksize(2)
        .map(Result::unwrap)
        .sum();
    assert_eq!(sum, 10);
    let json: serde_json::Value =
        serde_json::from_str(&pool.trace().unwrap().to_chrome_json()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let tasks: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(tasks.len(), 2, "two chunks");
    for t in tasks {
        assert_eq!(t["name"], NAP.name());
        assert!(t["dur"].as_f64().unwrap() >= 3000.0);
        assert!(t["ts"].as_f64().unwrap() >= 0.0);
    }
    assert!(events.iter().any(|e| e["ph"] == "M"));
}

#[test]
fn tracing_is_off_by_default() {
    let pool = ThreadPool::new(1).unwrap();
    pool.submit(|| ()).unwrap().wait();
    assert!(pool.trace().is_none());
}

fn odd_only(x: u64) -> u64 {
    assert!(x % 2 == 1, "{x} is even");
    x
}
concur::task! { static ODD_ONLY: fn(u64) -> u64 = odd_only; }

#[test]
fn the_sequential_executor_traces_each_chunk_on_the_caller_in_order() {
    let executor = concur::TracedSequential::new();
    let results: Vec<_> = executor
        .map_task(&ODD_ONLY, [1, 3, 5, 6, 7])
        .chunksize(2)
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    let events = executor.trace().events();
    assert_eq!(events.len(), 3, "chunks [1,3] [5,6] [7]");
    assert!(events.iter().all(|e| e.worker == Worker::Caller));
    assert!(events.iter().all(|e| e.label == ODD_ONLY.name()));
    assert!(events.windows(2).all(|w| w[0].finished <= w[1].started));
    let failed: Vec<bool> = events.iter().map(|e| e.outcome != Outcome::Ok).collect();
    assert_eq!(failed, [false, true, false], "the chunk holding 6 failed");
}
