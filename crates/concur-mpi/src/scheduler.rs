//! Rank 0's loop: hand queued work to idle worker ranks and complete handles from their answers.
//!
//! It runs on the pool's MPI thread, the only thread that makes MPI calls. Each turn it takes
//! every order from the pool's channel (new work, stop), receives every message the worker ranks
//! have sent (`MPI_Improbe`, so any sender, any size), then gives the head of the queue to an
//! idle rank, most recently idle first. A rank runs one unit at a time, so work is handed out
//! dynamically, as ranks free up.
//!
//! It sleeps only when there is nothing to do: blocked on the channel while no rank owes it an
//! answer, otherwise polling with `backoff` (waking at once for a new order). It ends when the
//! pool has stopped, the queue is empty, no rank is running anything, and every rank has said
//! `Hello` (so no message is left unreceived at `MPI_Finalize`); then it sends every worker rank
//! `Exit`.
//!
//! A rank that answers out of protocol (another concur version, a message when it runs nothing)
//! fails the task it ran with [`Error::Wire`] naming the rank and pid, and gets no more work; if
//! no rank is left, queued and later work fails with [`Error::Broken`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use concur::process::wire::{self, ToParent, ToWorker};
use concur::trace::{Outcome, TaskEvent, Worker};
use concur::{task, Error, Result, Trace};
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::topology::{Communicator, Rank, SimpleCommunicator};

use crate::backoff::Backoff;
use crate::pool::{Job, Order};
use crate::worker::message;

struct Scheduler {
    size: Rank,
    queue: VecDeque<Job>,
    /// Ranks waiting for work; the last is the most recently idle.
    idle: Vec<Rank>,
    /// What each rank runs and since when, by rank (index 0 unused).
    running: Vec<Option<(Job, Instant)>>,
    /// Each rank's pid, from its `Hello`.
    pids: Vec<Option<u32>>,
    hellos: Rank,
    /// Ranks that broke the protocol and get no more work.
    lost: Rank,
    broken: Option<String>,
    closed: bool,
    trace: Option<Arc<Trace>>,
}

impl Scheduler {
    fn take(&mut self, order: Order) {
        match order {
            Order::Run(job) if self.closed => drop(job), // its handle resolves as `Shutdown`
            Order::Run(job) => match &self.broken {
                Some(why) => job.done.finish(Err(Error::Broken(why.clone()))),
                None => self.queue.push_back(job),
            },
            Order::Stop { cancel_pending } => {
                self.closed = true;
                if cancel_pending {
                    for job in self.queue.drain(..) {
                        job.done.cancel();
                    }
                }
            }
        }
    }

    /// Records `job`'s event (if tracing) and completes its handle.
    fn finish(&self, job: Job, rank: Rank, started: Instant, outcome: Result<&[u8]>) {
        if let (Some(trace), Some((id, submitted))) = (&self.trace, job.traced) {
            trace.record(
                rank as usize,
                TaskEvent {
                    id,
                    label: job.task.into(),
                    worker: Worker::Rank(rank),
                    submitted: trace.offset(submitted),
                    started: trace.offset(started),
                    finished: trace.offset(Instant::now()),
                    outcome: Outcome::failed_if(outcome.as_ref().err()),
                },
            );
        }
        job.done.finish(outcome);
    }

    fn in_flight(&self) -> bool {
        self.hellos < self.size - 1 || self.running.iter().any(Option::is_some)
    }

    fn finished(&self) -> bool {
        self.closed && self.queue.is_empty() && !self.in_flight()
    }

    fn who(&self, rank: Rank) -> String {
        match self.pids.get(rank as usize).copied().flatten() {
            Some(pid) => format!("rank {rank} (pid {pid})"),
            None => format!("rank {rank}"),
        }
    }

    /// A message from `rank`.
    fn reply(&mut self, rank: Rank, bytes: &[u8]) {
        let Some(slot) = self.running.get_mut(rank as usize) else {
            return;
        };
        let job = slot.take();
        let outcome = match wire::decode::<ToParent>(bytes) {
            Ok((ToParent::Hello { protocol, pid }, _)) if job.is_none() => {
                self.pids[rank as usize] = Some(pid);
                self.hellos += 1;
                if protocol == wire::PROTOCOL {
                    self.idle.push(rank);
                    return;
                }
                Err(format!(
                    "speaks protocol {protocol}, rank 0 speaks {}: every rank must run the same program",
                    wire::PROTOCOL
                ))
            }
            Ok((ToParent::Done, payload)) if job.is_some() => Ok(Ok(payload)),
            Ok((ToParent::Failed { error }, _)) if job.is_some() => Ok(Err(error)),
            Ok((other, _)) => Err(format!("sent {other:?} out of turn")),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(result) => {
                if let Some((job, started)) = job {
                    self.finish(job, rank, started, result);
                }
                self.idle.push(rank);
            }
            Err(why) => {
                let why = format!("{} {why}", self.who(rank));
                eprintln!("concur-mpi: {why}; it gets no more work");
                if let Some((job, started)) = job {
                    self.finish(job, rank, started, Err(Error::Wire(why.clone())));
                }
                self.lost += 1;
                if self.lost == self.size - 1 {
                    let why = format!("no worker rank is left: {why}");
                    for job in self.queue.drain(..) {
                        job.done.finish(Err(Error::Broken(why.clone())));
                    }
                    self.broken = Some(why);
                }
            }
        }
    }

    /// Gives queued work to idle ranks (sending it from this thread).
    fn dispatch(&mut self, world: &SimpleCommunicator) {
        while !self.queue.is_empty() {
            let Some(&rank) = self.idle.last() else {
                return;
            };
            let job = self.queue.pop_front().expect("queue is not empty");
            if !job.done.start() {
                continue; // cancelled while queued: its handle is already complete
            }
            match message(&ToWorker::Run { task: job.task }, &job.payload) {
                Ok(bytes) => {
                    self.idle.pop();
                    world.process_at_rank(rank).send(&bytes[..]);
                    self.running[rank as usize] = Some((job, Instant::now()));
                }
                Err(e) => job.done.finish(Err(e)),
            }
        }
    }

    /// A world of one rank: runs the head of the queue here, through the same bytes.
    fn run_one_locally(&mut self) {
        let Some(job) = self.queue.pop_front() else {
            return;
        };
        if job.done.start() {
            let started = Instant::now();
            let results = task::lookup(job.task).and_then(|t| t.run_chunk(&job.payload));
            self.finish(job, 0, started, results.as_deref().map_err(Clone::clone));
        }
    }
}

/// Runs rank 0's scheduler until the pool is stopped and drained, then stops every worker rank.
pub(crate) fn run(world: &SimpleCommunicator, orders: Receiver<Order>, trace: Option<Arc<Trace>>) {
    let size = world.size();
    if size == 1 {
        eprintln!(
            "concur-mpi: warning: the MPI world has 1 rank, so tasks run on rank 0 one at a time; \
             start the program with `mpirun -n N` (N >= 2) to get N-1 worker ranks"
        );
    }
    let mut s = Scheduler {
        size,
        queue: VecDeque::new(),
        idle: Vec::new(),
        running: (0..size).map(|_| None).collect(),
        pids: vec![None; size as usize],
        hellos: 0,
        lost: 0,
        broken: None,
        closed: false,
        trace,
    };
    let mut backoff = Backoff::default();
    loop {
        let mut progressed = false;
        loop {
            match orders.try_recv() {
                Ok(order) => s.take(order),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    s.closed = true;
                    break;
                }
            }
            progressed = true;
        }
        while let Some(probed) = world.any_process().immediate_matched_probe() {
            let (bytes, status) = probed.matched_receive_vec::<u8>();
            s.reply(status.source_rank(), &bytes);
            progressed = true;
        }
        if size == 1 {
            progressed |= !s.queue.is_empty();
            s.run_one_locally();
        } else {
            s.dispatch(world);
        }
        if s.finished() {
            break;
        }
        if progressed {
            backoff.reset();
            continue;
        }
        let order = if s.in_flight() {
            match backoff.next() {
                None => continue,
                Some(pause) => orders.recv_timeout(pause),
            }
        } else {
            orders.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match order {
            Ok(order) => {
                s.take(order);
                backoff.reset();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => s.closed = true,
        }
    }
    let exit = message(&ToWorker::Exit, &[]).expect("the Exit header encodes");
    for rank in 1..size {
        world.process_at_rank(rank).send(&exit[..]);
    }
}
