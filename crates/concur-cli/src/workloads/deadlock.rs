//! The seed's third lesson: two threads, two locks, opposite order — a deadlock — and three ways
//! to meet it.
//!
//! Contract: every variant finishes (none may hang the terminal) and reports what happened as
//! lines written to `out`:
//! - [`Variant::Detected`]: `concur::sync::Mutex` refuses the acquisition that would close the
//!   cycle, naming who holds what and who waits for what; that thread backs off, the other one
//!   completes. Returns normally.
//! - [`Variant::Ordered`]: both threads take the locks in one global order; both complete.
//! - [`Variant::Unguarded`]: plain `std::sync::Mutex` in opposite orders really hangs; a watchdog
//!   notices that neither thread finished within `watchdog` and reports the hang. The hung threads
//!   cannot be freed, so the caller must end the process after printing (the CLI exits with 1).

use std::io::Write;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use concur::sync::Mutex;

/// Which version of the experiment to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Opposite orders, detected and refused before anything hangs.
    Detected,
    /// One global lock order: the fix.
    Ordered,
    /// Opposite orders with plain std locks, broken by a watchdog.
    Unguarded,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Both threads finished (the ordered fix).
    BothFinished,
    /// One acquisition was refused with this report; the other thread finished.
    Refused(String),
    /// Nothing finished before the watchdog fired: the threads are deadlocked.
    Hung,
}

/// Runs `variant`, writing a line per step to `out`.
pub fn run(variant: Variant, watchdog: Duration, out: &mut dyn Write) -> std::io::Result<Ending> {
    match variant {
        Variant::Unguarded => unguarded(watchdog, out),
        Variant::Detected | Variant::Ordered => guarded(variant == Variant::Ordered, out),
    }
}

fn guarded(ordered: bool, out: &mut dyn Write) -> std::io::Result<Ending> {
    let left = Arc::new(Mutex::new("fork-1", ()));
    let right = Arc::new(Mutex::new("fork-2", ()));
    // Both threads hold their first lock before either asks for its second: the worst case.
    let both_hold_one = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel();
    let philosophers = [("philosopher-A", false), ("philosopher-B", !ordered)];
    let threads: Vec<_> = philosophers
        .into_iter()
        .map(|(name, reversed)| {
            let (first, second) = if reversed {
                (right.clone(), left.clone())
            } else {
                (left.clone(), right.clone())
            };
            let (barrier, tx) = (both_hold_one.clone(), tx.clone());
            thread::Builder::new().name(name.into()).spawn(move || {
                let say = |line: String| tx.send(line).ok();
                let outcome = first.lock().map_err(|d| d.to_string()).and_then(|_held| {
                    say(format!("{name} holds {}", first.name()));
                    if !ordered {
                        barrier.wait();
                    }
                    match second.lock() {
                        Ok(_both) => {
                            say(format!(
                                "{name} holds {} and {}: eats",
                                first.name(),
                                second.name()
                            ));
                            Ok(())
                        }
                        Err(deadlock) => {
                            say(format!("{name} backs off, releasing {}", first.name()));
                            Err(deadlock.to_string())
                        }
                    }
                });
                if ordered {
                    barrier.wait();
                }
                outcome
            })
        })
        .collect::<std::io::Result<_>>()?;
    drop(tx);
    for line in rx {
        writeln!(out, "{line}")?;
    }
    let mut refused = None;
    for t in threads {
        if let Ok(Err(report)) = t.join() {
            refused.get_or_insert(report);
        }
    }
    Ok(match refused {
        Some(report) => Ending::Refused(report),
        None => Ending::BothFinished,
    })
}

fn unguarded(watchdog: Duration, out: &mut dyn Write) -> std::io::Result<Ending> {
    let left = Arc::new(std::sync::Mutex::new(()));
    let right = Arc::new(std::sync::Mutex::new(()));
    let both_hold_one = Arc::new(Barrier::new(2));
    let (done_tx, done_rx) = mpsc::channel();
    for (name, reversed) in [("philosopher-A", false), ("philosopher-B", true)] {
        let (first, second) = if reversed {
            (right.clone(), left.clone())
        } else {
            (left.clone(), right.clone())
        };
        let (barrier, done) = (both_hold_one.clone(), done_tx.clone());
        // Detached on purpose: a deadlocked thread can never be joined.
        thread::Builder::new().name(name.into()).spawn(move || {
            let _held = first.lock().unwrap_or_else(|e| e.into_inner());
            barrier.wait();
            let _both = second.lock().unwrap_or_else(|e| e.into_inner());
            let _ = done.send(name);
        })?;
    }
    writeln!(
        out,
        "philosopher-A takes fork-1, philosopher-B takes fork-2, each then waits for the other's"
    )?;
    match done_rx.recv_timeout(watchdog) {
        Ok(name) => {
            writeln!(out, "{name} finished: this run did not deadlock")?;
            Ok(Ending::BothFinished)
        }
        Err(_) => {
            writeln!(
                out,
                "watchdog: no progress in {:.1} s: philosopher-A holds fork-1 and waits for fork-2, \
                 philosopher-B holds fork-2 and waits for fork-1 (deadlock; plain locks cannot say so)",
                watchdog.as_secs_f64()
            )?;
            Ok(Ending::Hung)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detected_refuses_one_and_names_both_locks() {
        let mut out = Vec::new();
        let ending = run(Variant::Detected, Duration::from_secs(5), &mut out).unwrap();
        let Ending::Refused(report) = ending else {
            panic!("expected a refusal, got {ending:?}");
        };
        assert!(
            report.contains("fork-1") && report.contains("fork-2"),
            "{report}"
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("backs off").count(), 1, "{text}");
        assert_eq!(text.matches(": eats").count(), 1, "{text}");
    }

    #[test]
    fn ordered_lets_both_finish() {
        let mut out = Vec::new();
        assert_eq!(
            run(Variant::Ordered, Duration::from_secs(5), &mut out).unwrap(),
            Ending::BothFinished
        );
        assert_eq!(String::from_utf8(out).unwrap().matches(": eats").count(), 2);
    }

    #[test]
    fn unguarded_is_broken_by_the_watchdog() {
        let mut out = Vec::new();
        let ending = run(Variant::Unguarded, Duration::from_millis(300), &mut out).unwrap();
        assert_eq!(ending, Ending::Hung);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("watchdog: no progress"));
    }
}
