//! # concur: Python's `concurrent.futures`, done right, for Rust
//!
//! Submit work to a pool and get a [`Handle`] back at once; then wait on one handle, on many as
//! they complete ([`as_completed`]), or until the first failure ([`wait`](fn@wait)). The same calls work
//! over a [`ThreadPool`], a crash-isolated process pool and an MPI cluster, because every pool
//! implements [`Executor`]: switching is choosing another executor, a one-line change.
//!
//! Unlike Python's pools, a task may wait on a task it submitted without deadlocking the pool,
//! a panicking task fails only its own handle, and `map` is lazy and bounded, so it runs over an
//! endless iterator in constant memory.
//!
//! ```
//! use concur::{as_completed, Executor, ThreadPool};
//!
//! // A plain function, registered so that any executor (even another process) can run it.
//! fn is_prime(n: u64) -> bool {
//!     n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
//! }
//! concur::task! { static IS_PRIME: fn(u64) -> bool = is_prime; }
//!
//! let pool = ThreadPool::new(2)?;
//!
//! // map: results in input order, computed in parallel.
//! let flags: Vec<bool> = pool.map_task(&IS_PRIME, [7, 8, 97]).collect::<Result<_, _>>()?;
//! assert_eq!(flags, [true, false, true]);
//!
//! // submit + as_completed: results as they finish.
//! let handles: Vec<_> = [11u64, 12].iter().map(|&n| pool.submit(move || (n, is_prime(n)))).collect::<Result<_, _>>()?;
//! for handle in as_completed(handles, None) {
//!     let (n, prime) = handle?.result()?;
//!     println!("{n} is prime: {prime}");
//! }
//!
//! // A failing task is an error on its handle, never a crash of the pool.
//! let bad = pool.submit(|| -> u64 { panic!("no such book") })?;
//! assert_eq!(bad.result(), Err(concur::Error::Panicked("no such book".into())));
//! # Ok::<(), concur::Error>(())
//! ```
//!
//! Module map: [`handle`] (the handle's state machine), [`wait`](mod@wait) (waiting on many),
//! [`executor`] (the trait and `map`), [`task`](mod@task) (registering functions by name),
//! [`thread_pool`], [`process`] (crash-isolated worker processes; binaries call [`init`] first
//! in `main`), [`sequential`], [`trace`] (timelines), [`error`].

#![deny(missing_docs)]

pub mod error;
pub mod executor;
pub mod graph;
pub mod handle;
pub mod process;
pub mod sequential;
pub mod split;
pub mod sync;
pub mod task;
pub mod thread_pool;
pub mod trace;
pub mod wait;

pub use error::{Error, ItemResult, Result};
pub use executor::{ChunkHandle, Executor, Map};
pub use graph::{after, submit_after, Graph};
#[cfg(not(concur_loom))]
pub use handle::block_on;
pub use handle::{callback_panics, Handle, HandleFuture, Promise, State};
pub use process::{init, ProcessPool, ProcessPoolBuilder};
pub use sequential::{Sequential, TracedSequential};
pub use split::{CancelToken, FirstFound};
pub use task::{TaskFn, Wire};
pub use thread_pool::{ThreadPool, ThreadPoolBuilder};
pub use trace::{TaskEvent, Trace};
pub use wait::{as_completed, wait, AsCompleted, ReturnWhen};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
