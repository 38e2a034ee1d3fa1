//! `concur bench`: the seed's experiments in every available mode, timed side by side.
//!
//! Contract:
//! - Runs each case (primes on the seed's numbers, wordfreq and fingerprint on a book folder) in
//!   every mode of [`MODES`], `--runs` times each, in-process through the same
//!   [`execute`](crate::workloads::execute) the commands use, and reports medians: wall seconds
//!   (`elapsed_seconds`), work seconds (`work_seconds`), and the speedup of the work over
//!   sequential. A run in which any item fails stops the bench with that item's error.
//! - The books are `--books DIR`, else `../shared/data/books` if it exists, else a synthetic corpus
//!   written deterministically into a temporary folder. The header says which, honestly.
//! - If `python3` and `bench/python/` exist, the same cases run there too, and the table gains the
//!   Python work time and the ratio Python / concur; otherwise the header says why not.
//! - Adding a mode is adding it to [`MODES`]; adding an experiment is one more `Case`. A mode this
//!   build cannot run (`async` before the network branch lands), or a variant that does not exist
//!   yet (primes `--split`), is a row marked `skipped` with the reason.
//! - wordfreq reads the books over HTTP from the in-process book server (`--latency` ms before
//!   each response), in map order and in `as_completed` order.
//! - Every result is checked against the sequential run's; a mismatch stops the bench.
//! - `--out DIR` (default `bench-report/`) receives `bench.json` (schema: `docs/bench-schema.md`),
//!   `speedup.svg`, and per traced row `trace-<experiment>-<mode>.json` (Chrome trace) and
//!   `timeline-<experiment>-<mode>.svg` (one row per worker, one bar per task), from its last run.

mod plot;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Value};

use crate::sources;
use crate::workloads::traced::execute_traced;
use crate::workloads::{fingerprint, primes, wordfreq, Experiment, Mode, Options};

/// The modes the bench compares (the first is the baseline).
pub const MODES: [Mode; 4] = [
    Mode::Sequential,
    Mode::Threads,
    Mode::Processes,
    Mode::Async,
];

/// `concur bench` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Book folder (default: ../shared/data/books if it exists, else a synthetic corpus).
    #[arg(long, value_name = "DIR")]
    pub books: Option<PathBuf>,
    /// Stop-word file (default: stop-words-english.txt beside the book folder, else a short list).
    #[arg(long, value_name = "PATH")]
    pub stop_words: Option<PathBuf>,
    /// Runs per experiment and mode; the table shows medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Worker count for the pools (default: one per CPU).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Fewer PBKDF2 iterations (10,000 instead of 1,000,000), for a fast look.
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
    /// The results, for comparison with the sequential run.
    results: Value,
    events: Option<Vec<concur::TaskEvent>>,
}

/// One experiment the bench runs.
struct Case {
    name: &'static str,
    /// Runs it once in-process and returns (elapsed, work) seconds.
    run: Box<dyn Fn(Options) -> anyhow::Result<Outcome>>,
    /// The modes it runs in, with `as_completed` variants.
    modes: Vec<(Mode, bool)>,
    /// The Python script and its arguments (without `--mode`, `--workers`, `--json`).
    python: (&'static str, Vec<String>),
}

/// One line of the table.
#[derive(Debug, Serialize)]
struct Row {
    experiment: &'static str,
    mode: String,
    workers: usize,
    skipped: Option<String>,
    tasks: usize,
    median_wall_seconds: f64,
    median_work_seconds: f64,
    speedup: f64,
    python_work_seconds: Option<f64>,
    python_over_concur: Option<f64>,
}

impl Row {
    /// A row that did not run, and why.
    fn skipped(experiment: &'static str, mode: String, why: String) -> Row {
        Row {
            experiment,
            mode,
            workers: 0,
            skipped: Some(why),
            tasks: 0,
            median_wall_seconds: f64::NAN,
            median_work_seconds: f64::NAN,
            speedup: f64::NAN,
            python_work_seconds: None,
            python_over_concur: None,
        }
    }
}

/// Runs the experiment once, traced; fails with the first item's error if any item failed.
fn time_once<I: concur::Wire, T: concur::Wire + Serialize>(
    experiment: Experiment<I, T>,
    options: Options,
) -> anyhow::Result<Outcome> {
    let (report, events) = execute_traced(experiment, options)?;
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
        results: Value::Array(results),
        events,
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

/// Writes a deterministic corpus of `books` books into `dir`: a Zipf-like mix over a fixed
/// vocabulary, mixed case and punctuation, so wordfreq has real work and a stable answer.
pub fn write_synthetic_corpus(
    dir: &Path,
    books: usize,
    words_per_book: usize,
) -> anyhow::Result<()> {
    const VOCABULARY: [&str; 24] = [
        "the", "and", "of", "upon", "said", "Mr.", "will", "whale", "sea", "ship", "captain",
        "night", "day", "house", "letter", "heart", "Gregor", "garden", "river", "stone", "light",
        "door", "road", "king",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for b in 0..books {
        let mut text = String::with_capacity(words_per_book * 7);
        for w in 0..words_per_book {
            // xorshift64: deterministic on every platform.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let r = (state % 1000) as f64 / 1000.0;
            let index = ((r * r * r) * VOCABULARY.len() as f64) as usize;
            text.push_str(VOCABULARY[(index + b) % VOCABULARY.len()]);
            text.push(if w % 12 == 11 { '\n' } else { ' ' });
        }
        std::fs::write(dir.join(format!("Synthetic {b}.txt")), text)
            .with_context(|| format!("cannot write the synthetic corpus in {}", dir.display()))?;
    }
    Ok(())
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
    if options.runs == 0 {
        bail!("--runs 0: at least one run is needed");
    }
    let workers = Mode::Threads.workers(options.workers)?;
    let mut header = Vec::new();

    // The corpus.
    let synthetic;
    let default_books = PathBuf::from("../shared/data/books");
    let books_dir = match &options.books {
        Some(dir) => dir.clone(),
        None if default_books.is_dir() => default_books,
        None => {
            synthetic = tempfile::tempdir().context("cannot create a temporary folder")?;
            write_synthetic_corpus(synthetic.path(), 8, 200_000)?;
            header.push(
                "books: no --books and no ../shared/data/books: a synthetic corpus of 8 books"
                    .to_string(),
            );
            synthetic.path().to_path_buf()
        }
    };
    let books_arg = books_dir.to_string_lossy().into_owned();
    let books = sources::resolve_books(Some(&books_arg), None, sources::DEFAULT_TIMEOUT_SECONDS)?;
    let stop_words_path = options.stop_words.clone().or_else(|| {
        let beside = books_dir.parent()?.join("stop-words-english.txt");
        beside.is_file().then_some(beside)
    });
    let stop_file;
    let (stop_words, stop_words_arg) = match &stop_words_path {
        Some(path) => {
            let text = path.to_string_lossy().into_owned();
            (
                sources::load_stop_words(Some(&text), sources::DEFAULT_TIMEOUT_SECONDS)?,
                text,
            )
        }
        None => {
            let words = ["the", "and", "of"].map(String::from).to_vec();
            stop_file =
                tempfile::NamedTempFile::new().context("cannot create the stop-word file")?;
            std::fs::write(stop_file.path(), words.join("\n"))
                .context("cannot write the stop-word file")?;
            (words, stop_file.path().to_string_lossy().into_owned())
        }
    };
    let iterations = if options.quick {
        10_000
    } else {
        fingerprint::SEED_ITERATIONS
    };
    header.insert(
        0,
        format!(
            "concur bench: primes (the seed's {} numbers), wordfreq and fingerprint ({iterations} iterations) \
             on {} books in {}; modes {} ({workers} workers); {} runs each, medians",
            primes::SEED_NUMBERS.len(),
            books.len(),
            books_dir.display(),
            MODES.map(Mode::name).join(", "),
            options.runs
        ),
    );

    // wordfreq reads the same books over HTTP from the in-process server.
    let mut served = Vec::new();
    for (name, location) in &books {
        served.push((
            name.clone(),
            location.read_all().map_err(anyhow::Error::msg)?,
        ));
    }
    let server = crate::serve::start(crate::serve::ServerConfig {
        latency: std::time::Duration::from_millis(options.latency),
        ..crate::serve::ServerConfig::books(crate::serve::Books::try_from_iter(served)?)
    })?;
    let http_books: Vec<(String, sources::Location)> = books
        .iter()
        .map(|(name, _)| {
            (
                name.clone(),
                sources::Location::parse(&server.url_for(name), 30.0),
            )
        })
        .collect();
    let names = books
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
    let pools = [Mode::Threads, Mode::Processes];
    let all: Vec<(Mode, bool)> = MODES.iter().map(|m| (*m, false)).collect();
    let cases = vec![
        Case {
            name: "primes",
            run: Box::new(|o| time_once(primes::experiment(primes::SEED_NUMBERS.to_vec()), o)),
            modes: vec![
                (Mode::Sequential, false),
                (Mode::Threads, false),
                (Mode::Processes, false),
            ],
            python: ("primes.py", numbers),
        },
        Case {
            name: "wordfreq",
            run: Box::new(move |o| {
                time_once(
                    wordfreq::experiment(http_books.clone(), stop_words.clone()),
                    o,
                )
            }),
            modes: all
                .iter()
                .copied()
                .chain(pools.iter().chain([&Mode::Async]).map(|m| (*m, true)))
                .collect(),
            python: (
                "wordfreq.py",
                vec![
                    "--source".into(),
                    format!("{}/{{}}", server.base_url()),
                    "--books".into(),
                    names,
                    "--stop-words".into(),
                    stop_words_arg,
                ],
            ),
        },
        Case {
            name: "fingerprint",
            run: Box::new(move |o| {
                time_once(
                    fingerprint::experiment(books.clone(), "salt", iterations),
                    o,
                )
            }),
            modes: vec![
                (Mode::Sequential, false),
                (Mode::Threads, false),
                (Mode::Processes, false),
            ],
            python: (
                "fingerprint.py",
                vec![
                    "--source".into(),
                    books_arg,
                    "--iterations".into(),
                    iterations.to_string(),
                ],
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

    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create --out {}", options.out.display()))?;
    let per_mode = options.runs * if python.is_ok() { 2 } else { 1 };
    let total: usize = cases.iter().map(|c| c.modes.len()).sum();
    let progress = ProgressBar::with_draw_target(
        Some((total * per_mode) as u64),
        ProgressDrawTarget::stderr(),
    );
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or(ProgressStyle::default_bar()),
    );

    let mut rows = Vec::new();
    for case in &cases {
        let mut baseline: Option<(f64, Value)> = None;
        for &(mode, as_completed) in &case.modes {
            let label = if as_completed {
                format!("{}-as_completed", mode.name())
            } else {
                mode.name().to_string()
            };
            let options_for_mode = Options {
                mode,
                workers: Some(workers),
                as_completed,
            };
            progress.set_message(format!("{} {label}", case.name));
            let mut wall = Vec::new();
            let mut work = Vec::new();
            let mut last = None;
            for _ in 0..options.runs {
                match (case.run)(options_for_mode) {
                    Ok(outcome) => {
                        wall.push(outcome.wall);
                        work.push(outcome.work);
                        last = Some(outcome);
                    }
                    Err(e) => return Err(e.context(format!("{} in mode {label}", case.name))),
                }
                progress.inc(1);
            }
            let Some(last) = last else {
                rows.push(Row::skipped(case.name, label, "no run".into()));
                continue;
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
                    &format!("{} {label}: {workers} workers", case.name),
                    events,
                )?;
            }
            let python_work = match &python {
                Ok(dir) if !matches!(mode, Mode::Async | Mode::Mpi) => {
                    let mut times = Vec::new();
                    let mut args = case.python.1.clone();
                    if as_completed {
                        args.push("--as-completed".into());
                    }
                    for _ in 0..options.runs {
                        progress.set_message(format!("python {} {label}", case.name));
                        times.push(python_once(dir, case.python.0, &args, mode, workers)?);
                        progress.inc(1);
                    }
                    Some(median(&mut times))
                }
                _ => None,
            };
            let work_median = median(&mut work);
            rows.push(Row {
                experiment: case.name,
                mode: label,
                workers: mode.workers(Some(workers))?,
                skipped: None,
                tasks,
                median_wall_seconds: wall_median,
                median_work_seconds: work_median,
                speedup: base / wall_median,
                python_work_seconds: python_work,
                python_over_concur: python_work.map(|p| p / work_median),
            });
        }
    }
    rows.push(Row::skipped(
        "primes",
        "processes-split".into(),
        "run `concur primes --split K --mode processes` (not in the bench table yet)".into(),
    ));
    progress.finish_and_clear();
    let bars: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.skipped.is_none())
        .map(|r| (format!("{} {}", r.experiment, r.mode), r.speedup))
        .collect();
    plot::speedup(&options.out.join("speedup.svg"), &bars)?;
    let document = json!({
        "schema": "concur-bench/1",
        "about": header,
        "runs": options.runs,
        "quick": options.quick,
        "iterations": iterations,
        "latency_ms": options.latency,
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
            if let Some(why) = &r.skipped {
                println!("{:<12} {:<24} skipped: {why}", r.experiment, r.mode);
                continue;
            }
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
