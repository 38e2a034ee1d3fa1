//! `concur wordfreq` end to end on fixture books: the seed's text rules (Python's lower, split
//! and strip), ties, empty books, bad UTF-8, and one bad book among good ones.

mod common;

use common::{assert_no_panic, json_of, Fixture};
use predicates::prelude::*;
use serde_json::json;

fn only_result(books: &[(&str, &[u8])], stop: &str) -> serde_json::Value {
    let fixture = Fixture::new(books, stop);
    let report = json_of(fixture.wordfreq(&["--json"]), 0);
    assert_eq!(report["errors"], json!([]));
    report["results"][0].clone()
}

/// Runs wordfreq on one book and checks its most common word and count.
fn assert_most_common(books: &[(&str, &[u8])], stop: &str, word: &str, count: u64) {
    let r = only_result(books, stop);
    assert_eq!(
        (r["word"].as_str(), r["count"].as_u64()),
        (Some(word), Some(count))
    );
}

#[test]
fn tie_goes_to_the_word_seen_first() {
    assert_most_common(&[("tie", b"b a\nA B c\n")], "", "b", 2);
}

#[test]
fn unicode_case_folds_as_python_lower_does() {
    // python3: "ΟΔΟΣ Οδος οδος. ÉCOLE école".lower().split() == ['οδος', 'οδος', 'οδος.', 'école', 'école']
    assert_most_common(
        &[("greek", "ΟΔΟΣ Οδος οδος. ÉCOLE école ΟΔΟΣ".as_bytes())],
        "",
        "οδος",
        3,
    );
}

#[test]
fn splits_on_every_python_whitespace_and_only_there() {
    // No-break space, ideographic space, file separator, line separator, next line split;
    // the zero-width space does not (python3 agrees: "a\u200bb".split() == ['a\u200bb']).
    let text = "x\u{a0}y\u{3000}x\x1cy\u{2028}x\u{85}z a\u{200b}b a\u{200b}b\n";
    assert_most_common(&[("spaces", text.as_bytes())], "", "x", 3);
    assert_most_common(&[("spaces", text.as_bytes())], "x\n", "y", 2);
    assert_most_common(&[("spaces", text.as_bytes())], "x\ny\n", "a\u{200b}b", 2);
}

#[test]
fn crlf_lines_and_punctuation() {
    assert_most_common(
        &[("crlf", b"Mr. Bennet\r\nmr. Darcy\r\nMR.\r\nbennet\r\n")],
        "",
        "mr.",
        3,
    );
}

#[test]
fn stop_words_are_stripped_lines_and_never_win() {
    assert_most_common(
        &[("stop", b"the the the and and cat\n")],
        "  the \r\nand\n",
        "cat",
        1,
    );
}

#[test]
fn byte_order_mark_stays_on_the_first_token() {
    // bytes.decode() keeps U+FEFF, which is not whitespace: "\ufeffthe" is not the stop word "the".
    assert_most_common(
        &[("bom", b"\xef\xbb\xbfThe the cat cat\n")],
        "the\n",
        "cat",
        2,
    );
    assert_most_common(
        &[("bom", b"\xef\xbb\xbfThe the cat\n")],
        "the\n",
        "\u{feff}the",
        1,
    );
}

#[test]
fn empty_book_reports_no_word() {
    let fixture = Fixture::new(&[("empty", b""), ("blank", b"  \n\t\n")], "");
    let report = json_of(fixture.wordfreq(&["--json"]), 0);
    assert_eq!(
        report["results"],
        json!([{"name": "blank", "word": null, "count": 0}, {"name": "empty", "word": null, "count": 0}])
    );
    fixture
        .wordfreq(&[])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "No countable word in blank\nNo countable word in empty\nElapsed time: ",
        ));
}

#[test]
fn text_output_is_the_seeds() {
    let fixture = Fixture::new(
        &[("Gulliver", b"upon upon the\n"), ("Alice", b"said\n")],
        "the\n",
    );
    let out = fixture.wordfreq(&[]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "Most common word in Alice is \"said\" (1 appearances)"
    );
    assert_eq!(
        lines[1],
        "Most common word in Gulliver is \"upon\" (2 appearances)"
    );
    assert!(
        lines[2].starts_with("Elapsed time: ") && lines[2].ends_with(" seconds"),
        "{}",
        lines[2]
    );
    assert_eq!(lines.len(), 3);
}

#[test]
fn invalid_utf8_fails_that_book_alone_naming_it_and_the_offset() {
    let fixture = Fixture::new(
        &[
            ("a good", b"alpha alpha\n"),
            ("bad", b"good line\nab\xffc\n"),
            ("z good", b"omega\n"),
        ],
        "",
    );
    let report = json_of(
        fixture.wordfreq(&["--json", "--mode", "threads", "--workers", "2"]),
        1,
    );
    assert_eq!(
        report["results"],
        json!([{"name": "a good", "word": "alpha", "count": 2}, {"name": "z good", "word": "omega", "count": 1}])
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["name"], "bad");
    let message = errors[0]["error"].as_str().unwrap();
    assert!(
        message.contains("\"bad\"") && message.contains("offset 12"),
        "{message}"
    );

    let out = fixture.wordfreq(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("a good is \"alpha\"") && stdout.contains("z good is \"omega\""),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: book \"bad\" is not UTF-8: invalid byte at offset 12"),
        "{stderr}"
    );
}

#[test]
fn unreadable_book_among_good_ones_is_named() {
    let fixture = Fixture::new(&[("here", b"word\n")], "");
    let report = json_of(fixture.wordfreq(&["--json", "--books", "here,missing"]), 1);
    assert_eq!(
        report["results"],
        json!([{"name": "here", "word": "word", "count": 1}])
    );
    assert_eq!(report["errors"][0]["name"], "missing");
    assert!(report["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("missing.txt"));
}

#[test]
fn every_mode_and_order_gives_the_same_results() {
    let books: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| {
            (
                format!("book{i}"),
                format!("w{i} w{i} common\n").repeat(i + 1).into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = books
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let fixture = Fixture::new(&refs, "common\n");
    let sequential = json_of(fixture.wordfreq(&["--json"]), 0);
    assert_eq!(sequential["mode"], "sequential");
    assert_eq!(sequential["workers"], 1);
    for extra in [
        &["--mode", "threads"][..],
        &["--mode", "threads", "--as-completed", "--workers", "3"],
        &["--mode", "processes", "--workers", "2"],
        &["--mode", "processes", "--as-completed"],
    ] {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let report = json_of(fixture.wordfreq(&args), 0);
        assert_eq!(report["results"], sequential["results"], "{extra:?}");
        assert_eq!(report["mode"], extra[1]);
    }
    let threes = json_of(
        fixture.wordfreq(&["--json", "--mode", "threads", "--workers", "3"]),
        0,
    );
    assert_eq!(threes["workers"], 3);
}

#[test]
fn as_completed_prints_every_book_once() {
    let fixture = Fixture::new(&[("a", b"x\n"), ("b", b"y\n"), ("c", b"z\n")], "");
    let out = fixture
        .wordfreq(&["--as-completed", "--mode", "threads"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(lines.pop().unwrap().starts_with("Elapsed time: "));
    lines.sort();
    assert_eq!(
        lines,
        [
            "Most common word in a is \"x\" (1 appearances)",
            "Most common word in b is \"y\" (1 appearances)",
            "Most common word in c is \"z\" (1 appearances)"
        ]
    );
}

#[test]
fn missing_stop_word_file_is_one_line_naming_it() {
    let fixture = Fixture::new(&[("a", b"x\n")], "");
    let mut cmd = common::concur();
    cmd.args(["wordfreq", "--source"])
        .arg(fixture.books())
        .args(["--stop-words", "/nonexistent/stop.txt"]);
    cmd.assert().code(1).stdout("").stderr(
        predicate::str::contains("/nonexistent/stop.txt")
            .and(predicate::str::starts_with("error: ")),
    );
}
