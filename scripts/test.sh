#!/usr/bin/env bash
# The whole test suite, on a fresh machine: checks the tools it needs, creates the Python
# environment (.venv: Pulumi and its mocks, moto, DuckDB), then formatting, lints, the Pulumi
# program's tests, the Lambda zips' build and checks, every test of the workspace, and last the
# zips run through the Lambda Runtime API. CI (.ci/run) runs exactly this.
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
echo "== Lambda zips: the deployable build (./scripts/build-lambdas.sh) and its checks"
# The zips are arm64 (the default stack setting); their Runtime API tests run them under
# qemu-user on an x86_64 machine, with Debian's arm64 glibc as the loader's root.
if [ "$(uname -m)" != aarch64 ] && { ! command -v qemu-aarch64 >/dev/null 2>&1 || [ ! -d /usr/aarch64-linux-gnu/lib ]; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing qemu-user and libc6-arm64-cross (apt-get)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user libc6-arm64-cross >&2
  else
    echo "error: running the arm64 Lambda zips here needs qemu-aarch64 and the arm64 glibc. On Debian or Ubuntu: sudo apt-get install qemu-user libc6-arm64-cross" >&2
    exit 1
  fi
fi
./scripts/build-lambdas.sh
disk
echo "== doc tests"
cargo test --workspace --doc --locked
disk
echo "== cargo test"
# --all-targets also runs the benchmark in check mode: the Python comparator must agree with the
# Rust transform on sample data and the golden fixtures (no timing). At the end, with the Runtime
# API tests after it, so the suite's closing lines are the real tests' results.
cargo test --workspace --all-targets --locked
disk
echo "== the Lambda zips through the Lambda Runtime API (ignored by the plain cargo test above)"
# --workspace, so the features are the ones the cargo test above built with and nothing recompiles.
TRACKLAKE_LAMBDA_DIR=target/lambda cargo test --workspace --test runtime_api --locked -- --ignored
