#!/usr/bin/env bash
# Builds the two Lambda zips a deployment uploads, target/lambda/{producer,firehose-transform}/
# bootstrap.zip, and checks each is one Lambda's provided.al2023 runtime can start (bootstrap at
# the root, executable, an ELF of the architecture, no newer glibc than the runtime's).
#
#   ./scripts/build-lambdas.sh                 # arm64, the default
#   ./scripts/build-lambdas.sh --stack dev     # the architecture of Pulumi.dev.yaml
#                                              # (tracklake:lambdaArchitecture, default arm64)
#   ./scripts/build-lambdas.sh --arch x86_64
#
# cargo-lambda and zig (its cross linker, which also pins an old glibc) come from PyPI into the
# project's .venv (scripts/python-env.sh, versions in requirements-dev.txt); the Rust target is
# added with rustup when missing. A cold release build takes minutes (fat LTO: 6 on an idle
# two-core machine, far longer on a busy one); later builds reuse target/.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
stack="" arch=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack=${2:?"--stack needs a stack name"}; shift 2 ;;
    --arch) arch=${2:?"--arch needs arm64 or x86_64"}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$stack" ] && [ -n "$arch" ]; then
  echo "error: give --stack or --arch, not both (the stack's tracklake:lambdaArchitecture decides)" >&2
  exit 2
fi

command -v cargo >/dev/null 2>&1 || {
  echo "error: cargo not found. Install Rust with rustup (https://rustup.rs); this project needs Rust 1.94 or newer." >&2
  exit 1
}
python=$(./scripts/python-env.sh)
# cargo-lambda from .venv, and the `python3 -m ziglang` it runs as its zig is .venv's too.
export PATH="$PWD/.venv/bin:$PATH"
artifacts() { PYTHONPATH="$PWD/infra" "$python" -m tracklake_infra "$@"; }

# name, Rust target and cargo lambda flag of the architecture, from infra/tracklake_infra/contracts.py.
if [ -n "$stack" ]; then
  params=$(artifacts arch --stack "$stack")
elif [ -n "$arch" ]; then
  params=$(artifacts arch --name "$arch")
else
  params=$(artifacts arch)
fi
read -r name rust_target flag <<<"$params"

if ! rustc --print sysroot >/dev/null 2>&1 || [ ! -d "$(rustc --print sysroot)/lib/rustlib/$rust_target/lib" ]; then
  command -v rustup >/dev/null 2>&1 || {
    echo "error: the Rust standard library for $rust_target is not installed and rustup is not here to add it; install it with your Rust toolchain" >&2
    exit 1
  }
  echo "adding the Rust target $rust_target (rustup; a one-time download)" >&2
  rustup target add "$rust_target"
fi

out="${CARGO_TARGET_DIR:-target}/lambda"
echo "== cargo lambda build ($name) -> $out" >&2
start=$(date +%s)
cargo lambda build --release "$flag" --output-format zip --locked -p producer -p firehose-transform
echo "   built in $(( $(date +%s) - start )) s" >&2

echo "== checking the zips" >&2
artifacts check --arch "$name" "$out/producer/bootstrap.zip" "$out/firehose-transform/bootstrap.zip"
