//! Where books come from: folders (missing, empty) and URL templates served by a loopback HTTP
//! server started by the test (200, 404, and a server that never answers).

mod common;

use std::collections::HashMap;

use common::{concur, json_of, serve, Fixture, Reply};
use predicates::prelude::*;
use serde_json::json;

#[test]
fn missing_folder_is_one_line_naming_it() {
    concur()
        .args([
            "wordfreq",
            "--source",
            "/nonexistent/books",
            "--stop-words",
            "/dev/null",
        ])
        .assert()
        .code(1)
        .stdout("")
        .stderr("error: book folder \"/nonexistent/books\" does not exist or is not a folder\n");
}

#[test]
fn folder_without_books_is_one_line_naming_it() {
    let fixture = Fixture::new(&[], "");
    std::fs::write(fixture.books().join("notes.md"), "not a book").unwrap();
    let folder = fixture.books().display().to_string();
    concur()
        .args(["fingerprint", "--iterations", "1", "--source", &folder])
        .assert()
        .code(1)
        .stderr(format!(
            "error: book folder {folder:?} holds no *.txt book\n"
        ));
}

#[test]
fn folder_books_are_named_by_stem_in_name_order() {
    let fixture = Fixture::new(
        &[("b", b"bee\n"), ("a", b"ay\n"), ("A Tale", b"tale\n")],
        "",
    );
    std::fs::write(fixture.books().join("skip.md"), "skip").unwrap();
    let report = json_of(fixture.wordfreq(&["--json"]), 0);
    let names: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A Tale", "a", "b"]);
}

#[test]
fn url_template_percent_encodes_names_and_reports_404_alone() {
    let routes = HashMap::from([
        (
            "/books/A%20Tale.txt".to_string(),
            Reply::Ok(b"It was the best of times\ntimes\n".to_vec()),
        ),
        (
            "/stop.txt".to_string(),
            Reply::Ok(b"the\nit\nwas\n".to_vec()),
        ),
    ]);
    let base = serve(routes);
    let template = format!("{base}/books/{{}}.txt");
    let mut cmd = concur();
    cmd.args([
        "wordfreq", "--json", "--mode", "threads", "--source", &template,
    ]);
    cmd.args([
        "--books",
        "A Tale,Gone",
        "--stop-words",
        &format!("{base}/stop.txt"),
    ]);
    let report = json_of(cmd, 1);
    assert_eq!(
        report["results"],
        json!([{"name": "A Tale", "word": "times", "count": 2}])
    );
    assert_eq!(report["errors"][0]["name"], "Gone");
    let error = report["errors"][0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("{base}/books/Gone.txt")) && error.contains("404"),
        "{error}"
    );
}

#[test]
fn fingerprint_reads_books_over_http() {
    let base = serve(HashMap::from([(
        "/x.txt".to_string(),
        Reply::Ok(b"book".to_vec()),
    )]));
    let mut cmd = concur();
    cmd.args([
        "fingerprint",
        "--json",
        "--iterations",
        "1000",
        "--books",
        "x",
    ]);
    cmd.args(["--source", &format!("{base}/{{}}.txt")]);
    let report = json_of(cmd, 0);
    // python3: hashlib.pbkdf2_hmac('sha512', b'book', b'salt', 1000).hex()
    assert_eq!(
        report["results"][0]["fingerprint"],
        "4148ef881e7e615739ac8f0886f3cba099f401d9dbe54f215138f92e405a350a18999fcbd8a0f00e2cab6a5504f5b3b061a01f88d498bc7dd3a775a129ffffa5"
    );
}

#[test]
fn a_server_that_never_answers_times_out_naming_the_url() {
    let base = serve(HashMap::from([("/slow.txt".to_string(), Reply::Silent)]));
    let mut cmd = concur();
    cmd.args([
        "fingerprint",
        "--iterations",
        "1",
        "--timeout",
        "1",
        "--books",
        "slow",
    ]);
    cmd.args(["--source", &format!("{base}/{{}}.txt")]);
    cmd.assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "URL {base}/slow.txt did not answer in time"
        )));
}

#[test]
fn missing_stop_word_url_is_named() {
    let base = serve(HashMap::new());
    let fixture = Fixture::new(&[("a", b"x\n")], "");
    let mut cmd = concur();
    cmd.args(["wordfreq", "--source"]).arg(fixture.books());
    cmd.args(["--stop-words", &format!("{base}/stop.txt")]);
    cmd.assert().code(1).stdout("").stderr(
        predicate::str::contains(format!("{base}/stop.txt")).and(predicate::str::contains("404")),
    );
}

#[test]
fn url_template_needs_braces_and_names() {
    concur()
        .args([
            "wordfreq",
            "--source",
            "http://127.0.0.1:9/books.txt",
            "--books",
            "a",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no {}"));
    concur()
        .args(["fingerprint", "--source", "http://127.0.0.1:9/{}.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--books"));
}
