//! The process pool's everyday behaviour: submit, map, errors carried back, initializer,
//! max_tasks_per_child, shutdown, big arguments.

use std::collections::HashSet;

use concur::{Error, Executor, ProcessPool, TaskFn};

concur::enable_test_workers!();

fn square(x: u64) -> u64 {
    x * x
}
concur::task! { static SQUARE: fn(u64) -> u64 = square; }

fn pid(_: ()) -> u32 {
    std::process::id()
}
concur::task! { static PID: fn(()) -> u32 = pid; }

fn odd_panic(x: u32) -> u32 {
    if x % 2 == 1 {
        std::panic::panic_any(x); // a payload that is not a string
    }
    x
}
concur::task! { static ODD_PANIC: fn(u32) -> u32 = odd_panic; }

fn shout(text: String) -> String {
    text.to_ascii_uppercase()
}
concur::task! { static SHOUT: fn(String) -> String = shout; }

fn env_marker(_: ()) -> Option<String> {
    std::env::var("CONCUR_TEST_INIT").ok()
}
concur::task! { static ENV_MARKER: fn(()) -> Option<String> = env_marker; }

fn set_marker(value: String) -> Result<(), String> {
    std::env::set_var("CONCUR_TEST_INIT", value);
    Ok(())
}
concur::task! { static SET_MARKER: fn(String) -> Result<(), String> = set_marker; }

fn refuse(book: String) -> Result<(), String> {
    Err(format!("cannot open {book}"))
}
concur::task! { static REFUSE: fn(String) -> Result<(), String> = refuse; }

/// Deliberately not registered with `task!`: workers cannot find it.
static NOT_REGISTERED: TaskFn<u64, u64> = TaskFn::new("process_pool_basic::NOT_REGISTERED", square);

#[test]
fn submit_and_map_run_in_other_processes() {
    let pool = ProcessPool::new(2).unwrap();
    assert_eq!(pool.workers(), 2);
    assert_eq!(pool.submit_task(&SQUARE, 12).unwrap().result(), Ok(144));
    let squares: Vec<u64> = pool
        .map_task(&SQUARE, 0..1000)
        .chunksize(64)
        .map(Result::unwrap)
        .collect();
    assert_eq!(squares, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool
        .map_task_unordered(&SQUARE, 0..100)
        .map(Result::unwrap)
        .collect();
    unordered.sort_unstable();
    assert_eq!(unordered, (0..100u64).map(|x| x * x).collect::<Vec<_>>());

    let worker_pid = pool.submit_task(&PID, ()).unwrap().result().unwrap();
    assert_ne!(worker_pid, std::process::id());
    assert!(pool.pids().contains(&worker_pid));
}

#[test]
fn a_panic_with_a_non_string_payload_fails_only_its_item() {
    let pool = ProcessPool::new(1).unwrap();
    let out: Vec<_> = pool.map_task(&ODD_PANIC, 0..4).chunksize(4).collect();
    assert_eq!(out[0], Ok(0));
    assert_eq!(
        out[1],
        Err(Error::Panicked("panic payload is not a string".into()))
    );
    assert_eq!(out[2], Ok(2));
    assert!(out[3].is_err());
    // The worker survived: a panic is not a crash.
    let before = pool.pids();
    assert_eq!(pool.submit_task(&ODD_PANIC, 8).unwrap().result(), Ok(8));
    assert_eq!(pool.pids(), before);
}

#[test]
fn an_unregistered_task_is_an_error_never_a_hang() {
    let pool = ProcessPool::new(1).unwrap();
    let err = pool
        .submit_task(&NOT_REGISTERED, 3)
        .unwrap()
        .result()
        .unwrap_err();
    assert_eq!(
        err,
        Error::Unregistered("process_pool_basic::NOT_REGISTERED".into())
    );
    let items: Vec<_> = pool.map_task(&NOT_REGISTERED, 0..3).collect();
    assert!(items
        .iter()
        .all(|r| matches!(r, Err(Error::Unregistered(_)))));
    assert_eq!(pool.submit_task(&SQUARE, 3).unwrap().result(), Ok(9));
}

#[test]
fn a_100_mb_argument_and_result_cross_intact() {
    let pool = ProcessPool::new(1).unwrap();
    // A String travels as one block of bytes, so this stays quick even in a debug build.
    let big = "abcdefghij".repeat(10 * 1024 * 1024);
    let back = pool
        .submit_task(&SHOUT, big.clone())
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(back.len(), 100 * 1024 * 1024);
    assert!(back == big.to_ascii_uppercase());
}

#[test]
fn the_initializer_runs_in_every_worker() {
    let pool = ProcessPool::builder()
        .workers(2)
        .initializer(&SET_MARKER, "warm".to_string())
        .build()
        .unwrap();
    let seen: Vec<_> = pool
        .map_task(&ENV_MARKER, vec![(); 20])
        .map(Result::unwrap)
        .collect();
    assert!(
        seen.iter().all(|s| s.as_deref() == Some("warm")),
        "{seen:?}"
    );
}

#[test]
fn a_failing_initializer_breaks_the_pool_with_its_message() {
    let err = ProcessPool::builder()
        .workers(1)
        .initializer(&REFUSE, "Frankenstein.txt".to_string())
        .build()
        .err()
        .expect("a pool whose initializer fails does not build");
    assert!(
        err.to_string().contains("cannot open Frankenstein.txt"),
        "{err}"
    );
}

#[test]
fn max_tasks_per_child_replaces_workers() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..6)
        .map(|_| pool.submit_task(&PID, ()).unwrap().result().unwrap())
        .collect();
    let distinct: HashSet<_> = pids.iter().collect();
    assert_eq!(distinct.len(), 3, "{pids:?}");
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
}

#[test]
fn shutdown_refuses_new_work_and_cancels_pending() {
    let pool = ProcessPool::new(1).unwrap();
    let done = pool.submit_task(&SQUARE, 5).unwrap();
    assert_eq!(done.result(), Ok(25));
    pool.shutdown(true, true);
    assert_eq!(pool.submit_task(&SQUARE, 1).err(), Some(Error::Shutdown));
    assert!(pool.pids().is_empty());
}

#[test]
fn zero_workers_is_a_config_error() {
    assert!(matches!(ProcessPool::new(0), Err(Error::Config(_))));
}

#[test]
fn a_result_over_the_frame_cap_is_a_wire_error_and_the_pool_recovers() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_frame(1024)
        .build()
        .unwrap();
    let worker = pool.pids()[0];
    let err = pool
        .submit_task(&SHOUT, "x".repeat(10_000))
        .unwrap()
        .result()
        .unwrap_err();
    match err {
        Error::Wire(why) => {
            assert!(
                why.contains(&worker.to_string()) && why.contains("exceeds the cap of 1024"),
                "{why}"
            )
        }
        other => panic!("expected a wire error, got {other:?}"),
    }
    assert_eq!(
        pool.submit_task(&SHOUT, "ok".into())
            .unwrap()
            .result()
            .unwrap(),
        "OK"
    );
    assert!(!pool.pids().contains(&worker));
}

#[test]
fn a_worker_binary_that_skips_init_is_a_clear_error_not_a_hang() {
    // `true` ignores its arguments and exits 0 without ever entering worker mode.
    let err = ProcessPool::builder()
        .workers(1)
        .program("true")
        .build()
        .err()
        .expect("no worker can start");
    let text = err.to_string();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        text.contains("exited with status 0 before it was ready"),
        "{text}"
    );
    assert!(text.contains("concur::init()"), "{text}");
}

#[test]
fn a_missing_worker_program_is_named() {
    let err = ProcessPool::builder()
        .workers(1)
        .program("/nonexistent/concur-worker")
        .build()
        .err()
        .expect("no worker can start");
    assert!(
        err.to_string().contains("/nonexistent/concur-worker"),
        "{err}"
    );
}

#[test]
fn traced_pool_records_each_task_on_its_worker_pid() {
    use concur::trace::{Outcome, Worker};
    let pool = ProcessPool::builder()
        .workers(2)
        .trace(true)
        .build()
        .unwrap();
    let handles: Vec<_> = (0..6)
        .map(|x| pool.submit_task(&SQUARE, x).unwrap())
        .collect();
    for h in &handles {
        h.wait();
    }
    let events = pool.trace().unwrap().events();
    assert_eq!(events.len(), 6);
    let live: HashSet<u32> = pool.pids().into_iter().collect();
    for e in &events {
        assert_eq!(e.label, SQUARE.name());
        assert_eq!(e.outcome, Outcome::Ok);
        assert!(e.submitted <= e.started && e.started <= e.finished);
        match e.worker {
            Worker::Process(pid) => assert!(live.contains(&pid), "pid {pid} is a pool worker"),
            other => panic!("expected a process row, got {other}"),
        }
    }
    assert!(ProcessPool::new(1).unwrap().trace().is_none());
}
