"""The seed's CPU-bound experiment that holds the GIL: primality by trial division.

Trial division by 2 and then odd numbers up to the square root, as the seed does, but correct
where the seed is not: 0 and 1 are not prime, 2 is. Numbers are the positional arguments (any
integer from 0 to 2**64 - 1; default: the seed's nine). A non-number, a negative or a too-large
number is an error naming it, before any work. Flags and output: see ``common.py``.
"""

import math

import common

SEED_NUMBERS = (
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
    3399726899288419,
    1125828054422712,
    237397848077029,
)
U64_MAX = 2**64 - 1


def is_prime(n):
    """``(n, whether n is prime)``."""
    if n < 2:
        return n, False
    if n % 2 == 0:
        return n, n == 2
    for d in range(3, math.isqrt(n) + 1, 2):
        if n % d == 0:
            return n, False
    return n, True


def number(text):
    """A u64 from the command line, or a UsageError naming it."""
    try:
        n = int(text)
    except ValueError:
        raise common.UsageError(f"{text!r} is not a whole number") from None
    if not 0 <= n <= U64_MAX:
        raise common.UsageError(f"{text} is out of range (0 to {U64_MAX})")
    return n


def body():
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("numbers", nargs="*", help="default: the seed's nine numbers")
    args = p.parse_args()
    numbers = [number(t) for t in args.numbers] if args.numbers else list(SEED_NUMBERS)
    return common.run(
        args,
        "primes",
        "n",
        is_prime,
        [(n, (n,)) for n in numbers],
        lambda r: {"n": r[0], "prime": r[1]},
        lambda r: f"{r[0]} is prime: {r[1]}",
    )


if __name__ == "__main__":
    common.main(body)
