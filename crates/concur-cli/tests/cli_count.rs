//! `concur count`: both counters run to the end, each in its own order.

mod common;

use common::concur;

#[test]
fn both_counters_print_every_number_in_order() {
    let out = concur()
        .args(["count", "--delay", "0.001"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let numbers: Vec<u32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let worker: Vec<u32> = numbers.iter().copied().filter(|n| *n < 10).collect();
    let main: Vec<u32> = numbers.iter().copied().filter(|n| *n > 10).collect();
    assert_eq!(worker, (1..=9).collect::<Vec<_>>());
    assert_eq!(main, (11..=19).collect::<Vec<_>>());
    assert_eq!(numbers.len(), 18);
}

#[test]
fn negative_delay_is_refused() {
    concur()
        .args(["count", "--delay=-1"])
        .assert()
        .code(1)
        .stderr("error: --delay -1: give seconds from 0 to 3600\n");
}
