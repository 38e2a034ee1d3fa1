//! How an idle rank waits for an MPI message without burning a core.
//!
//! MPI has no way to block on "a message *or* a local event", and MPICH's blocking receives spin
//! at 100 % CPU. On a machine where ranks share cores with the workers' computation, a spinning
//! idle rank steals time from a busy one. So both loops poll (`MPI_Improbe`) and, between polls
//! that found nothing, wait a little longer each time: first by yielding the core
//! ([`SPIN_POLLS`] times, a few microseconds each), then by sleeping from [`FIRST_SLEEP`] doubling
//! up to [`MAX_SLEEP`]. Any message resets it. The cost: a message that arrives after a long idle
//! spell waits up to [`MAX_SLEEP`] before it is noticed; back-to-back work never sleeps.

use std::time::Duration;

/// Polls that only yield the core before the first sleep.
pub(crate) const SPIN_POLLS: u32 = 200;
/// The first sleep after the spinning polls.
pub(crate) const FIRST_SLEEP: Duration = Duration::from_micros(20);
/// The longest sleep between two polls.
pub(crate) const MAX_SLEEP: Duration = Duration::from_millis(1);

/// The state of one idle spell.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    polls: u32,
    sleep: Duration,
}

impl Backoff {
    /// A message arrived: the next idle spell starts from spinning again.
    pub(crate) fn reset(&mut self) {
        self.polls = 0;
        self.sleep = Duration::ZERO;
    }

    /// How long to wait before the next poll: `None` means yield the core and poll again.
    pub(crate) fn next(&mut self) -> Option<Duration> {
        if self.polls < SPIN_POLLS {
            self.polls += 1;
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
        match self.next() {
            None => std::thread::yield_now(),
            Some(d) => std::thread::sleep(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_then_sleeps_doubling_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        for _ in 0..SPIN_POLLS {
            assert_eq!(b.next(), None);
        }
        assert_eq!(b.next(), Some(FIRST_SLEEP));
        assert_eq!(b.next(), Some(FIRST_SLEEP * 2));
        let last = (0..20).filter_map(|_| b.next()).last();
        assert_eq!(last, Some(MAX_SLEEP));
        b.reset();
        assert_eq!(b.next(), None);
    }
}
