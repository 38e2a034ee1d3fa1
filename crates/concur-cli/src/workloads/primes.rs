//! The seed's CPU-bound experiment that holds Python's interpreter lock: primality by trial
//! division.
//!
//! Contract: trial division by 2 and then by odd numbers up to the square root, as the seed does,
//! but correct where the seed is not (0 and 1 are not prime, 2 is), for every `u64` without
//! overflow. [`parse_number`] turns command-line text into a `u64` or an error naming the text
//! (not a number, negative, larger than `u64::MAX`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use concur::split::{CancelToken, FirstFound};
use concur::{Executor, Handle, Promise};

use crate::workloads::{Experiment, WithExecutor};

/// The seed's nine numbers, in the seed's order.
pub const SEED_NUMBERS: [u64; 9] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
    3399726899288419,
    1125828054422712,
    237397848077029,
];

/// Whether one number is prime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Primality {
    /// The number.
    pub n: u64,
    /// Whether it is prime.
    pub prime: bool,
}

impl std::fmt::Display for Primality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = if self.prime { "True" } else { "False" };
        write!(f, "{} is prime: {word}", self.n)
    }
}

/// Whether `n` is prime, by trial division.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    if n < EXACT {
        return (3..)
            .step_by(2)
            .take_while(|&d| d * d <= n)
            .all(|d| !divides_exact(d, n));
    }
    let mut d = 3u64;
    // `d <= n / d` is `d * d <= n` without overflow.
    while d <= n / d {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// Below this, [`divides_exact`] is exact: `n` and the divisors are exact `f64`s.
const EXACT: u64 = 1 << 52;

/// Whether `d` divides `n` (both below [`EXACT`], `d` at least 1), with one pipelined `f64`
/// division instead of a 64-bit integer division, which costs several times as much on x86-64.
/// The rounded quotient is at most one away from the true one; the remainder is corrected.
#[inline(always)]
fn divides_exact(d: u64, n: u64) -> bool {
    let q = (n as f64 / d as f64) as i64;
    let (n, d) = (n as i64, d as i64);
    let mut r = n - q * d;
    if r < 0 {
        r += d;
    } else if r >= d {
        r -= d;
    }
    r == 0
}

fn primality(n: u64) -> Result<Primality, String> {
    Ok(Primality {
        n,
        prime: is_prime(n),
    })
}

concur::task! {
    /// Whether one number is prime (never fails; the `Result` keeps every workload's shape).
    pub static PRIMALITY: fn(u64) -> Result<Primality, String> = primality;
}

/// The experiment over `numbers`.
pub fn experiment(numbers: Vec<u64>) -> Experiment<u64, Primality> {
    Experiment {
        command: "primes",
        key: "n",
        task: &PRIMALITY,
        inputs: numbers.into_iter().map(|n| (Value::from(n), n)).collect(),
        run_async: None,
    }
}

/// The first odd divisor of `n` in `lo..=hi` (from 3 up), if any; stops early with `None` once
/// `stop` fires (polled every 4096 candidates).
pub fn odd_divisor_in(n: u64, lo: u64, hi: u64, stop: &CancelToken) -> Option<u64> {
    let mut d = lo.max(3) | 1;
    let last = hi.min(n.isqrt());
    let mut polled = 0u32;
    while d <= last {
        let divides = if n < EXACT {
            divides_exact(d, n)
        } else {
            n.is_multiple_of(d)
        };
        if divides {
            return Some(d);
        }
        polled += 1;
        if polled == 4096 {
            polled = 0;
            if stop.is_cancelled() {
                return None;
            }
        }
        d += 2;
    }
    None
}

fn divisor_in((n, lo, hi, stop): (u64, u64, u64, CancelToken)) -> Option<u64> {
    odd_divisor_in(n, lo, hi, &stop)
}

concur::task! {
    /// One part of a split primality test: an odd divisor of `n` in `lo..=hi`, if any.
    pub static DIVISOR_IN: fn((u64, u64, u64, CancelToken)) -> Option<u64> = divisor_in;
}

/// The odd trial divisors of `n` (3 to its square root) cut into at most `parts` ranges of equal
/// length, as `(lo, hi)` inclusive.
pub fn divisor_ranges(n: u64, parts: usize) -> Vec<(u64, u64)> {
    let root = n.isqrt();
    if root < 3 {
        return Vec::new();
    }
    let span = root - 3 + 1;
    let parts = (parts.max(1) as u64).min(span);
    (0..parts)
        .map(|i| (3 + span * i / parts, 3 + span * (i + 1) / parts - 1))
        .collect()
}

/// Submits each number's primality test split into `parts` sibling tasks and a combining
/// group: the first sibling to find a divisor cancels the rest (queued ones never run, running
/// threads stop at their next poll, running processes are killed). Even numbers and numbers
/// below 9 need no division and are answered at once.
///
/// The numbers' parts are scheduled for the least wasted work: every
/// number's first part (the smallest divisors, where a composite most likely shows) is queued
/// before any number's second part, and so on. A composite with a small factor is then answered
/// by its first part while its other parts still wait in the queue, where the group cancels them
/// before they run (no wasted search on threads, no killed worker on processes). A number whose
/// submission fails is answered with the error, naming it.
pub fn submit_split_all<E: Executor>(
    executor: &E,
    numbers: &[u64],
    parts: usize,
) -> Vec<Handle<Result<Primality, String>>> {
    let needs_division = |n: u64| n >= 9 && n % 2 == 1;
    let ranges: Vec<Vec<(u64, u64)>> = numbers
        .iter()
        .map(|&n| match needs_division(n) {
            true => divisor_ranges(n, parts),
            false => Vec::new(),
        })
        .collect();
    let mut groups: Vec<Option<FirstFound<Option<u64>>>> = ranges
        .iter()
        .map(|r| (!r.is_empty()).then(|| FirstFound::new(|d: &Option<u64>| d.is_some())))
        .collect();
    let mut failed: Vec<Option<concur::Error>> = vec![None; numbers.len()];
    let deepest = ranges.iter().map(Vec::len).max().unwrap_or(0);
    for part in 0..deepest {
        for (k, &n) in numbers.iter().enumerate() {
            let (Some(&(lo, hi)), Some(group), None) =
                (ranges[k].get(part), &groups[k], &failed[k])
            else {
                continue;
            };
            match executor.submit_task(&DIVISOR_IN, (n, lo, hi, group.token())) {
                Ok(sibling) => group.add(sibling),
                Err(e) => failed[k] = Some(e),
            }
        }
    }
    numbers
        .iter()
        .zip(groups.iter_mut())
        .zip(failed)
        .map(|((&n, group), failed)| match failed {
            Some(e) => Handle::ready(Ok(Err(format!("{n}: {e}")))),
            None => split_answer(n, group.take()),
        })
        .collect()
}

/// `n`'s answer from its sibling group (`None`: no division needed, answered at once).
fn split_answer(
    n: u64,
    group: Option<FirstFound<Option<u64>>>,
) -> Handle<Result<Primality, String>> {
    let Some(group) = group else {
        return Handle::ready(Ok(primality(n)));
    };
    let (promise, handle) = Promise::new();
    group.finish().add_done_callback(move |found| {
        promise.complete(Ok(match found.result() {
            Ok(divisor) => Ok(Primality {
                n,
                prime: divisor.is_none(),
            }),
            Err(e) => Err(format!("{n}: {e}")),
        }));
    });
    handle
}

/// `primes --split K`: every number's test split into `parts` siblings (see [`submit_split_all`]),
/// all submitted before any is awaited; `each` sees results in input order, or in completion
/// order with `as_completed`.
pub struct SplitRun<F> {
    /// The numbers, in input order.
    pub numbers: Vec<u64>,
    /// Sibling tasks per number.
    pub parts: usize,
    /// Report results as they complete.
    pub as_completed: bool,
    /// Called once per number as its result is known.
    pub each: F,
}

impl<F: FnMut(&Value, &Result<Primality, String>)> WithExecutor for SplitRun<F> {
    type Output = (Vec<(Value, Result<Primality, String>)>, f64);

    fn run<E: Executor>(mut self, executor: &E) -> Self::Output {
        let started = std::time::Instant::now();
        let handles = submit_split_all(executor, &self.numbers, self.parts);
        let outcome = |h: &Handle<Result<Primality, String>>, n: u64| {
            h.result().unwrap_or_else(|e| Err(format!("{n}: {e}")))
        };
        if self.as_completed {
            let index: std::collections::HashMap<usize, usize> = handles
                .iter()
                .enumerate()
                .map(|(i, h)| (h.id(), i))
                .collect();
            for h in concur::as_completed(handles.clone(), None).flatten() {
                let n = self.numbers[index[&h.id()]];
                (self.each)(&Value::from(n), &outcome(&h, n));
            }
        }
        let results = self
            .numbers
            .iter()
            .zip(&handles)
            .map(|(&n, h)| {
                let result = outcome(h, n);
                if !self.as_completed {
                    (self.each)(&Value::from(n), &result);
                }
                (Value::from(n), result)
            })
            .collect();
        (results, started.elapsed().as_secs_f64())
    }
}

/// A `u64` from the command line, or an error naming the text.
pub fn parse_number(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(rest) = t.strip_prefix('-') {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{text:?} is negative: primes takes numbers from 0 to {}",
                    u64::MAX
                ));
            }
        }
        return Err(format!("{text:?} is not a whole number"));
    }
    digits.parse::<u64>().map_err(|_| {
        format!(
            "{text} is too large: primes takes numbers from 0 to {}",
            u64::MAX
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ranges_cover_every_odd_divisor_once() {
        for n in [9u64, 25, 97, 1_000_003, 112272535095293, u64::MAX] {
            for parts in [1, 2, 3, 7, 64] {
                let ranges = divisor_ranges(n, parts);
                assert!(ranges.len() <= parts);
                assert_eq!(ranges[0].0, 3);
                assert_eq!(ranges.last().unwrap().1, n.isqrt());
                assert!(ranges
                    .windows(2)
                    .all(|w| w[0].1 + 1 == w[1].0 && w[0].0 <= w[0].1));
            }
        }
    }

    #[test]
    fn split_answers_match_unsplit() {
        let pool = concur::ThreadPool::new(2).unwrap();
        let numbers: Vec<u64> = (0..400u64).chain(SEED_NUMBERS).chain([1 << 40]).collect();
        for parts in [1, 3, 8] {
            let handles = submit_split_all(&pool, &numbers, parts);
            for (&n, h) in numbers.iter().zip(handles) {
                let want = Ok(Primality {
                    n,
                    prime: is_prime(n),
                });
                assert_eq!(h.result().unwrap(), want, "n={n} parts={parts}");
            }
        }
    }

    #[test]
    fn a_cancelled_search_stops_early() {
        // The smallest divisor is 1,000,003: half a million candidates in.
        let n = 1_000_003u64 * 1_000_033;
        let go = CancelToken::new();
        assert_eq!(odd_divisor_in(n, 3, u64::MAX, &go), Some(1_000_003));
        let stop = CancelToken::new();
        stop.cancel();
        assert_eq!(
            odd_divisor_in(n, 3, u64::MAX, &stop),
            None,
            "stops at the first poll"
        );
    }

    #[test]
    fn small_numbers_are_right_where_the_seed_was_wrong() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    }

    #[test]
    fn float_division_path_agrees_with_integer_remainders() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = x % EXACT;
            let d = 1 + (x >> 40) % (1 << 26);
            assert_eq!(divides_exact(d, n), n.is_multiple_of(d), "{n} % {d}");
            let m = (n / d) * d; // a multiple, and its neighbours
            assert!(divides_exact(d, m));
            assert_eq!(divides_exact(d, m + 1), d == 1);
        }
        assert_eq!(
            is_prime(EXACT - 1),
            !(EXACT - 1).is_multiple_of(3) && is_prime_integer(EXACT - 1)
        );
    }

    fn is_prime_integer(n: u64) -> bool {
        n >= 2
            && (n == 2 || n % 2 == 1)
            && (3..)
                .step_by(2)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    }

    #[test]
    fn both_paths_agree_on_the_seed_numbers_and_small_ones() {
        for n in (0..5000).chain([65_521 * 65_521, 1_000_000_007]) {
            assert_eq!(is_prime(n), is_prime_integer(n), "{n}");
        }
    }

    #[test]
    fn largest_values_do_not_overflow() {
        assert!(!is_prime(u64::MAX)); // 3 * 5 * 17 * ...
        assert!(is_prime(4_294_967_291)); // largest prime below 2^32
        assert!(!is_prime(65_521 * 65_521)); // the square of a prime: the divisor is the root itself
    }

    #[test]
    fn parse_names_the_bad_text() {
        assert_eq!(parse_number("17"), Ok(17));
        assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_number("18446744073709551616")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_number("-5").unwrap_err().contains("negative"));
        assert!(parse_number("abc")
            .unwrap_err()
            .contains("\"abc\" is not a whole number"));
        assert!(parse_number("").is_err());
    }
}
