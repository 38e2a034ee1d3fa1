//! Sibling cancellation for split work: the first sibling to find the answer stops the others.
//!
//! Work split into K subtasks that search for *something* (a divisor, a match, a solution) is done
//! as soon as one finds it. [`FirstFound`] groups the siblings' handles: when one produces a value
//! its predicate accepts, every sibling is told to stop, in two ways, in this order:
//!
//! 1. [`Handle::cancel`] on each sibling: a queued one never runs; a running one on a process pool
//!    is killed with its worker (the executor decides; the group only calls `cancel`).
//! 2. A shared [`CancelToken`] the task function polls: a running thread stops at its next check.
//!    (Firing it first would let a stopped sibling's worker start a queued one before step 1.)
//!
//! Then the group's handle resolves to that value: whoever waits on it sees every queued sibling
//! cancelled already.
//!
//! The token is a [`Wire`](crate::Wire) value, so it can be part of a registered task's input and
//! the same task code runs on every executor. Within one process (threads, [`Sequential`](crate::Sequential))
//! it is the very same flag; after crossing to another process it is a flag that never fires there,
//! and `cancel` (the kill) does the stopping.
//!
//! # What the group's handle reads
//!
//! `Some(value)` from the first accepted value (in completion order); `None` if every sibling
//! finished without one; otherwise, if some sibling failed and none found anything, the first such
//! failure as [`Error::DependencyFailed`] naming the sibling (`#i`, in the order added). A found
//! value wins over failures: one failed sibling never hides another's answer. Cancelling the group's
//! handle cancels every sibling.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::handle::{Handle, Promise};

/// A flag that tells cooperating tasks to stop. Cheap to clone and to poll; every clone in this
/// process shares the flag.
///
/// ```
/// let token = concur::CancelToken::new();
/// let seen_by_task = token.clone();
/// assert!(seen_by_task.check().is_ok());
/// token.cancel();
/// assert!(seen_by_task.is_cancelled());
/// assert_eq!(seen_by_task.check(), Err(concur::Error::Cancelled));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "TokenId", into = "TokenId")]
pub struct CancelToken {
    flag: Arc<Flag>,
}

#[derive(Debug)]
struct Flag {
    id: u64,
    cancelled: AtomicBool,
    /// Whether `registry()` maps `id` to this flag (set when the token is first serialised).
    registered: AtomicBool,
}

/// A token as it travels: the id of its flag in the process that made it.
#[derive(Serialize, Deserialize)]
struct TokenId(u64);

/// Flags of tokens that have been serialised, so a token decoded in the same process finds its flag.
fn registry() -> &'static Mutex<HashMap<u64, Weak<Flag>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, Weak<Flag>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl From<CancelToken> for TokenId {
    fn from(token: CancelToken) -> TokenId {
        let flag = &token.flag;
        if !flag.registered.swap(true, Ordering::AcqRel) {
            let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
            map.insert(flag.id, Arc::downgrade(flag));
        }
        TokenId(flag.id)
    }
}

impl From<TokenId> for CancelToken {
    fn from(TokenId(id): TokenId) -> CancelToken {
        let map = registry().lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&id).and_then(Weak::upgrade) {
            Some(flag) => CancelToken { flag },
            // Made in another process (or already gone): a flag nobody here will set.
            None => CancelToken::with_id(id),
        }
    }
}

impl Drop for Flag {
    fn drop(&mut self) {
        if *self.registered.get_mut() {
            let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
            // Only remove our own entry; a decoded stand-in with the same id never registered.
            if map.get(&self.id).is_some_and(|w| w.strong_count() == 0) {
                map.remove(&self.id);
            }
        }
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    /// A new token, not cancelled.
    pub fn new() -> CancelToken {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        CancelToken::with_id(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    fn with_id(id: u64) -> CancelToken {
        CancelToken {
            flag: Arc::new(Flag {
                id,
                cancelled: AtomicBool::new(false),
                registered: AtomicBool::new(false),
            }),
        }
    }

    /// Tells every holder to stop. Idempotent.
    pub fn cancel(&self) {
        self.flag.cancelled.store(true, Ordering::Release);
    }

    /// Whether [`cancel`](Self::cancel) was called (one atomic load).
    pub fn is_cancelled(&self) -> bool {
        self.flag.cancelled.load(Ordering::Acquire)
    }

    /// `Err(Error::Cancelled)` once cancelled, for `?` in a task's loop.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

type Predicate<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

struct Group<T: Send + 'static> {
    members: Vec<Handle<T>>,
    outstanding: usize,
    closed: bool,
    first_failure: Option<Error>,
    /// `None` once the group's handle is resolved.
    promise: Option<Promise<Option<T>>>,
}

struct Shared<T: Send + 'static> {
    group: Mutex<Group<T>>,
    found: Predicate<T>,
    token: CancelToken,
}

impl<T: Send + 'static> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Group<T>> {
        self.group.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every sibling: `cancel` first, so that no queued one can start on a worker that a
    /// running sibling frees when it sees the token, which fires next.
    fn stop_all(&self, members: Vec<Handle<T>>) {
        for m in members {
            m.cancel();
        }
        self.token.cancel();
    }

    /// Resolves the group if it is closed and nothing is outstanding.
    fn settle_if_finished(&self, mut g: std::sync::MutexGuard<'_, Group<T>>) {
        if !g.closed || g.outstanding > 0 {
            return;
        }
        let Some(promise) = g.promise.take() else {
            return;
        };
        let failure = g.first_failure.take();
        g.members.clear();
        drop(g);
        promise.complete(failure.map_or(Ok(None), Err));
    }
}

/// Sibling handles of split work; the first value its predicate accepts resolves the group and
/// stops the others. See the [module docs](self).
///
/// ```
/// use concur::{CancelToken, FirstFound, ThreadPool};
///
/// /// The smallest divisor of `n` in `lo..hi`, giving up when told to.
/// fn divisor(n: u64, lo: u64, hi: u64, stop: &CancelToken) -> Option<u64> {
///     (lo..hi).find(|d| n % d == 0 || stop.is_cancelled()).filter(|d| n % d == 0)
/// }
///
/// let pool = ThreadPool::new(2)?;
/// let n = 1_000_003 * 1_000_033u64;
/// let group = FirstFound::new(|d: &Option<u64>| d.is_some());
/// for (lo, hi) in [(2, 500_000), (500_000, 1_000_001), (1_000_001, 1_000_100)] {
///     let stop = group.token();
///     group.add(pool.submit(move || divisor(n, lo, hi, &stop))?);
/// }
/// assert_eq!(group.finish().result()?, Some(Some(1_000_003)));
/// # Ok::<(), concur::Error>(())
/// ```
pub struct FirstFound<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    handle: Handle<Option<T>>,
}

impl<T: Clone + Send + 'static> FirstFound<T> {
    /// An empty group; `found` says whether a sibling's value is the answer.
    pub fn new(found: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        let (promise, handle) = Promise::new();
        let shared = Arc::new(Shared {
            group: Mutex::new(Group {
                members: Vec::new(),
                outstanding: 0,
                closed: false,
                first_failure: None,
                promise: Some(promise),
            }),
            found: Box::new(found),
            token: CancelToken::new(),
        });
        let weak = Arc::downgrade(&shared);
        handle.add_done_callback(move |h| {
            if let (true, Some(shared)) = (h.cancelled(), weak.upgrade()) {
                let members = std::mem::take(&mut shared.lock().members);
                shared.stop_all(members);
            }
        });
        FirstFound { shared, handle }
    }

    /// The token to give every sibling's task; it fires when the group is resolved by a find or
    /// cancelled.
    pub fn token(&self) -> CancelToken {
        self.shared.token.clone()
    }

    /// The group's handle (see the [module docs](self)); it resolves only after
    /// [`finish`](Self::finish) (or drop) unless a sibling finds the answer first.
    pub fn handle(&self) -> Handle<Option<T>> {
        self.handle.clone()
    }

    /// Adds a sibling. Added after the group is resolved, it is cancelled at once.
    pub fn add(&self, sibling: Handle<T>) {
        let index = {
            let mut g = self.shared.lock();
            if g.promise.is_none() {
                drop(g);
                sibling.cancel();
                return;
            }
            g.members.push(sibling.clone());
            g.outstanding += 1;
            g.members.len() - 1
        };
        let shared = self.shared.clone();
        sibling.add_done_callback(move |h| {
            let outcome = h.result();
            let mut g = shared.lock();
            if g.promise.is_none() {
                return;
            }
            g.outstanding -= 1;
            match outcome {
                Ok(value) if (shared.found)(&value) => {
                    let promise = g.promise.take().expect("checked above");
                    let members = std::mem::take(&mut g.members);
                    drop(g);
                    shared.stop_all(members);
                    promise.complete(Ok(Some(value)));
                }
                Ok(_) => shared.settle_if_finished(g),
                Err(cause) => {
                    g.first_failure.get_or_insert_with(|| {
                        Error::dependency_failed(format!("#{index}"), cause)
                    });
                    shared.settle_if_finished(g);
                }
            }
        });
    }

    /// No more siblings: the group's handle resolves once every sibling is done (or at the
    /// first find).
    pub fn finish(self) -> Handle<Option<T>> {
        self.handle.clone()
    }
}

impl<T: Send + 'static> Drop for FirstFound<T> {
    fn drop(&mut self) {
        let mut g = self.shared.lock();
        g.closed = true;
        self.shared.settle_if_finished(g);
    }
}
