//! How an idle rank waits for an MPI message without burning a core.
//!
//! MPI has no way to block on "a message *or* a local event", and MPICH's blocking receives spin
//! at 100 % CPU. On a machine where ranks share cores with the workers' computation, a spinning
//! idle rank steals time from a busy one. So both loops poll (`MPI_Improbe`) and, between polls
//! that found nothing, first keep polling for [`SPIN`] of wall time (the gap between one unit of
//! work and the next is usually shorter), yielding the core between polls so that a busy thread
//! or rank on the same core runs first, then sleep from [`FIRST_SLEEP`] doubling up to
//! [`MAX_SLEEP`]. Any message resets it.
//! The cost: a message that arrives after a long idle spell waits up to [`MAX_SLEEP`] (plus the
//! kernel's timer slack) before it is noticed; an idle rank polls about 5,000 times a second.

use std::time::{Duration, Instant};

/// How long an idle spell polls without sleeping.
pub(crate) const SPIN: Duration = Duration::from_micros(200);
/// The first sleep after spinning.
pub(crate) const FIRST_SLEEP: Duration = Duration::from_micros(20);
/// The longest sleep between two polls.
pub(crate) const MAX_SLEEP: Duration = Duration::from_micros(200);

/// The state of one idle spell.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    idle_since: Option<Instant>,
    sleep: Duration,
}

impl Backoff {
    /// A message arrived: the next idle spell starts from spinning again.
    pub(crate) fn reset(&mut self) {
        self.idle_since = None;
        self.sleep = Duration::ZERO;
    }

    /// How long to sleep before the next poll: `None` means poll again now (it has yielded).
    pub(crate) fn next(&mut self) -> Option<Duration> {
        let since = *self.idle_since.get_or_insert_with(Instant::now);
        if since.elapsed() < SPIN {
            std::thread::yield_now();
            return None;
        }
        self.sleep = if self.sleep.is_zero() {
            FIRST_SLEEP
        } else {
            (self.sleep * 2).min(MAX_SLEEP)
        };
        Some(self.sleep)
    }

    /// Waits as [`next`](Backoff::next) says, in this thread.
    pub(crate) fn snooze(&mut self) {
        if let Some(pause) = self.next() {
            std::thread::sleep(pause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_then_sleeps_doubling_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let _ = b.next(); // starts the idle spell
        std::thread::sleep(SPIN); // the spin phase is over, however slowly this test runs
        assert_eq!(b.next(), Some(FIRST_SLEEP));
        assert_eq!(b.next(), Some(FIRST_SLEEP * 2));
        let last = (0..20).filter_map(|_| b.next()).last();
        assert_eq!(last, Some(MAX_SLEEP));
        b.reset();
        assert!(b.idle_since.is_none() && b.sleep.is_zero());
    }
}
