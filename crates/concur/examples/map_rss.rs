//! Peak memory of a bounded `map` over 10,000,000 lazily generated inputs (issue 2: < 30 MB).
//!
//! Runs `ThreadPool::map` with 2 workers (chunks of 1,024 by default) over `0..N`, checks the sum
//! of the results, and prints the process's peak resident set size, read from `VmHWM` in
//! `/proc/self/status` (Linux). Because `map` keeps at most `window` chunks in flight, the peak
//! does not grow with N.
//!
//! ```sh
//! cargo run --release -p concur --example map_rss [-- ITEMS [CHUNKSIZE]]
//! ```

use std::process::ExitCode;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn arg(index: usize, default: u64) -> Result<u64, String> {
    match std::env::args().nth(index) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("argument {index} ({text:?}) is not a whole number")),
    }
}

fn main() -> ExitCode {
    let (items, chunksize) = match (arg(1, 10_000_000), arg(2, 1024)) {
        (Ok(items), Ok(chunksize)) => (items, chunksize as usize),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let before = peak_rss_kib();
    let pool = match concur::ThreadPool::new(2) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: cannot start the pool: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = std::time::Instant::now();
    let mut sum: u64 = 0;
    let mut failed = 0u64;
    for result in pool
        .map(|x: u64| x.wrapping_mul(3), 0..items)
        .chunksize(chunksize)
    {
        match result {
            Ok(v) => sum = sum.wrapping_add(v),
            Err(_) => failed += 1,
        }
    }
    let elapsed = start.elapsed();
    let expected = (0..items).fold(0u64, |s, x| s.wrapping_add(x.wrapping_mul(3)));
    let kib = |v: Option<u64>| {
        v.map_or("unknown".to_string(), |k| {
            format!("{:.1} MB", k as f64 / 1024.0)
        })
    };
    println!(
        "items: {items}, chunksize: {chunksize}, workers: 2, elapsed: {:.2} s",
        elapsed.as_secs_f64()
    );
    println!("sum ok: {}, failed items: {failed}", sum == expected);
    println!("peak RSS before the map: {}", kib(before));
    println!("peak RSS (VmHWM): {}", kib(peak_rss_kib()));
    if sum == expected && failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
