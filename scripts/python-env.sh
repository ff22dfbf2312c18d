#!/usr/bin/env bash
# Creates (or updates) the project's Python environment in .venv from requirements-dev.txt:
# Pulumi and its mocks for the infra tests, moto's server for the AWS API tests, DuckDB for the
# benchmarks. Prints the interpreter's path. Needs python3 (3.9+) with venv.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null 2>&1 || { echo "error: python3 not found; install Python 3.9 or newer" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv >&2 || { echo "error: python3 -m venv failed; install the venv module (Debian: apt install python3-venv)" >&2; exit 1; }
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements-dev.txt infra/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
  echo "$want" > "$stamp"
fi
echo "$PWD/.venv/bin/python"
