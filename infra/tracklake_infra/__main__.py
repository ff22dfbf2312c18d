"""`python -m tracklake_infra check|arch ...`: the Lambda zip checks and the stack's architecture
for scripts/build-lambdas.sh and scripts/test.sh (see artifacts.py)."""

import sys

from .artifacts import main

sys.exit(main())
