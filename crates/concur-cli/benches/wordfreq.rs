//! wordfreq counting in memory, without I/O: every seed book fed through a `LineCounter`, then
//! its most common word picked. `cargo bench -p concur-cli --bench wordfreq`.
//!
//! The books come from `CONCUR_BOOKS` (a folder of `*.txt`), else `../shared/data/books` beside
//! the repository; without either, a generated English-like text of about the same size stands in.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;

use concur_cli::workloads::wordfreq::LineCounter;

fn books() -> Vec<(String, Vec<u8>)> {
    let dir = std::env::var_os("CONCUR_BOOKS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/books"),
        PathBuf::from,
    );
    let mut books: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
        .collect();
    books.sort();
    if books.is_empty() {
        let line = "It was the best of times, it was the worst of times; Mr. Lorry said so.\r\n";
        books.push(("generated".into(), line.repeat(35_000).into_bytes()));
    }
    books
}

fn count(c: &mut Criterion) {
    let books = books();
    let stop_words: Vec<String> = ["the", "and", "of", "to", "a"].map(String::from).into();
    let mut group = c.benchmark_group("wordfreq_count");
    group.throughput(Throughput::Bytes(
        books.iter().map(|(_, text)| text.len() as u64).sum(),
    ));
    let label = match books.len() {
        1 => books[0].0.clone(),
        n => format!("{n} books"),
    };
    group.bench_function(label, |b| {
        b.iter(|| {
            for (name, text) in &books {
                let mut counter = LineCounter::new(name);
                counter.feed(text).expect("UTF-8 book");
                black_box(
                    counter
                        .finish()
                        .expect("UTF-8 book")
                        .most_common(&stop_words),
                );
            }
        })
    });
    group.finish();
}

criterion_group!(benches, count);
criterion_main!(benches);
