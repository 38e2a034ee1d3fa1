#!/usr/bin/env bash
# Seed acceptance: the release `concur` must reproduce ../shared/data/expected/*.tsv exactly.
# wordfreq and primes on the seed data in both modes (JSON compared to the TSV, and the text
# output once); fingerprint of two books at 1,000,000 iterations in both modes.
# Run from the repository root: `bash .ci/acceptance.sh` (builds the release binary if missing;
# CONCUR=path overrides it). Prints one line per check, then "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

data=../shared/data
concur=${CONCUR:-target/release/concur}
if [ ! -x "$concur" ]; then
  cargo build --release -q -p concur-cli
fi
[ -d "$data/books" ] || { echo "acceptance: no $data/books" >&2; exit 1; }

passed=0
failed=0
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# compare KIND JSON_FILE TSV_FILE [NAMES]: the JSON report's results (and no errors) against the
# TSV, in the TSV's order (restricted to NAMES, comma-separated, if given).
compare() {
  python3 - "$@" <<'PY'
import json, sys
kind, report_path, tsv_path = sys.argv[1:4]
names = sys.argv[4].split(",") if len(sys.argv) > 4 else None
report = json.load(open(report_path))
rows = [line.rstrip("\n").split("\t") for line in open(tsv_path, encoding="utf-8") if line.strip()]
if kind == "wordfreq":
    expected = [{"name": n, "word": w, "count": int(c)} for n, w, c in rows]
elif kind == "primes":
    expected = [{"n": int(n), "prime": p == "true"} for n, p in rows]
else:
    expected = [{"name": n, "fingerprint": f} for n, f in rows]
if names is not None:
    by_name = {e["name"]: e for e in expected}
    expected = [by_name[n] for n in names]
problems = []
if report.get("errors"):
    problems.append(f"errors: {report['errors']}")
if report.get("results") != expected:
    problems.append(f"results differ:\n  got      {report.get('results')}\n  expected {expected}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
PY
}

check() {
  local label=$1; shift
  local why
  if why=$("$@" 2>&1); then
    echo "PASS $label"
    passed=$((passed + 1))
  else
    echo "FAIL $label: $why"
    failed=$((failed + 1))
  fi
}

# json_check KIND TSV NAMES ARGS...: concur ARGS --json, compared to TSV (NAMES may be "").
json_check() {
  local kind=$1 tsv=$2 names=$3; shift 3
  local out="$workdir/report.json"
  "$concur" "$@" --json >"$out" 2>"$workdir/stderr" || { echo "exit $?: $(cat "$workdir/stderr")"; return 1; }
  if [ -n "$names" ]; then compare "$kind" "$out" "$tsv" "$names"; else compare "$kind" "$out" "$tsv"; fi
}

# wordfreq_text_check: the seed's text lines, in name order, then the elapsed-time line.
wordfreq_text_check() {
  local out="$workdir/text.txt"
  "$concur" wordfreq --source "$data/books" --stop-words "$data/stop-words-english.txt" >"$out" 2>&1 || { cat "$out"; return 1; }
  python3 - "$out" "$data/expected/seed-wordfreq.tsv" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
expected = [f'Most common word in {n} is "{w}" ({c} appearances)' for n, w, c in rows]
if lines[:-1] != expected or not re.fullmatch(r"Elapsed time: \d+\.\d\d seconds", lines[-1]):
    print("text differs:", lines)
    sys.exit(1)
PY
}

two_books="Frankenstein,Gulliver"
for mode in sequential threads processes; do
  check "wordfreq --mode $mode: 8 books = seed-wordfreq.tsv" \
    json_check wordfreq "$data/expected/seed-wordfreq.tsv" "" \
    wordfreq --source "$data/books" --stop-words "$data/stop-words-english.txt" --mode "$mode"
  check "primes --mode $mode: 9 seed numbers = seed-primes.tsv" \
    json_check primes "$data/expected/seed-primes.tsv" "" primes --mode "$mode"
  check "fingerprint --mode $mode: $two_books at 1000000 iterations = seed-fingerprints.tsv" \
    json_check fingerprint "$data/expected/seed-fingerprints.tsv" "$two_books" \
    fingerprint --source "$data/books" --books "$two_books" --mode "$mode"
done
check "wordfreq text output = the seed's lines" wordfreq_text_check

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
