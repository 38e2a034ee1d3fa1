//! The seed's primes experiment over [`MpiPool`]: `mpirun -n 3 concur-mpi-primes [NUMBER...]`
//! prints, on rank 0 only, the lines `concur primes --mode sequential` prints: `N is prime: True`
//! (or `False`) for every number in input order (the seed's nine numbers by default), then
//! `Elapsed time: S.SS seconds`, which spans starting the pool to stopping it. A number that is
//! not a `u64` is an error naming it (exit status 2); every rank still finalizes MPI.

use std::process::ExitCode;
use std::time::Instant;

use concur::Executor;
use concur_mpi::primes::{IS_PRIME, SEED_NUMBERS};
use concur_mpi::MpiPool;

fn main() -> ExitCode {
    let started = Instant::now();
    // Ranks 1.. serve tasks inside `start` and exit there; only rank 0 goes on.
    let pool = match MpiPool::start() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<u64> = if args.is_empty() {
        SEED_NUMBERS.to_vec()
    } else {
        match args
            .iter()
            .map(|a| a.parse::<u64>().map_err(|_| a))
            .collect()
        {
            Ok(numbers) => numbers,
            Err(bad) => {
                eprintln!(
                    "error: {bad:?} is not a whole number from 0 to {}",
                    u64::MAX
                );
                return ExitCode::from(2);
            }
        }
    };
    let mut failed = false;
    for (n, prime) in numbers
        .iter()
        .zip(pool.map_task(&IS_PRIME, numbers.clone()))
    {
        match prime {
            Ok(prime) => println!("{n} is prime: {}", if prime { "True" } else { "False" }),
            Err(e) => {
                eprintln!("error: {n}: {e}");
                failed = true;
            }
        }
    }
    drop(pool); // stops every worker rank and finalizes MPI
    println!(
        "Elapsed time: {:.2} seconds",
        started.elapsed().as_secs_f64()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
