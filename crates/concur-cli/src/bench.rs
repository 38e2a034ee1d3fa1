//! `concur bench`: the seed's experiments in every available mode, timed side by side.
//!
//! Contract:
//! - Runs each case in every mode that fits it, `--runs` times each (default 3; 1 with
//!   `--quick`), in-process through the same [`execute`](crate::workloads::execute) the commands
//!   use, traced, and reports medians: wall seconds (`elapsed_seconds`), work seconds
//!   (`work_seconds`), and the speedup of the wall time over sequential. A run in which any item
//!   fails stops the bench with that item's error. The cases:
//!   - primes on the seed's nine numbers (sequential, threads, processes, and threads and
//!     processes with every number split into [`SPLIT_PARTS`] sibling tasks: `-split`);
//!   - wordfreq over HTTP from the in-process book server (`--latency` ms before each response),
//!     in map order and in `as_completed` order, async included;
//!   - fingerprint (PBKDF2, 1,000,000 iterations; 10,000 with `--quick`);
//!   - count, the seed's two interleaving counters with [`COUNT_DELAY`] between numbers
//!     (sequential = one counter after the other; threads = the seed's worker thread + main).
//! - The books (`bench/corpus.rs`): without `--books` always the synthetic corpus (eight books of the
//!   seed's names and sizes), served from memory; with `--books DIR`, that folder. The header
//!   and `bench.json`'s `corpus` say which.
//! - Every result is checked against the sequential run's; a mismatch stops the bench. count's
//!   result is each counter's numbers, which must be all of them, in order.
//! - If `python3` and `bench/python/` exist, the same cases run there too on the same inputs
//!   (the same server URLs, the same files), and the table gains the Python work time and the
//!   ratio Python / concur (async rows: asyncio coroutines on one thread); otherwise the header
//!   says why not. Split rows have no Python counterpart.
//! - Progress bars on stderr while it runs (hidden when stderr is not a terminal).
//! - `--out DIR` (default `bench-report/`) receives `bench.json` (schema: `docs/bench-schema.md`),
//!   `speedup.svg`, and per traced row `trace-<experiment>-<mode>.json` (Chrome trace) and
//!   `timeline-<experiment>-<mode>.svg` (one row per worker, one bar per task), from its last run.

mod corpus;
mod plot;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Value};

use crate::sources;
use crate::workloads::{
    self, count, fingerprint, primes, wordfreq, Experiment, Mode, Options, Report,
};

/// The modes the bench compares (the first is the baseline).
pub const MODES: [Mode; 4] = [
    Mode::Sequential,
    Mode::Threads,
    Mode::Processes,
    Mode::Async,
];

/// Sibling tasks per number in the primes `-split` rows (`concur primes --split 4`).
pub const SPLIT_PARTS: usize = 4;

/// The pause between two numbers of a counter in the count rows.
pub const COUNT_DELAY: Duration = Duration::from_millis(10);

/// `concur bench` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Book folder (default: the built-in synthetic corpus, 8 books sized like the seed's).
    #[arg(long, value_name = "DIR")]
    pub books: Option<PathBuf>,
    /// Stop-word file (default: stop-words-english.txt beside --books, else a built-in list).
    #[arg(long, value_name = "PATH")]
    pub stop_words: Option<PathBuf>,
    /// Runs per experiment and mode; the table shows medians (default 3, 1 with --quick).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Worker count for the pools (default: one per CPU).
    #[arg(long)]
    pub workers: Option<usize>,
    /// A fast look: fewer PBKDF2 iterations (10,000 instead of 1,000,000), one run by default.
    #[arg(long)]
    pub quick: bool,
    /// The Python side: `auto` (bench/python with python3, if both exist), `off`, or the folder.
    #[arg(long, value_name = "auto|off|PATH", default_value = "auto")]
    pub python: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Where to write bench.json, speedup.svg, the timelines and the traces.
    #[arg(long, value_name = "DIR", default_value = "bench-report")]
    pub out: PathBuf,
    /// Milliseconds the in-process book server waits before each response (wordfreq).
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub latency: u64,
}

/// What one run of a case produced.
struct Outcome {
    wall: f64,
    work: f64,
    workers: usize,
    /// The results, for comparison with the sequential run.
    results: Value,
    events: Option<Vec<concur::TaskEvent>>,
}

/// How a row runs its case's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `map`: results in input order.
    InOrder,
    /// `submit` each + `as_completed`.
    AsCompleted,
    /// primes with every number split into [`SPLIT_PARTS`] sibling tasks.
    Split,
}

impl Variant {
    /// The row's mode column: the mode, with `-as_completed` or `-split`.
    fn label(self, mode: Mode) -> String {
        match self {
            Variant::InOrder => mode.name().to_string(),
            Variant::AsCompleted => format!("{}-as_completed", mode.name()),
            Variant::Split => format!("{}-split", mode.name()),
        }
    }
}

/// A runner of one case: one run in the given mode and variant.
type Runner<'a> = Box<dyn Fn(Options, Variant) -> anyhow::Result<Outcome> + 'a>;

/// One experiment the bench runs.
struct Case<'a> {
    name: &'static str,
    run: Runner<'a>,
    /// Its rows, in table order; the first is the baseline.
    rows: Vec<(Mode, Variant)>,
    /// The Python script and its arguments (without `--mode`, `--workers`, `--json`).
    python: (&'static str, Vec<String>),
}

/// One line of the table.
#[derive(Debug, Serialize)]
struct Row {
    experiment: &'static str,
    mode: String,
    workers: usize,
    tasks: usize,
    median_wall_seconds: f64,
    median_work_seconds: f64,
    speedup: f64,
    python_work_seconds: Option<f64>,
    python_over_concur: Option<f64>,
}

/// The outcome of a workload's traced run; fails with the first item's error if any item failed.
fn outcome_of<T: Serialize>(report: Report<T>) -> anyhow::Result<Outcome> {
    if let Some((_, Err(e))) = report.results.iter().find(|(_, r)| r.is_err()) {
        bail!("{} failed: {e}", report.command);
    }
    let results: Vec<Value> = report
        .results
        .iter()
        .map(|(l, r)| json!([l, r.as_ref().ok()]))
        .collect();
    Ok(Outcome {
        wall: report.elapsed_seconds,
        work: report.work_seconds,
        workers: report.workers,
        results: Value::Array(results),
        events: report.events,
    })
}

/// Runs the experiment once, traced.
fn time_once<I: concur::Wire, T: concur::Wire + Serialize>(
    experiment: Experiment<I, T>,
    options: Options,
) -> anyhow::Result<Outcome> {
    outcome_of(workloads::execute(experiment, options, |_, _| {})?)
}

/// The seed's numbers, split into [`SPLIT_PARTS`] siblings each, traced.
fn split_once(options: Options) -> anyhow::Result<Outcome> {
    let work = primes::SplitRun {
        numbers: primes::SEED_NUMBERS.to_vec(),
        parts: SPLIT_PARTS,
        as_completed: false,
        each: |_: &Value, _: &Result<primes::Primality, String>| {},
    };
    outcome_of(workloads::execute_work("primes", "n", options, work)?)
}

/// A `Write` into a shared buffer, to read what the counters printed.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The two counters once (concurrently in threads mode); the result is each counter's numbers
/// in printing order, which must be all of them, in order.
fn count_once(options: Options) -> anyhow::Result<Outcome> {
    let printed = Printed::default();
    let concurrent = options.mode != Mode::Sequential;
    let started = Instant::now();
    let events = count::run_traced(COUNT_DELAY, Box::new(printed.clone()), concurrent)?;
    let wall = started.elapsed().as_secs_f64();
    let text =
        String::from_utf8_lossy(&printed.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    let numbers: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let worker: Vec<u32> = numbers.iter().copied().filter(|n| *n < 10).collect();
    let main: Vec<u32> = numbers.iter().copied().filter(|n| *n > 10).collect();
    if worker != (1..=9).collect::<Vec<_>>() || main != (11..=19).collect::<Vec<_>>() {
        bail!("count: the counters did not print 1..=9 and 11..=19 in order: {text:?}");
    }
    Ok(Outcome {
        wall,
        work: wall,
        workers: if concurrent { 2 } else { 1 },
        results: json!([worker, main]),
        events: Some(events),
    })
}

/// The median of `values` (which is not empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Where the Python experiments are, or why they are skipped.
fn find_python(options: &BenchOptions) -> Result<PathBuf, String> {
    let dir = match options.python.as_str() {
        "off" => return Err("--python off".into()),
        "auto" => PathBuf::from("bench/python"),
        path => PathBuf::from(path),
    };
    if !dir.join("wordfreq.py").is_file() {
        return Err(format!("no {} with wordfreq.py", dir.display()));
    }
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(dir),
        Ok(out) => Err(format!("python3 --version exited with {}", out.status)),
        Err(e) => Err(format!("python3 not found: {e}")),
    }
}

/// Runs one Python experiment once and returns its `work_seconds`.
fn python_once(
    dir: &Path,
    script: &str,
    args: &[String],
    mode: Mode,
    workers: usize,
) -> anyhow::Result<f64> {
    let path = dir.join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .args([
            "--mode",
            mode.name(),
            "--workers",
            &workers.to_string(),
            "--json",
        ])
        .output()
        .with_context(|| format!("cannot run python3 {}", path.display()))?;
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "python3 {} printed no JSON (status {}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    if !out.status.success() {
        bail!("python3 {} failed: {}", path.display(), report["errors"]);
    }
    report["work_seconds"]
        .as_f64()
        .with_context(|| format!("python3 {} printed no work_seconds", path.display()))
}

/// Runs the bench and prints the table (or JSON). Returns `Ok(true)` when every run succeeded.
pub fn run(options: &BenchOptions) -> anyhow::Result<bool> {
    let runs = options.runs.unwrap_or(if options.quick { 1 } else { 3 });
    if runs == 0 {
        bail!("--runs 0: at least one run is needed");
    }
    let workers = Mode::Threads.workers(options.workers)?;
    let corpus = corpus::Corpus::load(options.books.as_deref(), options.stop_words.as_deref())?;
    let iterations = if options.quick {
        10_000
    } else {
        fingerprint::SEED_ITERATIONS
    };
    let mut header = vec![
        format!(
            "concur bench: primes (the seed's {} numbers; split rows: {SPLIT_PARTS} parts each), \
             wordfreq, fingerprint ({iterations} iterations), count ({} ms delay); \
             modes {} ({workers} workers); {runs} runs each, medians",
            primes::SEED_NUMBERS.len(),
            COUNT_DELAY.as_millis(),
            MODES.map(Mode::name).join(", "),
        ),
        corpus.about.clone(),
    ];

    // wordfreq reads the books over HTTP from the in-process server, which holds them in memory.
    let server = crate::serve::start(crate::serve::ServerConfig {
        latency: Duration::from_millis(options.latency),
        ..crate::serve::ServerConfig::books(crate::serve::Books::try_from_iter(
            corpus.books.iter().map(|(n, b)| (n.clone(), b.clone())),
        )?)
    })?;
    let http_books: Vec<(String, sources::Location)> = corpus
        .books
        .iter()
        .map(|(name, _)| {
            (
                name.clone(),
                sources::Location::parse(&server.url_for(name), 30.0),
            )
        })
        .collect();
    let names = corpus
        .books
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(",");
    header.push(format!(
        "wordfreq: over HTTP from {} with {} ms latency",
        server.base_url(),
        options.latency
    ));

    let numbers: Vec<String> = primes::SEED_NUMBERS.iter().map(u64::to_string).collect();
    let in_order = |modes: &[Mode]| modes.iter().map(|m| (*m, Variant::InOrder)).collect();
    let file_books = corpus.locations();
    let cases = vec![
        Case {
            name: "primes",
            run: Box::new(|o, variant| match variant {
                Variant::Split => split_once(o),
                _ => time_once(primes::experiment(primes::SEED_NUMBERS.to_vec()), o),
            }),
            rows: [Mode::Sequential, Mode::Threads, Mode::Processes]
                .map(|m| (m, Variant::InOrder))
                .into_iter()
                .chain([Mode::Threads, Mode::Processes].map(|m| (m, Variant::Split)))
                .collect(),
            python: ("primes.py", numbers),
        },
        Case {
            name: "wordfreq",
            run: Box::new(|o, _| {
                let experiment =
                    wordfreq::experiment(http_books.clone(), corpus.stop_words.clone());
                time_once(experiment, o)
            }),
            rows: MODES
                .map(|m| (m, Variant::InOrder))
                .into_iter()
                .chain(
                    [Mode::Threads, Mode::Processes, Mode::Async]
                        .map(|m| (m, Variant::AsCompleted)),
                )
                .collect(),
            python: (
                "wordfreq.py",
                vec![
                    "--source".into(),
                    format!("{}/{{}}", server.base_url()),
                    "--books".into(),
                    names,
                    "--stop-words".into(),
                    corpus.stop_words_file.to_string_lossy().into_owned(),
                ],
            ),
        },
        Case {
            name: "fingerprint",
            run: Box::new(|o, _| {
                time_once(
                    fingerprint::experiment(file_books.clone(), "salt", iterations),
                    o,
                )
            }),
            rows: in_order(&[Mode::Sequential, Mode::Threads, Mode::Processes]),
            python: (
                "fingerprint.py",
                vec![
                    "--source".into(),
                    corpus.folder.to_string_lossy().into_owned(),
                    "--iterations".into(),
                    iterations.to_string(),
                ],
            ),
        },
        Case {
            name: "count",
            run: Box::new(|o, _| count_once(o)),
            rows: in_order(&[Mode::Sequential, Mode::Threads]),
            python: (
                "count.py",
                vec!["--delay".into(), COUNT_DELAY.as_secs_f64().to_string()],
            ),
        },
    ];

    let python = find_python(options);
    match &python {
        Ok(dir) => header.push(format!(
            "python: python3 {}/*.py on the same inputs",
            dir.display()
        )),
        Err(why) => header.push(format!("python: skipped ({why})")),
    }
    let python_for = |mode: Mode, variant: Variant| match &python {
        Ok(dir) if variant != Variant::Split && mode != Mode::Mpi => Some(dir),
        _ => None,
    };

    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create --out {}", options.out.display()))?;
    let total: usize = cases
        .iter()
        .flat_map(|c| &c.rows)
        .map(|&(mode, variant)| {
            runs * if python_for(mode, variant).is_some() {
                2
            } else {
                1
            }
        })
        .sum();
    let progress = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or(ProgressStyle::default_bar()),
    );

    let mut rows = Vec::new();
    for case in &cases {
        let mut baseline: Option<(f64, Value)> = None;
        for &(mode, variant) in &case.rows {
            let label = variant.label(mode);
            let options_for_mode = Options {
                mode,
                workers: Some(workers),
                as_completed: variant == Variant::AsCompleted,
                trace: true,
            };
            progress.set_message(format!("{} {label}", case.name));
            let mut wall = Vec::new();
            let mut work = Vec::new();
            let mut last = None;
            for _ in 0..runs {
                let outcome = (case.run)(options_for_mode, variant)
                    .with_context(|| format!("{} in mode {label}", case.name))?;
                wall.push(outcome.wall);
                work.push(outcome.work);
                last = Some(outcome);
                progress.inc(1);
            }
            let Some(last) = last else {
                bail!("{} in mode {label}: no run", case.name);
            };
            let wall_median = median(&mut wall);
            let (base, expected) =
                baseline.get_or_insert_with(|| (wall_median, last.results.clone()));
            if *expected != last.results {
                bail!(
                    "{} in mode {label} disagrees with sequential: {} vs {}",
                    case.name,
                    last.results,
                    expected
                );
            }
            let base = *base;
            let mut tasks = 0;
            if let Some(events) = &last.events {
                tasks = events.len();
                let stem = format!("{}-{label}", case.name);
                let trace_path = options.out.join(format!("trace-{stem}.json"));
                std::fs::write(&trace_path, concur::trace::chrome_json(events))
                    .with_context(|| format!("cannot write {}", trace_path.display()))?;
                plot::timeline(
                    &options.out.join(format!("timeline-{stem}.svg")),
                    &format!("{} {label}: {} workers", case.name, last.workers),
                    events,
                )?;
            }
            let python_work = match python_for(mode, variant) {
                Some(dir) => {
                    let mut times = Vec::new();
                    let mut args = case.python.1.clone();
                    if variant == Variant::AsCompleted {
                        args.push("--as-completed".into());
                    }
                    progress.set_message(format!("python {} {label}", case.name));
                    for _ in 0..runs {
                        times.push(python_once(dir, case.python.0, &args, mode, workers)?);
                        progress.inc(1);
                    }
                    Some(median(&mut times))
                }
                None => None,
            };
            let work_median = median(&mut work);
            rows.push(Row {
                experiment: case.name,
                mode: label,
                workers: last.workers,
                tasks,
                median_wall_seconds: wall_median,
                median_work_seconds: work_median,
                speedup: base / wall_median,
                python_work_seconds: python_work,
                python_over_concur: python_work.map(|p| p / work_median),
            });
        }
    }
    progress.finish_and_clear();
    let bars: Vec<(String, f64)> = rows
        .iter()
        .map(|r| (format!("{} {}", r.experiment, r.mode), r.speedup))
        .collect();
    plot::speedup(&options.out.join("speedup.svg"), &bars)?;
    let document = json!({
        "schema": "concur-bench/2",
        "about": header,
        "runs": runs,
        "quick": options.quick,
        "corpus": corpus.json,
        "iterations": iterations,
        "latency_ms": options.latency,
        "split_parts": SPLIT_PARTS,
        "count_delay_ms": COUNT_DELAY.as_millis() as u64,
        "workers": workers,
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "rows": rows,
    });
    let json_path = options.out.join("bench.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;

    if options.json {
        println!("{}", document);
    } else {
        for line in &header {
            println!("{line}");
        }
        println!(
            "{:<12} {:<24} {:>7} {:>10} {:>10} {:>8} {:>12} {:>10}",
            "experiment", "mode", "workers", "wall s", "work s", "speedup", "python s", "py/concur"
        );
        for r in &rows {
            let (py, ratio) = match (r.python_work_seconds, r.python_over_concur) {
                (Some(p), Some(x)) => (format!("{p:.3}"), format!("{x:.1}x")),
                _ => ("-".into(), "-".into()),
            };
            println!(
                "{:<12} {:<24} {:>7} {:>10.3} {:>10.3} {:>7.2}x {:>12} {:>10}",
                r.experiment,
                r.mode,
                r.workers,
                r.median_wall_seconds,
                r.median_work_seconds,
                r.speedup,
                py,
                ratio
            );
        }
    }
    Ok(true)
}
