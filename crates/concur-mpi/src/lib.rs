//! # concur-mpi: concur's [`Executor`](concur::Executor) over MPI ranks
//!
//! The same program runs on every rank of an MPI job (`mpirun -n 4 ./program`). Rank 0 runs the
//! user's `main` and schedules work; every other rank serves registered tasks (see
//! [`concur::task!`]) by name, exactly as a [`concur::ProcessPool`] worker does, with the same
//! postcard messages ([`concur::process::wire`]) carried by MPI point-to-point messages instead
//! of a socket. Code written against `Executor` (`map_task`, `map_task_unordered`,
//! `submit_task`, [`concur::as_completed`], [`concur::wait()`]) runs unchanged.
//!
//! ```no_run
//! use concur::Executor;
//!
//! fn is_prime(n: u64) -> bool {
//!     n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
//! }
//! concur::task! { static IS_PRIME: fn(u64) -> bool = is_prime; }
//!
//! fn main() -> concur::Result<()> {
//!     // On ranks 1.. this serves tasks until rank 0 drops the pool, then exits with status 0.
//!     let pool = concur_mpi::MpiPool::start()?;
//!     let flags: Vec<bool> = pool.map_task(&IS_PRIME, [7, 8, 97]).collect::<Result<_, _>>()?;
//!     assert_eq!(flags, [true, false, true]);
//!     Ok(()) // dropping the pool stops every worker rank and finalizes MPI on every rank
//! }
//! ```
//!
//! Module map: [`pool`] (the executor and its promises), `scheduler` (rank 0's loop), `worker`
//! (the loop of ranks 1..), `backoff` (how idle ranks wait without burning a core). The seed's
//! experiments over MPI are the CLI's `concur … --mode mpi` (`concur-cli --features mpi`).

#![deny(missing_docs)]

mod backoff;
pub mod pool;
mod scheduler;
mod worker;

use std::sync::OnceLock;

pub use pool::{MpiPool, MpiPoolBuilder};

static RANK: OnceLock<i32> = OnceLock::new();

/// This process's rank in `MPI_COMM_WORLD`, once [`MpiPool::start`] has initialized MPI (tasks
/// running on a worker rank see their rank); `None` before.
pub fn rank() -> Option<i32> {
    RANK.get().copied()
}
