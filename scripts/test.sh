#!/usr/bin/env bash
# The whole test suite, on a fresh machine: checks the tools it needs, then formatting, lints and
# every test of the workspace. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: $1 not found. $2" >&2; exit 1; }; }
need cargo "Install Rust with rustup (https://rustup.rs); this project needs Rust 1.88 or newer."
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  echo "installing rustfmt and clippy" >&2
  rustup component add rustfmt clippy
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
if command -v python3 >/dev/null 2>&1; then
  echo "== python comparator compiles"
  python3 -m py_compile bench/*.py
fi
echo "== doc tests"
cargo test --workspace --doc --locked
echo "== cargo test"
# --all-targets also runs the benchmark in check mode: the Python comparator must agree with the
# Rust transform on sample data and the golden fixtures (no timing). Last, so the suite's closing
# lines are the real tests' results.
cargo test --workspace --all-targets --locked
