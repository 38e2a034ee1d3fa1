//! The seed's first example: two counters interleaving, one on a worker thread and one on the
//! main thread, each printing as it goes so the interleaving shows.
//!
//! Contract: the worker counts 1..=9 and the main thread 11..=19, sleeping `delay` between
//! numbers; each number is written (and flushed) as one line the moment it is counted; the call
//! returns once both counters are done. The interleaving depends on the scheduler: only the order
//! *within* each counter is promised.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    let out = Arc::new(Mutex::new(out));
    let pool = concur::ThreadPool::new(1)?;
    let worker_out = out.clone();
    let worker = pool.submit(move || count(1, 9, delay, &worker_out).map_err(|e| e.to_string()))?;
    count(11, 19, delay, &out)?;
    worker
        .into_result()?
        .map_err(|e| anyhow::anyhow!("the worker's counter failed: {e}"))?;
    Ok(())
}
