//! `concur bench --quick`: it runs, and everything it writes is well formed.
//!
//! Checks bench.json against docs/bench-schema.md (the corpus, every row), that every SVG parses
//! as XML and that each timeline has exactly one task bar (a rectangle in the task colour) per
//! task of its Chrome trace and of its row, and that every trace file is Chrome trace-event JSON.
//! Also: without `--books` the corpus is the synthetic one even when `../shared/data/books`
//! exists, and `--books DIR` runs that folder.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The synthetic corpus's size: the seed's eight books, byte for byte as large.
const SYNTHETIC_BYTES: u64 = 2_632_202;

/// Runs `concur bench --quick --runs 1 --python off` in `cwd` with `extra` flags, writing to
/// `out`; returns bench.json.
fn quick_bench(cwd: &Path, out: &Path, extra: &[&str]) -> Value {
    Command::cargo_bin("concur")
        .unwrap()
        .current_dir(cwd)
        .args(["bench", "--quick", "--runs", "1", "--python", "off"])
        .args(["--latency", "5"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap()
}

/// The rectangles in the task colours (`#2a6fdb` done, `#d62728` failed): the bars.
fn bars(svg: &roxmltree::Document) -> usize {
    svg.descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| {
            matches!(
                n.attribute("fill").map(str::to_ascii_lowercase).as_deref(),
                Some("#2a6fdb" | "#d62728")
            )
        })
        .count()
}

fn row<'a>(rows: &'a [Value], experiment: &str, mode: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["experiment"] == experiment && r["mode"] == mode)
        .unwrap_or_else(|| panic!("no row {experiment} {mode}"))
}

#[test]
fn quick_bench_writes_a_well_formed_report() {
    // A decoy ../shared/data/books beside the working folder: the default corpus must not use it.
    let root = tempfile::tempdir().unwrap();
    let cwd = root.path().join("work");
    let decoy = root.path().join("shared/data/books");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&decoy).unwrap();
    std::fs::write(decoy.join("Decoy.txt"), "decoy words\n").unwrap();
    let out = root.path().join("report");
    let doc = quick_bench(&cwd, &out, &[]);

    assert_eq!(doc["schema"], "concur-bench/2");
    for key in [
        "runs",
        "iterations",
        "latency_ms",
        "split_parts",
        "count_delay_ms",
        "workers",
        "cpus",
    ] {
        assert!(doc[key].is_u64(), "{key} in {doc}");
    }
    assert_eq!(doc["runs"], 1);
    assert_eq!(doc["quick"], true);
    let corpus = &doc["corpus"];
    assert_eq!(corpus["kind"], "synthetic", "{corpus}");
    assert_eq!(corpus["books"], 8);
    assert_eq!(corpus["bytes"], SYNTHETIC_BYTES);
    assert!(corpus["folder"].is_null());
    assert!(corpus["stop_words"]
        .as_str()
        .unwrap()
        .starts_with("built-in"));
    let about: Vec<&str> = doc["about"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        about
            .iter()
            .any(|l| l.contains("synthetic Zipf, 8 books, 2632202 bytes")),
        "{about:?}"
    );
    assert!(!about.iter().any(|l| l.contains("shared")), "{about:?}");

    let rows = doc["rows"].as_array().unwrap();
    let traced = [
        ("primes", "sequential"),
        ("primes", "threads"),
        ("primes", "processes"),
        ("primes", "threads-split"),
        ("primes", "processes-split"),
        ("wordfreq", "sequential"),
        ("wordfreq", "threads"),
        ("wordfreq", "processes"),
        ("wordfreq", "threads-as_completed"),
        ("wordfreq", "processes-as_completed"),
        ("wordfreq", "async"),
        ("wordfreq", "async-as_completed"),
        ("fingerprint", "sequential"),
        ("fingerprint", "threads"),
        ("fingerprint", "processes"),
        ("count", "sequential"),
        ("count", "threads"),
    ];
    for (experiment, mode) in traced {
        let r = row(rows, experiment, mode);
        assert!(r["median_wall_seconds"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["median_work_seconds"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["speedup"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["tasks"].as_u64().unwrap() > 0, "{r}");
        assert!(r["python_work_seconds"].is_null(), "{r}");
    }
    assert_eq!(rows.len(), traced.len(), "every row is traced");
    // Every book is one task; the two counters are two; sequential runs on one worker.
    assert_eq!(row(rows, "wordfreq", "threads")["tasks"], 8);
    assert_eq!(row(rows, "wordfreq", "async")["tasks"], 8);
    assert_eq!(row(rows, "fingerprint", "processes")["tasks"], 8);
    assert_eq!(row(rows, "count", "threads")["tasks"], 2);
    assert_eq!(row(rows, "count", "threads")["workers"], 2);
    assert_eq!(row(rows, "primes", "sequential")["workers"], 1);
    // Split: up to 4 siblings per odd number (one of the nine is even and needs none).
    let split = row(rows, "primes", "threads-split")["tasks"]
        .as_u64()
        .unwrap();
    assert!(split > 8 && split <= 32, "{split} split tasks");

    let mut timelines = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".svg") {
            let svg = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let Some(stem) = name
                .strip_prefix("timeline-")
                .and_then(|n| n.strip_suffix(".svg"))
            else {
                continue;
            };
            timelines += 1;
            let bars = bars(&svg);
            let trace: Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(format!("trace-{stem}.json"))).unwrap(),
            )
            .unwrap();
            let tasks = trace["traceEvents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["ph"] == "X")
                .count();
            assert_eq!(bars, tasks, "{name}");
            // Every worker row of the trace is named on the timeline.
            let texts: Vec<&str> = svg
                .descendants()
                .filter_map(|n| n.text())
                .map(str::trim)
                .collect();
            for worker in trace["traceEvents"].as_array().unwrap() {
                if worker["ph"] == "M" {
                    let worker = worker["args"]["name"].as_str().unwrap();
                    assert!(texts.contains(&worker), "{name} does not name {worker}");
                }
            }
            let row = rows
                .iter()
                .find(|r| {
                    format!(
                        "{}-{}",
                        r["experiment"].as_str().unwrap(),
                        r["mode"].as_str().unwrap()
                    ) == stem
                })
                .unwrap_or_else(|| panic!("{name} has no row"));
            assert_eq!(row["tasks"].as_u64(), Some(tasks as u64), "{name}");
        } else if name.starts_with("trace-") {
            let trace: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            for event in trace["traceEvents"].as_array().unwrap() {
                assert!(event["ph"] == "X" || event["ph"] == "M", "{name}: {event}");
                assert!(
                    event["pid"].is_u64() && event["tid"].is_u64(),
                    "{name}: {event}"
                );
                if event["ph"] == "X" {
                    assert!(
                        event["ts"].as_f64().unwrap() >= 0.0
                            && event["dur"].as_f64().unwrap() >= 0.0
                    );
                    assert!(event["name"].is_string());
                }
            }
        }
    }
    assert_eq!(timelines, traced.len(), "one timeline per traced row");
    let speedup = std::fs::read_to_string(out.join("speedup.svg")).unwrap();
    let speedup = roxmltree::Document::parse(&speedup).unwrap();
    assert_eq!(bars(&speedup), rows.len(), "one speedup bar per row");
}

#[test]
fn books_folder_runs_those_books() {
    let root = tempfile::tempdir().unwrap();
    let books = root.path().join("books");
    std::fs::create_dir(&books).unwrap();
    std::fs::write(books.join("One.txt"), "apple the apple pear\n").unwrap();
    std::fs::write(books.join("Two.txt"), "Pear pear, the pear apple\n").unwrap();
    let out = root.path().join("report");
    let doc = quick_bench(root.path(), &out, &["--books", books.to_str().unwrap()]);
    let corpus = &doc["corpus"];
    assert_eq!(corpus["kind"], "folder", "{corpus}");
    assert_eq!(corpus["folder"], books.to_str().unwrap());
    assert_eq!(corpus["books"], 2);
    assert_eq!(corpus["bytes"], 21 + 26);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(row(rows, "wordfreq", "processes")["tasks"], 2);
    assert_eq!(row(rows, "fingerprint", "threads")["tasks"], 2);
}

#[test]
fn a_missing_books_folder_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    Command::cargo_bin("concur")
        .unwrap()
        .args(["bench", "--quick", "--python", "off", "--books"])
        .arg(root.path().join("nowhere"))
        .arg("--out")
        .arg(root.path().join("report"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("nowhere"));
}
