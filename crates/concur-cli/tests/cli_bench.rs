//! `concur bench --quick`: it runs, and everything it writes is well formed.
//!
//! Checks bench.json against docs/bench-schema.md, that every SVG parses as XML and that each
//! timeline has exactly one task bar (a rectangle in the task colour) per task of its Chrome trace,
//! and that every trace file is Chrome trace-event JSON.

use assert_cmd::Command;
use serde_json::Value;

#[test]
fn quick_bench_writes_a_well_formed_report() {
    let out = tempfile::tempdir().unwrap();
    Command::cargo_bin("concur")
        .unwrap()
        .args([
            "bench",
            "--quick",
            "--runs",
            "1",
            "--python",
            "off",
            "--latency",
            "5",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();

    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("bench.json")).unwrap())
            .unwrap();
    assert_eq!(doc["schema"], "concur-bench/1");
    for key in ["runs", "iterations", "latency_ms", "workers", "cpus"] {
        assert!(doc[key].is_u64(), "{key} in {doc}");
    }
    let rows = doc["rows"].as_array().unwrap();
    for experiment in ["primes", "wordfreq", "fingerprint"] {
        for mode in ["sequential", "threads", "processes"] {
            let row = rows
                .iter()
                .find(|r| r["experiment"] == experiment && r["mode"] == mode)
                .unwrap_or_else(|| panic!("no row {experiment} {mode}"));
            assert!(row["skipped"].is_null());
            assert!(row["median_wall_seconds"].as_f64().unwrap() > 0.0);
            assert!(row["speedup"].as_f64().unwrap() > 0.0);
            assert!(row["tasks"].as_u64().unwrap() > 0);
        }
    }
    assert!(rows.iter().any(|r| r["mode"] == "threads-as_completed"));
    assert!(rows
        .iter()
        .any(|r| r["mode"] == "processes-split" && r["skipped"].is_string()));

    let mut timelines = 0;
    for entry in std::fs::read_dir(out.path()).unwrap() {
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
            let bars = svg
                .descendants()
                .filter(|n| n.has_tag_name("rect"))
                .filter(|n| {
                    matches!(
                        n.attribute("fill").map(str::to_ascii_lowercase).as_deref(),
                        Some("#2a6fdb" | "#d62728")
                    )
                })
                .count();
            let trace: Value = serde_json::from_str(
                &std::fs::read_to_string(out.path().join(format!("trace-{stem}.json"))).unwrap(),
            )
            .unwrap();
            let tasks = trace["traceEvents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["ph"] == "X")
                .count();
            assert_eq!(bars, tasks, "{name}");
            let row = rows
                .iter()
                .find(|r| {
                    format!(
                        "{}-{}",
                        r["experiment"].as_str().unwrap(),
                        r["mode"].as_str().unwrap()
                    ) == stem
                })
                .unwrap();
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
    assert!(timelines >= 9, "{timelines} timelines");
}
