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
use concur::Wire;
use concur_cli::bench::{self, BenchOptions};
use concur_cli::serve::ServerConfig;
use concur_cli::sources::{self, Http, DEFAULT_TIMEOUT_SECONDS};
use concur_cli::workloads::{
    self, count, fingerprint, primes, wordfreq, Experiment, Mode, Options,
};
use serde::Serialize;

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
        #[command(flatten)]
        run: RunArgs,
    },
    /// Two counters, one on a worker thread and one on the main thread, interleaving.
    Count {
        /// Seconds to sleep between numbers.
        #[arg(long, default_value_t = 0.1)]
        delay: f64,
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
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
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
            print_run(wordfreq::experiment(books, stop_words), &run)
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
            print_run(fingerprint::experiment(books, &salt, iterations), &run)
        }
        Command::Primes { numbers, run } => {
            let numbers = if numbers.is_empty() {
                primes::SEED_NUMBERS.to_vec()
            } else {
                numbers
                    .iter()
                    .map(|t| primes::parse_number(t))
                    .collect::<Result<_, _>>()
                    .map_err(anyhow::Error::msg)?
            };
            print_run(primes::experiment(numbers), &run)
        }
        Command::Count { delay } => {
            let delay = Duration::try_from_secs_f64(delay)
                .ok()
                .filter(|d| *d <= Duration::from_secs(3600))
                .with_context(|| format!("--delay {delay}: give seconds from 0 to 3600"))?;
            count::run(delay, Box::new(std::io::stdout()))?;
            Ok(true)
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

/// Runs `experiment`, printing text lines as results arrive (errors on stderr) or one JSON object
/// at the end. Returns whether every item succeeded.
fn print_run<I: Wire, T: Wire + Display + Serialize>(
    experiment: Experiment<I, T>,
    run: &RunArgs,
) -> anyhow::Result<bool> {
    let json = run.json;
    let mut write_error = None;
    let report = workloads::execute(experiment, run.options(), |_, result| {
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
