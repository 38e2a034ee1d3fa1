//! Timing for the `*_speed` examples: CPU time of the calling thread, which neither start-up nor
//! waiting for a busy CPU inflates, and medians.
//!
//! (Not `/proc/thread-self/schedstat`: for the running thread it lags by up to a scheduler tick,
//! 4 ms on the benchmark machine, which made a 10 ms pass read as 8 or 12.)
use std::time::{Duration, Instant};

/// CPU time of the calling thread, exact to the nanosecond, where the OS tells it.
#[cfg(unix)]
fn thread_cpu() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec, and the call writes nothing else.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0;
    ok.then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

/// No thread CPU clock here: [`timed`] falls back to wall time.
#[cfg(not(unix))]
fn thread_cpu() -> Option<Duration> {
    None
}

/// How long `work` took, in seconds: thread CPU time, else wall time.
pub fn timed(work: impl FnOnce()) -> f64 {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    work();
    match (cpu, thread_cpu()) {
        (Some(start), Some(end)) => (end - start).as_secs_f64(),
        _ => wall.elapsed().as_secs_f64(),
    }
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
