"""Pulumi mocks for the infra tests (no Pulumi CLI, no AWS: nothing here can run the real
engine, so the engine is the one mocked part). Pitfalls this file guards against
(docs/pulumi.md#testing-under-mocks):
- the mocks are installed once per process, here, before any test imports the program;
- every mocked resource returns the computed outputs a real one has (`arn`, `name`, `bucket`,
  `url`), so wiring by ARN can be checked and is never `None == None`;
- resources are recorded with the inputs the engine sees: camelCase names;
- stack config comes from `pulumi.runtime.set_all_config`, never from a YAML file;
- tests are `@pulumi.runtime.test` functions that return an Output, so their assertions run
  (see `settle`)."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

INFRA = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(INFRA))
sys.path.insert(0, str(INFRA / "policy"))
# The shared assertions live in checks.py: rewrite them so a failure shows the values compared.
pytest.register_assert_rewrite("checks")

from elf_builder import EM_AARCH64, make_elf, write_zip  # noqa: E402

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PROJECT = "tracklake"
STACK = "test"


@dataclass
class Recorded:
    """One resource as the mocked engine saw it: its URN, its parent's URN ("" at the stack's
    root) and the URNs its aliases name, computed as the engine computes them (`urn`)."""

    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    urn: str
    parent: str = ""
    aliases: list[str] = field(default_factory=list)


@dataclass
class Options:
    """The resource options the engine received for one resource (the mocks' `new_resource`
    sees only inputs, so these are read from the registration request itself)."""

    delete_before_replace: bool
    ignore_changes: list[str]


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def urn(typ: str, name: str, parent: str = "", stack: str = STACK, project: str = PROJECT) -> str:
    """A resource's URN as Pulumi's engine builds it: the parent's type chain, then the
    resource's type, joined by `$`; a resource of the root stack has none
    (https://www.pulumi.com/docs/iac/concepts/resources/names/)."""
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            typ = f"{parent_type}${typ}"
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def alias_urn(request, parent: str, alias) -> str:
    """The URN one alias of a registration names: a full URN, or a spec whose empty fields
    default to the resource's own name, type, stack, project and parent
    (https://www.pulumi.com/docs/iac/concepts/options/aliases/)."""
    if alias.urn:
        return alias.urn
    spec = alias.spec
    parent = "" if spec.noParent else (spec.parentUrn or parent)
    return urn(spec.type or request.type, spec.name or request.name, parent, spec.stack or STACK,
               spec.project or PROJECT)


# The registration being served on this thread, for `new_resource` (which sees no parent, no
# aliases), and the URN the mock monitor answers for it.
_registering = threading.local()


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        # Component resources (tracklake:index:*), kept apart: they have no AWS counterpart.
        self.components: list[Recorded] = []
        self.options: dict[str, Options] = {}
        # The mock monitor's URNs put the root stack's type in its children's URNs, which the
        # engine does not: its URN of each resource, by the monitor's.
        self.engine_urns: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        request = _registering.request
        parent = self.engine_urns.get(request.parent, request.parent)
        aliases = [alias_urn(request, parent, a) for a in request.aliases]
        self.engine_urns[_registering.monitor_urn] = urn(args.typ, args.name, parent)
        if not args.custom:
            self.components.append(Recorded(args.typ, args.name, dict(args.inputs), {},
                                            urn(args.typ, args.name, parent), parent, aliases))
            return [f"{args.name}-id", {}]
        typ, inputs = args.typ, dict(args.inputs)
        outputs = dict(inputs)
        # Autonaming: Pulumi appends a random suffix when no physical name is given.
        name = inputs.get("name") or f"{args.name}-a1b2c3d"
        service = typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}"
        rid = f"{args.name}-id"
        if typ == "aws:s3/bucket:Bucket":
            name = inputs.get("bucket") or f"{args.name}-a1b2c3d"
            outputs["bucket"] = name
            arn, rid = f"arn:aws:s3:::{name}", name
        elif typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            outputs["invokeArn"] = f"arn:aws:apigateway:{REGION}:lambda:path/functions/{arn}/invocations"
        elif typ == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            arn = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}"
        elif typ == "aws:iam/role:Role":
            arn, rid = f"arn:aws:iam::{ACCOUNT}:role/{name}", name
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            arn, rid = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}", name
        elif typ == "aws:secretsmanager/secret:Secret":
            arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
            rid = arn
        elif typ == "aws:sqs/queue:Queue":
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            outputs["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            rid = outputs["url"]
        elif typ == "aws:glue/catalogDatabase:CatalogDatabase":
            arn, rid = f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{name}", name
        elif typ == "aws:glue/catalogTable:CatalogTable":
            arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{inputs.get('databaseName')}/{name}"
        outputs.setdefault("name", name)
        outputs["arn"] = arn
        self.resources.append(Recorded(typ, args.name, inputs, outputs, urn(typ, args.name, parent), parent, aliases))
        return [rid, outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "AIDTEST", "id": ACCOUNT}
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": REGION, "name": REGION, "id": REGION, "endpoint": f"ec2.{REGION}.amazonaws.com",
                    "description": "test"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
        raise AssertionError(f"the program calls {args.token}, which the mocks do not answer")


MOCKS = Mocks()
pulumi.runtime.set_mocks(MOCKS, project=PROJECT, stack=STACK, preview=False)

_register = MockMonitor.RegisterResource


def _register_recording_options(self, request):
    if request.custom:
        self.mocks.options[request.name] = Options(bool(request.deleteBeforeReplace), list(request.ignoreChanges))
    _registering.request = request
    _registering.monitor_urn = self.make_urn(request.parent, request.type, request.name)
    try:
        return _register(self, request)
    finally:
        _registering.request = None


MockMonitor.RegisterResource = _register_recording_options


@pytest.fixture
def mocks() -> Mocks:
    MOCKS.resources.clear()
    MOCKS.components.clear()
    MOCKS.engine_urns.clear()
    MOCKS.options.clear()
    return MOCKS


@pytest.fixture
def zips(tmp_path: Path) -> Path:
    """Stand-in arm64 Lambda zips where scripts/build-lambdas.sh would put them: synthetic ELF
    executables that pass the program's artifact check (elf_builder.py)."""
    for binary in ("producer", "firehose-transform"):
        write_zip(tmp_path / binary / "bootstrap.zip", make_elf(EM_AARCH64))
    return tmp_path


def configure(artifacts: Path, **overrides: str) -> None:
    """Sets the stack config the program reads (namespace tracklake)."""
    config = {
        "tracklake:spotifyClientId": "client-id-123",
        "tracklake:scheduleRate": "10 minutes",
        "tracklake:freshnessHours": "6",
        "tracklake:artifactsDir": str(artifacts),
        "aws:region": REGION,
    }
    config.update({f"tracklake:{k}": v for k, v in overrides.items()})
    pulumi.runtime.set_all_config(config)
