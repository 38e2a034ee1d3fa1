//! `concur bench`: a quick run on a tiny corpus produces every row, honestly labelled.

mod common;

use common::{concur, json_of, Fixture};

#[test]
fn quick_bench_reports_every_experiment_and_mode() {
    let fixture = Fixture::new(&[("a", b"alpha beta alpha\n"), ("b", b"gamma\n")], "beta\n");
    let mut cmd = concur();
    cmd.args([
        "bench",
        "--quick",
        "--runs",
        "1",
        "--no-python",
        "--json",
        "--workers",
        "2",
        "--books",
    ]);
    cmd.arg(fixture.books())
        .arg("--stop-words")
        .arg(fixture.stop());
    let report = json_of(cmd, 0);
    let rows: Vec<(String, String, u64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["experiment"].as_str().unwrap().into(),
                r["mode"].as_str().unwrap().into(),
                r["workers"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, u64)> = ["primes", "wordfreq", "fingerprint"]
        .iter()
        .flat_map(|e| {
            [
                (e.to_string(), "sequential".to_string(), 1),
                (e.to_string(), "threads".to_string(), 2),
            ]
        })
        .collect();
    assert_eq!(rows, expected);
    let about = report["about"].to_string();
    assert!(
        about.contains("python: skipped (--no-python)") && about.contains("10000 iterations"),
        "{about}"
    );
    assert_eq!(report["rows"][0]["speedup"], 1.0);
}

#[test]
fn bench_text_says_what_it_ran() {
    let fixture = Fixture::new(&[("a", b"alpha\n")], "");
    let mut cmd = concur();
    cmd.args(["bench", "--quick", "--runs", "1", "--no-python", "--books"])
        .arg(fixture.books());
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("concur bench: primes (the seed's 9 numbers)"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("wordfreq ")).count(),
        2,
        "{text}"
    );
}
