//! Waiting on many handles: [`as_completed`] and [`wait`], as in Python's `concurrent.futures`.
//!
//! Both work on handles from any executor, mixed freely. Both register a done-callback on each
//! pending handle and block on one channel, so waiting costs one wake-up per completion, not a poll.
//! On a thread-pool worker they run queued work of that pool while they block (see
//! [`Handle::wait`]), so waiting inside a task cannot deadlock the pool.
//!
//! Timeouts count from the call, as in Python: `as_completed(hs, Some(1s))` gives up one second
//! after it was called, however many handles it has yielded by then.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::error::{Error, Result};
use crate::handle::Handle;

/// Yields each handle once, in completion order; handles already done when called come first (in
/// the order given). A handle passed twice is yielded once.
///
/// With a timeout, once it runs out the iterator yields one `Err(Error::Timeout)` and ends.
///
/// ```
/// use std::time::Duration;
/// let pool = concur::ThreadPool::new(2).unwrap();
/// let slow = pool.submit(|| { std::thread::sleep(Duration::from_millis(50)); "slow" }).unwrap();
/// let fast = pool.submit(|| "fast").unwrap();
/// let order: Vec<&str> = concur::as_completed([slow, fast], None)
///     .map(|h| h.unwrap().result().unwrap())
///     .collect();
/// assert_eq!(order, ["fast", "slow"]);
/// ```
pub fn as_completed<T: Send + 'static>(
    handles: impl IntoIterator<Item = Handle<T>>,
    timeout: Option<Duration>,
) -> AsCompleted<T> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let handles = unique(handles);
    let (tx, rx) = crossbeam_channel::unbounded();
    let (done, pending): (Vec<_>, Vec<_>) = handles.into_iter().partition(Handle::done);
    let remaining = done.len() + pending.len();
    for h in pending {
        let tx = tx.clone();
        h.add_done_callback(move |h| {
            let _ = tx.send(h.clone());
        });
    }
    AsCompleted {
        done: done.into_iter(),
        rx,
        remaining,
        deadline,
        timeout,
    }
}

/// The iterator returned by [`as_completed`].
pub struct AsCompleted<T> {
    /// The handles done at the call, yielded first without a trip through `rx`.
    done: std::vec::IntoIter<Handle<T>>,
    rx: Receiver<Handle<T>>,
    remaining: usize,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
}

impl<T: Send + 'static> Iterator for AsCompleted<T> {
    type Item = Result<Handle<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        if let Some(h) = self.done.next() {
            self.remaining -= 1;
            return Some(Ok(h));
        }
        match crate::thread_pool::recv_helping(&self.rx, self.deadline) {
            Some(h) => {
                self.remaining -= 1;
                Some(Ok(h))
            }
            None => {
                self.remaining = 0;
                Some(Err(Error::Timeout(self.timeout.unwrap_or_default())))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining + 1))
    }
}

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any handle is done.
    FirstCompleted,
    /// As soon as any handle fails (an error other than cancellation); if none fails, when all
    /// are done.
    FirstException,
    /// When every handle is done.
    AllCompleted,
}

/// Blocks until the condition holds or the timeout (from the call) runs out, then splits the
/// handles into `(done, not_done)`, each in the order given. A handle passed twice appears once.
///
/// ```
/// use concur::{wait, ReturnWhen};
/// let pool = concur::ThreadPool::new(2).unwrap();
/// let ok = pool.submit(|| 1).unwrap();
/// let bad = pool.submit(|| -> i32 { panic!("boom") }).unwrap();
/// let (done, not_done) = wait([ok, bad], None, ReturnWhen::AllCompleted);
/// assert_eq!((done.len(), not_done.len()), (2, 0));
/// assert!(done[1].error().is_some());
/// ```
pub fn wait<T: Send + 'static>(
    handles: impl IntoIterator<Item = Handle<T>>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> (Vec<Handle<T>>, Vec<Handle<T>>) {
    let deadline = timeout.map(|t| Instant::now() + t);
    let handles = unique(handles);
    let failed = |h: &Handle<T>| !h.cancelled() && h.failure().is_some();
    let satisfied = |hs: &[Handle<T>]| match return_when {
        ReturnWhen::FirstCompleted => hs.iter().any(Handle::done),
        ReturnWhen::FirstException => hs.iter().all(Handle::done) || hs.iter().any(failed),
        ReturnWhen::AllCompleted => hs.iter().all(Handle::done),
    };
    if !satisfied(&handles) && !handles.is_empty() {
        let (tx, rx) = crossbeam_channel::unbounded();
        for h in handles.iter().filter(|h| !h.done()) {
            let tx = tx.clone();
            h.add_done_callback(move |_| {
                let _ = tx.send(());
            });
        }
        drop(tx);
        while !satisfied(&handles) {
            if crate::thread_pool::recv_helping(&rx, deadline).is_none() {
                break;
            }
        }
    }
    handles.into_iter().partition(Handle::done)
}

/// The handles in the order given, each task once.
fn unique<T: Send + 'static>(handles: impl IntoIterator<Item = Handle<T>>) -> Vec<Handle<T>> {
    let handles = handles.into_iter();
    let mut seen = HashSet::with_capacity_and_hasher(
        handles.size_hint().0,
        BuildHasherDefault::<IdHasher>::default(),
    );
    handles.filter(|h| seen.insert(h.id())).collect()
}

/// Hashes a handle id (an address: distinct, its low bits zero) with one multiplication by
/// 2^64/φ, folding the well-mixed high half into the low bits the table indexes by. A fraction of
/// the cost of the default SipHash, whose flood resistance ids chosen by the allocator do not need.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, id: usize) {
        self.0 = (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}
