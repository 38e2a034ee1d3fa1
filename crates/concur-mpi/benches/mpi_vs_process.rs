//! MpiPool against ProcessPool on one machine, side by side in one run: the round trip of one
//! tiny task, chunked throughput (`map` of 10,000 tiny tasks in chunks of 100), and, with 2
//! worker ranks against 2 worker processes, the seed's primes and the seed's fingerprints of the
//! eight books (PBKDF2-HMAC-SHA512, password = the book, salt `salt`) at 100,000 iterations, a
//! tenth of the seed's, to keep the run short. The books are read from
//! `../shared/data/books` beside the repository (each rank reads them by path).
//!
//! Run it as an MPI job of 3 ranks (rank 0 schedules, ranks 1 and 2 work):
//!
//! ```text
//! CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="mpiexec -n 3" \
//!     cargo bench --manifest-path crates/concur-mpi/Cargo.toml --bench mpi_vs_process
//! ```
//!
//! Ranks 1 and 2 serve inside `MpiPool::start` and never reach criterion. The process pool's two
//! workers are this binary again, started by rank 0 (they stop in `concur::init`); while it is
//! measured the idle MPI ranks sleep in their backoff, so they take no core from it.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use concur::{Executor, ProcessPool};
use concur_mpi::MpiPool;
use criterion::{Criterion, Throughput};

fn echo(x: u64) -> u64 {
    x
}
concur::task! { static ECHO: fn(u64) -> u64 = echo; }

/// PBKDF2-HMAC-SHA512 of the book at `path`, as the seed computes it but with fewer iterations.
fn fingerprint(path: PathBuf) -> Vec<u8> {
    let book = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = vec![0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&book, b"salt", 100_000, &mut out);
    out
}
concur::task! { static FINGERPRINT: fn(PathBuf) -> Vec<u8> = fingerprint; }

/// Trial division by odd numbers up to the square root, as `concur primes` does.
fn is_prime(n: u64) -> bool {
    n == 2
        || (n > 2
            && n % 2 == 1
            && (3..)
                .step_by(2)
                .take_while(|d| d <= &(n / d))
                .all(|d| !n.is_multiple_of(d)))
}
concur::task! { static IS_PRIME: fn(u64) -> bool = is_prime; }

/// The seed's numbers, read from `../shared/data/expected/seed-primes.tsv` (number, tab, answer).
fn seed_numbers() -> Vec<(u64, bool)> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/expected/seed-primes.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let (n, prime) = line.split_once('\t').expect("number<TAB>answer");
            (n.parse().expect("a u64"), prime == "true")
        })
        .collect()
}

fn books() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/books");
    let mut books: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    books.sort();
    books
}

fn fingerprints(pool: &impl Executor, books: &[PathBuf]) {
    let n = pool
        .map_task(&FINGERPRINT, books.to_vec())
        .map(Result::unwrap)
        .count();
    assert_eq!(n, books.len());
}

fn round_trip<E: Executor>(pool: &E) -> u64 {
    pool.submit_task(&ECHO, black_box(7))
        .unwrap()
        .result()
        .unwrap()
}

fn chunked(pool: &impl Executor) -> u64 {
    pool.map_task(&ECHO, 0..10_000u64)
        .chunksize(100)
        .map(Result::unwrap)
        .sum()
}

fn primes(pool: &impl Executor, seed: &[(u64, bool)]) {
    let flags: Vec<bool> = pool
        .map_task(&IS_PRIME, seed.iter().map(|&(n, _)| n))
        .map(Result::unwrap)
        .collect();
    assert!(flags.iter().eq(seed.iter().map(|(_, prime)| prime)));
}

/// Each group measures both pools one after the other, so they meet the same machine load.
fn bench(c: &mut Criterion, mpi: &MpiPool, processes: &ProcessPool) {
    let mut group = c.benchmark_group("round_trip");
    group.bench_function("mpi", |b| b.iter(|| round_trip(mpi)));
    group.bench_function("process", |b| b.iter(|| round_trip(processes)));
    group.finish();

    let mut group = c.benchmark_group("map_10k_chunks_of_100");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("mpi", |b| b.iter(|| chunked(mpi)));
    group.bench_function("process", |b| b.iter(|| chunked(processes)));
    group.finish();

    let seed = seed_numbers();
    let mut group = c.benchmark_group("seed_primes_2_workers");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("mpi", |b| b.iter(|| primes(mpi, &seed)));
    group.bench_function("process", |b| b.iter(|| primes(processes, &seed)));
    group.finish();

    let books = books();
    let mut group = c.benchmark_group("seed_fingerprints_100k_iterations_2_workers");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("mpi", |b| b.iter(|| fingerprints(mpi, &books)));
    group.bench_function("process", |b| b.iter(|| fingerprints(processes, &books)));
    group.finish();
}

fn main() {
    concur::init(); // the process pool's workers stop here
    let mpi = MpiPool::start().expect("MPI starts"); // ranks 1.. serve here and exit
    assert_eq!(mpi.workers(), 2, "run under `mpiexec -n 3`: 2 worker ranks");
    let processes = ProcessPool::new(2).expect("the process pool starts");
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &mpi, &processes);
    c.final_summary();
}
