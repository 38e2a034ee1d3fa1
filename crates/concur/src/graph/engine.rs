//! The engine under [`Graph::run`](super::Graph::run): a declared DAG run from flat arrays, built
//! for graphs of millions of small tasks.
//!
//! # Layout
//!
//! Every node is one [`Slot`] in one boxed slice, addressed by index; dependencies and successors
//! are CSR arrays of `u32` (`starts[i]..starts[i + 1]` into one list). Nothing is allocated per
//! node while the graph runs except the `Vec` of dependency values handed to the node's closure.
//! Handles are made only for nodes someone asks about ([`Engine::handle`]); nodes submitted
//! through another executor (`Work::Submit`) get theirs at once, because that executor needs it.
//!
//! # Node rules
//!
//! Other comments cite these by number.
//!
//! 1. `state` moves `PENDING -> RUNNING -> OK | FAILED`, `PENDING -> FAILED | CANCELLED`, and
//!    `RUNNING -> CANCELLED` (a handle cancelled just as its node started: the starting thread
//!    sees the handle refuse to start and leaves the task unrun, see `Engine::begin`). Every
//!    move is a compare-and-swap; the thread that makes the terminal move (the *claimer*) alone
//!    sets `outcome`, then publishes it (to the handle, if any, then to the successors, then to
//!    the run's countdown).
//! 2. `waiting` counts dependencies not yet `OK`. The dependency whose success takes it to zero
//!    makes the node ready, so a node starts only when every dependency has a value. A failed or
//!    cancelled dependency never decrements it: it claims its pending dependents itself (the
//!    cascade, iterative, so a failure travelling down a million-long chain keeps the stack flat).
//! 3. A lazily made handle and the engine meet through `watched` and `state`, both `SeqCst`: the
//!    handle's maker sets `watched` then reads `state`; the engine moves `state` then reads
//!    `watched`. At least one of them sees the other, so the handle never misses a move; both
//!    may deliver it, which is harmless (a handle ignores a second completion, handle rule 2).
//!
//! # Scheduling
//!
//! Each thread pool the graph uses is a *lane*: its ready nodes wait in one queue (the graph's
//! source nodes in a plain array read through a cursor), and up to `workers` *runners* (pool jobs)
//! take nodes from it, one at a time, so a slow node never holds back others behind it. A runner
//! that completes a node and makes a successor ready runs it next itself, without queueing (the
//! tree reduction's inner nodes never touch the queue); further ready successors are queued. A
//! runner that finds its lane empty ends, freeing its worker for other jobs; a node queued while
//! fewer than `workers` runners are active starts another one (the same `SeqCst` handshake as
//! rule 3 makes sure a queued node is never left without a runner).
//!
//! # Timing
//!
//! A runner reads the clock once per node, when the node's task returns: the nodes a runner runs
//! back to back share the reading between them (one's end is the next one's start). A node's
//! measured time therefore also holds the engine's bookkeeping since the previous node (a small
//! fraction of a microsecond), and a clock reading per node is saved, which on a 1 M-node
//! graph of additions was a sixth of the whole run.

use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::{catching, forward, settle};
use crate::error::{Error, Result};
use crate::handle::{Handle, Promise};
use crate::thread_pool::Spawner;

/// A node's outcome as kept in its slot.
type Stored<V> = std::result::Result<V, Box<Error>>;

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const OK: u8 = 2;
const FAILED: u8 = 3;
const CANCELLED: u8 = 4;

/// The lane of nodes that do not run on a lane (submitted through a handle).
const NO_LANE: u32 = u32::MAX;

/// A node's closure on a thread pool.
pub(super) type BoxedFn<V> = Box<dyn FnOnce(Vec<V>) -> V + Send>;
/// A node submitted elsewhere: gets its dependencies' values, returns the handle of its task.
pub(super) type BoxedSubmit<V> = Box<dyn FnOnce(Vec<V>) -> Result<Handle<V>> + Send>;

/// What a node does.
pub(super) enum Work<V> {
    /// A closure run by the runners of lane `.0`: timed inside the task.
    Closure(u32, BoxedFn<V>),
    /// Anything submitted through a handle: timed from submission to completion.
    Submit(BoxedSubmit<V>),
}

/// A node's state as the outside world sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for dependencies or a runner.
    Pending,
    /// Its task runs.
    Running,
    /// It ended with a value or an error.
    Finished,
    /// It was cancelled, or a dependency was.
    Cancelled,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-supplied runs under these locks, so none is ever poisoned; be safe anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Slot<V: Send + 'static> {
    /// Rule 1.
    state: AtomicU8,
    /// Rule 3: whether `watch` is set.
    watched: AtomicBool,
    /// Rule 2.
    waiting: AtomicU32,
    /// The lane of a closure node, or `NO_LANE`.
    lane: u32,
    /// Set once, by the claimer, under this lock together with the terminal move (rule 1).
    /// Behind a lock rather than in a `OnceLock` because `V` need only be `Send`; the error boxed
    /// to keep the slot small.
    outcome: Mutex<Option<Stored<V>>>,
    /// When the node's task began and ended, in nanoseconds after the run's start plus one; 0
    /// until then. Written by the node's runner before its terminal move.
    began: AtomicU64,
    ended: AtomicU64,
    /// The node's handle, once asked for (boxed: most nodes never have one).
    watch: OnceLock<Box<Watch<V>>>,
}

/// A node's handle and, until the handle is completed, its promise.
struct Watch<V: Send + 'static> {
    promise: Mutex<Option<Promise<V>>>,
    handle: Handle<V>,
}

impl<V: Send + 'static> Watch<V> {
    fn new() -> Box<Watch<V>> {
        let (promise, handle) = Promise::new();
        Box::new(Watch {
            promise: Mutex::new(Some(promise)),
            handle,
        })
    }
}

/// A node's work, owned by whoever moves the node out of `PENDING` (rule 1).
struct WorkCell<V>(UnsafeCell<Option<Work<V>>>);

// SAFETY: the cell is only ever touched by the one thread that moved its node out of `PENDING`
// (a compare-and-swap, so exactly one thread), or through `&mut` when the engine drops; a
// `Work` moves between threads, hence `Send` is all it needs.
unsafe impl<V: Send> Sync for WorkCell<V> {}

/// One thread pool's share of a graph.
struct Lane {
    spawner: Spawner,
    workers: usize,
    /// Runners started and not yet ended.
    active: AtomicUsize,
    queue: Sender<u32>,
    ready: Receiver<u32>,
    /// The lane's nodes without dependencies, handed out through `next_source`.
    sources: Box<[u32]>,
    next_source: AtomicUsize,
}

impl Lane {
    fn pop(&self) -> Option<u32> {
        if let Ok(i) = self.ready.try_recv() {
            return Some(i);
        }
        if self.next_source.load(Ordering::Relaxed) >= self.sources.len() {
            return None;
        }
        let k = self.next_source.fetch_add(1, Ordering::Relaxed);
        self.sources.get(k).copied()
    }

    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.next_source.load(Ordering::SeqCst) >= self.sources.len()
    }
}

/// The pools a graph runs closures on, by lane number.
pub(super) struct LaneSpec {
    /// Queues runners on the pool.
    pub(super) spawner: Spawner,
    /// The pool's worker count: at most this many runners at once.
    pub(super) workers: usize,
}

/// The shape of a graph: node names and dependency lists (CSR).
pub(super) struct Shape {
    /// Node names; `None` for nodes added by position (named `#i`).
    pub(super) names: Vec<Option<Arc<str>>>,
    /// Node `i`'s dependencies are `deps[starts[i]..starts[i + 1]]`, in the order it named them.
    pub(super) starts: Vec<u32>,
    /// See `starts`.
    pub(super) deps: Vec<u32>,
}

impl Shape {
    /// Node `i`'s dependencies.
    pub(super) fn deps(&self, i: usize) -> &[u32] {
        &self.deps[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Node `i`'s name: its own, or `#i` for a node added by position.
    pub(super) fn name(&self, i: usize) -> String {
        node_name(&self.names, i)
    }

    /// Number of nodes.
    pub(super) fn len(&self) -> usize {
        self.names.len()
    }
}

/// The name of node `i` among `names`: its own, or `#i`.
pub(super) fn node_name(names: &[Option<Arc<str>>], i: usize) -> String {
    match &names[i] {
        Some(n) => n.to_string(),
        None => format!("#{i}"),
    }
}

/// A running (or finished) graph.
pub(super) struct Engine<V: Send + 'static> {
    slots: Box<[Slot<V>]>,
    /// Each node's work, in declaration order (the graph's own array, converted in place).
    works: Vec<WorkCell<V>>,
    pub(super) shape: Shape,
    succ_starts: Box<[u32]>,
    succ: Box<[u32]>,
    lanes: Box<[Lane]>,
    /// Nodes not yet terminal.
    remaining: AtomicUsize,
    all_done: Mutex<Option<Promise<()>>>,
    /// When the run began.
    pub(super) started: Instant,
}

impl<V: Clone + Send + 'static> Engine<V> {
    /// Builds the engine for `shape` (already checked: every dependency exists, no cycle) and
    /// starts every node without dependencies. The handle resolves when every node is terminal.
    pub(super) fn start(
        shape: Shape,
        works: Vec<Work<V>>,
        lanes: Vec<LaneSpec>,
    ) -> (Arc<Engine<V>>, Handle<()>) {
        let n = works.len();
        let (succ_starts, succ) = successors(&shape);
        let mut sources: Vec<Vec<u32>> = vec![Vec::new(); lanes.len()];
        let mut submitted = Vec::new();
        let slots: Box<[Slot<V>]> = works
            .iter()
            .enumerate()
            .map(|(i, work)| {
                let waiting = shape.starts[i + 1] - shape.starts[i];
                let (lane, watch) = match work {
                    Work::Closure(lane, _) => (*lane, OnceLock::new()),
                    Work::Submit(_) => {
                        submitted.push(i);
                        (NO_LANE, OnceLock::from(Watch::new()))
                    }
                };
                if waiting == 0 && lane != NO_LANE {
                    sources[lane as usize].push(i as u32);
                }
                Slot {
                    state: AtomicU8::new(PENDING),
                    watched: AtomicBool::new(watch.get().is_some()),
                    waiting: AtomicU32::new(waiting),
                    lane,
                    outcome: Mutex::new(None),
                    began: AtomicU64::new(0),
                    ended: AtomicU64::new(0),
                    watch,
                }
            })
            .collect();
        let lanes: Box<[Lane]> = lanes
            .into_iter()
            .zip(sources)
            .map(|(spec, sources)| {
                let (queue, ready) = crossbeam_channel::unbounded();
                Lane {
                    spawner: spec.spawner,
                    workers: spec.workers.max(1),
                    active: AtomicUsize::new(0),
                    queue,
                    ready,
                    sources: sources.into(),
                    next_source: AtomicUsize::new(0),
                }
            })
            .collect();
        let (all_done, done) = Promise::new();
        // Same size and alignment, so this reuses the array (no copy).
        let works = works
            .into_iter()
            .map(|w| WorkCell(UnsafeCell::new(Some(w))))
            .collect();
        let engine = Arc::new(Engine {
            slots,
            works,
            shape,
            succ_starts,
            succ,
            lanes,
            remaining: AtomicUsize::new(n),
            all_done: Mutex::new(Some(all_done)),
            started: Instant::now(),
        });
        if n == 0 {
            if let Some(p) = lock(&engine.all_done).take() {
                p.complete(Ok(()));
            }
        }
        // A submitted node learns its end from its handle, whoever completes it (rule 1).
        for &i in &submitted {
            let weak = Arc::downgrade(&engine);
            let handle = &engine.slots[i].watch.get().expect("made above").handle;
            handle.add_done_callback(move |h| {
                if let Some(engine) = weak.upgrade() {
                    let to = match h.state() {
                        crate::State::Cancelled => CANCELLED,
                        _ if h.failure().is_some() => FAILED,
                        _ => OK,
                    };
                    engine.finish(i, h.result(), to, NO_LANE, &mut None);
                }
            });
        }
        for (l, lane) in engine.lanes.iter().enumerate() {
            for _ in 0..lane.workers.min(lane.sources.len()) {
                lane.active.fetch_add(1, Ordering::SeqCst);
                engine.spawn_runner(l);
            }
        }
        for &i in &submitted {
            if engine.shape.deps(i).is_empty() {
                engine.start_submitted(i);
            }
        }
        (engine, done)
    }

    fn succ(&self, i: usize) -> &[u32] {
        &self.succ[self.succ_starts[i] as usize..self.succ_starts[i + 1] as usize]
    }

    /// Node `i`'s phase now.
    pub(super) fn phase(&self, i: usize) -> Phase {
        match self.slots[i].state.load(Ordering::Acquire) {
            PENDING => Phase::Pending,
            RUNNING => Phase::Running,
            CANCELLED => Phase::Cancelled,
            _ => Phase::Finished,
        }
    }

    /// Node `i`'s error, if it is terminal with one.
    pub(super) fn failure(&self, i: usize) -> Option<Error> {
        match &*lock(&self.slots[i].outcome) {
            Some(Err(e)) => Some(Error::clone(e)),
            _ => None,
        }
    }

    /// When node `i`'s task ran, if it did.
    pub(super) fn timing(&self, i: usize) -> Option<(Instant, Instant)> {
        let slot = &self.slots[i];
        let (began, ended) = (
            slot.began.load(Ordering::Acquire),
            slot.ended.load(Ordering::Acquire),
        );
        let at = |ns: u64| self.started + Duration::from_nanos(ns - 1);
        (began > 0 && ended > 0).then(|| (at(began), at(ended)))
    }

    /// Records when node `i`'s task ran.
    fn set_timing(&self, i: usize, began: Instant, ended: Instant) {
        let ns = |t: Instant| t.saturating_duration_since(self.started).as_nanos() as u64 + 1;
        let slot = &self.slots[i];
        slot.began.store(ns(began), Ordering::Relaxed);
        slot.ended.store(ns(ended), Ordering::Release);
    }

    /// Node `i`'s handle, made on first request (rule 3). Cancelling it cancels the node, and so
    /// its dependents, if the node has not finished.
    pub(super) fn handle(self: &Arc<Self>, i: usize) -> &Handle<V> {
        let slot = &self.slots[i];
        if let Some(watch) = slot.watch.get() {
            return &watch.handle;
        }
        let mut made = false;
        let watch = slot.watch.get_or_init(|| {
            made = true;
            Watch::new()
        });
        if !made {
            return &watch.handle;
        }
        slot.watched.store(true, Ordering::SeqCst);
        let to = slot.state.load(Ordering::SeqCst);
        {
            let mut kept = lock(&watch.promise);
            match (to, kept.as_ref()) {
                (PENDING, _) | (_, None) => {}
                (RUNNING, Some(promise)) => {
                    promise.start();
                }
                (to, Some(_)) => {
                    // Terminal, so the outcome is in place (rule 1: set with the move).
                    let outcome = lock(&slot.outcome).clone().expect("terminal");
                    let promise = kept.take().expect("matched");
                    drop(kept);
                    deliver(promise, outcome.map_err(|e| *e), to);
                }
            }
        }
        let weak = Arc::downgrade(self);
        watch.handle.add_done_callback(move |h| {
            if let (true, Some(engine)) = (h.cancelled(), weak.upgrade()) {
                let why = h.failure().unwrap_or(Error::Cancelled);
                engine.finish(i, Err(why), CANCELLED, NO_LANE, &mut None);
            }
        });
        &watch.handle
    }

    /// Queues runner jobs on lane `l`'s pool; the caller has counted it in `active`.
    fn spawn_runner(self: &Arc<Self>, l: usize) {
        let (promise, handle) = Promise::new();
        let engine = self.clone();
        self.lanes[l]
            .spawner
            .spawn(promise, move || engine.runner(l));
        let engine = self.clone();
        handle.add_done_callback(move |h| {
            if let Err(why) = h.result() {
                engine.refused(l, why);
            }
        });
    }

    /// The pool did not run a runner (shut down, broken, or the runner's job cancelled): every
    /// node queued on the lane ends with that error, and their dependents with them.
    fn refused(self: &Arc<Self>, l: usize, why: Error) {
        let lane = &self.lanes[l];
        lane.active.fetch_sub(1, Ordering::SeqCst);
        let to = if why == Error::Cancelled {
            CANCELLED
        } else {
            FAILED
        };
        while let Some(i) = lane.pop() {
            self.finish(i as usize, Err(why.clone()), to, NO_LANE, &mut None);
        }
    }

    /// A runner: runs lane `l`'s ready nodes until there are none.
    fn runner(self: &Arc<Self>, l: usize) {
        let lane = &self.lanes[l];
        let mut next = None;
        let mut clock = Instant::now();
        loop {
            let i = match next.take().or_else(|| lane.pop()) {
                Some(i) => i,
                None => {
                    lane.active.fetch_sub(1, Ordering::SeqCst);
                    fence(Ordering::SeqCst);
                    if lane.is_empty() {
                        return;
                    }
                    // A node came in as this runner was leaving, perhaps unseen by its pusher.
                    if lane.active.fetch_add(1, Ordering::SeqCst) >= lane.workers {
                        lane.active.fetch_sub(1, Ordering::SeqCst);
                        return;
                    }
                    clock = Instant::now();
                    continue;
                }
            };
            self.run_closure(i as usize, l as u32, &mut next, &mut clock);
        }
    }

    /// Runs closure node `i` if nobody claimed it first, then finishes it. `clock` is the last
    /// clock reading of this runner (see *Timing*); it is read again when the task ends.
    fn run_closure(
        self: &Arc<Self>,
        i: usize,
        lane: u32,
        next: &mut Option<u32>,
        clock: &mut Instant,
    ) {
        if !self.begin(i) {
            return;
        }
        // SAFETY: `begin` moved the node out of PENDING, so this thread owns its work (rule 1).
        let Some(Work::Closure(_, f)) = (unsafe { self.take_work(i) }) else {
            return;
        };
        let values = self.values(i);
        let outcome = catching(|| f(values));
        let start = std::mem::replace(clock, Instant::now());
        self.set_timing(i, start, *clock);
        let to = if outcome.is_ok() { OK } else { FAILED };
        self.finish(i, outcome, to, lane, next);
    }

    /// `PENDING -> RUNNING` (rule 1), told to a watching handle (rule 3). `false`: the node must
    /// not run, because another thread claimed it, or because its handle was cancelled just
    /// before it started: that handle's done-callback claims it as `CANCELLED` (rule 1), and
    /// running the task could publish its value to the dependents first.
    fn begin(&self, i: usize) -> bool {
        let slot = &self.slots[i];
        if slot
            .state
            .compare_exchange(PENDING, RUNNING, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        if let (true, Some(watch)) = (slot.watched.load(Ordering::SeqCst), slot.watch.get()) {
            if let Some(p) = &*lock(&watch.promise) {
                return p.start();
            }
        }
        true
    }

    /// The values of node `i`'s dependencies, in the order it named them.
    fn values(&self, i: usize) -> Vec<V> {
        self.shape
            .deps(i)
            .iter()
            .map(|&d| match &*lock(&self.slots[d as usize].outcome) {
                Some(Ok(v)) => v.clone(),
                _ => unreachable!("rule 2: a node is ready only once every dependency is OK"),
            })
            .collect()
    }

    /// Starts submitted node `i` if nobody claimed it first: submits it and forwards its handle.
    fn start_submitted(self: &Arc<Self>, i: usize) {
        let slot = &self.slots[i];
        if !self.begin(i) {
            return;
        }
        let promise = slot.watch.get().and_then(|w| lock(&w.promise).take());
        // SAFETY: `begin` moved the node out of PENDING, so this thread owns its work (rule 1).
        let work = unsafe { self.take_work(i) };
        let (Some(Work::Submit(start)), Some(promise)) = (work, promise) else {
            return;
        };
        let values = self.values(i);
        let engine = self.clone();
        // Inline executors complete the task here, which readies the next node, which submits
        // it...: `settle` keeps that chain's stack flat.
        settle(move || {
            let submitted = Instant::now();
            match catching(|| start(values)).and_then(|r| r) {
                Ok(inner) => {
                    // Registered before `forward`'s callback, so it runs first.
                    inner.add_done_callback(move |_| {
                        engine.set_timing(i, submitted, Instant::now());
                    });
                    forward(inner, promise);
                }
                Err(e) => promise.complete(Err(e)),
            }
        });
    }

    /// Claims node `i` for terminal state `to` with `outcome` (rule 1), then publishes it: to its
    /// handle, to its successors (ready them, or cascade the failure), to the countdown.
    fn finish(
        self: &Arc<Self>,
        i: usize,
        outcome: Result<V>,
        to: u8,
        lane: u32,
        next: &mut Option<u32>,
    ) {
        if self.claim(i, to, outcome).is_none() {
            return;
        }
        if to == OK {
            for &s in self.succ(i) {
                if self.slots[s as usize]
                    .waiting
                    .fetch_sub(1, Ordering::AcqRel)
                    == 1
                {
                    self.ready(s as usize, lane, next);
                }
            }
        } else {
            self.cascade(i);
        }
        self.count_down();
    }

    /// Takes node `i`'s work.
    ///
    /// # Safety
    ///
    /// Only the thread that moved node `i` out of `PENDING` may call it (rule 1).
    unsafe fn take_work(&self, i: usize) -> Option<Work<V>> {
        // SAFETY: by the caller's promise no other thread touches this cell, ever.
        unsafe { (*self.works[i].0.get()).take() }
    }

    /// The terminal move of rule 1; on success also sets the outcome and tells the handle, and
    /// returns the state it moved from.
    fn claim(&self, i: usize, to: u8, outcome: Result<V>) -> Option<u8> {
        let slot = &self.slots[i];
        let mut now = slot.state.load(Ordering::Acquire);
        {
            let mut kept = lock(&slot.outcome);
            loop {
                if now >= OK {
                    return None;
                }
                match slot
                    .state
                    .compare_exchange(now, to, Ordering::SeqCst, Ordering::Acquire)
                {
                    Ok(_) => break,
                    Err(actual) => now = actual,
                }
            }
            if slot.watched.load(Ordering::SeqCst) {
                *kept = Some(outcome.clone().map_err(Box::new));
            } else {
                *kept = Some(outcome.map_err(Box::new));
                return Some(now);
            }
        }
        let watch = slot.watch.get().expect("rule 3: watched means made");
        let promise = lock(&watch.promise).take();
        if let Some(p) = promise {
            deliver(p, outcome, to);
        }
        Some(now)
    }

    /// Node `s` has every dependency's value: run it here next, queue it, or submit it.
    fn ready(self: &Arc<Self>, s: usize, lane: u32, next: &mut Option<u32>) {
        let l = self.slots[s].lane;
        if l == NO_LANE {
            self.start_submitted(s);
        } else if l == lane && next.is_none() {
            *next = Some(s as u32);
        } else {
            self.push(l as usize, s as u32);
        }
    }

    /// Queues ready node `s` on lane `l`, starting a runner if fewer than `workers` are active.
    fn push(self: &Arc<Self>, l: usize, s: u32) {
        let lane = &self.lanes[l];
        // The receiver lives in the lane, so the channel is never disconnected.
        let _ = lane.queue.send(s);
        fence(Ordering::SeqCst);
        if lane.active.load(Ordering::SeqCst) < lane.workers {
            if lane.active.fetch_add(1, Ordering::SeqCst) < lane.workers {
                self.spawn_runner(l);
            } else {
                lane.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Node `i` ended without a value: its pending dependents end too, naming it (rule 2).
    fn cascade(&self, i: usize) {
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            let cause = match &*lock(&self.slots[j].outcome) {
                Some(Err(cause)) => Error::clone(cause),
                _ => continue,
            };
            let to = if self.slots[j].state.load(Ordering::Acquire) == CANCELLED {
                CANCELLED
            } else {
                FAILED
            };
            let name = self.shape.name(j);
            for &s in self.succ(j) {
                let s = s as usize;
                let error = Error::dependency_failed(name.clone(), cause.clone());
                if let Some(from) = self.claim(s, to, Err(error)) {
                    if from == PENDING {
                        // SAFETY: this thread moved `s` out of PENDING: it owns the work (rule 1).
                        drop(unsafe { self.take_work(s) });
                    }
                    stack.push(s);
                    self.count_down();
                }
            }
        }
    }

    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(p) = lock(&self.all_done).take() {
                p.complete(Ok(()));
            }
        }
    }
}

/// Completes a handle's promise with a terminal node's outcome.
fn deliver<V: Send + 'static>(promise: Promise<V>, outcome: Result<V>, to: u8) {
    match (to, outcome) {
        (CANCELLED, Err(e)) => promise.cancel_with(e),
        (_, outcome) => promise.complete(outcome),
    }
}

/// The successor lists of `shape` as CSR: `(starts, list)`, each list in node order.
fn successors(shape: &Shape) -> (Box<[u32]>, Box<[u32]>) {
    let n = shape.len();
    let mut starts = vec![0u32; n + 1];
    for &d in shape.deps.iter() {
        starts[d as usize + 1] += 1;
    }
    for i in 0..n {
        starts[i + 1] += starts[i];
    }
    let mut fill: Vec<u32> = starts[..n].to_vec();
    let mut list = vec![0u32; shape.deps.len()];
    for i in 0..n {
        for &d in shape.deps(i) {
            list[fill[d as usize] as usize] = i as u32;
            fill[d as usize] += 1;
        }
    }
    (starts.into(), list.into())
}
