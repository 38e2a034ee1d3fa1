//! Times the wordfreq counting on a book folder in-process: best of N runs.
//! `cargo run --release --example wordfreq_speed -- ../shared/data/books 20`
use std::time::Instant;

use concur_cli::sources::Location;
use concur_cli::workloads::wordfreq::count_words;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/data/books".into());
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("book folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        for f in &files {
            let location = Location::File(f.clone());
            let counts =
                count_words(location.open().expect("open"), "book", &location).expect("count");
            std::hint::black_box(counts.most_common(&[]));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("best of {runs}: {:.4} s", best);
}
