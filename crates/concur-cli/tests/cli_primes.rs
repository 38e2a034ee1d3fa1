//! `concur primes` and the flags every command shares: bad numbers, modes, workers, JSON.

mod common;

use common::{concur, json_of};
use predicates::prelude::*;
use serde_json::json;

#[test]
fn zero_one_two_are_right_where_the_seed_was_wrong() {
    let mut cmd = concur();
    cmd.args([
        "primes",
        "--json",
        "0",
        "1",
        "2",
        "3",
        "4",
        "18446744073709551615",
    ]);
    let report = json_of(cmd, 0);
    assert_eq!(
        report["results"],
        json!([
            {"n": 0, "prime": false}, {"n": 1, "prime": false}, {"n": 2, "prime": true},
            {"n": 3, "prime": true}, {"n": 4, "prime": false}, {"n": 18446744073709551615u64, "prime": false}
        ])
    );
    assert_eq!(report["command"], "primes");
    assert_eq!(report["errors"], json!([]));
}

#[test]
fn default_numbers_are_the_seeds_in_python_text() {
    let out = concur()
        .args(["primes", "--mode", "threads", "--workers", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0], "112272535095293 is prime: True");
    assert_eq!(lines[5], "1099726899285419 is prime: False");
    assert!(lines[9].starts_with("Elapsed time: "));
}

#[test]
fn processes_mode_gives_the_sequential_answers() {
    let run = |mode: &str| {
        let out = concur()
            .args(["primes", "--json", "--mode", mode, "--workers", "2"])
            .args(["0", "1", "2", "97", "1125828054422712", "112582705942171"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let sequential = run("sequential");
    let processes = run("processes");
    assert_eq!(processes["results"], sequential["results"]);
    assert_eq!(processes["mode"], "processes");
    assert_eq!(processes["workers"], 2);
}

#[test]
fn split_gives_the_unsplit_answers_in_every_mode() {
    let run = |args: &[&str]| {
        let out = concur()
            .args(["primes", "--json", "--workers", "2"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let numbers = [
        "0",
        "2",
        "9",
        "97",
        "1000036000099",
        "112582705942171",
        "3399726899288419",
    ];
    let mut base = vec!["--mode", "sequential"];
    base.extend(numbers);
    let expected = run(&base)["results"].clone();
    for mode in ["sequential", "threads", "processes"] {
        for extra in [&["--split", "4"][..], &["--split", "3", "--as-completed"]] {
            let mut args = vec!["--mode", mode];
            args.extend(extra);
            args.extend(numbers);
            let report = run(&args);
            assert_eq!(report["results"], expected, "{args:?}");
            assert_eq!(report["errors"], json!([]));
        }
    }
    concur()
        .args(["primes", "--split", "0", "7"])
        .assert()
        .code(1)
        .stderr("error: --split 0: give at least 1 part per number\n");
}

#[test]
fn bad_numbers_are_one_line_naming_them() {
    for (arg, expected) in [
        ("abc", "error: \"abc\" is not a whole number\n"),
        ("-5", "error: \"-5\" is negative: primes takes numbers from 0 to 18446744073709551615\n"),
        (
            "18446744073709551616",
            "error: 18446744073709551616 is too large: primes takes numbers from 0 to 18446744073709551615\n",
        ),
        ("1.5", "error: \"1.5\" is not a whole number\n"),
    ] {
        let output = concur().args(["primes", "7", arg, "11"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{arg}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), expected);
        // The good numbers around it are still answered.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[..2], ["7 is prime: True", "11 is prime: True"], "{arg}");
        assert!(lines[2].starts_with("Elapsed time: "), "{stdout}");
    }
}

#[test]
fn a_bad_number_is_a_json_error_and_the_others_are_results() {
    let mut cmd = concur();
    cmd.args(["primes", "--json", "--mode", "threads", "8", "x9", "13"]);
    let report = json_of(cmd, 1);
    assert_eq!(
        report["results"],
        json!([{"n": 8, "prime": false}, {"n": 13, "prime": true}])
    );
    assert_eq!(
        report["errors"],
        json!([{"n": "x9", "error": "\"x9\" is not a whole number"}])
    );
}

#[test]
fn workers_zero_is_refused() {
    concur()
        .args(["primes", "--mode", "threads", "--workers", "0", "7"])
        .assert()
        .code(1)
        .stderr("error: --workers 0: at least one worker is needed\n");
}

#[test]
fn unknown_mode_is_a_usage_error_and_future_modes_say_not_yet() {
    concur()
        .args(["primes", "--mode", "fibers", "7"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("fibers"));
    concur()
        .args(["primes", "--mode", "mpi", "7"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("--features mpi"));
    // Async exists, for I/O-bound work only (tests/cli_http.rs covers it).
    concur()
        .args(["primes", "--mode", "async", "7"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "error: primes is CPU-bound: --mode async runs only I/O-bound workloads (wordfreq); \
             use --mode sequential, threads or processes\n",
        );
}

#[test]
fn as_completed_in_threads_keeps_json_in_input_order() {
    let mut cmd = concur();
    cmd.args([
        "primes",
        "--json",
        "--as-completed",
        "--mode",
        "threads",
        "97",
        "1000000007",
        "8",
    ]);
    let report = json_of(cmd, 0);
    assert_eq!(
        report["results"],
        json!([{"n": 97, "prime": true}, {"n": 1000000007, "prime": true}, {"n": 8, "prime": false}])
    );
}
