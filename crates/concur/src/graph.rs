//! Dependencies between tasks: a task that starts only after others finish and receives their
//! results, and [`Graph`], a whole DAG declared up front.
//!
//! # What it promises
//!
//! - **Any executor.** [`after`] is written on [`Handle::add_done_callback`] alone and
//!   [`submit_after`] on [`Executor::submit_task`], so threads, processes and MPI ranks all get
//!   dependencies. [`ThreadPool::submit_after`] does the same for closures without a second handle.
//! - **Nothing waits.** No thread blocks on a dependency: the last dependency to finish submits
//!   the dependent from its done-callback (in the thread that completed it). The dependent's handle
//!   exists at once and reads `Pending` until the task it stands for is done.
//! - **Failure travels.** When a dependency fails, each dependent fails at once, without waiting for
//!   its other dependencies, with [`Error::DependencyFailed`] naming the dependency (a node's name,
//!   or `#i`, its position among the dependencies) and the task where the failure began, with
//!   that task's error; dependents of dependents likewise, however deep (the error stays one level
//!   deep, and the stack stays flat). When a dependency is *cancelled*, its dependents are
//!   cancelled too (state `Cancelled`), with the same naming error.
//! - **Cancel reaches the task.** Cancelling a dependent before it is submitted means it never runs;
//!   after it is submitted to an executor, the cancel is passed on to that executor's handle (a
//!   process pool kills the worker; a thread pool drops it if still queued, otherwise it runs on and
//!   its value is discarded).
//! - Results of dependencies are read with [`Handle::result`] (cloned), so a dependency may feed
//!   many dependents. Moving a dependency's value out with `into_result` before its dependents
//!   start makes them fail with [`Error::Taken`].
//!
//! # Graphs
//!
//! [`Graph`] names every node (or numbers it: [`Graph::push_fn`], named `#i`) and lets a node
//! name dependencies declared after it; [`Graph::run`] rejects a cycle with [`Error::Cycle`]
//! naming it, then runs every node with the promises above (failure and cancel travel the same
//! way, naming the node). A [`GraphRun`] gives each node's handle, a Graphviz export, and
//! [`Stats`]: the critical path by measured task durations and the achieved parallelism.
//!
//! A declared graph does not pay for a handle per node: its engine (`graph/engine.rs`) keeps every
//! node's state in one slice and its successors in one array, runs a pool's ready closures on a
//! few runner jobs of that pool (a node made ready by the one just finished runs next on the same
//! thread, unqueued), and makes a node's [`Handle`] only when it is asked for. Scheduling costs
//! about half a microsecond per node on a 1 M-node graph (`benches/graph.rs`), against about two
//! for [`ThreadPool::submit_after`], which makes a handle, a callback and a queued job per node.
//! Its values are read from the engine, so taking a node's value out of its handle
//! (`into_result`) never affects its dependents. On a pool that records a
//! [`Trace`](crate::Trace), a graph's closures show as the runner jobs that ran them (label
//! `dependent`), not one event per node; per-node times are in [`GraphRun::stats`] and
//! [`GraphRun::to_dot`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{panic_message, Error, Result};
use crate::executor::Executor;
use crate::handle::{Handle, Promise};
use crate::task::{TaskFn, Wire};
use crate::thread_pool::ThreadPool;

mod engine;
use engine::{Engine, LaneSpec, Shape, Work};

struct Gather<D, O: Send + 'static, S> {
    slots: Vec<Option<D>>,
    remaining: usize,
    /// Taken by whichever arrival settles the dependent: the last success, or the first failure.
    pending: Option<(S, Promise<O>)>,
}

/// Calls `start(results, promise)` once every handle in `deps` has a value, or fails `promise`
/// (naming the dependency) as soon as one of them fails or is cancelled.
fn gather<D, O, S>(deps: Vec<Handle<D>>, promise: Promise<O>, start: S)
where
    D: Clone + Send + 'static,
    O: Send + 'static,
    S: FnOnce(Vec<D>, Promise<O>) + Send + 'static,
{
    if deps.iter().all(Handle::done) {
        // Fast path, common when a graph is built while it runs: no shared state, no callbacks.
        let mut values = Vec::with_capacity(deps.len());
        for (i, dep) in deps.iter().enumerate() {
            match dep.result() {
                Ok(value) => values.push(value),
                Err(cause) => return fail(promise, format!("#{i}"), dep.cancelled(), cause),
            }
        }
        return settle(move || start(values, promise));
    }
    let state = Arc::new(Mutex::new(Gather {
        slots: (0..deps.len()).map(|_| None).collect(),
        remaining: deps.len(),
        pending: Some((start, promise)),
    }));
    for (i, dep) in deps.into_iter().enumerate() {
        let state = state.clone();
        dep.add_done_callback(move |h| arrive(&state, i, h));
    }
}

fn arrive<D, O, S>(state: &Mutex<Gather<D, O, S>>, i: usize, dep: &Handle<D>)
where
    D: Clone + Send + 'static,
    O: Send + 'static,
    S: FnOnce(Vec<D>, Promise<O>) + Send + 'static,
{
    let outcome = dep.result();
    let mut g = state.lock().unwrap_or_else(|e| e.into_inner());
    if g.pending.is_none() {
        return; // an earlier dependency already failed it
    }
    match outcome {
        Ok(value) => {
            g.slots[i] = Some(value);
            g.remaining -= 1;
            if g.remaining > 0 {
                return;
            }
            let (start, promise) = g.pending.take().expect("checked above");
            let values = g
                .slots
                .iter_mut()
                .map(|v| v.take().expect("every slot filled"))
                .collect();
            drop(g);
            if !promise.is_done() {
                settle(move || start(values, promise));
            }
        }
        Err(cause) => {
            let (_, promise) = g.pending.take().expect("checked above");
            let name = format!("#{i}");
            drop(g);
            fail(promise, name, dep.cancelled(), cause);
        }
    }
}

/// Fails (or, if the dependency was cancelled, cancels) a dependent whose dependency `name`
/// ended with `cause`.
fn fail<O: Send + 'static>(promise: Promise<O>, name: String, cancelled: bool, cause: Error) {
    let error = Error::dependency_failed(name, cause);
    settle(move || {
        if cancelled {
            promise.cancel_with(error);
        } else {
            promise.complete(Err(error));
        }
    });
}

/// Steps queued by [`settle`] while this thread is settling.
type Deferred = Vec<Box<dyn FnOnce()>>;

thread_local! {
    /// Work deferred by [`settle`] while this thread is already settling.
    static SETTLING: RefCell<Option<Deferred>> = const { RefCell::new(None) };
}

/// Runs `f`, which may complete a handle; if this thread is already inside `settle`, queues `f`
/// for the outer call instead. Completing a handle runs its dependents' callbacks, which settle
/// them in turn, so without this a failure travelling down a chain of a million dependents (or a
/// chain of inline executors) would recurse a million deep. With it the stack stays flat.
fn settle(f: impl FnOnce() + 'static) {
    let outermost = SETTLING.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_some() {
            return false;
        }
        *s = Some(Vec::new());
        true
    });
    if !outermost {
        SETTLING.with(|s| {
            s.borrow_mut()
                .as_mut()
                .expect("inside settle")
                .push(Box::new(f))
        });
        return;
    }
    /// Ends the settling state even if a step unwinds; queued steps are then dropped, and their
    /// promises resolve as `Shutdown` (handle rule 4).
    struct Outermost;
    impl Drop for Outermost {
        fn drop(&mut self) {
            let left = SETTLING.with(|s| s.borrow_mut().take());
            drop(left);
        }
    }
    let _outermost = Outermost;
    f();
    while let Some(next) = SETTLING.with(|s| s.borrow_mut().as_mut().and_then(Vec::pop)) {
        next();
    }
}

/// Completes `promise` with `inner`'s outcome when it is done, and cancels `inner` if `promise`'s
/// handle is cancelled first.
fn forward<O: Send + 'static>(inner: Handle<O>, promise: Promise<O>) {
    let to_cancel = inner.clone();
    promise.handle().add_done_callback(move |outer| {
        if outer.cancelled() {
            to_cancel.cancel();
        }
    });
    inner.add_done_callback(move |inner| {
        let cancelled = inner.cancelled();
        match inner.clone().into_result() {
            Err(e) if cancelled => promise.cancel_with(e),
            outcome => promise.complete(outcome),
        }
    });
}

/// Runs `f`, turning a panic into [`Error::Panicked`].
fn catching<T>(f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Error::Panicked(panic_message(&*p)))
}

/// A handle for work that starts once every handle in `deps` has a value: then `start` is called
/// with their values (in the order given) and must submit the work, returning its handle.
///
/// The building block under [`submit_after`], for executors or submissions of your own. If `start`
/// returns an error or panics, the returned handle fails with that error.
///
/// ```
/// use concur::graph::after;
/// let pool = std::sync::Arc::new(concur::ThreadPool::new(2)?);
/// let a = pool.submit(|| 2)?;
/// let b = pool.submit(|| 3)?;
/// let p = pool.clone();
/// let product = after(vec![a, b], move |v| p.submit(move || v[0] * v[1]));
/// assert_eq!(product.result()?, 6);
/// # Ok::<(), concur::Error>(())
/// ```
pub fn after<D, O>(
    deps: impl IntoIterator<Item = Handle<D>>,
    start: impl FnOnce(Vec<D>) -> Result<Handle<O>> + Send + 'static,
) -> Handle<O>
where
    D: Clone + Send + 'static,
    O: Send + 'static,
{
    let (promise, handle) = Promise::new();
    gather(deps.into_iter().collect(), promise, submit_with(start));
    handle
}

/// The `gather` starter for work submitted elsewhere: submit, then forward.
fn submit_with<D, O: Send + 'static>(
    start: impl FnOnce(Vec<D>) -> Result<Handle<O>> + Send + 'static,
) -> impl FnOnce(Vec<D>, Promise<O>) + Send + 'static {
    move |values, promise| match catching(|| start(values)).and_then(|r| r) {
        Ok(inner) => forward(inner, promise),
        Err(e) => promise.complete(Err(e)),
    }
}

/// Submits `task` to `executor` once every handle in `deps` has a value; `input` builds the
/// task's input from their values (in the order given). Works on every [`Executor`].
///
/// ```
/// use std::sync::Arc;
/// use concur::{graph::submit_after, Executor, ThreadPool};
///
/// fn sum(xs: Vec<u64>) -> u64 {
///     xs.iter().sum()
/// }
/// concur::task! { static SUM: fn(Vec<u64>) -> u64 = sum; }
///
/// let pool = Arc::new(ThreadPool::new(2)?);
/// let left = pool.submit_task(&SUM, vec![1, 2])?;
/// let right = pool.submit_task(&SUM, vec![3, 4])?;
/// let total = submit_after(&pool, [left, right], &SUM, |halves| halves);
/// assert_eq!(total.result()?, 10);
/// # Ok::<(), concur::Error>(())
/// ```
pub fn submit_after<E, D, I, O>(
    executor: &Arc<E>,
    deps: impl IntoIterator<Item = Handle<D>>,
    task: &'static TaskFn<I, O>,
    input: impl FnOnce(Vec<D>) -> I + Send + 'static,
) -> Handle<O>
where
    E: Executor + Send + Sync + 'static,
    D: Clone + Send + 'static,
    I: Wire,
    O: Wire,
{
    let executor = executor.clone();
    after(deps, move |values| {
        executor.submit_task(task, input(values))
    })
}

impl ThreadPool {
    /// Queues `f` on this pool once every handle in `deps` has a value, passing their values (in
    /// the order given). The handle comes back at once. A failed or cancelled dependency fails or
    /// cancels it, naming the dependency by position (`#0`, `#1`, ...); see [`graph`](crate::graph).
    ///
    /// ```
    /// let pool = concur::ThreadPool::new(2)?;
    /// let a = pool.submit(|| 20)?;
    /// let b = pool.submit_after([a], |v| v[0] + 1);
    /// let c = pool.submit_after([b.clone()], |v| v[0] * 2);
    /// assert_eq!(c.result()?, 42);
    /// # Ok::<(), concur::Error>(())
    /// ```
    pub fn submit_after<D, T, F>(
        &self,
        deps: impl IntoIterator<Item = Handle<D>>,
        f: F,
    ) -> Handle<T>
    where
        D: Clone + Send + 'static,
        T: Send + 'static,
        F: FnOnce(Vec<D>) -> T + Send + 'static,
    {
        let (promise, handle) = Promise::new();
        let spawner = self.spawner();
        gather(
            deps.into_iter().collect(),
            promise,
            move |values, promise| spawner.spawn(promise, move || f(values)),
        );
        handle
    }
}

/// A node of a [`Graph`], by position: what [`Graph::push_fn`] returns and [`Graph::id`] finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The node's position in the graph (0 for the first declared).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A dependency named before its node was declared: resolved by [`Graph::run`].
struct Forward {
    /// The dependent.
    node: u32,
    /// Where in `Graph::deps` the dependency's position goes.
    at: u32,
    name: Box<str>,
}

/// The placeholder in `Graph::deps` of a [`Forward`] dependency.
const UNRESOLVED: u32 = u32::MAX;

/// A DAG of tasks declared up front, every node producing a `V`.
///
/// A node may name dependencies declared after it. [`run`](Graph::run) checks the whole graph
/// (unknown names and cycles are errors, named), then starts every node; each starts when its
/// dependencies have values and receives them in the order it named them.
///
/// Nodes are named ([`add_fn`](Graph::add_fn) and friends) or added by position
/// ([`push_fn`](Graph::push_fn), named `#i` in errors and pictures, for graphs of millions of
/// nodes). The run keeps every node's state in flat arrays and makes a node's [`Handle`] only
/// when asked for it; closure nodes run on their pool with no per-node queueing when a
/// dependency's completion makes them ready (see `graph/engine.rs`).
///
/// ```
/// use concur::graph::Graph;
/// let pool = concur::ThreadPool::new(2)?;
/// let mut g = Graph::new();
/// g.add_fn("total", &["a", "b"], &pool, |v: Vec<u64>| v.iter().sum())?;
/// g.add_fn("a", &[], &pool, |_| 1)?;
/// g.add_fn("b", &["a"], &pool, |v| v[0] + 10)?;
/// assert!(g.to_dot().contains("\"a\" -> \"b\""));
/// let run = g.run()?;
/// assert_eq!(run.handle("total").unwrap().result()?, 12);
/// let stats = run.stats();
/// assert_eq!(stats.critical_path, ["a", "b", "total"]);
///
/// let mut cyclic = Graph::<u64>::new();
/// cyclic.add_fn("x", &["y"], &pool, |v| v[0])?;
/// cyclic.add_fn("y", &["x"], &pool, |v| v[0])?;
/// assert_eq!(cyclic.run().err().unwrap().to_string(), "dependency cycle: x -> y -> x");
///
/// // By position: a reduction of 1..=4.
/// let mut g = Graph::<u64>::new();
/// let leaves: Vec<_> = (1..=4).map(|i| g.push_fn(&[], &pool, move |_| i)).collect::<Result<_, _>>()?;
/// let left = g.push_fn(&leaves[..2], &pool, |v| v[0] + v[1])?;
/// let right = g.push_fn(&leaves[2..], &pool, |v| v[0] + v[1])?;
/// let total = g.push_fn(&[left, right], &pool, |v| v[0] + v[1])?;
/// assert_eq!(g.run()?.node(total).result()?, 10);
/// # Ok::<(), concur::Error>(())
/// ```
pub struct Graph<V> {
    names: Vec<Option<Arc<str>>>,
    works: Vec<Work<V>>,
    /// Node `i`'s dependencies are `deps[starts[i]..starts[i + 1]]`, by position; a name not
    /// yet declared is `UNRESOLVED` there and listed in `forward`.
    starts: Vec<u32>,
    deps: Vec<u32>,
    forward: Vec<Forward>,
    index: HashMap<Arc<str>, usize>,
    lanes: Vec<LaneSpec>,
}

impl<V> Default for Graph<V> {
    fn default() -> Self {
        Graph {
            names: Vec::new(),
            works: Vec::new(),
            starts: vec![0],
            deps: Vec::new(),
            forward: Vec::new(),
            index: HashMap::new(),
            lanes: Vec::new(),
        }
    }
}

impl<V: Clone + Send + 'static> Graph<V> {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes declared.
    pub fn len(&self) -> usize {
        self.works.len()
    }

    /// Whether no node is declared.
    pub fn is_empty(&self) -> bool {
        self.works.is_empty()
    }

    /// The node declared as `name`.
    pub fn id(&self, name: &str) -> Option<NodeId> {
        self.index.get(name).map(|&i| NodeId(i as u32))
    }

    /// Node `i`'s name: its own, or `#i`.
    fn name(&self, i: usize) -> String {
        engine::node_name(&self.names, i)
    }

    fn add(
        &mut self,
        name: Option<&str>,
        deps: impl ExactSizeIterator<Item = u32>,
        forward: impl Iterator<Item = (usize, Box<str>)>,
        work: Work<V>,
    ) -> Result<NodeId> {
        let id = u32::try_from(self.works.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .ok_or_else(|| Error::Config("a graph holds at most 2^32 - 1 nodes".into()))?;
        if u32::try_from(self.deps.len() + deps.len()).is_err() {
            return Err(Error::Config(
                "a graph holds at most 2^32 - 1 dependencies".into(),
            ));
        }
        let name: Option<Arc<str>> = match name {
            Some(name) if self.index.contains_key(name) => {
                return Err(Error::Config(format!(
                    "graph node `{name}` is declared twice"
                )))
            }
            Some(name) => {
                let name: Arc<str> = name.into();
                self.index.insert(name.clone(), id as usize);
                Some(name)
            }
            None => None,
        };
        self.names.push(name);
        let base = self.deps.len() as u32;
        self.deps.extend(deps);
        self.forward.extend(forward.map(|(k, name)| Forward {
            node: id,
            at: base + k as u32,
            name,
        }));
        self.starts.push(self.deps.len() as u32);
        self.works.push(work);
        Ok(NodeId(id))
    }

    fn add_named(&mut self, name: &str, deps: &[&str], work: Work<V>) -> Result<&mut Self> {
        let known = |d: &str| self.index.get(d).map(|&i| i as u32);
        let positions: Vec<u32> = deps
            .iter()
            .map(|d| known(d).unwrap_or(UNRESOLVED))
            .collect();
        let forward = positions
            .iter()
            .enumerate()
            .filter(|(_, &p)| p == UNRESOLVED)
            .map(|(k, _)| (k, Box::<str>::from(deps[k])))
            .collect::<Vec<_>>();
        self.add(Some(name), positions.into_iter(), forward.into_iter(), work)?;
        Ok(self)
    }

    /// The lane (see `graph/engine.rs`) of `pool`'s closures.
    fn lane(&mut self, pool: &ThreadPool) -> u32 {
        let found = self.lanes.iter().rposition(|l| l.spawner.is_of(pool));
        let lane = found.unwrap_or_else(|| {
            self.lanes.push(LaneSpec {
                spawner: pool.spawner(),
                workers: pool.workers(),
            });
            self.lanes.len() - 1
        });
        lane as u32
    }

    /// Declares node `name`: closure `f` on `pool`, given the values of `deps`. Timed inside the
    /// task. A name declared twice is an error.
    pub fn add_fn(
        &mut self,
        name: &str,
        deps: &[&str],
        pool: &ThreadPool,
        f: impl FnOnce(Vec<V>) -> V + Send + 'static,
    ) -> Result<&mut Self> {
        let lane = self.lane(pool);
        self.add_named(name, deps, Work::Closure(lane, Box::new(f)))
    }

    /// Adds an unnamed node (named `#i` in errors and pictures, `i` its position): closure `f` on
    /// `pool`, given the values of `deps` (declared before it) in that order. For graphs too big to
    /// name every node. A dependency that is not in this graph is an error naming it.
    pub fn push_fn(
        &mut self,
        deps: &[NodeId],
        pool: &ThreadPool,
        f: impl FnOnce(Vec<V>) -> V + Send + 'static,
    ) -> Result<NodeId> {
        if let Some(d) = deps.iter().find(|d| d.index() >= self.len()) {
            return Err(Error::Config(format!(
                "graph node #{} depends on #{}, which is not declared",
                self.len(),
                d.index()
            )));
        }
        let lane = self.lane(pool);
        let positions = deps.iter().map(|d| d.0);
        self.add(
            None,
            positions,
            std::iter::empty(),
            Work::Closure(lane, Box::new(f)),
        )
    }

    /// Declares node `name`: registered `task` on any `executor`, with the input `input` builds
    /// from the values of `deps`. Timed from submission to completion (queueing included).
    pub fn add_task<E, I>(
        &mut self,
        name: &str,
        deps: &[&str],
        executor: &Arc<E>,
        task: &'static TaskFn<I, V>,
        input: impl FnOnce(Vec<V>) -> I + Send + 'static,
    ) -> Result<&mut Self>
    where
        E: Executor + Send + Sync + 'static,
        I: Wire,
        V: Wire,
    {
        let executor = executor.clone();
        let submit = move |values| executor.submit_task(task, input(values));
        self.add_named(name, deps, Work::Submit(Box::new(submit)))
    }

    /// Declares node `name` submitted by `start` (see [`after`]). Timed from submission to
    /// completion.
    pub fn add_with(
        &mut self,
        name: &str,
        deps: &[&str],
        start: impl FnOnce(Vec<V>) -> Result<Handle<V>> + Send + 'static,
    ) -> Result<&mut Self> {
        self.add_named(name, deps, Work::Submit(Box::new(start)))
    }

    /// Resolves the dependencies named before their node was declared, or names the first
    /// unknown one. Returns whether every dependency was declared before its dependent (then
    /// declaration order is topological).
    fn resolve(&mut self) -> Result<bool> {
        for f in &self.forward {
            match self.index.get(&*f.name) {
                Some(&d) => self.deps[f.at as usize] = d as u32,
                None => {
                    return Err(Error::Config(format!(
                        "graph node `{}` depends on `{}`, which is not declared",
                        self.name(f.node as usize),
                        f.name
                    )))
                }
            }
        }
        Ok(self.forward.is_empty())
    }

    /// The graph in Graphviz DOT: one edge from each dependency to its dependent. Unknown
    /// dependency names appear as nodes of their own.
    pub fn to_dot(&self) -> String {
        let names: Vec<String> = (0..self.len()).map(|i| self.name(i)).collect();
        let names = &names;
        let forward: HashMap<u32, &str> = self.forward.iter().map(|f| (f.at, &*f.name)).collect();
        let forward = &forward;
        let edges = (0..self.len()).flat_map(|i| {
            let at = self.starts[i]..self.starts[i + 1];
            at.map(move |k| {
                let from = match forward.get(&k) {
                    Some(name) => name,
                    None => names[self.deps[k as usize] as usize].as_str(),
                };
                (from, names[i].as_str())
            })
        });
        dot(names.iter().map(|n| (n.as_str(), String::new())), edges)
    }

    /// Checks the graph and starts every node; fails, starting nothing, on an unknown
    /// dependency ([`Error::Config`]) or a cycle ([`Error::Cycle`], naming it).
    pub fn run(mut self) -> Result<GraphRun<V>> {
        let backward = self.resolve()?;
        let shape = Shape {
            names: self.names,
            starts: self.starts,
            deps: self.deps,
        };
        // Declaration order is topological when every dependency comes first.
        let order = match backward {
            true => None,
            false => Some(topological_order(&shape)?),
        };
        let (engine, done) = Engine::start(shape, self.works, self.lanes);
        Ok(GraphRun {
            index: self.index,
            engine,
            order,
            done,
        })
    }
}

/// A topological order of `shape`, or the first cycle found, named.
fn topological_order(shape: &Shape) -> Result<Vec<u32>> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut mark = vec![NEW; shape.len()];
    let mut order = Vec::with_capacity(shape.len());
    // Iterative depth-first search: (node, next dependency to visit).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..shape.len() {
        if mark[root] != NEW {
            continue;
        }
        mark[root] = OPEN;
        stack.push((root, 0));
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = shape.deps(node).get(*next) {
                let dep = dep as usize;
                *next += 1;
                match mark[dep] {
                    NEW => {
                        mark[dep] = OPEN;
                        stack.push((dep, 0));
                    }
                    OPEN => {
                        // The stack from `dep` up to `node` is a chain in which each depends on
                        // the next, and `node` depends on `dep`; in execution order that is
                        // dep -> node -> ... -> (the one above dep) -> dep.
                        let from = stack
                            .iter()
                            .position(|&(n, _)| n == dep)
                            .expect("open nodes are on the stack");
                        let mut cycle = vec![shape.name(dep)];
                        cycle.extend(stack[from + 1..].iter().rev().map(|&(n, _)| shape.name(n)));
                        cycle.push(shape.name(dep));
                        return Err(Error::Cycle(cycle));
                    }
                    _ => {}
                }
            } else {
                mark[node] = DONE;
                order.push(node as u32);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Graphviz DOT text for nodes `(name, extra label)` and edges `(from, to)`.
fn dot<'a>(
    nodes: impl Iterator<Item = (&'a str, String)>,
    edges: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    fn quote(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
    let mut out = String::from("digraph concur {\n    rankdir=LR;\n");
    for (name, extra) in nodes {
        if extra.is_empty() {
            let _ = writeln!(out, "    {};", quote(name));
        } else {
            let _ = writeln!(
                out,
                "    {} [label={}];",
                quote(name),
                quote(&format!("{name}\n{extra}"))
            );
        }
    }
    for (from, to) in edges {
        let _ = writeln!(out, "    {} -> {};", quote(from), quote(to));
    }
    out.push_str("}\n");
    out
}

/// A started [`Graph`]: each node's handle, and statistics once it is done.
pub struct GraphRun<V: Send + 'static> {
    index: HashMap<Arc<str>, usize>,
    engine: Arc<Engine<V>>,
    /// A topological order, if declaration order is not one.
    order: Option<Vec<u32>>,
    done: Handle<()>,
}

/// Statistics of one [`GraphRun`], by measured task durations.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Wall time from [`Graph::run`] to the last task's end.
    pub wall: Duration,
    /// Sum of the tasks' durations.
    pub task_time: Duration,
    /// `task_time / wall`: how many tasks ran at once on average.
    pub parallelism: f64,
    /// The longest chain of dependencies by summed task durations: the least wall time any number
    /// of workers could need.
    pub critical_path_time: Duration,
    /// The nodes along that chain, first to run first.
    pub critical_path: Vec<String>,
    /// Nodes that ran (tasks that failed or were cancelled before running have no duration).
    pub ran: usize,
}

impl<V: Clone + Send + 'static> GraphRun<V> {
    /// The handle of node `name`. Handles are made on first request; cancelling one cancels the
    /// node (if it has not started) and everything that depends on it.
    pub fn handle(&self, name: &str) -> Option<&Handle<V>> {
        self.index.get(name).map(|&i| self.engine.handle(i))
    }

    /// The handle of node `id` (see [`handle`](Self::handle)).
    ///
    /// # Panics
    ///
    /// If `id` is not a node of this graph.
    pub fn node(&self, id: NodeId) -> &Handle<V> {
        self.engine.handle(id.index())
    }

    /// Every node's name (empty for nodes added by position) and handle, in declaration order.
    pub fn handles(&self) -> impl Iterator<Item = (&str, &Handle<V>)> {
        let names = self.engine.shape.names.iter();
        names
            .enumerate()
            .map(|(i, n)| (n.as_deref().unwrap_or(""), self.engine.handle(i)))
    }

    /// Blocks until every node is done.
    pub fn wait(&self) {
        self.done.wait();
    }

    fn duration(&self, i: usize) -> Duration {
        self.engine.timing(i).map_or(Duration::ZERO, |(s, e)| e - s)
    }

    /// Waits for every node, then measures the run.
    pub fn stats(&self) -> Stats {
        self.wait();
        let shape = &self.engine.shape;
        let n = shape.len();
        let mut path_time = vec![Duration::ZERO; n];
        let mut via: Vec<Option<usize>> = vec![None; n];
        let order: Box<dyn Iterator<Item = usize>> = match &self.order {
            Some(order) => Box::new(order.iter().map(|&i| i as usize)),
            None => Box::new(0..n),
        };
        for i in order {
            let best = shape
                .deps(i)
                .iter()
                .map(|&d| d as usize)
                .max_by_key(|&d| path_time[d]);
            path_time[i] = self.duration(i) + best.map_or(Duration::ZERO, |d| path_time[d]);
            via[i] = best;
        }
        let mut critical_path = Vec::new();
        let mut at = (0..n).max_by_key(|&i| path_time[i]);
        let critical_path_time = at.map_or(Duration::ZERO, |i| path_time[i]);
        while let Some(i) = at {
            critical_path.push(shape.name(i));
            at = via[i];
        }
        critical_path.reverse();
        let timings = (0..n).filter_map(|i| self.engine.timing(i));
        let wall = timings
            .map(|(_, e)| e - self.engine.started)
            .max()
            .unwrap_or_default();
        let task_time: Duration = (0..n).map(|i| self.duration(i)).sum();
        Stats {
            wall,
            task_time,
            parallelism: if wall.is_zero() {
                0.0
            } else {
                task_time.as_secs_f64() / wall.as_secs_f64()
            },
            critical_path_time,
            critical_path,
            ran: (0..n).filter(|&i| self.engine.timing(i).is_some()).count(),
        }
    }

    /// The graph in Graphviz DOT, each node labelled with its state and measured duration.
    pub fn to_dot(&self) -> String {
        let shape = &self.engine.shape;
        let names: Vec<String> = (0..shape.len()).map(|i| shape.name(i)).collect();
        let names = &names;
        let nodes = (0..shape.len()).map(|i| {
            let phase = self.engine.phase(i);
            let state = match self.engine.failure(i) {
                Some(e) => format!("{phase:?}: {e}"),
                None => format!("{phase:?}"),
            };
            let extra = match self.engine.timing(i) {
                Some((s, e)) => format!("{state}, {:.3} ms", (e - s).as_secs_f64() * 1e3),
                None => state,
            };
            (names[i].as_str(), extra)
        });
        let edges = (0..shape.len()).flat_map(|i| {
            shape
                .deps(i)
                .iter()
                .map(move |&d| (names[d as usize].as_str(), names[i].as_str()))
        });
        dot(nodes, edges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(names: &[&str], deps: &[&[u32]]) -> Shape {
        let mut starts = vec![0u32];
        let mut list = Vec::new();
        for d in deps {
            list.extend_from_slice(d);
            starts.push(list.len() as u32);
        }
        Shape {
            names: names.iter().map(|&n| Some(n.into())).collect(),
            starts,
            deps: list,
        }
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        // 0 <- 1 <- 2, 0 <- 2
        let order = topological_order(&shape(&["a", "b", "c"], &[&[], &[0], &[1, 0]])).unwrap();
        assert_eq!(order, [0, 1, 2]);
    }

    #[test]
    fn cycle_is_named_in_execution_order() {
        // a needs c, b needs a, c needs b: a -> b -> c -> a.
        let err = topological_order(&shape(&["a", "b", "c"], &[&[2], &[0], &[1]])).unwrap_err();
        assert_eq!(
            err,
            Error::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let err = topological_order(&shape(&["self"], &[&[0]])).unwrap_err();
        assert_eq!(err, Error::Cycle(vec!["self".into(), "self".into()]));
    }

    #[test]
    fn dot_quotes_names() {
        let d = dot(
            [("a\"b", String::new())].into_iter(),
            [("x", "a\"b")].into_iter(),
        );
        assert!(d.contains("\"a\\\"b\";"), "{d}");
        assert!(d.contains("\"x\" -> \"a\\\"b\";"), "{d}");
    }
}
