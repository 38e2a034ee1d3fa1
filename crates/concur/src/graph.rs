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
//! [`Graph`] names every node and lets a node name dependencies declared after it; [`Graph::run`]
//! rejects a cycle with [`Error::Cycle`] naming it, then submits every node as above. A
//! [`GraphRun`] gives each node's handle, a Graphviz export, and [`Stats`]: the critical path by
//! measured task durations and the achieved parallelism.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{panic_message, Error, Result};
use crate::executor::Executor;
use crate::handle::{Handle, Promise};
use crate::task::{TaskFn, Wire};
use crate::thread_pool::{Spawner, ThreadPool};

/// How the dependencies of one task are named in its errors.
#[derive(Clone)]
enum Labels {
    /// By position: `#0`, `#1`, ...
    Positional,
    /// By graph node name.
    Named(Arc<[Arc<str>]>, Vec<usize>),
}

impl Labels {
    fn name(&self, i: usize) -> String {
        match self {
            Labels::Positional => format!("#{i}"),
            Labels::Named(names, deps) => names[deps[i]].to_string(),
        }
    }
}

struct Gather<D, O: Send + 'static, S> {
    slots: Vec<Option<D>>,
    remaining: usize,
    /// Taken by whichever arrival settles the dependent: the last success, or the first failure.
    pending: Option<(S, Promise<O>)>,
    labels: Labels,
}

/// Calls `start(results, promise)` once every handle in `deps` has a value, or fails `promise`
/// (naming the dependency) as soon as one of them fails or is cancelled.
fn gather<D, O, S>(deps: Vec<Handle<D>>, labels: Labels, promise: Promise<O>, start: S)
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
                Err(cause) => return fail(promise, labels.name(i), dep.cancelled(), cause),
            }
        }
        return settle(move || start(values, promise));
    }
    let state = Arc::new(Mutex::new(Gather {
        slots: (0..deps.len()).map(|_| None).collect(),
        remaining: deps.len(),
        pending: Some((start, promise)),
        labels,
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
            let name = g.labels.name(i);
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
    gather(
        deps.into_iter().collect(),
        Labels::Positional,
        promise,
        submit_with(start),
    );
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
            Labels::Positional,
            promise,
            move |values, promise| spawner.spawn(promise, move || f(values)),
        );
        handle
    }
}

type BoxedSubmit<V> = Box<dyn FnOnce(Vec<V>) -> Result<Handle<V>> + Send>;
type BoxedFn<V> = Box<dyn FnOnce(Vec<V>) -> V + Send>;

enum Work<V> {
    /// A closure on a thread pool: timed inside the task.
    Closure(Spawner, BoxedFn<V>),
    /// Anything submitted through a handle: timed from submission to completion.
    Submit(BoxedSubmit<V>),
}

struct Node<V> {
    deps: Vec<String>,
    work: Work<V>,
}

/// A DAG of named tasks declared up front, every node producing a `V`.
///
/// A node may name dependencies declared after it. [`run`](Graph::run) checks the whole graph
/// (unknown names and cycles are errors, named), then submits every node; each starts when its
/// dependencies have values and receives them in the order it named them.
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
/// # Ok::<(), concur::Error>(())
/// ```
pub struct Graph<V> {
    names: Vec<Arc<str>>,
    nodes: Vec<Node<V>>,
    index: HashMap<Arc<str>, usize>,
}

impl<V> Default for Graph<V> {
    fn default() -> Self {
        Graph {
            names: Vec::new(),
            nodes: Vec::new(),
            index: HashMap::new(),
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
        self.nodes.len()
    }

    /// Whether no node is declared.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn add(&mut self, name: &str, deps: &[&str], work: Work<V>) -> Result<&mut Self> {
        if self.index.contains_key(name) {
            return Err(Error::Config(format!(
                "graph node `{name}` is declared twice"
            )));
        }
        let name: Arc<str> = name.into();
        self.index.insert(name.clone(), self.nodes.len());
        self.names.push(name);
        self.nodes.push(Node {
            deps: deps.iter().map(|d| (*d).to_owned()).collect(),
            work,
        });
        Ok(self)
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
        self.add(name, deps, Work::Closure(pool.spawner(), Box::new(f)))
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
        self.add(name, deps, Work::Submit(Box::new(submit)))
    }

    /// Declares node `name` submitted by `start` (see [`after`]). Timed from submission to
    /// completion.
    pub fn add_with(
        &mut self,
        name: &str,
        deps: &[&str],
        start: impl FnOnce(Vec<V>) -> Result<Handle<V>> + Send + 'static,
    ) -> Result<&mut Self> {
        self.add(name, deps, Work::Submit(Box::new(start)))
    }

    /// Resolves dependency names to indices, or names the first unknown one.
    fn edges(&self) -> Result<Vec<Vec<usize>>> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                node.deps
                    .iter()
                    .map(|d| {
                        self.index.get(d.as_str()).copied().ok_or_else(|| {
                            Error::Config(format!(
                                "graph node `{}` depends on `{d}`, which is not declared",
                                self.names[i]
                            ))
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The graph in Graphviz DOT: one edge from each dependency to its dependent. Unknown
    /// dependency names appear as nodes of their own.
    pub fn to_dot(&self) -> String {
        let edges = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(i, node)| node.deps.iter().map(move |d| (d.as_str(), &*self.names[i])));
        dot(self.names.iter().map(|n| (&**n, String::new())), edges)
    }

    /// Checks the graph and submits every node; fails, submitting nothing, on an unknown
    /// dependency ([`Error::Config`]) or a cycle ([`Error::Cycle`], naming it).
    pub fn run(self) -> Result<GraphRun<V>> {
        let deps = self.edges()?;
        let order = topological_order(&deps, &self.names)?;
        let names: Arc<[Arc<str>]> = self.names.into();
        let timings: Arc<[Timing]> = (0..names.len()).map(|_| Timing::default()).collect();
        let started = Instant::now();
        let mut work: Vec<Option<Work<V>>> = self.nodes.into_iter().map(|n| Some(n.work)).collect();
        let mut handles: Vec<Option<Handle<V>>> = (0..names.len()).map(|_| None).collect();
        for &i in &order {
            let dep_handles = deps[i]
                .iter()
                .map(|&d| {
                    handles[d]
                        .clone()
                        .expect("dependencies come first in topological order")
                })
                .collect();
            let labels = Labels::Named(names.clone(), deps[i].clone());
            let (promise, handle) = Promise::new();
            let timings = timings.clone();
            match work[i].take().expect("each node runs once") {
                Work::Closure(spawner, f) => {
                    gather(dep_handles, labels, promise, move |values, promise| {
                        spawner.spawn(promise, move || {
                            let start = Instant::now();
                            let value = catch_unwind(AssertUnwindSafe(|| f(values)));
                            timings[i].set(start, Instant::now());
                            // The pool turns a panic into the handle's error, as for any task.
                            value.unwrap_or_else(|p| resume_unwind(p))
                        })
                    })
                }
                Work::Submit(start) => {
                    let start = move |values| {
                        let submitted = Instant::now();
                        let inner = start(values)?;
                        inner.add_done_callback(move |_| timings[i].set(submitted, Instant::now()));
                        Ok(inner)
                    };
                    gather(dep_handles, labels, promise, submit_with(start));
                }
            }
            handles[i] = Some(handle);
        }
        Ok(GraphRun {
            index: self.index,
            names,
            deps,
            order,
            handles: handles
                .into_iter()
                .map(|h| h.expect("every node submitted"))
                .collect(),
            timings,
            started,
        })
    }
}

/// When a node's task ran.
#[derive(Default)]
struct Timing(OnceLock<(Instant, Instant)>);

impl Timing {
    fn set(&self, start: Instant, end: Instant) {
        let _ = self.0.set((start, end));
    }

    fn get(&self) -> Option<(Instant, Instant)> {
        self.0.get().copied()
    }
}

/// A topological order of `deps` (node -> its dependencies), or the first cycle found, named.
fn topological_order(deps: &[Vec<usize>], names: &[Arc<str>]) -> Result<Vec<usize>> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut mark = vec![NEW; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    // Iterative depth-first search: (node, next dependency to visit).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..deps.len() {
        if mark[root] != NEW {
            continue;
        }
        mark[root] = OPEN;
        stack.push((root, 0));
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
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
                        let mut cycle = vec![names[dep].to_string()];
                        cycle.extend(
                            stack[from + 1..]
                                .iter()
                                .rev()
                                .map(|&(n, _)| names[n].to_string()),
                        );
                        cycle.push(names[dep].to_string());
                        return Err(Error::Cycle(cycle));
                    }
                    _ => {}
                }
            } else {
                mark[node] = DONE;
                order.push(node);
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

/// A submitted [`Graph`]: each node's handle, and statistics once it is done.
pub struct GraphRun<V> {
    index: HashMap<Arc<str>, usize>,
    names: Arc<[Arc<str>]>,
    deps: Vec<Vec<usize>>,
    order: Vec<usize>,
    handles: Vec<Handle<V>>,
    timings: Arc<[Timing]>,
    started: Instant,
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
    /// The handle of node `name`.
    pub fn handle(&self, name: &str) -> Option<&Handle<V>> {
        self.index.get(name).map(|&i| &self.handles[i])
    }

    /// Every node's name and handle, in declaration order.
    pub fn handles(&self) -> impl Iterator<Item = (&str, &Handle<V>)> {
        self.names.iter().map(|n| &**n).zip(&self.handles)
    }

    /// Blocks until every node is done.
    pub fn wait(&self) {
        for h in &self.handles {
            h.wait();
        }
    }

    fn duration(&self, i: usize) -> Duration {
        self.timings[i].get().map_or(Duration::ZERO, |(s, e)| e - s)
    }

    /// Waits for every node, then measures the run.
    pub fn stats(&self) -> Stats {
        self.wait();
        let n = self.names.len();
        let mut path_time = vec![Duration::ZERO; n];
        let mut via: Vec<Option<usize>> = vec![None; n];
        for &i in &self.order {
            let best = self.deps[i].iter().copied().max_by_key(|&d| path_time[d]);
            path_time[i] = self.duration(i) + best.map_or(Duration::ZERO, |d| path_time[d]);
            via[i] = best;
        }
        let mut critical_path = Vec::new();
        let mut at = (0..n).max_by_key(|&i| path_time[i]);
        let critical_path_time = at.map_or(Duration::ZERO, |i| path_time[i]);
        while let Some(i) = at {
            critical_path.push(self.names[i].to_string());
            at = via[i];
        }
        critical_path.reverse();
        let ends = self.timings.iter().filter_map(Timing::get);
        let wall = ends
            .map(|(_, e)| e - self.started)
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
            ran: self.timings.iter().filter(|t| t.get().is_some()).count(),
        }
    }

    /// The graph in Graphviz DOT, each node labelled with its state and measured duration.
    pub fn to_dot(&self) -> String {
        let nodes = (0..self.names.len()).map(|i| {
            let state = match self.handles[i].failure() {
                Some(e) => format!("{:?}: {e}", self.handles[i].state()),
                None => format!("{:?}", self.handles[i].state()),
            };
            let extra = match self.timings[i].get() {
                Some((s, e)) => format!("{state}, {:.3} ms", (e - s).as_secs_f64() * 1e3),
                None => state,
            };
            (&*self.names[i], extra)
        });
        let edges = self
            .deps
            .iter()
            .enumerate()
            .flat_map(|(i, ds)| ds.iter().map(move |&d| (&*self.names[d], &*self.names[i])));
        dot(nodes, edges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ns: &[&str]) -> Vec<Arc<str>> {
        ns.iter().map(|&n| n.into()).collect()
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        // 0 <- 1 <- 2, 0 <- 2
        let order =
            topological_order(&[vec![], vec![0], vec![1, 0]], &names(&["a", "b", "c"])).unwrap();
        assert_eq!(order, [0, 1, 2]);
    }

    #[test]
    fn cycle_is_named_in_execution_order() {
        // a needs c, b needs a, c needs b: a -> b -> c -> a.
        let err =
            topological_order(&[vec![2], vec![0], vec![1]], &names(&["a", "b", "c"])).unwrap_err();
        assert_eq!(
            err,
            Error::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let err = topological_order(&[vec![0]], &names(&["self"])).unwrap_err();
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
