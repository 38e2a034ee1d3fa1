"""The seed's CPU-bound experiment that releases the GIL: PBKDF2-HMAC-SHA512 fingerprints of books.

The password is the book's bytes (read whole before the pool starts, as the seed does), the salt
``--salt`` (default ``salt``), ``--iterations`` rounds (default 1,000,000), 64 bytes, printed as
lowercase hex. Flags and output: see ``common.py``.
"""

import hashlib

import common


def read_book(name, location):
    """The book's bytes, or a TaskError naming it."""
    try:
        with common.open_binary(location) as f:
            return f.read()
    except OSError as e:
        raise common.TaskError(f"book {name!r} ({common.describe(location)}): {e}") from None


def fingerprint(name, data, salt, iterations):
    """``(name, hex digest)`` of one book. ``data`` may be the error the book hit while loading:
    it is raised here, so that book fails in its own place and the others go on."""
    if isinstance(data, common.TaskError):
        raise data
    return name, hashlib.pbkdf2_hmac("sha512", data, salt, iterations).hex()


def body():
    p = common.parser(__doc__.splitlines()[0], books=True)
    p.add_argument("--iterations", type=common.positive_int, default=1_000_000)
    p.add_argument("--salt", default="salt")
    args = p.parse_args()
    salt = args.salt.encode()
    inputs = []
    for name, location in common.books(args):
        try:
            data = read_book(name, location)
        except common.TaskError as e:
            data = e
        inputs.append((name, (name, data, salt, args.iterations)))
    return common.run(
        args,
        "fingerprint",
        "name",
        fingerprint,
        inputs,
        lambda r: {"name": r[0], "fingerprint": r[1]},
        lambda r: f'Fingerprint for {r[0]} is "{r[1]}"',
    )


if __name__ == "__main__":
    common.main(body)
