"""The Pulumi program under mocks: every resource exists and is wired as the checked-in
contracts say, and the same assertions fail on mis-wired variants of the program.

Run: .venv/bin/python -m pytest infra/tests"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

import checks
from conftest import configure
from elf_builder import EM_X86_64, make_elf, write_zip

import tracklake_infra
from tracklake_infra import contracts, iam
from tracklake_infra.components import base, stream

SETTINGS = {
    "spotify_client_id": "client-id-123",
    "schedule_rate": "10 minutes",
    "freshness_hours": 6,
    "log_retention_days": 30,
    "raw_retention_days": 90,
    "state_key": "state/producer.json",
    "sources": ["recently_played", "top_tracks", "saved_tracks", "playlist"],
    "search_queries": [],
    "market": "",
    "request_budget": 500,
    "stack": "test",
}


def deploy(mocks, zips: Path, **config: str) -> pulumi.Output:
    """Runs the program under the mocks; resolves to the recorded resources once every one of
    them is registered (so assertions see final inputs, not pending ones)."""
    configure(zips, **config)
    pipeline = tracklake_infra.build(tracklake_infra.load())
    return pulumi.Output.all(*[r.urn for r in pipeline.all]).apply(lambda _: checks.World(mocks.resources))


def real_queries() -> list:
    return contracts.named_queries()


@pulumi.runtime.test
def test_every_resource_exists_and_is_wired(mocks, zips):
    return deploy(mocks, zips).apply(lambda w: checks.check_all(w, SETTINGS, real_queries()))


@pulumi.runtime.test
def test_glue_columns_equal_the_checked_in_definition(mocks, zips):
    def check(w):
        checks.check_glue_table(w)
        columns = w.one(checks.TABLE).inputs["storageDescriptor"]["columns"]
        assert len(columns) == len(checks.GLUE_DEFINITION["TableInput"]["StorageDescriptor"]["Columns"]) > 0
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_every_sql_file_became_a_named_query(mocks, zips):
    files = sorted(Path(contracts.SQL_DIR).glob("*.sql"))

    def check(w):
        named = w.all(checks.NAMED_QUERY)
        assert len(named) == len(files)
        assert sorted(q.inputs["query"] for q in named) == sorted(f.read_text() for f in files)
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_new_sql_files_become_named_queries_without_code(mocks, zips, tmp_path, monkeypatch):
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "a.sql").write_text("-- name: alpha\n-- question: First?\n--   And more.\n--\nSELECT 1\n")
    (sql / "b.sql").write_text("-- name: beta\n-- question: Second?\nSELECT 2\n")
    monkeypatch.setattr(contracts, "SQL_DIR", sql)

    def check(w):
        by_name = {q.inputs["name"]: q.inputs for q in w.all(checks.NAMED_QUERY)}
        assert set(by_name) == {"alpha", "beta"}
        assert by_name["alpha"]["description"] == "First? And more."
        checks.check_athena(w, contracts.named_queries(sql))
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_config_reaches_the_resources(mocks, zips):
    settings = dict(SETTINGS, schedule_rate="1 hour", freshness_hours=48, state_key="producer-state/run.json",
                    sources=["recently_played", "search"], search_queries=["lofi"], market="SE",
                    request_budget=50, search_max_results=30, min_interval_secs={"top_tracks": 3600, "search": 0},
                    partition_budget=200, pacing_window_secs=600, firehose_max_attempts=4)

    def check(w):
        checks.check_functions(w, settings)
        checks.check_schedule_and_secret(w, settings)
        checks.check_iam(w, settings)
        checks.check_alarms(w, settings)
    return deploy(mocks, zips, scheduleRate="1 hour", freshnessHours="48", stateKey="producer-state/run.json",
                  sources='["recently_played", "search"]', searchQueries='["lofi"]', market="se", requestBudget="50",
                  searchMaxResults="30", minIntervalSecs='{"top_tracks": 3600, "search": 0}', partitionBudget="200",
                  pacingWindowSecs="600", firehoseMaxAttempts="4").apply(check)


@pulumi.runtime.test
def test_the_stack_outputs_name_their_resources(mocks, zips, monkeypatch):
    """`pulumi stack output <name>`: each output, and the resource output it is."""
    exported: dict = {}
    monkeypatch.setattr(pulumi, "export", exported.__setitem__)
    world = deploy(mocks, zips)

    def check(args):
        w, values = args
        assert values == {
            "lakeBucket": w.out(checks.BUCKET, "lake", "bucket"),
            "deliveryStream": w.out(checks.STREAM, "stream", "name"),
            "secretArn": w.out(checks.SECRET, "spotify-secret", "arn"),
            "glueDatabase": w.out(checks.DATABASE, "database", "name"),
            "glueTable": w.out(checks.TABLE, "table", "name"),
            "athenaWorkgroup": w.out("aws:athena/workgroup:Workgroup", "workgroup", "name"),
            "producerFunction": w.out(checks.FUNCTION, "producer", "name"),
            "transformFunction": w.out(checks.FUNCTION, "transform", "name"),
            "deadLetterQueue": w.out(checks.QUEUE, "schedule-dlq", "url"),
            "alarmTopic": w.out("aws:sns/topic:Topic", "alarms", "arn"),
        }
    return pulumi.Output.all(world, pulumi.Output.all(**exported)).apply(check)


# ---- the assertions can fail: mis-wired variants ---------------------------------------------

def _raises(check, match):
    """The check must fail, and for the planted reason (`match`), not for another one."""
    def run(w):
        with pytest.raises(AssertionError, match=match):
            check(w)
    return run


@pulumi.runtime.test
def test_stream_invoking_another_function_fails_the_wiring_check(mocks, zips, monkeypatch):
    real = stream.create_stream

    def miswired(name, settings, delivery, bucket, role, processor, *rest, **kw):
        decoy = aws.lambda_.Function(
            "decoy", name="decoy", runtime=base.RUNTIME, handler="bootstrap", role=role.arn,
            code=pulumi.FileArchive(str(zips / "producer" / "bootstrap.zip")))
        return real(name, settings, delivery, bucket, role, decoy, *rest, **kw)

    monkeypatch.setattr(stream, "create_stream", miswired)
    return deploy(mocks, zips).apply(_raises(checks.check_stream, "decoy"))


@pulumi.runtime.test
def test_backup_to_another_prefix_fails_the_wiring_check(mocks, zips, monkeypatch):
    real = contracts.delivery_settings

    def tampered(path=None):
        d = real(path)
        d["raw_backup_prefix"] = "backup/!{timestamp:yyyy/MM/dd/HH}/"
        return d

    monkeypatch.setattr(contracts, "delivery_settings", tampered)
    return deploy(mocks, zips).apply(_raises(checks.check_stream, "backup/"))


@pulumi.runtime.test
def test_a_column_missing_from_the_table_fails_the_glue_check(mocks, zips, monkeypatch):
    real = contracts.glue_table_input

    def tampered(bucket, path=None):
        t = real(bucket, path)
        t["StorageDescriptor"]["Columns"].pop()
        return t

    monkeypatch.setattr(contracts, "glue_table_input", tampered)
    return deploy(mocks, zips).apply(_raises(checks.check_glue_table, "export_file"))


@pulumi.runtime.test
def test_a_role_naming_another_roles_resource_fails_the_iam_check(mocks, zips, monkeypatch):
    real = iam.log_writer
    seen = []

    def leaky(sid, log_group_arn):
        seen.append(log_group_arn)
        # The second caller (the producer) also gets the first group (the transform's) logs.
        statement = real(sid, log_group_arn)
        if len(seen) == 2:
            statement["Resource"].append(pulumi.Output.concat(seen[0], ":*"))
        return statement

    monkeypatch.setattr(iam, "log_writer", leaky)
    return deploy(mocks, zips).apply(_raises(lambda w: checks.check_iam(w, SETTINGS), "transform-logs.*producer-role|producer-role"))


@pulumi.runtime.test
def test_a_schedule_without_dead_letters_fails_the_check(mocks, zips, monkeypatch):
    real = aws.scheduler.Schedule

    def without_dlq(resource_name, **kwargs):
        kwargs["target"] = {k: v for k, v in kwargs["target"].items() if k != "dead_letter_config"}
        return real(resource_name, **kwargs)

    monkeypatch.setattr(aws.scheduler, "Schedule", without_dlq)
    return deploy(mocks, zips).apply(_raises(lambda w: checks.check_schedule_and_secret(w, SETTINGS), "schedule-dlq"))


# ---- errors before anything is deployed ------------------------------------------------------

def test_a_missing_zip_stops_the_program_naming_the_build_command(tmp_path, mocks):
    configure(tmp_path)
    with pytest.raises(tracklake_infra.MissingLambdaZip) as e:
        tracklake_infra.build(tracklake_infra.load())
    message = str(e.value)
    assert str(tmp_path / "producer" / "bootstrap.zip") in message
    assert "`./scripts/build-lambdas.sh --stack test`" in message
    assert mocks.resources == [], "nothing may be declared before the check"


def test_a_missing_transform_zip_is_named_too(zips, mocks):
    (zips / "firehose-transform" / "bootstrap.zip").unlink()
    configure(zips)
    with pytest.raises(tracklake_infra.MissingLambdaZip, match="firehose-transform/bootstrap.zip"):
        tracklake_infra.build(tracklake_infra.load())


@pulumi.runtime.test
def test_the_architecture_setting_reaches_both_functions(mocks, tmp_path):
    for binary in ("producer", "firehose-transform"):
        write_zip(tmp_path / binary / "bootstrap.zip", make_elf(EM_X86_64))

    def check(w):
        for name in ("producer", "transform"):
            assert w.one(checks.FUNCTION, name).inputs["architectures"] == ["x86_64"]
    return deploy(mocks, tmp_path, lambdaArchitecture="x86_64").apply(check)


def test_zips_of_another_architecture_stop_the_program(mocks, zips):
    configure(zips, lambdaArchitecture="x86_64")  # the fixture's zips are arm64
    with pytest.raises(tracklake_infra.ArtifactError) as e:
        tracklake_infra.build(tracklake_infra.load())
    message = str(e.value)
    assert "producer/bootstrap.zip" in message and "built for arm64, not x86_64" in message
    assert "`./scripts/build-lambdas.sh --stack test`" in message
    assert mocks.resources == [], "nothing may be declared before the check"


def test_a_zip_lambda_cannot_run_stops_the_program(mocks, zips):
    write_zip(zips / "firehose-transform" / "bootstrap.zip", make_elf(needs={"libc.so.6": ["GLIBC_2.39"]}))
    configure(zips)
    with pytest.raises(tracklake_infra.ArtifactError, match=r"firehose-transform/bootstrap.zip.*glibc 2.39"):
        tracklake_infra.build(tracklake_infra.load())


@pytest.mark.parametrize("key,value,needle", [
    ("spotifyClientId", "", "spotifyClientId is required"),
    ("scheduleRate", "every 5 minutes", "scheduleRate"),
    ("sources", '["recently_played", "radio"]', "radio"),
    ("athenaBytesScannedCutoff", "1000", "athenaBytesScannedCutoff"),
    ("freshnessHours", "500", "freshnessHours"),
    ("logRetentionDays", "31", "logRetentionDays"),
    ("stateKey", "state.json", "stateKey"),
    ("market", "Sweden", "market"),
    ("searchMaxResults", "1001", "searchMaxResults must be 1-1000"),
    ("minIntervalSecs", '{"radio": 60}', "minIntervalSecs has"),
    ("minIntervalSecs", '{"search": -1}', "minIntervalSecs has"),
    ("partitionBudget", "0", "partitionBudget must be at least 1"),
    ("firehoseMaxAttempts", "0", "firehoseMaxAttempts must be at least 1"),
    ("lambdaArchitecture", "aarch64", "lambdaArchitecture is 'aarch64'; use one of arm64, x86_64"),
])
def test_bad_config_is_refused_with_the_key_named(zips, key, value, needle):
    configure(zips, **{key: value})
    with pytest.raises(tracklake_infra.ConfigError, match=needle):
        tracklake_infra.load()


def test_a_sql_file_without_header_is_refused(tmp_path):
    (tmp_path / "x.sql").write_text("SELECT 1\n")
    with pytest.raises(contracts.ContractError, match="-- name:"):
        contracts.named_queries(tmp_path)


def test_fixed_roots_of_the_checked_in_prefixes():
    d = contracts.delivery_settings()
    assert contracts.fixed_root(d["processed_prefix"]) == "processed/"
    assert contracts.fixed_root(d["raw_backup_prefix"]) == "raw/"
    assert contracts.fixed_root(d["error_output_prefix"]) == "errors/"


def test_example_stack_config_names_only_keys_the_program_reads():
    example = (contracts.REPO_ROOT / "Pulumi.example.yaml").read_text()
    keys = {line.strip().lstrip("# ").split(":")[1] for line in example.splitlines()
            if line.strip().lstrip("# ").startswith("tracklake:")}
    source = (Path(tracklake_infra.__file__).parent / "config.py").read_text()
    # Shared with the build script, this key's name lives in contracts.py; config.py reads it there.
    shared = {contracts.LAMBDA_ARCHITECTURE_KEY} if "contracts.LAMBDA_ARCHITECTURE_KEY" in source else set()
    unread = sorted(k for k in keys if f'"{k}"' not in source and k not in shared)
    assert unread == [], f"Pulumi.example.yaml documents keys the program ignores: {unread}"


@pulumi.runtime.test
def test_the_entry_point_pulumi_runs_declares_the_pipeline(mocks, zips, monkeypatch):
    import runpy

    built = []
    real = tracklake_infra.build
    monkeypatch.setattr(tracklake_infra, "build", lambda settings: built.append(real(settings)) or built[-1])
    configure(zips)
    runpy.run_path(str(contracts.REPO_ROOT / "infra" / "__main__.py"), run_name="__main__")
    assert len(built) == 1
    return pulumi.Output.all(*[r.urn for r in built[0].all]).apply(
        lambda _: checks.check_stream(checks.World(mocks.resources)))
