"""The CrossGuard policy pack: `pulumi preview --policy-pack infra/policy` (or `pulumi up`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from tracklake_policies import POLICIES  # noqa: E402

PolicyPack(name="tracklake", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
