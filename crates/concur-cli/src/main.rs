//! The `concur` command: parses arguments, runs the chosen experiment, prints, sets the exit status.
//!
//! Exit status: 0 when every item succeeded; 1 when any item failed (its error on stderr or in the
//! JSON `errors`, every other result still printed) or the run could not start (one `error:` line
//! on stderr naming the thing); 2 for usage errors found by clap.

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use concur_cli::bench::{self, BenchOptions};
use concur_cli::serve::ServerConfig;
use concur_cli::sources::{self, Http, DEFAULT_TIMEOUT_SECONDS};
use concur_cli::workloads::{
    self, count, deadlock, fingerprint, primes, wordfreq, Mode, Options, Report,
};
use serde::Serialize;
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "concur",
    version,
    about = "The classic concurrency experiments, in every execution mode."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Each book's most common word that is not a stop word (the seed's I/O-bound experiment).
    Wordfreq {
        #[command(flatten)]
        books: BookArgs,
        /// Stop words, one a line: a file or an http(s) URL (default: the seed's list, cached).
        #[arg(long, value_name = "PATH|URL")]
        stop_words: Option<String>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// PBKDF2-HMAC-SHA512 fingerprints of books (the seed's CPU-bound experiment; --mode async
    /// refuses it: hashing would hold its one thread).
    Fingerprint {
        #[command(flatten)]
        books: BookArgs,
        /// PBKDF2 rounds (at least 1).
        #[arg(long, default_value_t = fingerprint::SEED_ITERATIONS)]
        iterations: u32,
        /// The salt.
        #[arg(long, default_value = "salt")]
        salt: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Primality by trial division (default: the seed's nine numbers; CPU-bound, so not --mode async).
    Primes {
        /// Numbers from 0 to 18446744073709551615.
        #[arg(value_name = "N", allow_negative_numbers = true)]
        numbers: Vec<String>,
        /// Split each number's divisor range into K sibling tasks; the first to find a divisor
        /// cancels the others (1: one task per number, as the seed does).
        #[arg(long, value_name = "K", default_value_t = 1)]
        split: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Two counters, one on a worker thread and one on the main thread, interleaving.
    Count {
        /// Seconds to sleep between numbers.
        #[arg(long, default_value_t = 0.1)]
        delay: f64,
    },
    /// Two threads, two locks, opposite order: the deadlock, detected before it hangs.
    ///
    /// By default concur's deadlock-detecting locks refuse the acquisition that would close the
    /// cycle and say who holds what and waits for what (exit 0). `--ordered` shows the fix, one
    /// global lock order (exit 0). `--unguarded` uses plain std locks: the threads really hang and a
    /// watchdog reports it (exit 1).
    Deadlock {
        /// Take the locks in one global order (the fix).
        #[arg(long, conflicts_with = "unguarded")]
        ordered: bool,
        /// Use plain std::sync::Mutex locks and break the hang with a watchdog.
        #[arg(long)]
        unguarded: bool,
        /// Seconds the watchdog waits for progress (with --unguarded).
        #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
        watchdog: f64,
    },
    /// Runs primes, wordfreq and fingerprint in every available mode and compares them.
    Bench(BenchOptions),
    /// Serves a folder of books over HTTP with simulated latency and bandwidth; prints its base
    /// URL on stdout, stops on Ctrl-C or SIGTERM.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// The folder to serve.
    #[arg(long, value_name = "DIR")]
    dir: std::path::PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: std::net::SocketAddr,
    /// Milliseconds before each response's first byte.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency: u64,
    /// Extra random milliseconds, uniform in [0, MS], added to the latency.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    jitter: u64,
    /// Seed of the jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Pace each body at this many bytes per second (default: unlimited).
    #[arg(long, value_name = "BYTES_PER_S")]
    bandwidth: Option<u64>,
    /// Connections served at once (more wait in the backlog).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Permit an --addr that is not loopback (exposes the folder to the network).
    #[arg(long)]
    allow_non_loopback: bool,
}

#[derive(Args)]
struct BookArgs {
    /// A folder of *.txt books, or a URL template containing {} (default: the seed's URLs, cached).
    #[arg(long, value_name = "DIR|URL_TEMPLATE")]
    source: Option<String>,
    /// Comma-separated book names (required with a URL template).
    #[arg(long, value_name = "NAMES")]
    books: Option<String>,
    /// Seconds an HTTP request may take (connecting, headers and body).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECONDS)]
    timeout: f64,
    /// Retries of a request after a connection error or a 5xx answer (never after a 4xx).
    #[arg(long, value_name = "N", default_value_t = sources::DEFAULT_RETRIES)]
    retries: u32,
    /// Milliseconds before the first retry; each later retry waits twice as long.
    #[arg(long, value_name = "MS", default_value_t = sources::DEFAULT_BACKOFF_MS)]
    backoff: u64,
    /// The largest HTTP body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = sources::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: u64,
}

impl BookArgs {
    /// The HTTP policy these flags give, checked.
    fn http(&self) -> anyhow::Result<Http> {
        if !(self.timeout > 0.0 && self.timeout <= 86_400.0) {
            bail!(
                "--timeout {}: give seconds above 0 and at most 86400",
                self.timeout
            );
        }
        if self.backoff > 600_000 {
            bail!(
                "--backoff {}: give at most 600000 milliseconds",
                self.backoff
            );
        }
        Ok(Http {
            timeout_seconds: self.timeout,
            max_body_bytes: self.max_body_bytes,
            retries: self.retries,
            backoff_ms: self.backoff,
        })
    }

    /// The books these flags name.
    fn resolve(&self, http: Http) -> anyhow::Result<Vec<(String, sources::Location)>> {
        sources::resolve_books(self.source.as_deref(), self.books.as_deref(), http)
    }
}

#[derive(Args)]
struct RunArgs {
    /// How tasks are executed.
    #[arg(long, value_enum, default_value = "sequential")]
    mode: Mode,
    /// Worker count (default: one per CPU; sequential always uses 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Print results as they complete instead of in input order.
    #[arg(long)]
    as_completed: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    fn options(&self) -> Options {
        Options {
            mode: self.mode,
            workers: self.workers,
            as_completed: self.as_completed,
            trace: false,
        }
    }
}

fn main() -> ExitCode {
    // A worker process of `--mode processes` is this binary started again: it serves tasks here
    // and never returns. Everything else starts below.
    concur::init();
    // Tasks catch their own panics and report them as that item's error; this keeps any panic to
    // one line on stderr, never a backtrace, whatever RUST_BACKTRACE says.
    std::panic::set_hook(Box::new(|info| eprintln!("error: internal error: {info}")));
    let cli = Cli::parse();
    #[cfg(feature = "mpi")]
    if cli.command.mode() == Some(Mode::Mpi) {
        // Ranks other than 0 serve tasks inside start_mpi and exit there; only rank 0 goes on,
        // so only rank 0 reads inputs and prints.
        if let Err(e) = workloads::start_mpi() {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    let outcome = run(cli.command);
    #[cfg(feature = "mpi")]
    workloads::stop_mpi();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// The execution mode the command asked for, if it takes one.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    fn mode(&self) -> Option<Mode> {
        match self {
            Command::Wordfreq { run, .. }
            | Command::Fingerprint { run, .. }
            | Command::Primes { run, .. } => Some(run.mode),
            _ => None,
        }
    }
}

/// Runs one command; `Ok(false)` when some item failed.
fn run(command: Command) -> anyhow::Result<bool> {
    match command {
        Command::Wordfreq {
            books,
            stop_words,
            run,
        } => {
            run.mode.workers(run.workers)?;
            let http = books.http()?;
            let books = books.resolve(http)?;
            let stop_words = sources::load_stop_words(stop_words.as_deref(), http)?;
            let experiment = wordfreq::experiment(books, stop_words);
            print_run(&run, Vec::new(), |options, each| {
                workloads::execute(experiment, options, each)
            })
        }
        Command::Fingerprint {
            books,
            iterations,
            salt,
            run,
        } => {
            if iterations == 0 {
                bail!("--iterations 0: PBKDF2 needs at least 1 iteration");
            }
            run.mode.workers(run.workers)?;
            let books = books.resolve(books.http()?)?;
            let experiment = fingerprint::experiment(books, &salt, iterations);
            print_run(&run, Vec::new(), |options, each| {
                workloads::execute(experiment, options, each)
            })
        }
        Command::Primes {
            numbers,
            split,
            run,
        } => {
            // A bad number is an error of its own; the good ones still run.
            let mut rejected = Vec::new();
            let numbers = if numbers.is_empty() {
                primes::SEED_NUMBERS.to_vec()
            } else {
                let mut good = Vec::new();
                for text in &numbers {
                    match primes::parse_number(text) {
                        Ok(n) => good.push(n),
                        Err(e) => rejected.push((Value::from(text.as_str()), e)),
                    }
                }
                good
            };
            match split {
                0 => bail!("--split 0: give at least 1 part per number"),
                1 => print_run(&run, rejected, |options, each| {
                    workloads::execute(primes::experiment(numbers), options, each)
                }),
                parts => print_run(&run, rejected, |options, each| {
                    let work = primes::SplitRun {
                        numbers,
                        parts,
                        as_completed: options.as_completed,
                        each,
                    };
                    workloads::execute_work("primes", "n", options, work)
                }),
            }
        }
        Command::Count { delay } => {
            let delay = Duration::try_from_secs_f64(delay)
                .ok()
                .filter(|d| *d <= Duration::from_secs(3600))
                .with_context(|| format!("--delay {delay}: give seconds from 0 to 3600"))?;
            count::run(delay, Box::new(std::io::stdout()))?;
            Ok(true)
        }
        Command::Deadlock {
            ordered,
            unguarded,
            watchdog,
        } => {
            let watchdog = Duration::try_from_secs_f64(watchdog)
                .ok()
                .filter(|d| *d <= Duration::from_secs(3600))
                .with_context(|| format!("--watchdog {watchdog}: give seconds from 0 to 3600"))?;
            let variant = match (ordered, unguarded) {
                (true, _) => deadlock::Variant::Ordered,
                (_, true) => deadlock::Variant::Unguarded,
                _ => deadlock::Variant::Detected,
            };
            let mut out = std::io::stdout().lock();
            match deadlock::run(variant, watchdog, &mut out)? {
                deadlock::Ending::BothFinished => {
                    writeln!(out, "both philosophers ate: no deadlock")?;
                    Ok(true)
                }
                deadlock::Ending::Refused(report) => {
                    writeln!(out, "deadlock detected before it could hang:\n{report}")?;
                    Ok(true)
                }
                deadlock::Ending::Hung => {
                    // The hung threads can never be joined: leave without waiting for them.
                    out.flush()?;
                    std::process::exit(1);
                }
            }
        }
        Command::Bench(options) => bench::run(&options),
        Command::Serve(args) => serve(args),
    }
}

/// `concur serve`: the book server on a small multi-thread runtime until Ctrl-C or SIGTERM.
fn serve(args: ServeArgs) -> anyhow::Result<bool> {
    let config = ServerConfig {
        addr: args.addr,
        latency: Duration::from_millis(args.latency),
        jitter: Duration::from_millis(args.jitter),
        seed: args.seed,
        bandwidth: args.bandwidth,
        max_connections: args.max_connections,
        allow_non_loopback: args.allow_non_loopback,
        ..ServerConfig::dir(&args.dir)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(concur_cli::serve::serve(
        config,
        |url| {
            println!("{url}");
            let _ = std::io::stdout().flush();
            eprintln!("serving {} at {url} (Ctrl-C stops)", args.dir.display());
        },
        concur_cli::serve::shutdown_signal(),
    ))?;
    Ok(true)
}

/// Runs `execute` (an experiment reporting each result through the callback it is given),
/// printing text lines as results arrive (errors on stderr) or one JSON object at the end.
/// `rejected` are inputs refused before any work (label, error), reported as errors too.
/// Returns whether every item succeeded.
fn print_run<T: Display + Serialize>(
    run: &RunArgs,
    rejected: Vec<(Value, String)>,
    execute: impl FnOnce(
        Options,
        &mut dyn FnMut(&Value, &Result<T, String>),
    ) -> anyhow::Result<Report<T>>,
) -> anyhow::Result<bool> {
    let json = run.json;
    let mut write_error = None;
    let mut report = execute(run.options(), &mut |_, result| {
        if json {
            return;
        }
        match result {
            Ok(value) => {
                let mut out = std::io::stdout().lock();
                if let Err(e) = writeln!(out, "{value}").and_then(|()| out.flush()) {
                    write_error.get_or_insert(e);
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    })?;
    // Reported after the run: under MPI only rank 0 gets here.
    if !json {
        for (_, e) in &rejected {
            eprintln!("error: {e}");
        }
    }
    let rejected = rejected.into_iter().map(|(label, e)| (label, Err(e)));
    report.results.splice(0..0, rejected);
    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{}", report.to_json())
    } else {
        writeln!(out, "Elapsed time: {:.2} seconds", report.elapsed_seconds)
    };
    if let Some(e) = write_error.or(written.err()) {
        bail!("cannot write to standard output: {e}");
    }
    Ok(!report.failed())
}
