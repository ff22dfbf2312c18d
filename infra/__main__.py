"""Entry point of `pulumi up` (Pulumi.yaml: runtime python, main infra/)."""

import sys
from pathlib import Path

# Pulumi runs this file by path; make the package next to it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tracklake_infra  # noqa: E402

tracklake_infra.build(tracklake_infra.load())
