//! Timelines: what ran where, and when.
//!
//! An executor built with tracing on records one [`TaskEvent`] per task it ran: when it was
//! submitted, started and finished (as offsets from the trace's start), which worker ran it (a
//! thread index, a process id, an MPI rank), its label and its outcome. Tracing is off by default
//! and then costs one untaken branch per task.
//!
//! # Cost and memory
//!
//! Events are buffered in one shard per worker, each behind its own mutex that only that worker
//! and [`Trace::events`] ever take, so recording never contends between workers. Memory grows by
//! one event (about 80 bytes) per task until [`Trace::clear`].
//!
//! [`Trace::to_chrome_json`] writes the Chrome trace-event format (one complete `"ph": "X"` event
//! per task, one row per worker), which Perfetto and `chrome://tracing` open.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Which worker ran a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Worker {
    /// The caller's own thread (the sequential executor).
    Caller,
    /// A pool thread, by index.
    Thread(usize),
    /// A worker process, by pid.
    Process(u32),
    /// An MPI rank.
    Rank(i32),
}

impl std::fmt::Display for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Worker::Caller => write!(f, "caller"),
            Worker::Thread(i) => write!(f, "thread {i}"),
            Worker::Process(pid) => write!(f, "pid {pid}"),
            Worker::Rank(r) => write!(f, "rank {r}"),
        }
    }
}

/// How a traced task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It produced a value.
    Ok,
    /// It failed; the error's text.
    Failed(String),
}

impl Outcome {
    /// `Failed` with the text of `error` if there is one, else `Ok`: how every executor turns a
    /// task's result into its timeline outcome (`Outcome::failed_if(result.as_ref().err())`).
    ///
    /// ```
    /// use concur::trace::Outcome;
    /// let failed: Result<u8, String> = Err("no such book".into());
    /// assert_eq!(Outcome::failed_if(failed.as_ref().err()), Outcome::Failed("no such book".into()));
    /// assert_eq!(Outcome::failed_if(None::<String>), Outcome::Ok);
    /// ```
    pub fn failed_if<E: std::fmt::Display>(error: Option<E>) -> Outcome {
        error.map_or(Outcome::Ok, |e| Outcome::Failed(e.to_string()))
    }
}

/// One task's life on the timeline. Times are offsets from the trace's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The task's sequence number in this trace (submission order).
    pub id: u64,
    /// What ran: a registered task's name, or `"closure"` (borrowed when static, so recording
    /// a task allocates nothing for its label).
    pub label: Cow<'static, str>,
    /// Who ran it.
    pub worker: Worker,
    /// When it was submitted.
    pub submitted: Duration,
    /// When a worker started it.
    pub started: Duration,
    /// When it ended.
    pub finished: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// A recorder shared by an executor's workers. Create one per run you want to look at.
///
/// ```
/// let pool = concur::ThreadPool::builder().workers(2).trace(true).build().unwrap();
/// for i in 0..4 {
///     pool.submit(move || i * 2).unwrap().wait();
/// }
/// let trace = pool.trace().unwrap();
/// let events = trace.events();
/// assert_eq!(events.len(), 4);
/// assert!(events.iter().all(|e| e.submitted <= e.started && e.started <= e.finished));
/// let json: serde_json::Value = serde_json::from_str(&trace.to_chrome_json()).unwrap();
/// let tasks = json["traceEvents"].as_array().unwrap().iter().filter(|e| e["ph"] == "X").count();
/// assert_eq!(tasks, 4); // one complete event per task (plus one name event per worker row)
/// ```
#[derive(Debug)]
pub struct Trace {
    epoch: Instant,
    next_id: std::sync::atomic::AtomicU64,
    shards: Vec<Mutex<Vec<TaskEvent>>>,
}

impl Trace {
    /// A trace starting now, with one shard per worker (at least one).
    pub fn new(shards: usize) -> Trace {
        Trace {
            epoch: Instant::now(),
            next_id: std::sync::atomic::AtomicU64::new(0),
            shards: (0..shards.max(1)).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// The instant offsets are measured from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// A fresh task id, in submission order.
    pub fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Offset of `at` from the trace's start (zero if before it).
    pub fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.epoch)
    }

    /// Records one event in `shard` (taken modulo the shard count).
    pub fn record(&self, shard: usize, event: TaskEvent) {
        let shard = &self.shards[shard % self.shards.len()];
        shard.lock().unwrap_or_else(|e| e.into_inner()).push(event);
    }

    /// Runs `call` on this thread and records it as one task of `worker` named `label` (submitted
    /// when it starts: nothing queued it), with the outcome `outcome` reads from its output. For
    /// work that runs outside any executor (the caller's own share, a plain thread).
    ///
    /// ```
    /// use concur::trace::{Outcome, Trace, Worker};
    /// let trace = Trace::new(1);
    /// let sum = trace.time(Worker::Caller, "sum", || (1..=9).sum::<u32>(), |_| Outcome::Ok);
    /// assert_eq!(sum, 45);
    /// assert_eq!(trace.events()[0].label, "sum");
    /// ```
    pub fn time<R>(
        &self,
        worker: Worker,
        label: impl Into<Cow<'static, str>>,
        call: impl FnOnce() -> R,
        outcome: impl FnOnce(&R) -> Outcome,
    ) -> R {
        let (id, started) = (self.next_id(), Instant::now());
        let output = call();
        let started = self.offset(started);
        let event = TaskEvent {
            id,
            label: label.into(),
            worker,
            submitted: started,
            started,
            finished: self.offset(Instant::now()),
            outcome: outcome(&output),
        };
        let shard = match worker {
            Worker::Thread(i) => i,
            _ => 0,
        };
        self.record(shard, event);
        output
    }

    /// Every event so far, ordered by start time.
    pub fn events(&self) -> Vec<TaskEvent> {
        let mut all: Vec<TaskEvent> = self
            .shards
            .iter()
            .flat_map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect();
        all.sort_by_key(|e| (e.started, e.id));
        all
    }

    /// Forgets every event; the clock keeps running.
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// The events in Chrome's trace-event JSON format: one complete event per task (µs), with
    /// the worker as the row and the outcome and queueing delay as arguments, plus a name for
    /// each row.
    pub fn to_chrome_json(&self) -> String {
        chrome_json(&self.events())
    }
}

/// Chrome trace-event JSON for any list of events (for example a trace read back from a file).
pub fn chrome_json(events: &[TaskEvent]) -> String {
    let row = |w: &Worker| -> (u64, u64) {
        match *w {
            Worker::Caller => (0, 0),
            Worker::Thread(i) => (1, i as u64),
            Worker::Process(pid) => (u64::from(pid), 0),
            Worker::Rank(r) => (2, r as u64),
        }
    };
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mut rows: Vec<Worker> = events.iter().map(|e| e.worker).collect();
    rows.sort();
    rows.dedup();
    let mut out: Vec<serde_json::Value> = rows
        .iter()
        .map(|w| {
            let (pid, tid) = row(w);
            serde_json::json!({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": w.to_string()}})
        })
        .collect();
    out.extend(events.iter().map(|e| {
        let (pid, tid) = row(&e.worker);
        let outcome = match &e.outcome {
            Outcome::Ok => "ok".to_string(),
            Outcome::Failed(why) => format!("failed: {why}"),
        };
        serde_json::json!({
            "name": e.label, "cat": "task", "ph": "X", "pid": pid, "tid": tid,
            "ts": micros(e.started), "dur": micros(e.finished.saturating_sub(e.started)),
            "args": {"id": e.id, "outcome": outcome, "queued_us": micros(e.started.saturating_sub(e.submitted))}
        })
    }));
    serde_json::json!({"traceEvents": out, "displayTimeUnit": "ms"}).to_string()
}
