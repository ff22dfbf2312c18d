"""infra/README.md is the procedure a new user follows; its commands must name what the program
really has. The Pulumi CLI cannot run here, so the commands are checked against the program
itself: every `pulumi stack output` the page uses is an output the program exports, every
`tracklake:<key>` it sets is a key the program reads, every alarm it lists is an alarm the
program declares, and its build command is the one the program's own error message gives."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi
import pytest

from conftest import configure
from test_program import deploy
from tracklake_infra import config, contracts, program

REPO = Path(__file__).resolve().parents[2]
DEPLOY_DOCS = [REPO / "infra" / "README.md", REPO / "README.md"]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _exports() -> set[str]:
    """The stack outputs, as the program declares them."""
    return set(re.findall(r'pulumi\.export\("([A-Za-z]+)"', Path(program.__file__).read_text(encoding="utf-8")))


def _config_keys(monkeypatch, zips) -> set[str]:
    """The `tracklake:*` keys the program reads: config.load() run with every key it asks for
    recorded."""
    asked: set[str] = set()
    for method in ("get", "require", "get_int", "get_bool", "get_object", "get_float", "require_int"):
        original = getattr(pulumi.Config, method)

        def record(self, key, *args, _original=original, **kwargs):
            if self.name == config.NAMESPACE:
                asked.add(key)
            return _original(self, key, *args, **kwargs)

        monkeypatch.setattr(pulumi.Config, method, record)
    configure(zips)
    config.load()
    return asked


def test_every_stack_output_the_docs_use_is_exported():
    exports = _exports()
    assert {"secretArn", "glueDatabase", "producerFunction", "athenaWorkgroup", "lakeBucket"} <= exports
    for doc in DEPLOY_DOCS:
        used = set(re.findall(r"pulumi stack output (\w+)", _text(doc)))
        assert used, f"{doc.name} uses no stack output"
        assert used <= exports, f"{doc.name} uses stack outputs the program does not export: {used - exports}"


def test_every_setting_the_docs_set_is_read_by_the_program(monkeypatch, zips):
    keys = _config_keys(monkeypatch, zips)
    assert {"spotifyClientId", "lambdaArchitecture", "forceDestroy"} <= keys, keys
    for doc in DEPLOY_DOCS + [REPO / "Pulumi.example.yaml"]:
        used = set(re.findall(r"tracklake:([a-zA-Z]+)", _text(doc)))
        assert used <= keys, f"{doc.name} names settings the program does not read: {used - keys}"


def test_the_docs_build_command_is_the_one_the_program_asks_for():
    readme = _text(REPO / "infra" / "README.md")
    assert contracts.LAMBDA_BUILD_SCRIPT == "./scripts/build-lambdas.sh"
    assert f"{contracts.LAMBDA_BUILD_SCRIPT} --stack dev" in readme
    script = _text(REPO / "scripts" / "build-lambdas.sh")
    assert "--stack)" in script, "the build script no longer takes --stack"
    assert "cargo lambda build --release --arm64 --output-format zip --bin" not in readme


def test_the_docs_never_copy_the_example_over_a_stack_file():
    for doc in DEPLOY_DOCS:
        assert not re.search(r"cp\s+Pulumi\.example\.yaml\s+Pulumi\.\S+\.yaml", _text(doc)), doc.name


def test_the_first_run_cannot_be_resent_by_the_cli():
    """The AWS CLI resends an invocation whose answer took over its 60 s read timeout; the
    documented command turns both the retry and the timeout off."""
    readme = _text(REPO / "infra" / "README.md")
    invokes = [block for block in re.findall(r"```sh\n(.*?)```", readme, re.S) if "aws lambda invoke" in block]
    assert invokes
    for block in invokes:
        assert "AWS_MAX_ATTEMPTS=1" in block and "--cli-read-timeout 0" in block, block


@pulumi.runtime.test
def test_the_alarm_table_lists_exactly_the_programs_alarms(mocks, zips):
    readme = _text(REPO / "infra" / "README.md")
    section = readme.split("## 8. Alarms", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M))

    def check(world):
        declared = {r.inputs["name"].split("-", 2)[2] for r in world.all("aws:cloudwatch/metricAlarm:MetricAlarm")}
        assert declared, "the program declares no alarm"
        assert listed == declared, f"README lists {sorted(listed)}, the program declares {sorted(declared)}"
        assert f"{len(declared)} alarms" in readme, "the cost table's alarm count is stale"

    return deploy(mocks, zips).apply(check)
