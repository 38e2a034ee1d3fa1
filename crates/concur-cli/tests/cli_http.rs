//! HTTP sources end to end: the book server started in-process on port 0 (`serve::start`), and tiny
//! raw TCP servers for the failures a real server rarely shows (a dropped body, 5xx then success).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{concur, json_of, serve, wordfreq_rows, Reply};
use concur_cli::serve::{start, RunningServer, ServerConfig};
use serde_json::Value;

const MODES: [&str; 4] = ["sequential", "threads", "processes", "async"];

/// The shared seed data, or `None` (with a message) when this checkout lacks it.
fn seed_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.join("expected/seed-wordfreq.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no seed data at {}", dir.display());
        None
    }
}

fn book_server(data: &std::path::Path) -> RunningServer {
    start(ServerConfig::dir(data.join("books"))).expect("start the book server")
}

/// `concur wordfreq --json` over `base/{}.txt` for `books`, in `mode`, plus `args`.
fn wordfreq(base: &str, books: &str, stop: &str, mode: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = concur();
    cmd.args(["wordfreq", "--json", "--mode", mode, "--workers", "4"])
        .args(["--source", &format!("{base}/{{}}.txt"), "--books", books])
        .args(["--stop-words", stop])
        .args(args);
    cmd
}

/// Sorted rows of a report (`name\t"word"\tcount`).
fn rows(report: &Value) -> Vec<String> {
    let mut rows = wordfreq_rows(report);
    rows.sort();
    rows
}

/// The errors of a wordfreq run (see [`wordfreq`]) that must exit 1.
fn failures(base: &str, book: &str, stop: &str, mode: &str, args: &[&str]) -> Vec<String> {
    errors_of(&json_of(wordfreq(base, book, stop, mode, args), 1))
}

fn errors_of(report: &Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["error"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_mode_over_http_gives_the_local_file_results() {
    let Some(data) = seed_data() else { return };
    let expected_text = std::fs::read_to_string(data.join("expected/seed-wordfreq.tsv")).unwrap();
    let lines: Vec<Vec<&str>> = expected_text
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l[0]).collect();
    let mut expected: Vec<String> = lines
        .iter()
        .map(|l| format!("{}\t\"{}\"\t{}", l[0], l[1], l[2]))
        .collect();
    expected.sort();
    let server = book_server(&data);
    let stop = data.join("stop-words-english.txt");
    for mode in MODES {
        let cmd = wordfreq(
            &server.base_url(),
            &names.join(","),
            stop.to_str().unwrap(),
            mode,
            &[],
        );
        let report = json_of(cmd, 0);
        assert_eq!(rows(&report), expected, "mode {mode}");
        assert_eq!(report["mode"], mode);
    }
    // The local files give the same, so HTTP changed nothing.
    let mut local = concur();
    local
        .args(["wordfreq", "--json", "--source"])
        .arg(data.join("books"));
    local.arg("--stop-words").arg(&stop);
    assert_eq!(rows(&json_of(local, 0)), expected);
}

#[test]
fn a_missing_book_fails_alone_naming_url_and_status_in_every_mode() {
    let Some(data) = seed_data() else { return };
    let server = book_server(&data);
    let stop = data.join("stop-words-english.txt");
    for mode in MODES {
        let cmd = wordfreq(
            &server.base_url(),
            "Gulliver,No such book,Frankenstein",
            stop.to_str().unwrap(),
            mode,
            &[],
        );
        let report = json_of(cmd, 1);
        assert_eq!(
            rows(&report),
            ["Frankenstein\t\"will\"\t194", "Gulliver\t\"upon\"\t201"],
            "mode {mode}"
        );
        let errors = errors_of(&report);
        assert_eq!(errors.len(), 1, "mode {mode}: {errors:?}");
        let url = server.url_for("No such book.txt");
        assert!(
            errors[0].contains(&url) && errors[0].contains("404"),
            "mode {mode}: {errors:?}"
        );
    }
}

#[test]
fn primes_and_fingerprint_refuse_async_naming_the_modes_that_fit() {
    for args in [
        &["primes", "7"][..],
        &[
            "fingerprint",
            "--source",
            "http://127.0.0.1:9/{}.txt",
            "--books",
            "a",
        ][..],
    ] {
        let out = concur()
            .args(args)
            .args(["--mode", "async"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("CPU-bound") && stderr.contains("sequential, threads or processes"),
            "{args:?}: {stderr}"
        );
    }
}

/// A raw HTTP server on 127.0.0.1: reads each request head, then `answer(request number, stream)`.
/// Returns the base URL and the count of requests seen.
fn raw_server(
    answer: impl Fn(usize, &mut TcpStream) + Send + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            answer(count.fetch_add(1, Ordering::SeqCst), &mut stream);
        }
    });
    (base, seen)
}

fn stop_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"the\n").unwrap();
    file
}

const BODY: &[u8] = b"the cat saw the cat\n";

fn ok(stream: &mut TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
}

fn status(stream: &mut TcpStream, code: u16) {
    let head = format!("HTTP/1.1 {code} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
}

#[test]
fn a_body_cut_mid_way_fails_naming_the_url_in_every_mode() {
    let (base, _) = raw_server(|_, stream| {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(BODY));
        // Dropping the stream closes the connection 99,980 bytes early.
    });
    let stop = stop_file();
    for mode in MODES {
        let report = json_of(
            wordfreq(&base, "cut", stop.path().to_str().unwrap(), mode, &[]),
            1,
        );
        let errors = errors_of(&report);
        assert_eq!(errors.len(), 1, "mode {mode}: {errors:?}");
        assert!(
            errors[0].contains(&format!("{base}/cut.txt")),
            "mode {mode}: {errors:?}"
        );
        assert!(
            report["results"].as_array().unwrap().is_empty(),
            "mode {mode}"
        );
    }
}

#[test]
fn a_stalled_server_times_out_naming_the_url_and_other_books_are_kept() {
    let good = serve(HashMap::from([(
        "/good.txt".to_string(),
        Reply::Ok(BODY.to_vec()),
    )]));
    let (stalled, _) = raw_server(|_, stream| {
        // Headers, a little body, then silence with the connection open.
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(BODY));
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let stop = stop_file();
    let stop = stop.path().to_str().unwrap();
    for mode in ["sequential", "async"] {
        let cmd = wordfreq(&good, "good", stop, mode, &["--timeout", "1"]);
        assert_eq!(rows(&json_of(cmd, 0)), ["good\t\"cat\"\t2"]);
        let errors = failures(&stalled, "slow", stop, mode, &["--timeout", "1"]);
        assert!(
            errors.len() == 1 && errors[0].contains(&format!("{stalled}/slow.txt")),
            "mode {mode}: {errors:?}"
        );
    }
}

#[test]
fn five_hundreds_are_retried_then_succeed_and_four_hundreds_are_not() {
    let stop = stop_file();
    let stop = stop.path().to_str().unwrap();
    let retries = |n: &'static str| ["--retries", n, "--backoff", "10"];
    for mode in ["sequential", "async"] {
        let (base, seen) = raw_server(|n, stream| {
            if n < 2 {
                status(stream, 503)
            } else {
                ok(stream, BODY)
            }
        });
        let report = json_of(wordfreq(&base, "flaky", stop, mode, &retries("2")), 0);
        assert_eq!(rows(&report), ["flaky\t\"cat\"\t2"], "mode {mode}");
        assert_eq!(seen.load(Ordering::SeqCst), 3, "mode {mode}");

        let (base, seen) = raw_server(|_, stream| status(stream, 503));
        let errors = failures(&base, "down", stop, mode, &retries("1"));
        assert!(
            errors[0].contains("503") && errors[0].contains("after 2 attempts"),
            "{errors:?}"
        );
        assert_eq!(seen.load(Ordering::SeqCst), 2, "mode {mode}");

        let (base, seen) = raw_server(|_, stream| status(stream, 403));
        let errors = failures(&base, "private", stop, mode, &retries("3"));
        assert!(errors[0].contains(&format!("{base}/private.txt answered 403")));
        assert_eq!(seen.load(Ordering::SeqCst), 1, "mode {mode}");
    }
}

#[test]
fn a_body_above_the_limit_fails_naming_the_url() {
    let stop = stop_file();
    let stop = stop.path().to_str().unwrap();
    let limit = ["--max-body-bytes", "10"];
    // Content-Length announces more than the limit: refused before reading.
    let (announced, _) = raw_server(|_, stream| ok(stream, BODY));
    // No Content-Length (the body ends at close): caught while streaming.
    let (unannounced, _) = raw_server(|_, stream| {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .and_then(|()| stream.write_all(BODY));
    });
    for base in [announced, unannounced] {
        for mode in ["sequential", "async"] {
            let errors = failures(&base, "big", stop, mode, &limit);
            assert!(
                errors[0].contains(&format!("{base}/big.txt"))
                    && errors[0].contains("limit of 10 bytes"),
                "mode {mode}: {errors:?}"
            );
        }
    }
}

#[test]
fn serve_prints_its_url_serves_books_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a book.txt"), BODY).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("concur"))
        .args(["serve", "--addr", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start concur serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim();
    assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
    let body = reqwest::blocking::get(format!("{base}/a%20book.txt"))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&body[..], BODY);
    let missing = reqwest::blocking::get(format!("{base}/nope.txt"))
        .unwrap()
        .status();
    assert_eq!(missing.as_u16(), 404);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// The Python side of `concur bench` (`bench/python/wordfreq.py`) in its asyncio mode, over the
/// same in-process server: the same answers as concur's async mode, and a missing book fails
/// alone, naming its URL and status.
#[test]
fn python_async_wordfreq_matches_concur_over_the_same_server() {
    let Some(data) = seed_data() else { return };
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no python3");
        return;
    }
    let server = book_server(&data);
    let stop = data.join("stop-words-english.txt");
    let books = "Gulliver,Metamorphosis,No such book,Frankenstein";
    let concur_report = json_of(
        wordfreq(
            &server.base_url(),
            books,
            stop.to_str().unwrap(),
            "async",
            &[],
        ),
        1,
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/python/wordfreq.py");
    for order in [None, Some("--as-completed")] {
        let mut python = assert_cmd::Command::new("python3");
        python
            .arg(&script)
            .args(["--json", "--mode", "async", "--workers", "4"])
            .args(["--source", &format!("{}/{{}}.txt", server.base_url())])
            .args(["--books", books, "--stop-words", stop.to_str().unwrap()])
            .args(order);
        let report = json_of(python, 1);
        assert_eq!(report["mode"], "async");
        assert_eq!(report["results"], concur_report["results"], "{order:?}");
        let errors = errors_of(&report);
        let url = server.url_for("No such book.txt");
        assert!(
            errors.len() == 1 && errors[0].contains(&url) && errors[0].contains("404"),
            "{order:?}: {errors:?}"
        );
    }
}
