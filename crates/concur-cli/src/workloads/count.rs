//! The seed's first example: two counters interleaving, one on a worker thread and one on the
//! main thread, each printing as it goes so the interleaving shows.
//!
//! Contract: the worker counts 1..=9 and the main thread 11..=19, sleeping `delay` between
//! numbers; each number is written (and flushed) as one line the moment it is counted; the call
//! returns once both counters are done. The interleaving depends on the scheduler: only the order
//! *within* each counter is promised. [`run_traced`] also runs them one after the other (the
//! sequential baseline of `concur bench`) and returns a timeline with one task per counter.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concur::trace::{Outcome, TaskEvent, Trace, Worker};

/// Counts `from..=to`, sleeping `delay` after each number, writing one line per number to `out`.
pub fn count(
    from: u32,
    to: u32,
    delay: Duration,
    out: &Mutex<Box<dyn Write + Send>>,
) -> std::io::Result<()> {
    for i in from..=to {
        {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            writeln!(out, "{i}")?;
            out.flush()?;
        }
        std::thread::sleep(delay);
    }
    Ok(())
}

/// Runs the two counters, one on a one-thread pool and one here, writing to `out`.
pub fn run(delay: Duration, out: Box<dyn Write + Send>) -> anyhow::Result<()> {
    run_traced(delay, out, true).map(drop)
}

/// Runs the two counters, `concurrent`ly (the worker's on a one-thread pool, the other here) or
/// one after the other here, and returns their timeline: one task per counter.
pub fn run_traced(
    delay: Duration,
    out: Box<dyn Write + Send>,
    concurrent: bool,
) -> anyhow::Result<Vec<TaskEvent>> {
    let out = Arc::new(Mutex::new(out));
    let trace = Arc::new(Trace::new(1));
    let outcome = |r: &std::io::Result<()>| Outcome::failed_if(r.as_ref().err());
    let counter = {
        let (out, trace) = (out.clone(), trace.clone());
        move |worker| {
            trace
                .time(worker, "count 1..=9", || count(1, 9, delay, &out), outcome)
                .map_err(|e| anyhow::anyhow!("the worker's counter failed: {e}"))
        }
    };
    let main = || {
        trace.time(
            Worker::Caller,
            "count 11..=19",
            || count(11, 19, delay, &out),
            outcome,
        )
    };
    if concurrent {
        let pool = concur::ThreadPool::new(1)?;
        let worker = pool.submit(move || counter(Worker::Thread(0)).map_err(|e| e.to_string()))?;
        main()?;
        worker.into_result()?.map_err(anyhow::Error::msg)?;
    } else {
        counter(Worker::Caller)?;
        main()?;
    }
    Ok(trace.events())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_is_one_task_on_its_own_worker() {
        for concurrent in [false, true] {
            let events = run_traced(Duration::ZERO, Box::new(std::io::sink()), concurrent).unwrap();
            assert_eq!(events.len(), 2);
            let workers: Vec<Worker> = events.iter().map(|e| e.worker).collect();
            assert!(events.iter().all(|e| e.outcome == Outcome::Ok));
            if concurrent {
                assert!(workers.contains(&Worker::Thread(0)) && workers.contains(&Worker::Caller));
            } else {
                // One after the other on the caller: the worker's counter ends before the other starts.
                assert_eq!(workers, [Worker::Caller, Worker::Caller]);
                assert_eq!(events[0].label, "count 1..=9");
                assert!(events[0].finished <= events[1].started);
            }
        }
    }
}
