//! The process-wide lock-order and wait-for graph behind [`Mutex`](super::Mutex).
//!
//! It owns: every live lock's name and current holder, the order edges `held -> acquired` with
//! the thread that first made each, which thread is blocked waiting for which lock, and each
//! thread's stack of held locks (thread-local). It promises that the check-and-insert of an edge
//! is atomic (one registry lock), so of any set of edges that would form a cycle, the last one
//! inserted is refused.
//!
//! # Memory ordering
//!
//! A lock's holder is an `AtomicU64` thread number written with `Relaxed` stores by the holder; it
//! is read only to word error messages, where a stale value can misname a holder but never changes
//! a decision. Every decision is made under the registry lock.
//!
//! Waits between handles live in the sibling module `handle_waits`: their edges are temporary
//! (a wait ends, a lock order is remembered), so they are kept apart from the order graph here.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

/// One edge of a reported cycle: `thread` acquired (or is acquiring) `acquired` while holding `held`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOrder {
    /// The lock held.
    pub held: String,
    /// The lock acquired while `held` was held.
    pub acquired: String,
    /// The thread that did so first.
    pub thread: String,
}

/// An acquisition refused because it would close a cycle of lock orders, which can deadlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// The thread whose acquisition was refused.
    pub thread: String,
    /// The lock it asked for.
    pub wanted: String,
    /// The cycle's edges in order; the first starts from a lock the thread holds and ends at
    /// `wanted`, and the last ends where the first starts.
    pub cycle: Vec<LockOrder>,
    /// Each lock on the cycle and the thread holding it now, if any.
    pub holders: Vec<(String, Option<String>)>,
    /// Threads blocked right now waiting for a lock on the cycle, and that lock.
    pub waiting: Vec<(String, String)>,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut locks: Vec<&str> = self.cycle.iter().map(|e| e.held.as_str()).collect();
        if let Some(first) = locks.first().copied() {
            locks.push(first);
        }
        write!(
            f,
            "deadlock: thread `{}` asked for lock `{}`, closing the lock-order cycle {}",
            self.thread,
            self.wanted,
            locks
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(" -> ")
        )?;
        for e in &self.cycle {
            write!(
                f,
                "; thread `{}` takes `{}` while holding `{}`",
                e.thread, e.acquired, e.held
            )?;
        }
        for (lock, holder) in &self.holders {
            match holder {
                Some(t) => write!(f, "; `{lock}` is held by thread `{t}`")?,
                None => write!(f, "; `{lock}` is free")?,
            }
        }
        for (thread, lock) in &self.waiting {
            write!(f, "; thread `{thread}` is waiting for `{lock}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for Deadlock {}

type Handler = Arc<dyn Fn(&Deadlock) + Send + Sync>;

fn handler() -> &'static RwLock<Option<Handler>> {
    static HANDLER: OnceLock<RwLock<Option<Handler>>> = OnceLock::new();
    HANDLER.get_or_init(|| RwLock::new(None))
}

/// Installs `hook` to see every [`Deadlock`] before the refused `lock` returns it, in the refused
/// thread (replacing any earlier hook). A hook may log, or panic to turn reports into panics.
pub fn set_deadlock_handler(hook: impl Fn(&Deadlock) + Send + Sync + 'static) {
    *handler().write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
}

/// Removes the hook installed by [`set_deadlock_handler`].
pub fn clear_deadlock_handler() {
    *handler().write().unwrap_or_else(|e| e.into_inner()) = None;
}

fn report(deadlock: Deadlock) -> Deadlock {
    let hook = handler().read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(hook) = hook {
        hook(&deadlock);
    }
    deadlock
}

/// What a [`Mutex`](super::Mutex) shares with the registry.
pub(crate) struct LockInfo {
    pub(crate) id: u64,
    pub(crate) name: Arc<str>,
    /// Thread number of the holder, 0 when free.
    pub(crate) holder: AtomicU64,
}

#[derive(Default)]
struct Registry {
    locks: HashMap<u64, Arc<LockInfo>>,
    /// held -> (acquired -> name of the thread that first did so; kept after it exits).
    edges: HashMap<u64, HashMap<u64, Arc<str>>>,
    threads: HashMap<u64, Arc<str>>,
    /// thread number -> the lock it is blocked on.
    waiting: HashMap<u64, u64>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// This thread as the registry knows it; unregistered when the thread exits.
struct ThisThread {
    number: u64,
    name: Arc<str>,
    /// Locks held, in acquisition order.
    held: RefCell<Vec<u64>>,
    /// Orders (held, acquired) this thread has seen accepted.
    known: RefCell<HashSet<(u64, u64), BuildHasherDefault<IdHasher>>>,
}

/// Hashes pairs of lock ids: unique counters, not attacker-chosen, so one multiply per word
/// (Fibonacci hashing) spreads them well, at a fraction of SipHash's cost on the nested-lock path.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0.rotate_left(5) ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Drop for ThisThread {
    fn drop(&mut self) {
        registry().threads.remove(&self.number);
    }
}

thread_local! {
    static THIS: ThisThread = {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        let current = std::thread::current();
        let name: Arc<str> = match current.name() {
            Some(n) => n.into(),
            None => format!("{:?}", current.id()).into(),
        };
        registry().threads.insert(number, name.clone());
        ThisThread { number, name, held: RefCell::new(Vec::new()), known: RefCell::new(HashSet::default()) }
    };
}

/// Registers a new lock called `name`.
pub(crate) fn register(name: &str) -> Arc<LockInfo> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let info = Arc::new(LockInfo {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        name: name.into(),
        holder: AtomicU64::new(0),
    });
    registry().locks.insert(info.id, info.clone());
    info
}

/// Forgets a dropped lock and every order through it.
pub(crate) fn unregister(id: u64) {
    let mut r = registry();
    r.locks.remove(&id);
    r.edges.remove(&id);
    for targets in r.edges.values_mut() {
        targets.remove(&id);
    }
}

/// Checks that this thread may block on `lock` (it does not hold it, and taking it closes no
/// cycle of orders) and records the orders it implies.
pub(crate) fn before_lock(lock: &LockInfo) -> Result<(), Deadlock> {
    let refused = THIS.with(|me| {
        let held = me.held.borrow();
        if held.is_empty() {
            return None;
        }
        if held.contains(&lock.id) {
            // Locking it again would wait for itself: a cycle of one.
            let r = registry();
            return Some(r.deadlock(me.number, lock.id, lock, &[lock.id]));
        }
        let mut known = me.known.borrow_mut();
        let mut registry_guard = None;
        for &h in held.iter() {
            if known.contains(&(h, lock.id)) {
                continue;
            }
            // A first-seen order: decide under the registry lock (taken once per call).
            let r = registry_guard.get_or_insert_with(registry);
            if !r.edges.get(&h).is_some_and(|t| t.contains_key(&lock.id)) {
                if let Some(path) = r.path(lock.id, h) {
                    return Some(r.deadlock(me.number, h, lock, &path));
                }
                r.edges
                    .entry(h)
                    .or_default()
                    .insert(lock.id, me.name.clone());
            }
            known.insert((h, lock.id));
        }
        None
    });
    // Outside every borrow and lock: the hook may itself take locks.
    match refused {
        Some(deadlock) => Err(report(deadlock)),
        None => Ok(()),
    }
}

/// This thread is about to block on `lock` (it is contended): visible in reports until `stop_waiting`.
pub(crate) fn start_waiting(lock: &LockInfo) {
    let me = THIS.with(|me| me.number);
    registry().waiting.insert(me, lock.id);
}

/// This thread stopped waiting.
pub(crate) fn stop_waiting() {
    let me = THIS.with(|me| me.number);
    registry().waiting.remove(&me);
}

/// This thread now holds `lock`.
pub(crate) fn acquired(lock: &LockInfo) {
    THIS.with(|me| {
        lock.holder.store(me.number, Ordering::Relaxed);
        me.held.borrow_mut().push(lock.id);
    });
}

/// This thread released `lock`.
pub(crate) fn released(lock: &LockInfo) {
    lock.holder.store(0, Ordering::Relaxed);
    // During thread exit the thread-local may be gone; then there is no stack to fix.
    let _ = THIS.try_with(|me| {
        let mut held = me.held.borrow_mut();
        if let Some(at) = held.iter().rposition(|&id| id == lock.id) {
            held.remove(at);
        }
    });
}

impl Registry {
    /// A path of locks `from -> ... -> to` along order edges, if any (breadth-first).
    fn path(&self, from: u64, to: u64) -> Option<Vec<u64>> {
        let mut came_from: HashMap<u64, u64> = HashMap::new();
        let mut frontier = vec![from];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for node in frontier {
                if node == to {
                    let mut path = vec![to];
                    let mut at = to;
                    while at != from {
                        at = came_from[&at];
                        path.push(at);
                    }
                    path.reverse();
                    return Some(path);
                }
                for &succ in self.edges.get(&node).into_iter().flat_map(|t| t.keys()) {
                    if succ != from && !came_from.contains_key(&succ) {
                        came_from.insert(succ, node);
                        next.push(succ);
                    }
                }
            }
            frontier = next;
        }
        None
    }

    fn lock_name(&self, id: u64) -> String {
        self.locks
            .get(&id)
            .map_or_else(|| format!("lock #{id}"), |l| l.name.to_string())
    }

    fn thread_name(&self, number: u64) -> String {
        self.threads
            .get(&number)
            .map_or_else(|| format!("thread #{number} (exited)"), |n| n.to_string())
    }

    /// The report for thread `me`, holding `held`, asking for `wanted`, where `path` runs from
    /// `wanted` to `held` along existing edges.
    fn deadlock(&self, me: u64, held: u64, wanted: &LockInfo, path: &[u64]) -> Deadlock {
        let mut cycle = vec![LockOrder {
            held: self.lock_name(held),
            acquired: wanted.name.to_string(),
            thread: self.thread_name(me),
        }];
        for pair in path.windows(2) {
            let by = self
                .edges
                .get(&pair[0])
                .and_then(|t| t.get(&pair[1]))
                .map_or_else(String::new, |t| t.to_string());
            cycle.push(LockOrder {
                held: self.lock_name(pair[0]),
                acquired: self.lock_name(pair[1]),
                thread: by,
            });
        }
        let on_cycle: Vec<u64> = path.to_vec();
        let holders = on_cycle
            .iter()
            .map(|id| {
                let holder = self
                    .locks
                    .get(id)
                    .map_or(0, |l| l.holder.load(Ordering::Relaxed));
                (
                    self.lock_name(*id),
                    (holder != 0).then(|| self.thread_name(holder)),
                )
            })
            .collect();
        let mut waiting: Vec<(String, String)> = self
            .waiting
            .iter()
            .filter(|(_, lock)| on_cycle.contains(lock))
            .map(|(t, lock)| (self.thread_name(*t), self.lock_name(*lock)))
            .collect();
        waiting.sort();
        Deadlock {
            thread: self.thread_name(me),
            wanted: wanted.name.to_string(),
            cycle,
            holders,
            waiting,
        }
    }
}
