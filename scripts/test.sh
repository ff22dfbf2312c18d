#!/usr/bin/env bash
# The whole test suite, on a fresh machine: checks the tools it needs, creates the Python
# environment (.venv: Pulumi and its mocks, moto, DuckDB), then formatting, lints, the Pulumi
# program's tests and every test of the workspace. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: $1 not found. $2" >&2; exit 1; }; }
need cargo "Install Rust with rustup (https://rustup.rs); this project needs Rust 1.94 or newer."
need python3 "Install Python 3.9 or newer (with venv); the infra tests, moto and the benchmarks' comparator need it."
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "installing rustfmt and clippy" >&2
  rustup component add rustfmt clippy
fi

# CI builds once from cold: incremental caches would only double the disk used by our crates.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
disk() { echo "   disk: $(df -h . | awk 'NR==2 {print $4}') free, target/ $(du -sh target 2>/dev/null | cut -f1)"; }

echo "== python environment (.venv)"
TRACKLAKE_PYTHON=$(./scripts/python-env.sh)
export TRACKLAKE_PYTHON

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
disk
echo "== python comparator compiles"
"$TRACKLAKE_PYTHON" -m py_compile bench/*.py
echo "== infra: the Pulumi program under Pulumi's mocks, and its policy pack"
"$TRACKLAKE_PYTHON" -m pytest -q infra/tests
echo "== doc tests"
cargo test --workspace --doc --locked
disk
echo "== cargo test"
# --all-targets also runs the benchmark in check mode: the Python comparator must agree with the
# Rust transform on sample data and the golden fixtures (no timing). Last, so the suite's closing
# lines are the real tests' results.
cargo test --workspace --all-targets --locked
disk
