//! Deadlock-detecting locks.
//!
//! [`Mutex`] is a named `std::sync::Mutex` that refuses, with a [`Deadlock`] error, an acquisition
//! that could deadlock, *before* the thread blocks. It keeps a process-wide **lock-order graph**
//! (see [`wait_for`]): an edge `A -> B` says that some thread acquired `B` while holding `A`. An
//! acquisition of `L` while holding `H` adds the edge `H -> L`; if `L` already reaches `H`, the
//! edge would close a cycle, and the acquisition returns `Err(Deadlock)` naming the locks along the
//! cycle, the thread that set each edge, who holds each lock now and who is waiting for one.
//!
//! # What it promises
//!
//! - **No deadlock among these locks goes unreported.** A real deadlock needs every thread in it to
//!   be waiting for a lock held by the next; each of those waits added its edge before blocking
//!   (under one registry lock, so the edges form in some order), and the last one closes the cycle
//!   and is refused. That thread gets the error and can back off; the others proceed.
//! - **Potential deadlocks are reported too**, as Linux's lockdep does: taking `A` then `B` in one
//!   thread and `B` then `A` in another is refused even if the two never overlapped, because a
//!   different interleaving would hang. The order graph keeps what it learned until a lock is
//!   dropped. Locking one `Mutex` twice in a thread is a cycle of one.
//! - [`Mutex::try_lock`] never blocks, so it checks no order and adds no edges.
//! - **Cost when no cycle exists:** a lock taken while holding no other lock touches only
//!   thread-local state and the mutex; a nested acquisition whose order this thread has already
//!   recorded adds one thread-local hash lookup. Only a first-seen order, or a wait for a contended
//!   lock, takes the registry's global lock.
//! - A [`set_deadlock_handler`] hook sees every report before it is returned (to log it, or to
//!   panic or abort if you prefer that to an error).
//! - Poisoning is not an error: a lock whose holder panicked is handed over as it is, as the rest
//!   of concur does with its own locks.
//!
//! Waits on [`Handle`](crate::Handle)s between tasks are checked the same way (see
//! `handle_waits`): a task that would wait on a handle whose task (transitively) waits on it gets
//! [`Error::Deadlock`](crate::Error::Deadlock) instead of a hang.

pub(crate) mod handle_waits;
mod mutex;
pub mod wait_for;

pub use mutex::{Mutex, MutexGuard};
pub use wait_for::{clear_deadlock_handler, set_deadlock_handler, Deadlock, LockOrder};
