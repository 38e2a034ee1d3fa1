//! 10,000 tasks while a background thread SIGKILLs random workers: every handle resolves exactly
//! once, with its value or `WorkerDied`, and after the pool is dropped no child process (running
//! or zombie) is left. Alone in its file so no other test's workers are counted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concur::{Error, Executor, ProcessPool};

concur::enable_test_workers!();

fn nap(x: u64) -> u64 {
    if x.is_multiple_of(4) {
        std::thread::sleep(Duration::from_micros(500));
    }
    x + 1
}
concur::task! { static NAP: fn(u64) -> u64 = nap; }

const TASKS: u64 = if cfg!(miri) { 100 } else { 10_000 };

/// Our children according to /proc: (pid, state letter).
fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses and may contain spaces.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            found.push((pid, fields[0].chars().next().unwrap_or('?')));
        }
    }
    found
}

/// A tiny deterministic generator: which worker to kill next.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn ten_thousand_tasks_under_random_sigkills_all_resolve_once_and_leave_no_child() {
    let pool = Arc::new(ProcessPool::new(4).unwrap());
    let resolved: Arc<Vec<AtomicUsize>> =
        Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));

    let killer = {
        let (pool, stop, kills) = (pool.clone(), stop.clone(), kills.clone());
        std::thread::spawn(move || {
            let mut rng = Lcg(7);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                let pids = pool.pids();
                if pids.is_empty() {
                    continue;
                }
                let pid = pids[rng.next() as usize % pids.len()];
                // SAFETY: kill(2) on one of the pool's live workers (our own unreaped child). The
                // pool may reap it in between, a race this test accepts: it only ever signals
                // pids that were its own children a moment ago.
                if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 {
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let h = pool.submit_task(&NAP, i).unwrap();
            let resolved = resolved.clone();
            h.add_done_callback(move |_| {
                resolved[i as usize].fetch_add(1, Ordering::SeqCst);
            });
            h
        })
        .collect();

    let mut ok = 0;
    let mut died = 0;
    for (i, h) in handles.iter().enumerate() {
        match h.result() {
            Ok(v) => {
                assert_eq!(v, i as u64 + 1);
                ok += 1;
            }
            Err(Error::WorkerDied { pid, cause }) => {
                assert!(
                    pid > 0 && cause.contains("SIGKILL"),
                    "task {i}: {pid} {cause}"
                );
                died += 1;
            }
            Err(other) => panic!("task {i}: unexpected {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    assert_eq!(ok + died, TASKS);
    assert!(kills.load(Ordering::Relaxed) > 0, "the killer never struck");
    eprintln!(
        "{ok} ok, {died} lost to {} kills",
        kills.load(Ordering::Relaxed)
    );

    let pool = Arc::try_unwrap(pool)
        .ok()
        .expect("the killer thread is gone");
    drop(pool);
    for (i, count) in resolved.iter().enumerate() {
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "handle {i} resolved {count:?} times"
        );
    }
    assert_eq!(
        children(),
        vec![],
        "children left after the pool was dropped"
    );
}
