//! wordfreq counting, concur against Python, in one run: the issue-3 goal (≥ 25×) measured.
//!
//! `cargo run --release -p concur-cli --example wordfreq_speed -- [BOOKS] [STOP_WORDS] [PASSES] [ROUNDS]`
//! (defaults: `../shared/data/books`, `../shared/data/stop-words-english.txt`, 7, 3).
//!
//! A pass is the whole sequential work for every `*.txt` of BOOKS (name order): open, stream,
//! decode, count, and pick the most common word that is not a stop word. Each round runs PASSES
//! passes here, then `bench/python/wordfreq_speed.py` runs PASSES passes of the same work; both
//! sides time each pass by the CPU time of the thread doing it (`CLOCK_THREAD_CPUTIME_ID` here,
//! see `support/thread_cpu.rs`; `time.thread_time()` there), so neither start-up nor waiting
//! for a busy CPU counts. The ratio of a round is Python's median pass over concur's median
//! pass; the last line is the median ratio over the rounds.
//! Both sides' results must agree, or the example fails.
use std::path::{Path, PathBuf};
use std::process::Command;

use concur_cli::sources::{load_stop_words, Location};
use concur_cli::workloads::wordfreq::count_words;

#[path = "support/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::{median, timed};

/// One pass: each book's `(name, word, count)`.
fn pass(books: &[PathBuf], stop_words: &[String]) -> Vec<(String, Option<String>, u64)> {
    books
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap_or_default().to_string_lossy();
            let location = Location::File(path.clone());
            let reader = location.open().expect("open book");
            let counts = count_words(reader, &name, &location).expect("count book");
            let (word, count) = counts.most_common(stop_words);
            (name.into_owned(), word, count)
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let books_dir = args.next().unwrap_or_else(|| "../shared/data/books".into());
    let stop_path = args
        .next()
        .unwrap_or_else(|| "../shared/data/stop-words-english.txt".into());
    let passes: usize = args.next().map_or(7, |p| p.parse().expect("PASSES"));
    let rounds: usize = args.next().map_or(3, |r| r.parse().expect("ROUNDS"));
    let mut books: Vec<PathBuf> = std::fs::read_dir(&books_dir)
        .expect("book folder")
        .map(|e| e.expect("folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    books.sort();
    let stop_words = load_stop_words(Some(&stop_path), 30.0).expect("stop words");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/python/wordfreq_speed.py");

    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let mut results = Vec::new();
        let ours = median(
            (0..passes)
                .map(|_| timed(|| results = pass(&books, &stop_words)))
                .collect(),
        );
        let output = Command::new("python3")
            .arg(&script)
            .args([&books_dir, &stop_path, &passes.to_string()])
            .output()
            .expect("run python3");
        assert!(output.status.success(), "python: {output:?}");
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("python's JSON");
        let theirs = report["median"].as_f64().expect("python's median");
        let python_results: Vec<(String, Option<String>, u64)> =
            serde_json::from_value(report["results"].clone()).expect("python's results");
        assert_eq!(results, python_results, "concur and Python disagree");
        ratios.push(theirs / ours);
        println!(
            "round {round}: concur {:.2} ms, Python {:.1} ms (median of {passes} passes, thread CPU time): {:.1}x",
            ours * 1e3,
            theirs * 1e3,
            theirs / ours
        );
    }
    println!("median ratio over {rounds} rounds: {:.1}x", median(ratios));
}
