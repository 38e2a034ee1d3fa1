#!/usr/bin/env bash
# CI for crates/concur-mpi (outside the main workspace because it links the system MPI library).
# Installs MPICH if missing, then: fmt, clippy, docs, the crate's tests (which start real MPI jobs
# with `mpiexec -n 3` and without a launcher), and the primes demo under `mpiexec -n 3` checked
# against ../shared/data/expected/seed-primes.tsv. Ends with one `N passed, M failed` line.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="$PWD/target/mpi"
manifest=crates/concur-mpi/Cargo.toml
expected=../shared/data/expected/seed-primes.tsv
passed=0
failed=0

if ! dpkg -s libmpich-dev mpich libclang-dev >/dev/null 2>&1 || ! command -v mpiexec >/dev/null; then
  apt-get update -qq && apt-get install -y -qq libmpich-dev mpich libclang-dev
fi
mpiexec --version | head -2

# check NAME COMMAND...: runs COMMAND and counts it.
check() {
  local name=$1
  shift
  printf '\n== %s\n' "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name" >&2
    failed=$((failed + 1))
  fi
}

# The seed's expected lines, as `concur primes --mode sequential` prints them.
seed_lines() {
  awk -F'\t' '{ printf "%s is prime: %s\n", $1, ($2 == "true" ? "True" : "False") }' "$expected"
}

# demo_matches LAUNCHER...: the demo prints the seed's lines, then the elapsed time, and exits 0.
demo_matches() {
  local out
  out=$("$@" "$CARGO_TARGET_DIR/release/concur-mpi-primes") || return 1
  diff <(seed_lines) <(head -n -1 <<<"$out") || return 1
  tail -n 1 <<<"$out" | grep -Eq '^Elapsed time: [0-9]+\.[0-9]{2} seconds$'
}

# A bad number is an error naming it; the job still ends cleanly with a non-zero status.
demo_rejects_bad_number() {
  local err status=0
  err=$(mpiexec -n 3 "$CARGO_TARGET_DIR/release/concur-mpi-primes" 7 seven 2>&1 >/dev/null) || status=$?
  [ "$status" -ne 0 ] && grep -q '"seven" is not a whole number' <<<"$err"
}

check "cargo fmt --check (concur-mpi)" cargo fmt --manifest-path "$manifest" --check
check "cargo clippy (concur-mpi)" cargo clippy --manifest-path "$manifest" --all-targets -- -D warnings
check "cargo doc (concur-mpi, warnings denied)" \
  env RUSTDOCFLAGS="-D warnings" cargo doc --manifest-path "$manifest" --no-deps
check "cargo test (concur-mpi: unit, mpi_pool under mpiexec, doctests)" \
  cargo test --manifest-path "$manifest"
cargo build --manifest-path "$manifest" --release --bin concur-mpi-primes
check "primes demo under mpiexec -n 3 prints the seed's answers" demo_matches mpiexec -n 3
check "primes demo in a world of one rank prints the seed's answers" demo_matches env
check "primes demo rejects a bad number by name" demo_rejects_bad_number

# The CLI's --mode mpi (built with --features mpi) gives the sequential answers; only rank 0 prints.
cargo build --manifest-path crates/concur-cli/Cargo.toml --release --features mpi
cli_mpi_matches() {
  local workload=$1
  shift
  local concur="$CARGO_TARGET_DIR/release/concur" want got
  want=$("$concur" "$workload" "$@" --mode sequential --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["results"]))')
  got=$(mpiexec -n 3 "$concur" "$workload" "$@" --mode mpi --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["mode"]=="mpi" and d["workers"]==2, d; print(json.dumps(d["results"]))')
  [ "$want" = "$got" ] || { echo "sequential: $want"; echo "mpi: $got"; return 1; }
}
data=../shared/data
check "concur primes --mode mpi under mpiexec -n 3 = sequential" cli_mpi_matches primes
check "concur wordfreq --mode mpi under mpiexec -n 3 = sequential" cli_mpi_matches wordfreq \
  --source "$data/books" --stop-words "$data/stop-words-english.txt"
check "concur fingerprint --mode mpi under mpiexec -n 3 = sequential" cli_mpi_matches fingerprint \
  --source "$data/books" --books Gulliver,Metamorphosis --iterations 10000

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
