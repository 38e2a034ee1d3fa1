//! The seed's primes experiment, shared by the `concur-mpi-primes` demo and the bench: the seed's
//! numbers and a registered primality task (trial division, as `concur primes` does).

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

/// Trial division by 2, then by odd numbers up to the square root; 0 and 1 are not prime.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n % 2 == 0 {
        return n == 2;
    }
    let mut d = 3u64;
    while d <= n / d {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

concur::task! {
    /// Whether one number is prime.
    pub static IS_PRIME: fn(u64) -> bool = is_prime;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_and_the_largest_u64_are_right() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(!is_prime(u64::MAX));
        assert!(is_prime(4_294_967_291));
    }
}
