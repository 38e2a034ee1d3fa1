"""In-process CPU time of the seed's fingerprint per book, for ``examples/fingerprint_speed.rs``.

``python3 fingerprint_speed.py ITERATIONS BOOK...`` reads each book whole, then times
``hashlib.pbkdf2_hmac('sha512', book, b'salt', ITERATIONS)`` with ``time.thread_time()`` (CPU time
of this thread, so neither interpreter start-up nor waiting for a busy CPU counts), and prints
one JSON object: ``{"seconds": [per book], "fingerprints": [lowercase hex per book]}``.
"""

import hashlib
import json
import sys
import time


def main():
    iterations = int(sys.argv[1])
    seconds, fingerprints = [], []
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        start = time.thread_time()
        digest = hashlib.pbkdf2_hmac("sha512", data, b"salt", iterations)
        seconds.append(time.thread_time() - start)
        fingerprints.append(digest.hex())
    print(json.dumps({"seconds": seconds, "fingerprints": fingerprints}))


if __name__ == "__main__":
    main()
