"""The checked-in contracts the program reads, never retypes: the delivery settings
(schemas/delivery.json), the Glue table (schemas/glue/track_observations.json), the names shared
with the Rust crates (schemas/names.json: the producer's environment variables and metrics, where
the Lambda zips are built), the Athena queries (sql/*.sql) and the Lambda architectures the build
and the program share."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DELIVERY_JSON = REPO_ROOT / "schemas" / "delivery.json"
GLUE_TABLE_JSON = REPO_ROOT / "schemas" / "glue" / "track_observations.json"
NAMES_JSON = REPO_ROOT / "schemas" / "names.json"
SQL_DIR = REPO_ROOT / "sql"


def _names(group: str) -> dict[str, str]:
    """One group of schemas/names.json, without its `doc`."""
    entries = json.loads(NAMES_JSON.read_text())[group]
    return {k: v for k, v in entries.items() if k != "doc"}


# The producer's environment variables (producer/src/settings.rs reads them, for the Lambda and the CLI).
PRODUCER_ENV = _names("producer_environment")
# The producer's CloudWatch metrics (producer/src/metrics.rs writes them).
PRODUCER_METRICS = _names("producer_metrics")
# The transformation Lambda's CloudWatch metrics (firehose-transform/src/summary.rs writes them).
TRANSFORM_METRICS = _names("transform_metrics")

# scripts/build-lambdas.sh (`cargo lambda build`) writes <DIRECTORY>/<bin>/<FILE>; the handler of
# a provided.al2023 function is the `bootstrap` executable inside it.
LAMBDA_BUILD_SCRIPT = "./scripts/build-lambdas.sh"
_ARTIFACTS = _names("lambda_artifacts")
LAMBDA_ARTIFACTS_DIR = REPO_ROOT / _ARTIFACTS["DIRECTORY"]
LAMBDA_ZIP_FILE = _ARTIFACTS["FILE"]
PRODUCER_BIN = _ARTIFACTS["PRODUCER_BINARY"]
TRANSFORM_BIN = _ARTIFACTS["TRANSFORM_BINARY"]


@dataclass(frozen=True)
class LambdaArchitecture:
    """One instruction set Lambda runs functions on, with what the build and the checks need."""

    # Lambda's name of it (the function's Architectures).
    name: str
    # The ELF header's e_machine of its executables (System V gABI, "ELF Header":
    # https://www.sco.com/developers/gabi/latest/ch4.eheader.html).
    elf_machine: int
    # The Rust target `cargo lambda build` compiles for.
    rust_target: str
    # The `cargo lambda build` flag that chooses it.
    cargo_lambda_flag: str


# The stack setting `tracklake:lambdaArchitecture`, read by the Pulumi program (config.py) and by
# the build (scripts/build-lambdas.sh, through artifacts.py). Lambda runs arm64 (Graviton) and
# x86_64 (https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html); arm64 costs less
# per GB-second.
LAMBDA_ARCHITECTURE_KEY = "lambdaArchitecture"
LAMBDA_ARCHITECTURES = {
    a.name: a
    for a in (
        LambdaArchitecture("arm64", 183, "aarch64-unknown-linux-gnu", "--arm64"),  # EM_AARCH64
        LambdaArchitecture("x86_64", 62, "x86_64-unknown-linux-gnu", "--x86-64"),  # EM_X86_64
    )
}
DEFAULT_LAMBDA_ARCHITECTURE = "arm64"


def build_command(stack: str | None = None) -> str:
    """The command that builds both zips for a stack (its architecture setting)."""
    return f"{LAMBDA_BUILD_SCRIPT} --stack {stack}" if stack else LAMBDA_BUILD_SCRIPT


# Athena: a named query's QueryString is at most 262,144 bytes, its Description 1,024 characters
# (Athena API reference, CreateNamedQuery).
NAMED_QUERY_MAX_BYTES = 262_144
NAMED_QUERY_DESCRIPTION_MAX = 1024


class ContractError(Exception):
    """A checked-in file the program needs is missing or malformed; the message says which."""


class MissingLambdaZip(ContractError):
    """A Lambda zip is not built. Raised before anything is deployed, so `pulumi up` stops
    instead of creating a function without code (a missing FileArchive passes under mocks
    and only fails late in a real deployment)."""

    def __init__(self, path: Path, stack: str | None = None):
        super().__init__(
            f"Lambda package {path} does not exist. Build both zips first, from the repository "
            f"root: `{build_command(stack)}` (it installs cargo-lambda and zig into .venv and the "
            "Rust target it needs; see infra/README.md)"
        )
        self.path = path


def delivery_settings(path: Path | None = None) -> dict[str, Any]:
    """The Firehose delivery settings shared with the local Firehose."""
    return json.loads((path or DELIVERY_JSON).read_text())


def fixed_root(prefix: str) -> str:
    """The folder of a Firehose prefix above its first `!{...}` expression: `processed/` for
    `processed/source=!{...}/`. IAM object ARNs and lifecycle rules use it."""
    head = prefix.split("!{", 1)[0]
    return head[: head.rfind("/") + 1]


def glue_table_input(bucket: str, path: Path | None = None) -> dict[str, Any]:
    """The checked-in `TableInput` with its bucket placeholder replaced everywhere."""
    definition = json.loads((path or GLUE_TABLE_JSON).read_text())
    placeholder = definition.get("BucketPlaceholder", "{bucket}")
    text = json.dumps(definition["TableInput"]).replace(placeholder, bucket)
    return json.loads(text)


@dataclass(frozen=True)
class NamedQuery:
    """One file of sql/: its `-- name:` and `-- question:` header lines and the SQL text."""

    file: str
    name: str
    question: str
    sql: str


_HEADER = re.compile(r"^--\s*(name|question):\s*(.*)$")


def parse_named_query(path: Path) -> NamedQuery:
    """Reads the `-- name:` / `-- question:` header; a question may continue on indented
    comment lines (`--   more text`)."""
    text = path.read_text()
    lines = text.splitlines()
    fields: dict[str, str] = {}
    last = None
    for line in lines:
        m = _HEADER.match(line)
        if m:
            last = m.group(1)
            fields[last] = m.group(2).strip()
        elif last == "question" and re.match(r"^--\s{2,}\S", line):
            fields["question"] += " " + line[2:].strip()
        elif line.startswith("--"):
            last = None
        else:
            break
    if not fields.get("name") or not fields.get("question"):
        raise ContractError(
            f"{path} must start with `-- name: <name>` and `-- question: <text>` header lines"
        )
    if len(text.encode()) > NAMED_QUERY_MAX_BYTES:
        raise ContractError(f"{path} is larger than Athena's {NAMED_QUERY_MAX_BYTES}-byte query limit")
    return NamedQuery(
        file=path.name,
        name=fields["name"],
        question=fields["question"][:NAMED_QUERY_DESCRIPTION_MAX],
        sql=text,
    )


def named_queries(sql_dir: Path | None = None) -> list[NamedQuery]:
    """Every sql/*.sql file, in name order (read at program time: new files need no code)."""
    sql_dir = SQL_DIR if sql_dir is None else sql_dir
    if not sql_dir.is_dir():
        return []
    queries = [parse_named_query(p) for p in sorted(sql_dir.glob("*.sql"))]
    names = [q.name for q in queries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ContractError(f"sql/ has more than one query named {', '.join(duplicates)}")
    return queries


def lambda_zip(artifacts_dir: Path, binary: str, stack: str | None = None) -> Path:
    """The zip of `binary`, checked to exist."""
    path = artifacts_dir / binary / LAMBDA_ZIP_FILE
    if not path.is_file():
        raise MissingLambdaZip(path, stack)
    return path
