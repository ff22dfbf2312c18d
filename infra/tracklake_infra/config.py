"""The stack configuration (namespace `tracklake`), read once into a documented dataclass.
Pulumi.example.yaml shows every key. Buffering hints and prefixes are not here on purpose: they
come from schemas/delivery.json, shared with the local Firehose, so the two cannot drift."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pulumi

from . import contracts

NAMESPACE = "tracklake"
DEFAULT_SOURCES = ["recently_played", "top_tracks", "saved_tracks", "playlist"]
KNOWN_SOURCES = {"recently_played", "top_tracks", "saved_tracks", "playlist", "search"}
# Search results readable per query: Spotify refuses offsets past 1000 (docs/spotify-web-api.md#paging;
# the producer's SEARCH_RESULT_CAP).
SEARCH_RESULT_CAP = 1000
# Athena's per-query cutoff must be at least 10 MB (Athena API: BytesScannedCutoffPerQuery).
ATHENA_MIN_CUTOFF_BYTES = 10_000_000
# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
# An alarm's evaluation range is at most 7 days for periods of an hour or more
# (CloudWatch PutMetricAlarm: Period x EvaluationPeriods <= 604,800 s).
FRESHNESS_MAX_HOURS = 168
_RATE = re.compile(r"^(\d+) (minute|minutes|hour|hours|day|days)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ConfigError(ValueError):
    """A stack setting is missing or out of range; the message names the key and how to set it."""


@dataclass(frozen=True)
class Settings:
    """Everything the program takes from the stack configuration."""

    # Spotify app client id, stored in the secret's placeholder value (the secret and the
    # refresh token are put in after deployment, never in the stack config).
    spotify_client_id: str
    # `rate(...)` of the producer schedule: "15 minutes", "1 hour".
    schedule_rate: str = "15 minutes"
    # Enabled producer sources (TRACKLAKE_SOURCES).
    sources: list[str] = field(default_factory=lambda: list(DEFAULT_SOURCES))
    # Search queries of the `search` source (TRACKLAKE_SEARCH_QUERIES).
    search_queries: list[str] = field(default_factory=list)
    # Market of the `search` source, ISO 3166-1 alpha-2 (TRACKLAKE_MARKET; "" = none). Needed when the
    # secret holds no refresh token: app-only tokens see no content without a market.
    market: str = ""
    # Spotify requests per producer run (TRACKLAKE_REQUEST_BUDGET).
    request_budget: int = 500
    # Optional producer settings, passed only when set: the producer's defaults fit the stream
    # this program creates (its buffering from schemas/delivery.json, the default partition quota).
    # Results read per search query, 1-1000 (TRACKLAKE_SEARCH_MAX_RESULTS).
    search_max_results: Optional[int] = None
    # Minimum seconds between two pulls of a source, e.g. {"top_tracks": 86400}
    # (TRACKLAKE_MIN_INTERVAL_SECS); a source left out keeps its default.
    min_interval_secs: dict[str, int] = field(default_factory=dict)
    # Partitions the saved-tracks backfill may keep active, and for how many seconds one counts
    # as active (TRACKLAKE_PARTITION_BUDGET, TRACKLAKE_PACING_WINDOW_SECS).
    partition_budget: Optional[int] = None
    pacing_window_secs: Optional[int] = None
    # The most PutRecordBatch calls one record is part of (TRACKLAKE_FIREHOSE_MAX_ATTEMPTS).
    firehose_max_attempts: Optional[int] = None
    # Days a deleted secret can be restored (0 deletes at once; 7-30 otherwise).
    secret_recovery_days: int = 7
    # S3 key of the producer state (TRACKLAKE_STATE_KEY).
    state_key: str = "state/producer.json"
    # Retention of the Lambda and Firehose log groups.
    log_retention_days: int = 30
    # Days the raw backup (raw/ and raw-errors/) is kept.
    raw_retention_days: int = 90
    # Days Athena query results are kept.
    athena_results_retention_days: int = 7
    # Per-query bytes-scanned cutoff of the Athena workgroup.
    athena_bytes_scanned_cutoff: int = 1_073_741_824
    # Freshness alarm: no records delivered for this many hours.
    freshness_hours: int = 24
    # Let `pulumi destroy` delete the lake bucket with its data (else empty it first).
    force_destroy: bool = False
    # Optional e-mail that receives alarm notifications (SNS subscription to confirm).
    alarm_email: Optional[str] = None
    # Folder of the Lambda zips, relative to the repository root.
    artifacts_dir: Path = contracts.LAMBDA_ARTIFACTS_DIR
    # Instruction set of both functions (arm64 | x86_64). scripts/build-lambdas.sh --stack <stack>
    # reads the same setting, and the program refuses zips built for another one.
    lambda_architecture: str = contracts.DEFAULT_LAMBDA_ARCHITECTURE
    # Producer Lambda timeout and memory.
    producer_timeout_seconds: int = 300
    producer_memory_mb: int = 256
    # Transform Lambda timeout and memory (Firehose allows a processor up to 5 minutes).
    transform_timeout_seconds: int = 120
    transform_memory_mb: int = 512

    @property
    def schedule_expression(self) -> str:
        return f"rate({self.schedule_rate})"

    @property
    def schedule_interval_seconds(self) -> int:
        m = _RATE.match(self.schedule_rate)
        if not m:
            return 0
        return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]

    @property
    def state_prefix(self) -> str:
        """The folder of the state key: the producer's S3 permissions stop there."""
        head, _, _ = self.state_key.rpartition("/")
        return f"{head}/" if head else ""

    def producer_options(self) -> dict[str, str]:
        """The optional producer settings that are set, as environment values keyed by their
        names' keys in schemas/names.json."""
        values = {
            "SEARCH_MAX_RESULTS": self.search_max_results,
            "MIN_INTERVAL_SECS": json.dumps(self.min_interval_secs) if self.min_interval_secs else None,
            "PARTITION_BUDGET": self.partition_budget,
            "PACING_WINDOW_SECS": self.pacing_window_secs,
            "FIREHOSE_MAX_ATTEMPTS": self.firehose_max_attempts,
        }
        return {k: str(v) for k, v in values.items() if v is not None}

    def validate(self) -> "Settings":
        def fail(key: str, problem: str) -> None:
            raise ConfigError(f"{NAMESPACE}:{key} {problem} (set it with `pulumi config set {NAMESPACE}:{key} ...`)")

        if not self.spotify_client_id.strip():
            fail("spotifyClientId", "is required: the client id of your Spotify app")
        if not _RATE.match(self.schedule_rate):
            fail("scheduleRate", f"is {self.schedule_rate!r}; use a number and a unit, e.g. '15 minutes'")
        # A run that can outlast the interval would meet the next scheduled one.
        if self.producer_timeout_seconds >= self.schedule_interval_seconds:
            fail("producerTimeoutSeconds", f"is {self.producer_timeout_seconds} s, not shorter than the schedule "
                 f"interval ({self.schedule_interval_seconds} s): a run could still be going when the next starts; "
                 "lower it or raise scheduleRate")
        unknown = [s for s in self.sources if s not in KNOWN_SOURCES]
        if unknown or not self.sources:
            fail("sources", f"has unknown or no sources {unknown}; choose from {sorted(KNOWN_SOURCES)}")
        if self.market and not (len(self.market) == 2 and self.market.isascii() and self.market.isalpha()):
            fail("market", f"is {self.market!r}; use an ISO 3166-1 alpha-2 country code such as US")
        if self.request_budget < 1:
            fail("requestBudget", "must be at least 1")
        # The producer refuses the same values at its start; refused here, before a deployment.
        if self.search_max_results is not None and not 1 <= self.search_max_results <= SEARCH_RESULT_CAP:
            fail("searchMaxResults", f"must be 1-{SEARCH_RESULT_CAP} (Spotify refuses offsets past {SEARCH_RESULT_CAP})")
        bad = {k: v for k, v in self.min_interval_secs.items()
               if k not in KNOWN_SOURCES or not isinstance(v, int) or isinstance(v, bool) or v < 0}
        if bad:
            fail("minIntervalSecs", f"has {bad}; map sources from {sorted(KNOWN_SOURCES)} to whole seconds, 0 or more")
        for key, value, least in (("partitionBudget", self.partition_budget, 1),
                                  ("pacingWindowSecs", self.pacing_window_secs, 0),
                                  ("firehoseMaxAttempts", self.firehose_max_attempts, 1)):
            if value is not None and value < least:
                fail(key, f"must be at least {least}")
        if not self.state_prefix:
            fail("stateKey", "must be inside a folder (e.g. state/producer.json) so IAM can stop at it")
        for key, days in (("logRetentionDays", self.log_retention_days),):
            if days not in LOG_RETENTION_DAYS:
                fail(key, f"is {days}; CloudWatch Logs accepts {sorted(LOG_RETENTION_DAYS)}")
        if self.raw_retention_days < 1 or self.athena_results_retention_days < 1:
            fail("rawRetentionDays", "and athenaResultsRetentionDays must be at least 1")
        if self.athena_bytes_scanned_cutoff < ATHENA_MIN_CUTOFF_BYTES:
            fail("athenaBytesScannedCutoff", f"must be at least {ATHENA_MIN_CUTOFF_BYTES} (Athena's minimum)")
        if not 1 <= self.freshness_hours <= FRESHNESS_MAX_HOURS:
            fail("freshnessHours", f"must be 1-{FRESHNESS_MAX_HOURS}")
        if self.lambda_architecture not in contracts.LAMBDA_ARCHITECTURES:
            fail(contracts.LAMBDA_ARCHITECTURE_KEY,
                 f"is {self.lambda_architecture!r}; use one of {', '.join(contracts.LAMBDA_ARCHITECTURES)}")
        if not (self.secret_recovery_days == 0 or 7 <= self.secret_recovery_days <= 30):
            fail("secretRecoveryDays", "must be 0 or 7-30")
        return self


def load() -> Settings:
    """Reads the `tracklake:*` stack configuration."""
    c = pulumi.Config(NAMESPACE)
    defaults = Settings(spotify_client_id="")

    def get_int(key: str, default: int) -> int:
        value = c.get_int(key)
        return default if value is None else value

    artifacts = c.get("artifactsDir")
    return Settings(
        spotify_client_id=c.get("spotifyClientId") or "",
        schedule_rate=c.get("scheduleRate") or defaults.schedule_rate,
        sources=c.get_object("sources") or defaults.sources,
        search_queries=c.get_object("searchQueries") or [],
        market=(c.get("market") or "").strip().upper(),
        request_budget=get_int("requestBudget", defaults.request_budget),
        search_max_results=c.get_int("searchMaxResults"),
        min_interval_secs=c.get_object("minIntervalSecs") or {},
        partition_budget=c.get_int("partitionBudget"),
        pacing_window_secs=c.get_int("pacingWindowSecs"),
        firehose_max_attempts=c.get_int("firehoseMaxAttempts"),
        secret_recovery_days=get_int("secretRecoveryDays", defaults.secret_recovery_days),
        state_key=c.get("stateKey") or defaults.state_key,
        log_retention_days=get_int("logRetentionDays", defaults.log_retention_days),
        raw_retention_days=get_int("rawRetentionDays", defaults.raw_retention_days),
        athena_results_retention_days=get_int("athenaResultsRetentionDays", defaults.athena_results_retention_days),
        athena_bytes_scanned_cutoff=get_int("athenaBytesScannedCutoff", defaults.athena_bytes_scanned_cutoff),
        freshness_hours=get_int("freshnessHours", defaults.freshness_hours),
        force_destroy=bool(c.get_bool("forceDestroy")),
        alarm_email=c.get("alarmEmail"),
        artifacts_dir=(contracts.REPO_ROOT / artifacts) if artifacts else defaults.artifacts_dir,
        lambda_architecture=c.get(contracts.LAMBDA_ARCHITECTURE_KEY) or defaults.lambda_architecture,
        producer_timeout_seconds=get_int("producerTimeoutSeconds", defaults.producer_timeout_seconds),
        producer_memory_mb=get_int("producerMemoryMb", defaults.producer_memory_mb),
        transform_timeout_seconds=get_int("transformTimeoutSeconds", defaults.transform_timeout_seconds),
        transform_memory_mb=get_int("transformMemoryMb", defaults.transform_memory_mb),
    ).validate()
