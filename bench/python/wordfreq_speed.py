"""In-process CPU time of the seed's wordfreq counting, for ``examples/wordfreq_speed.rs``.

``python3 wordfreq_speed.py BOOK_DIR STOP_WORDS PASSES`` runs ``wordfreq.most_common_word`` over
every ``*.txt`` in BOOK_DIR (name order), PASSES times, and prints one JSON object:
``{"passes": [seconds, ...], "median": seconds, "results": [[name, word, count], ...]}``.
Each pass is timed with ``time.thread_time()`` (CPU time of this thread: opening, reading,
decoding and counting every book, and picking its most common word), so neither interpreter
start-up nor time spent waiting for a busy CPU counts.
"""

import json
import statistics
import sys
import time
from pathlib import Path

import wordfreq


def main():
    book_dir, stop_path, passes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    books = sorted(Path(book_dir).glob("*.txt"))
    stop_words = wordfreq.load_stop_words(Path(stop_path))
    times = []
    for _ in range(passes):
        start = time.thread_time()
        results = [wordfreq.most_common_word(b.stem, b, stop_words) for b in books]
        times.append(time.thread_time() - start)
    print(json.dumps({"passes": times, "median": statistics.median(times), "results": results}))


if __name__ == "__main__":
    main()
