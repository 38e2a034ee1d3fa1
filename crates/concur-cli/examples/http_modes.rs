//! Measures the I/O-bound experiment over HTTP: the seed's eight books served by `serve::start` with
//! 300 ms latency, fetched and counted once (one book), then all eight sequentially, on 8 threads,
//! and in async mode (one thread). Prints the median of 3 runs of each and its ratio to one fetch.
//!
//! `cargo run --release -p concur-cli --example http_modes -- [DATA_DIR] [LATENCY_MS]`
//! (DATA_DIR defaults to `../shared/data`, holding `books/` and `stop-words-english.txt`).

use std::time::Duration;

use concur_cli::serve::{start, ServerConfig};
use concur_cli::sources::{self, fill_template};
use concur_cli::workloads::{execute, wordfreq, Mode, Options};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = std::path::PathBuf::from(args.next().unwrap_or("../shared/data".into()));
    let latency: u64 = args.next().map_or(Ok(300), |a| a.parse())?;
    let server = start(ServerConfig {
        latency: Duration::from_millis(latency),
        ..ServerConfig::dir(data.join("books"))
    })?;
    let stop = sources::load_stop_words(data.join("stop-words-english.txt").to_str(), 30.0)?;
    let template = format!("{}/{{}}.txt", server.base_url());
    let books = |n: usize| -> Vec<_> {
        sources::SEED_BOOKS[..n]
            .iter()
            .map(|name| {
                let url = fill_template(&template, name);
                (name.to_string(), sources::Location::parse(&url, 30.0))
            })
            .collect()
    };
    let median = |n: usize, mode: Mode, workers: usize| -> anyhow::Result<f64> {
        let mut times = Vec::new();
        for _ in 0..3 {
            let options = Options {
                mode,
                workers: Some(workers),
                as_completed: false,
                trace: false,
            };
            let report = execute(
                wordfreq::experiment(books(n), stop.clone()),
                options,
                |_, _| {},
            )?;
            anyhow::ensure!(!report.failed(), "a book failed: {:?}", report.results);
            times.push(report.elapsed_seconds);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[1])
    };
    let one = median(1, Mode::Sequential, 1)?;
    println!("latency {latency} ms, median of 3 runs, seconds (ratio to one fetch)");
    println!("{:<28} {one:6.3} (1.00)", "one fetch (sequential)");
    for (label, mode) in [
        ("8 books sequential", Mode::Sequential),
        ("8 books threads (8 workers)", Mode::Threads),
        ("8 books async (limit 8)", Mode::Async),
    ] {
        let t = median(8, mode, 8)?;
        println!("{label:<28} {t:6.3} ({:.2})", t / one);
    }
    server.shutdown()?;
    Ok(())
}
