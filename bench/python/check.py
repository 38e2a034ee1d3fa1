"""Seed acceptance for bench/python: runs wordfreq, primes and fingerprint on the reference data in
each mode and compares their JSON results with ``expected/seed-*.tsv``.

Prints one line per run: command, mode, workers, MATCH or DIFF, elapsed and work seconds. Exit
status 1 if any run differs or fails. Fingerprints run on the first ``--fingerprint-books`` books of
the expected table (default 2) at 1,000,000 iterations, as the seed does.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def expected(data, table):
    """The expected TSV's rows, as lists of strings."""
    text = (data / "expected" / f"seed-{table}.tsv").read_text(encoding="utf-8")
    return [row.split("\t") for row in text.splitlines() if row]


def rows(report, command):
    """The JSON results as rows shaped like the TSV's."""
    if command == "wordfreq":
        return [[r["name"], r["word"], str(r["count"])] for r in report["results"]]
    if command == "fingerprint":
        return [[r["name"], r["fingerprint"]] for r in report["results"]]
    return [[str(r["n"]), str(r["prime"]).lower()] for r in report["results"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(HERE.parents[1].parent / "shared" / "data"))
    p.add_argument("--modes", default="sequential,threads,processes")
    p.add_argument("--workers", default="2")
    p.add_argument("--fingerprint-books", type=int, default=2)
    args = p.parse_args()
    data = Path(args.data)
    books = str(data / "books")
    fingerprints = expected(data, "fingerprints")[: args.fingerprint_books]
    plans = {
        "wordfreq": (
            ["--source", books, "--stop-words", str(data / "stop-words-english.txt")],
            expected(data, "wordfreq"),
        ),
        "primes": ([], expected(data, "primes")),
        "fingerprint": (
            ["--source", books, "--books", ",".join(row[0] for row in fingerprints)],
            fingerprints,
        ),
    }
    failures = 0
    for command, (extra, want) in plans.items():
        for mode in args.modes.split(","):
            argv = [sys.executable, str(HERE / f"{command}.py"), "--mode", mode, "--json"]
            argv += ["--workers", args.workers] + extra
            run = subprocess.run(argv, capture_output=True, text=True, check=False)
            try:
                report = json.loads(run.stdout)
                ok = run.returncode == 0 and rows(report, command) == want
            except json.JSONDecodeError:
                report, ok = {"workers": "?", "elapsed_seconds": 0.0, "work_seconds": 0.0}, False
            failures += not ok
            print(
                f"{command:<12} {mode:<11} workers={report['workers']} "
                f"{'MATCH' if ok else 'DIFF'} elapsed={report['elapsed_seconds']:.3f}s "
                f"work={report['work_seconds']:.3f}s",
                flush=True,
            )
            if not ok:
                print(run.stderr.strip(), file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
