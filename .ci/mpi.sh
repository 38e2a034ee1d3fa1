#!/usr/bin/env bash
# CI for crates/concur-mpi (outside the main workspace because it links the system MPI library).
# Installs MPICH if missing, then: fmt, clippy, docs, the crate's tests (which start real MPI jobs
# with `mpiexec -n 3` and without a launcher), and the CLI built with `--features mpi`: its
# `--mode mpi` under `mpiexec -n 3` must print what `--mode sequential` prints. Ends with one
# `N passed, M failed` line.
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
mpiexec --version | sed -n 1,2p # not `head`: under pipefail, head's early exit is SIGPIPE (141)

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

check "cargo fmt --check (concur-mpi)" cargo fmt --manifest-path "$manifest" --check
check "cargo clippy (concur-mpi)" cargo clippy --manifest-path "$manifest" --all-targets -- -D warnings
check "cargo doc (concur-mpi, warnings denied)" \
  env RUSTDOCFLAGS="-D warnings" cargo doc --manifest-path "$manifest" --no-deps
check "cargo test (concur-mpi: unit, mpi_pool under mpiexec, doctests)" \
  cargo test --manifest-path "$manifest"

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

# A bad number is an error naming it on every rank; the job ends non-zero without hanging.
cli_mpi_rejects_bad_number() {
  local err status=0
  err=$(mpiexec -n 3 "$CARGO_TARGET_DIR/release/concur" primes 7 seven --mode mpi 2>&1 >/dev/null) || status=$?
  [ "$status" -ne 0 ] && grep -q 'seven' <<<"$err" || { echo "status $status: $err"; return 1; }
}
check "concur primes --mode mpi rejects a bad number by name" cli_mpi_rejects_bad_number

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
