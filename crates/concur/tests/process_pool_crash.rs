//! Crash isolation: a worker that dies fails only its own task, with an error naming its pid and
//! the signal or exit status, and is replaced; timeouts and cancel kill running work.

use std::time::Duration;

use concur::{Error, Executor, ProcessPool, TaskFn};

concur::enable_test_workers!();

fn sleep_ms(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}
concur::task! { static SLEEP_MS: fn(u64) -> u32 = sleep_ms; }

fn abort(_: ()) {
    std::process::abort();
}
concur::task! { static ABORT: fn(()) -> () = abort; }

fn segfault(_: ()) {
    // SAFETY: none; this deliberately writes to an unmapped address to crash the worker with
    // SIGSEGV, which is what this test is about. The write is volatile so it is not optimised out.
    unsafe { std::ptr::write_volatile(16 as *mut u8, 1) };
}
concur::task! { static SEGFAULT: fn(()) -> () = segfault; }

fn exit_with(code: i32) {
    std::process::exit(code);
}
concur::task! { static EXIT_WITH: fn(i32) -> () = exit_with; }

fn spin(_: ()) {
    #[allow(clippy::empty_loop)]
    loop {}
}
concur::task! { static SPIN: fn(()) -> () = spin; }

fn pid(_: ()) -> u32 {
    std::process::id()
}
concur::task! { static PID: fn(()) -> u32 = pid; }

/// Dies the first time it runs in a fresh pool (a marker file records that it did).
fn die_once(marker: String) -> u32 {
    if std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&marker)
        .is_ok()
    {
        std::process::abort();
    }
    std::process::id()
}
concur::task! { static DIE_ONCE: fn(String) -> u32 = die_once; }

fn assert_died(err: Error, signal_or_status: &str) -> u32 {
    match err {
        Error::WorkerDied { pid, cause } => {
            assert!(cause.contains(signal_or_status), "{cause}");
            pid
        }
        other => panic!("expected WorkerDied({signal_or_status}), got {other:?}"),
    }
}

/// The pool still works, on a replacement worker.
fn assert_recovered(pool: &ProcessPool, dead: u32) {
    let alive = pool.submit_task(&PID, ()).unwrap().result().unwrap();
    assert_ne!(alive, dead);
    assert!(!pool.pids().contains(&dead));
}

#[test]
fn kill_9_of_a_worker_mid_task_fails_only_that_task() {
    let pool = ProcessPool::new(2).unwrap();
    let victim = pool.submit_task(&SLEEP_MS, 60_000).unwrap();
    let bystander = pool.submit_task(&SLEEP_MS, 300).unwrap();
    while !victim.running() {
        std::thread::yield_now();
    }
    // Which worker runs the victim? The bystander reports its own pid; the victim's is the other.
    let bystander_pid = bystander.result().unwrap();
    let victim_pid = *pool.pids().iter().find(|&&p| p != bystander_pid).unwrap();
    // SAFETY: kill(2) on our own child, which is alive (it is running the victim task).
    unsafe { libc::kill(victim_pid as i32, libc::SIGKILL) };
    let pid = assert_died(victim.result().unwrap_err(), "signal 9 (SIGKILL)");
    assert_eq!(pid, victim_pid);
    assert_recovered(&pool, victim_pid);
}

/// Runs `task(input)` alone on a one-worker pool: it must kill its worker with `cause`, and the
/// pool must carry on with a replacement.
fn dies_of<I: concur::Wire>(task: &'static TaskFn<I, ()>, input: I, cause: &str) {
    let pool = ProcessPool::new(1).unwrap();
    let err = pool.submit_task(task, input).unwrap().result().unwrap_err();
    let dead = assert_died(err, cause);
    assert_recovered(&pool, dead);
}

#[test]
fn a_task_that_aborts_reports_sigabrt() {
    dies_of(&ABORT, (), "SIGABRT");
}

#[test]
fn a_task_that_segfaults_reports_sigsegv() {
    dies_of(&SEGFAULT, (), "SIGSEGV");
}

#[test]
fn a_task_that_exits_reports_its_status() {
    dies_of(&EXIT_WITH, 3, "exited with status 3");
}

#[test]
fn a_dead_chunk_fails_each_of_its_items_and_spares_other_chunks() {
    let pool = ProcessPool::new(2).unwrap();
    let results: Vec<_> = pool
        .map_task(&EXIT_WITH, [0, 0, 3, 0])
        .chunksize(2)
        .collect();
    // Exit status 0 mid-chunk is still a death: the worker never answered.
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::WorkerDied { .. }))),
        "{results:?}"
    );
    let fine: Vec<_> = pool.map_task(&PID, vec![(); 8]).chunksize(2).collect();
    assert!(fine.iter().all(Result::is_ok));
}

#[test]
fn an_infinite_loop_under_a_timeout_is_killed() {
    let timeout = Duration::from_millis(200);
    let pool = ProcessPool::builder()
        .workers(1)
        .task_timeout(timeout)
        .build()
        .unwrap();
    let before = pool.pids();
    let started = std::time::Instant::now();
    let err = pool.submit_task(&SPIN, ()).unwrap().result().unwrap_err();
    // Reported, not asserted: timings do not belong in tests on a noisy machine.
    eprintln!("timeout {timeout:?} reported after {:?}", started.elapsed());
    assert_eq!(
        err,
        Error::TaskTimeout {
            pid: before[0],
            timeout
        }
    );
    assert_recovered(&pool, before[0]);
}

#[test]
fn cancel_kills_a_running_task_and_the_pool_goes_on() {
    let pool = ProcessPool::new(1).unwrap();
    let running = pool.submit_task(&SPIN, ()).unwrap();
    let queued = pool.submit_task(&PID, ()).unwrap();
    while !running.running() {
        std::thread::yield_now();
    }
    let spinner = pool.pids()[0];
    assert!(running.cancel());
    assert_eq!(running.result(), Err(Error::Cancelled));
    // The queued task runs on the replacement.
    let pid = queued.result().unwrap();
    assert_ne!(pid, spinner);
}

#[test]
fn max_retries_resubmits_a_task_whose_worker_died() {
    let marker = std::env::temp_dir().join(format!("concur-die-once-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let pool = ProcessPool::builder()
        .workers(1)
        .max_retries(1)
        .build()
        .unwrap();
    let first = pool.pids()[0];
    let pid = pool
        .submit_task(&DIE_ONCE, marker.display().to_string())
        .unwrap()
        .result()
        .unwrap();
    assert_ne!(pid, first);
    let _ = std::fs::remove_file(&marker);
}

#[test]
fn cancel_of_a_queued_task_kills_nobody() {
    let pool = ProcessPool::new(1).unwrap();
    let worker = pool.pids()[0];
    let running = pool.submit_task(&SLEEP_MS, 100).unwrap();
    let queued = pool.submit_task(&PID, ()).unwrap();
    assert!(queued.cancel());
    assert!(queued.cancelled());
    assert_eq!(running.result(), Ok(worker));
    assert_eq!(pool.submit_task(&PID, ()).unwrap().result(), Ok(worker));
}

/// A unit handle that resolves when `h` does, with its error if any: lets `wait` watch handles
/// of different types together.
fn unit<T: Send + 'static>(h: &concur::Handle<T>) -> concur::Handle<()> {
    let (promise, unit) = concur::Promise::new();
    h.add_done_callback(move |h| promise.complete(h.failure().map_or(Ok(()), Err)));
    unit
}

#[test]
fn as_completed_and_wait_first_exception_work_over_process_handles() {
    let pool = ProcessPool::new(2).unwrap();
    let slow = pool.submit_task(&SLEEP_MS, 60_000).unwrap();
    let dies = pool.submit_task(&EXIT_WITH, 3).unwrap();
    // The worker that exits fails first; wait returns without waiting for the slow one.
    let (done, not_done) = concur::wait(
        [unit(&slow), unit(&dies)],
        None,
        concur::ReturnWhen::FirstException,
    );
    assert_eq!((done.len(), not_done.len()), (1, 1));
    assert!(matches!(done[0].failure(), Some(Error::WorkerDied { .. })));
    assert!(slow.cancel(), "a running process task can be cancelled");

    let handles: Vec<_> = (0..6)
        .map(|_| pool.submit_task(&PID, ()).unwrap())
        .collect();
    let finished = concur::as_completed(handles, None).map(|h| h.unwrap().result().unwrap());
    assert_eq!(finished.count(), 6);
}

#[test]
fn shutdown_with_cancelled_work_still_queued_returns() {
    // Regression: work cancelled while queued used to keep idle workers from being told to exit,
    // so shutdown(wait) hung.
    let pool = ProcessPool::new(1).unwrap();
    let running = pool.submit_task(&SLEEP_MS, 300).unwrap();
    let queued: Vec<_> = (0..3)
        .map(|_| pool.submit_task(&SLEEP_MS, 1).unwrap())
        .collect();
    for h in &queued {
        assert!(h.cancel());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pool.shutdown(true, false);
        tx.send(()).unwrap();
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("shutdown returned");
    assert!(running.result().is_ok());
}
