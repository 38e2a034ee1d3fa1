"""The seed's first threading example: two counters interleaving.

One task counts 1..9 on a worker thread while the main thread counts 11..19, each sleeping
``--delay`` seconds (default 1) after every number and printing as it goes, so the output shows
the two interleaving. ``--mode sequential`` runs the two counters one after the other on the main
thread instead (the baseline ``concur bench`` compares with); ``--workers`` is accepted for the
bench's uniform command line and ignored (the example has one worker thread). ``--json`` prints ``{"command","mode","workers","elapsed_seconds",
"work_seconds","results","errors"}`` with ``results`` the numbers in the order they were printed.
"""

import argparse
import json
import threading
import time


def count(start, end, delay, printed, lock, echo):
    """Counts ``start..end-1``, recording (and echoing) each number, sleeping between them."""
    for i in range(start, end):
        with lock:
            printed.append(i)
            if echo:
                print(f" {i} ", end="", flush=True)
        time.sleep(delay)


def non_negative(text):
    """argparse type: seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 0")
    return value


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--delay", type=non_negative, default=1.0, help="seconds between numbers")
    p.add_argument("--mode", choices=("sequential", "threads"), default="threads")
    p.add_argument("--workers", type=int, default=1, help="ignored: one worker thread")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    printed, lock = [], threading.Lock()
    started = time.perf_counter()
    worker_args = (1, 10, args.delay, printed, lock, not args.json)
    if args.mode == "threads":
        worker = threading.Thread(target=count, args=worker_args)
        worker.start()
        count(11, 20, args.delay, printed, lock, not args.json)
        worker.join()
    else:
        count(*worker_args)
        count(11, 20, args.delay, printed, lock, not args.json)
    elapsed = time.perf_counter() - started
    if args.json:
        report = {
            "command": "count",
            "mode": args.mode,
            "workers": 2 if args.mode == "threads" else 1,
            "elapsed_seconds": elapsed,
            "work_seconds": elapsed,
            "results": printed,
            "errors": [],
        }
        print(json.dumps(report))
    else:
        print()
        print(f"Elapsed time: {elapsed:.2f} seconds")


if __name__ == "__main__":
    main()
