//! `concur fingerprint`: PBKDF2-HMAC-SHA512 against Python's hashlib, and its bad inputs.

mod common;

use common::{concur, json_of, Fixture};
use serde_json::json;

// python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha512', b'book', b'pepper', 2).hex())"
const BOOK_PEPPER_2: &str = "07dcf9da959b892522882ff7c2a9bf07741527c2d0ea061b27ad380cba4bdb32854e891c3a91e1606e17f8e9bd60823217261eb6a98e110cedd831d374f11659";
// python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha512', b'', b'salt', 3).hex())"
const EMPTY_SALT_3: &str = "35728858479af699c1690e989eba0d104c6c9d7ff67373a48e4f87e90cb55af771ac93458ee4ba4ac24f1e927bc4aba5bfed6aa82a752ad40403fbfd9575a46c";

/// `concur fingerprint --json --iterations 2 --salt pepper --mode MODE --books BOOKS --source DIR`.
fn pepper(fixture: &Fixture, mode: &str, books: &str) -> assert_cmd::Command {
    let mut cmd = concur();
    cmd.args([
        "fingerprint",
        "--json",
        "--iterations",
        "2",
        "--salt",
        "pepper",
    ]);
    cmd.args(["--mode", mode, "--books", books, "--source"])
        .arg(fixture.books());
    cmd
}

#[test]
fn matches_python_hashlib_in_every_mode() {
    let fixture = Fixture::new(&[("book", b"book"), ("empty", b"")], "");
    for mode in ["sequential", "threads", "processes"] {
        let report = json_of(pepper(&fixture, mode, "book"), 0);
        assert_eq!(
            report["results"],
            json!([{"name": "book", "fingerprint": BOOK_PEPPER_2}])
        );
    }
    let mut cmd = concur();
    cmd.args([
        "fingerprint",
        "--iterations",
        "3",
        "--books",
        "empty",
        "--source",
    ])
    .arg(fixture.books());
    cmd.assert()
        .success()
        .stdout(predicates::str::starts_with(format!(
            "Fingerprint for empty is \"{EMPTY_SALT_3}\"\nElapsed time: "
        )));
}

#[test]
fn zero_iterations_is_refused() {
    let fixture = Fixture::new(&[("book", b"book")], "");
    let mut cmd = concur();
    cmd.args(["fingerprint", "--iterations", "0", "--source"])
        .arg(fixture.books());
    cmd.assert()
        .code(1)
        .stdout("")
        .stderr("error: --iterations 0: PBKDF2 needs at least 1 iteration\n");
}

#[test]
fn a_missing_book_fails_alone() {
    let fixture = Fixture::new(&[("book", b"book")], "");
    let report = json_of(pepper(&fixture, "threads", "nope,book"), 1);
    assert_eq!(
        report["results"],
        json!([{"name": "book", "fingerprint": BOOK_PEPPER_2}])
    );
    assert_eq!(report["errors"][0]["name"], "nope");
    assert!(report["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("nope.txt"));
}
