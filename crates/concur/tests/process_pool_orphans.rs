//! If the pool's process dies, even by SIGKILL, its workers die too: no orphans.
//!
//! The test starts this test binary again in a "parent role" (an environment variable selects
//! it): that process builds a pool, prints its workers' pids, keeps one busy and waits to be
//! killed. The test SIGKILLs it and checks every worker ends.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use concur::{Executor, ProcessPool};

concur::enable_test_workers!();

const ROLE: &str = "CONCUR_TEST_PARENT_ROLE";

fn spin(_: ()) {
    #[allow(clippy::empty_loop)]
    loop {}
}
concur::task! { static SPIN: fn(()) -> () = spin; }

#[test]
fn parent_role() {
    if std::env::var_os(ROLE).is_none() {
        return; // only meaningful when started by the test below
    }
    let pool = ProcessPool::new(3).unwrap();
    let _busy = pool.submit_task(&SPIN, ()).unwrap(); // one worker is mid-task when we die
    let pids: Vec<String> = pool.pids().iter().map(u32::to_string).collect();
    println!("PIDS {}", pids.join(" "));
    eprintln!(
        "parent role {} started workers {pids:?}",
        std::process::id()
    );
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Whether `pid` still runs (a zombie or a vanished pid counts as ended).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

#[test]
fn sigkill_of_the_parent_leaves_no_orphan_worker() {
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args(["parent_role", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let pids: Vec<u32> = loop {
        let line = lines
            .next()
            .expect("the parent printed its workers")
            .unwrap();
        if let Some(pids) = line.strip_prefix("PIDS ") {
            break pids.split(' ').map(|p| p.parse().unwrap()).collect();
        }
    };
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|&p| running(p)));

    parent.kill().unwrap(); // SIGKILL: no destructor, no shutdown
    parent.wait().unwrap();

    // Bounded wait, not a timing assertion: the kernel delivers the death signal at once, but a
    // loaded machine may take a while to schedule the exits.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|&p| running(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = pids.into_iter().filter(|&p| running(p)).collect();
    assert!(left.is_empty(), "orphaned workers still running: {left:?}");
}
