//! Simulated network conditions: the per-response latency (with seeded jitter) and the bandwidth pacing
//! of a response body.
//!
//! Contract: [`Delays::next`] returns `latency + U[0, jitter]`, drawn from a SplitMix64 sequence fixed by
//! the seed, so two servers with the same seed delay their n-th responses identically. [`Paced`] releases
//! the body in chunks of about 1/20 s of transfer each and never lets byte `k` leave before
//! `start + k / rate` (start = the first poll for body data), so a body of `n` bytes takes at least
//! `n / rate` seconds. It holds at most one upstream frame in memory. Pacing is per response, not an
//! aggregate limit over all connections.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The latency of each response: a fixed part plus uniform jitter from a seeded generator.
#[derive(Debug)]
pub(super) struct Delays {
    latency: Duration,
    jitter: Duration,
    seed: u64,
    drawn: AtomicU64,
}

impl Delays {
    pub(super) fn new(latency: Duration, jitter: Duration, seed: u64) -> Self {
        Self {
            latency,
            jitter,
            seed,
            drawn: AtomicU64::new(0),
        }
    }

    /// The delay before the next response's first byte.
    pub(super) fn next(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let n = self.drawn.fetch_add(1, Ordering::Relaxed);
        let span = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        let extra = splitmix64(self.seed.wrapping_add(n)) % span.saturating_add(1);
        self.latency.saturating_add(Duration::from_nanos(extra))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator; one call per draw.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A response body released at `rate` bytes per second.
pub(super) struct Paced {
    inner: Body,
    rate: u64,
    chunk: usize,
    /// Data taken from `inner` and not yet released.
    pending: Bytes,
    start: Option<Instant>,
    sent: u64,
    sleep: Pin<Box<Sleep>>,
    /// `sleep` is armed for the next chunk of `pending`.
    waiting: bool,
}

impl Paced {
    /// Paces `inner` at `rate` bytes per second (`rate` > 0, checked by the config).
    pub(super) fn new(inner: Body, rate: u64) -> Self {
        let chunk = usize::try_from((rate / 20).clamp(1, 64 * 1024)).unwrap_or(64 * 1024);
        Self {
            inner,
            rate,
            chunk,
            pending: Bytes::new(),
            start: None,
            sent: 0,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            waiting: false,
        }
    }
}

impl http_body::Body for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        loop {
            if this.waiting {
                ready!(this.sleep.as_mut().poll(cx));
                this.waiting = false;
                let n = this.chunk.min(this.pending.len());
                this.sent += n as u64;
                return Poll::Ready(Some(Ok(Frame::data(this.pending.split_to(n)))));
            }
            if this.pending.is_empty() {
                match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => this.pending = data,
                        Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                    },
                    other => return Poll::Ready(other),
                }
                continue;
            }
            let start = *this.start.get_or_insert_with(Instant::now);
            let n = this.chunk.min(this.pending.len()) as u64;
            let due = start + Duration::from_secs_f64((this.sent + n) as f64 / this.rate as f64);
            this.sleep.as_mut().reset(due);
            this.waiting = true;
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let held = self.pending.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + held);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + held);
        }
        hint
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn jitter_stays_in_range_and_is_seeded() {
        let ms = Duration::from_millis;
        let a = Delays::new(ms(100), ms(50), 7);
        let b = Delays::new(ms(100), ms(50), 7);
        let draws: Vec<_> = (0..200).map(|_| a.next()).collect();
        assert!(draws.iter().all(|d| *d >= ms(100) && *d <= ms(150)));
        assert_eq!(draws, (0..200).map(|_| b.next()).collect::<Vec<_>>());
        assert!(draws.iter().any(|d| *d != draws[0]), "jitter never varied");
    }

    #[test]
    fn no_jitter_means_fixed_latency() {
        let d = Delays::new(Duration::from_millis(3), Duration::ZERO, 1);
        assert!((0..10).all(|_| d.next() == Duration::from_millis(3)));
    }
}
