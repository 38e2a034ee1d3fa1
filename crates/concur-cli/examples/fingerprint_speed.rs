//! fingerprint per book, concur against Python's hashlib, in one run: the issue-3 goal (concur's
//! time ≤ 0.8× Python's) measured.
//!
//! `cargo run --release -p concur-cli --example fingerprint_speed -- [BOOKS] [NAMES] [ITERATIONS] [ROUNDS]`
//! (defaults: `../shared/data/books`, `Alice in Wonderland,Yellow wallpaper`, 1000000, 3).
//!
//! Each round fingerprints every named book here (`pbkdf2_hex`, what `concur fingerprint` runs
//! per book: PBKDF2-HMAC-SHA512 of the book's bytes, salt `salt`), then
//! `bench/python/fingerprint_speed.py` does the same with `hashlib.pbkdf2_hmac`. Both sides time
//! each book by the CPU time of the thread hashing it (reading the book is not timed), so
//! neither start-up nor waiting for a busy CPU counts. A round's ratio is concur's total over
//! Python's; the last line is the median ratio over the rounds (below 1: concur is faster).
//! Both sides' fingerprints must agree, or the example fails.
use std::path::Path;
use std::process::Command;

use concur_cli::workloads::fingerprint::pbkdf2_hex;

#[path = "support/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::{median, timed};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/data/books".into());
    let names = args
        .next()
        .unwrap_or_else(|| "Alice in Wonderland,Yellow wallpaper".into());
    let iterations: u32 = args
        .next()
        .map_or(1_000_000, |n| n.parse().expect("ITERATIONS"));
    let rounds: usize = args.next().map_or(3, |r| r.parse().expect("ROUNDS"));
    let paths: Vec<_> = names
        .split(',')
        .map(|name| Path::new(&dir).join(format!("{name}.txt")))
        .collect();
    let books: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/python/fingerprint_speed.py");

    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let mut ours = Vec::new();
        let mut hexes = Vec::new();
        for book in &books {
            ours.push(timed(|| hexes.push(pbkdf2_hex(book, b"salt", iterations))));
        }
        let output = Command::new("python3")
            .arg(&script)
            .arg(iterations.to_string())
            .args(&paths)
            .output()
            .expect("run python3");
        assert!(output.status.success(), "python: {output:?}");
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("python's JSON");
        let theirs: Vec<f64> =
            serde_json::from_value(report["seconds"].clone()).expect("python's seconds");
        let their_hexes: Vec<String> =
            serde_json::from_value(report["fingerprints"].clone()).expect("python's fingerprints");
        assert_eq!(hexes, their_hexes, "concur and Python disagree");
        let ratio = ours.iter().sum::<f64>() / theirs.iter().sum::<f64>();
        ratios.push(ratio);
        let per_book: Vec<String> = ours
            .iter()
            .zip(&theirs)
            .map(|(o, t)| format!("{o:.3} vs {t:.3} s"))
            .collect();
        println!(
            "round {round}: concur vs Python per book (thread CPU time): {}: {ratio:.3}x",
            per_book.join(", ")
        );
    }
    println!("median ratio over {rounds} rounds: {:.3}x", median(ratios));
}
