//! MpiPool end to end: each test starts a real MPI job (`mpiexec -n 3`, or no launcher at all for
//! a world of one rank) whose ranks run this very test binary's `__mpi_scenario` test with a
//! scenario named in `CONCUR_MPI_SCENARIO`, and checks the job's exit status and output. Rank 0
//! runs the scenario's assertions; a failed one panics, so the job exits non-zero.
//!
//! Needs MPICH's `mpiexec` on PATH (`.ci/mpi.sh` installs it).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use concur::{as_completed, wait, Error, Executor, ReturnWhen, TaskFn};
use concur_mpi::MpiPool;

const SCENARIO_ENV: &str = "CONCUR_MPI_SCENARIO";
/// A job that has not ended by then is killed and the test fails as hung (no timing is asserted).
const HANG_GUARD: Duration = Duration::from_secs(300);

fn square(x: u64) -> u64 {
    if x == 13 {
        panic!("unlucky {x}");
    }
    x * x
}
concur::task! { static SQUARE: fn(u64) -> u64 = square; }

fn whoami(_: u32) -> i32 {
    concur_mpi::rank().unwrap_or(-1)
}
concur::task! { static WHOAMI: fn(u32) -> i32 = whoami; }

/// Waits (at most two minutes) until `path` exists; returns the rank it ran on and whether it saw it.
fn block_until(path: PathBuf) -> (i32, bool) {
    for _ in 0..24_000 {
        if path.exists() {
            return (whoami(0), true);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (whoami(0), false)
}
concur::task! { static BLOCK: fn(PathBuf) -> (i32, bool) = block_until; }

/// Ends this rank without finalizing MPI: `exit(code)`, or `abort()` (SIGABRT) for a negative code.
fn die(code: i32) -> u32 {
    if code < 0 {
        std::process::abort();
    }
    std::process::exit(code)
}
concur::task! { static DIE: fn(i32) -> u32 = die; }

/// Declared but never registered: no rank can find it.
static GHOST: TaskFn<u64, u64> = TaskFn::new("mpi_pool::GHOST", square);

/// The entry every rank of a scenario job runs; does nothing in a plain `cargo test`.
#[test]
fn __mpi_scenario() {
    let Ok(scenario) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    // Ranks 1.. serve and exit in here.
    let pool = MpiPool::builder().trace(true).start().expect("MPI starts");
    let size = pool.world_size();
    match scenario.as_str() {
        "api" => api(&pool),
        "dynamic" => dynamic(&pool),
        "exit" | "abort" => {
            let code = if scenario == "exit" { 3 } else { -1 };
            let handle = pool.submit_task(&DIE, code).unwrap();
            let _ = handle.result_timeout(Duration::from_secs(120));
            println!("rank 0 outlived a dead rank"); // never printed: mpiexec kills rank 0 too
        }
        other => panic!("unknown scenario {other}"),
    }
    pool.shutdown(true, false);
    assert_eq!(pool.submit_task(&SQUARE, 2).err(), Some(Error::Shutdown));
    println!("scenario {scenario} ok on {size} ranks");
}

fn api(pool: &MpiPool) {
    let size = pool.world_size();
    assert_eq!(pool.workers(), (size - 1).max(1));
    assert_eq!(pool.submit_task(&SQUARE, 7).unwrap().result(), Ok(49));

    let ordered: Vec<u64> = pool
        .map_task(&SQUARE, (0..200u64).map(|x| x * 2))
        .chunksize(7)
        .map(Result::unwrap)
        .collect();
    assert_eq!(ordered, (0..200u64).map(|x| 4 * x * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool
        .map_task_unordered(&SQUARE, 20..60u64)
        .chunksize(3)
        .map(Result::unwrap)
        .collect();
    unordered.sort_unstable();
    assert_eq!(unordered, (20..60u64).map(|x| x * x).collect::<Vec<_>>());

    // A panic fails its own item only, with the task's message.
    let items: Vec<_> = pool.map_task(&SQUARE, [12, 13, 14]).chunksize(3).collect();
    assert_eq!(
        items,
        [Ok(144), Err(Error::Panicked("unlucky 13".into())), Ok(196)]
    );
    assert_eq!(
        pool.submit_task(&SQUARE, 13).unwrap().result(),
        Err(Error::Panicked("unlucky 13".into()))
    );
    assert_eq!(
        pool.submit_task(&GHOST, 1).unwrap().result(),
        Err(Error::Unregistered("mpi_pool::GHOST".into()))
    );

    // as_completed and wait over the same handles.
    let handles: Vec<_> = (20..36u64)
        .map(|x| pool.submit_task(&SQUARE, x).unwrap())
        .collect();
    let mut seen: Vec<u64> = as_completed(handles.clone(), None)
        .map(|h| h.unwrap().result().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (20..36u64).map(|x| x * x).collect::<Vec<_>>());
    let bad = pool.submit_task(&SQUARE, 13).unwrap();
    let (done, _) = wait(vec![bad.clone()], None, ReturnWhen::FirstException);
    assert_eq!(done.len(), 1);
    assert!(matches!(bad.error(), Some(Error::Panicked(_))));

    // Work runs on the worker ranks, or on rank 0 in a world of one.
    let mut ranks: Vec<i32> = pool
        .map_task(&WHOAMI, 0..64u32)
        .map(Result::unwrap)
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    if size == 1 {
        assert_eq!(ranks, [0]);
    } else {
        assert!(
            ranks.iter().all(|&r| r >= 1 && (r as usize) < size),
            "{ranks:?}"
        );
    }

    // The trace has one event per unit of work, on the rank that ran it.
    let events = pool.trace().expect("traced").events();
    let whoami: Vec<_> = events.iter().filter(|e| e.label == WHOAMI.name()).collect();
    assert_eq!(whoami.len(), 64);
    let mut traced: Vec<i32> = whoami
        .iter()
        .map(|e| match e.worker {
            concur::trace::Worker::Rank(r) => r,
            other => panic!("{other:?}"),
        })
        .collect();
    traced.sort_unstable();
    traced.dedup();
    assert_eq!(traced, ranks);
    assert!(events
        .iter()
        .all(|e| e.submitted <= e.started && e.started <= e.finished));
}

/// One rank is held by a blocked task; everything after it must flow to the other rank.
fn dynamic(pool: &MpiPool) {
    assert_eq!(
        pool.world_size(),
        3,
        "the dynamic scenario needs two worker ranks"
    );
    let dir = std::env::temp_dir().join(format!("concur-mpi-dynamic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flag = dir.join("go");
    let _ = std::fs::remove_file(&flag);

    let blocked = pool.submit_task(&BLOCK, flag.clone()).unwrap();
    let quick: Vec<_> = (0..20u32)
        .map(|i| pool.submit_task(&WHOAMI, i).unwrap())
        .collect();
    // A static split would leave half of these behind the blocked task: they would never finish.
    let (done, not_done) = wait(
        quick.clone(),
        Some(Duration::from_secs(120)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(
        (done.len(), not_done.len()),
        (20, 0),
        "quick tasks stuck behind a busy rank"
    );
    let mut ranks: Vec<i32> = quick.iter().map(|h| h.result().unwrap()).collect();
    ranks.dedup();
    assert_eq!(
        ranks.len(),
        1,
        "every quick task ran on the one free rank: {ranks:?}"
    );
    let free = ranks[0];
    assert!(blocked.running(), "the blocked task still runs");
    assert!(
        !blocked.cancel(),
        "a running task cannot be cancelled on MPI"
    );

    // Both ranks busy: a new task waits in rank 0's queue, where it can be cancelled.
    let blocked_too = pool.submit_task(&BLOCK, flag.clone()).unwrap();
    let queued = pool.submit_task(&WHOAMI, 99).unwrap();
    assert!(queued.cancel());
    assert_eq!(queued.result(), Err(Error::Cancelled));

    std::fs::write(&flag, b"go").unwrap();
    let (busy, saw) = blocked.result().unwrap();
    assert!(saw);
    assert_ne!(busy, free);
    assert_eq!(blocked_too.result().unwrap(), (free, true));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `command` to the end (failing the test as hung after [`HANG_GUARD`]): status and output.
fn run(mut command: Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?} (is MPICH installed?): {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        stderr.read_to_end(&mut s).map(|_| s)
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            panic!("{command:?} hung: killed after {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

fn scenario(ranks: Option<u32>, name: &str) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut command = match ranks {
        Some(n) => {
            let mut c = Command::new("mpiexec");
            c.arg("-n").arg(n.to_string()).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command
        .args([
            "__mpi_scenario",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(SCENARIO_ENV, name);
    run(command)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(output: &Output, expect: &str) {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success() && stdout.contains(expect),
        "{}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

#[test]
fn api_works_over_three_ranks_and_every_rank_exits_0() {
    assert_ok(&scenario(Some(3), "api"), "scenario api ok on 3 ranks");
}

#[test]
fn world_of_one_runs_tasks_on_rank_0_with_a_warning() {
    for ranks in [None, Some(1)] {
        let output = scenario(ranks, "api");
        assert_ok(&output, "scenario api ok on 1 ranks");
        assert!(text(&output.stderr).contains("warning: the MPI world has 1 rank"));
    }
}

#[test]
fn a_finished_rank_gets_the_next_task_while_another_is_busy() {
    assert_ok(
        &scenario(Some(3), "dynamic"),
        "scenario dynamic ok on 3 ranks",
    );
}

/// A rank that exits (status 3) or aborts (SIGABRT) mid-task without finalizing MPI: mpiexec
/// kills every other rank, rank 0 included, and exits non-zero (with the dead rank's status, or
/// 9 for a rank it killed first: which one it reports is a race).
#[test]
fn a_dead_rank_ends_the_whole_job_non_zero_without_hanging() {
    for death in ["exit", "abort"] {
        let output = scenario(Some(3), death);
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!output.status.success(), "{death}: {all}");
        assert!(!all.contains("outlived"), "{death}: {all}");
        if death == "abort" {
            assert!(all.contains("BAD TERMINATION"), "mpiexec reports it\n{all}");
        }
    }
}
