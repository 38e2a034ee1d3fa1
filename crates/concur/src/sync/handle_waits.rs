#![cfg_attr(concur_loom, allow(dead_code))]
//! Waits between handles, in the wait-for graph: a task that would wait on a handle whose task
//! (transitively) waits on it gets [`Error::Deadlock`] instead of a hang.
//!
//! It owns two kinds of edge, both temporary (a wait, unlike a lock order, ends):
//! - **waits**: while a thread running the task of handle `G` blocks on handle `H`, the edge
//!   `G -> H`;
//! - **nesting**: while a pool worker that is waiting inside task `G` runs another queued task `C`
//!   on the same stack (see `ThreadPool`'s no-deadlock promise), the edge `G -> C`: `G` cannot
//!   resume until `C` returns.
//!
//! A wait from `G` on `H` is refused if `H` already reaches `G`. The check and the insert happen
//! under one lock, so of any set of waits that would close a cycle, the last one is refused. Only
//! threads running a task add edges (a plain thread blocking on a handle cannot be part of a
//! cycle of tasks), so programs that never wait inside tasks never take the lock. Waits through
//! [`as_completed`](crate::as_completed) and [`wait`](crate::wait) are not checked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

/// Task (handle id) -> the handles it waits for, each with the waiting thread's name.
type Edges = HashMap<usize, Vec<(usize, String)>>;

fn edges() -> &'static Mutex<Edges> {
    static EDGES: OnceLock<Mutex<Edges>> = OnceLock::new();
    EDGES.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, Edges> {
    edges().lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// Handle ids of the tasks this thread is running, innermost last.
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn thread_name() -> String {
    let t = std::thread::current();
    t.name()
        .map_or_else(|| format!("{:?}", t.id()), str::to_owned)
}

fn remove(from: usize, to: usize) {
    let mut edges = lock();
    if let Some(out) = edges.get_mut(&from) {
        if let Some(i) = out.iter().position(|(t, _)| *t == to) {
            out.swap_remove(i);
        }
        if out.is_empty() {
            edges.remove(&from);
        }
    }
}

/// Marks this thread as running the task of handle `task` until the guard drops.
pub(crate) fn running(task: usize) -> Running {
    let parent = RUNNING.with(|r| {
        let mut r = r.borrow_mut();
        let parent = r.last().copied();
        r.push(task);
        parent
    });
    if let Some(parent) = parent {
        lock()
            .entry(parent)
            .or_default()
            .push((task, thread_name()));
    }
    Running { parent, task }
}

/// See [`running`].
pub(crate) struct Running {
    parent: Option<usize>,
    task: usize,
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.borrow_mut().pop());
        if let Some(parent) = self.parent {
            remove(parent, self.task);
        }
    }
}

/// Records that the current task waits on handle `target`, or refuses with [`Error::Deadlock`]
/// if `target` (transitively) waits on the current task. `None` on a thread running no task.
pub(crate) fn begin_wait(target: usize) -> Result<Option<Waiting>> {
    let Some(me) = RUNNING.with(|r| r.borrow().last().copied()) else {
        return Ok(None);
    };
    let mut edges = lock();
    if let Some(path) = path(&edges, target, me) {
        return Err(Error::Deadlock(format!(
            "thread `{}` would wait for a task that waits for the task it is running{}",
            thread_name(),
            if path.is_empty() {
                String::new()
            } else {
                format!(" (through threads {})", path.join(", "))
            }
        )));
    }
    edges.entry(me).or_default().push((target, thread_name()));
    Ok(Some(Waiting {
        from: me,
        to: target,
    }))
}

/// The threads along a path of edges from `from` to `to`, if there is one (depth first).
fn path(edges: &Edges, from: usize, to: usize) -> Option<Vec<String>> {
    let mut stack = vec![(from, Vec::new())];
    let mut seen = std::collections::HashSet::new();
    while let Some((node, threads)) = stack.pop() {
        if node == to {
            return Some(threads);
        }
        if !seen.insert(node) {
            continue;
        }
        for (next, thread) in edges.get(&node).into_iter().flatten() {
            let mut t = threads.clone();
            t.push(format!("`{thread}`"));
            stack.push((*next, t));
        }
    }
    None
}

/// A recorded wait; dropping it removes the edge.
pub(crate) struct Waiting {
    from: usize,
    to: usize,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        remove(self.from, self.to);
    }
}
