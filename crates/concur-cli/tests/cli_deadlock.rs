//! `concur deadlock`: detected (exit 0), ordered (exit 0), unguarded broken by the watchdog (exit 1);
//! none of them hangs.

mod common;

use std::time::Duration;

use common::concur;

#[test]
fn default_detects_the_cycle_and_names_holders_and_waiters() {
    let out = concur()
        .arg("deadlock")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("deadlock detected before it could hang"),
        "{text}"
    );
    assert!(
        text.contains("lock-order cycle `fork-1` -> `fork-2` -> `fork-1`")
            || text.contains("`fork-2` -> `fork-1` -> `fork-2`"),
        "{text}"
    );
    assert!(text.contains("is held by thread `philosopher-"), "{text}");
    assert_eq!(text.matches("backs off").count(), 1, "{text}");
}

#[test]
fn ordered_completes() {
    let out = concur()
        .args(["deadlock", "--ordered"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches(": eats").count(), 2, "{text}");
    assert!(text.ends_with("both philosophers ate: no deadlock\n"));
}

#[test]
fn unguarded_hang_is_broken_by_the_watchdog() {
    let out = concur()
        .args(["deadlock", "--unguarded", "--watchdog", "0.3"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("watchdog: no progress in 0.3 s"));
}

#[test]
fn bad_watchdog_and_conflicting_flags_are_errors() {
    concur()
        .args(["deadlock", "--unguarded", "--watchdog=-1"])
        .assert()
        .code(1)
        .stderr("error: --watchdog -1: give seconds from 0 to 3600\n");
    concur()
        .args(["deadlock", "--ordered", "--unguarded"])
        .assert()
        .code(2);
}
