//! Helpers shared by the CLI tests: fixture books in temporary folders, the binary, JSON output,
//! and a tiny loopback HTTP server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// The `concur` binary, with a backtrace-friendly environment so a panic would show.
pub fn concur() -> Command {
    let mut cmd = Command::cargo_bin("concur").expect("the concur binary is built");
    cmd.env("RUST_BACKTRACE", "1");
    cmd
}

/// A temporary folder holding `books` (name, bytes) as `name.txt`, plus a stop-word file
/// `stop.txt` beside (not inside) the book folder.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(books: &[(&str, &[u8])], stop_words: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("books")).expect("books dir");
        for (name, bytes) in books {
            std::fs::write(dir.path().join("books").join(format!("{name}.txt")), bytes)
                .expect("write book");
        }
        std::fs::write(dir.path().join("stop.txt"), stop_words).expect("write stop words");
        Fixture { dir }
    }

    pub fn books(&self) -> PathBuf {
        self.dir.path().join("books")
    }

    pub fn stop(&self) -> PathBuf {
        self.dir.path().join("stop.txt")
    }

    /// `concur wordfreq --source BOOKS --stop-words STOP` plus `args`.
    pub fn wordfreq(&self, args: &[&str]) -> Command {
        let mut cmd = concur();
        cmd.arg("wordfreq")
            .arg("--source")
            .arg(self.books())
            .arg("--stop-words")
            .arg(self.stop());
        cmd.args(args);
        cmd
    }
}

/// Runs `cmd`, checks the exit status, and parses stdout as one JSON object.
pub fn json_of(mut cmd: Command, status: i32) -> Value {
    let out = cmd.output().expect("run concur");
    assert_eq!(
        out.status.code(),
        Some(status),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_panic(&out.stderr);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Fails if `stderr` shows a panic or a backtrace.
pub fn assert_no_panic(stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    assert!(
        !text.contains("panicked") && !text.contains("stack backtrace"),
        "stderr: {text}"
    );
}

/// What the loopback server does for a path.
#[derive(Clone)]
pub enum Reply {
    Ok(Vec<u8>),
    Status(u16),
    /// Accept and never answer.
    Silent,
}

/// Serves `routes` on 127.0.0.1 from a background thread; returns `http://127.0.0.1:PORT`.
/// Unknown paths answer 404. The thread lives until the test process ends.
pub fn serve(routes: HashMap<String, Reply>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                match reader.read_line(&mut header) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if header == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            match routes.get(&path).cloned().unwrap_or(Reply::Status(404)) {
                Reply::Ok(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream
                        .write_all(head.as_bytes())
                        .and_then(|()| stream.write_all(&body));
                }
                Reply::Status(code) => {
                    let head = format!(
                        "HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(head.as_bytes());
                }
                Reply::Silent => held.push(stream),
            }
        }
    });
    base
}

/// Sorted `name\tword\tcount` lines from a wordfreq JSON report.
pub fn wordfreq_rows(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{}\t{}\t{}",
                r["name"].as_str().unwrap(),
                r["word"],
                r["count"]
            )
        })
        .collect()
}
