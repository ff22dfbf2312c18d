"""A Firehose data-transformation Lambda written in plain Python: the comparator of the benchmark.

This is NOT production code. It exists only so that `cargo bench -p firehose-transform` can put
the Rust transform (firehose-transform) beside a straightforward Python handler doing the same
work, in the same run, on the same events. It is written the way a competent engineer would write
a typical Python Lambda (standard library only, no deliberate slowness, no heroic optimisation).

It follows firehose-transform/src/normalize.rs, which is the reference: the same envelope, the
same per-source rules, the same `record_key`, the same output record (schemas/track_observation.avsc)
as one JSON object and "\\n" per record, and the same `Ok` / `Dropped` / `ProcessingFailed` results
with `metadata.partitionKeys` {source, dt}. Deliberately left out: the Rust transform's guard that
keeps the response within Lambda's 6 MB limit.
"""

import base64
import binascii
import hashlib
import json
import logging
import os
from collections import Counter
from datetime import date, datetime, timedelta, timezone

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

ENVELOPE_VERSION = 1
SOURCES = ("recently_played", "top_tracks", "saved_tracks", "playlist", "search")
# Sources whose Spotify object wraps the track (under `item`, or `track` in older responses).
WRAPPER_SOURCES = ("recently_played", "saved_tracks", "playlist")
# Sources keyed by what happened (a play, a save) rather than by a snapshot and a place in it.
EVENT_SOURCES = ("recently_played", "saved_tracks")

EPISODE = "episode"
REMOVED_TRACK = "removed_track"
INVALID_BASE64 = "invalid_base64"
INVALID_JSON = "invalid_json"
INVALID_ENVELOPE = "invalid_envelope"
SCHEMA_VIOLATION = "schema_violation"

MAX_LOGGED_FAILURES = 20
# Spotify's popularity scale (https://developer.spotify.com/documentation/web-api/reference/get-track).
POPULARITY = (0, 100)
# Days past today's UTC date an event may be (clock skew), as normalize.rs FUTURE_DAYS_ALLOWED.
FUTURE_DAYS_ALLOWED = 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MS = timedelta(milliseconds=1)

# Integer ranges of the types the Rust side reads into.
U32 = (0, 2**32 - 1)
I64 = (-(2**63), 2**63 - 1)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

# The shapes that are read, every field optional: name -> Python type, or (min, max) for integers.
CONTEXT_SHAPE = {
    "playlist_id": str,
    "snapshot_id": str,
    "position": U32,
    "time_range": str,
    "rank": U32,
    "query": str,
}
ENTRY_SHAPE = {
    "item": dict,
    "track": dict,
    "added_by": dict,
    "is_local": bool,
    "context": dict,
}
TRACK_SHAPE = {
    "type": str,
    "episode": bool,
    "id": str,
    "uri": str,
    "name": str,
    "duration_ms": I64,
    "explicit": bool,
    "popularity": I64,
    "is_local": bool,
    "disc_number": I64,
    "track_number": I64,
    "external_ids": dict,
    "album": dict,
    "artists": list,
}
ALBUM_SHAPE = {
    "id": str,
    "name": str,
    "album_type": str,
    "release_date": str,
    "total_tracks": I64,
    "images": list,
}
IMAGE_SHAPE = {"url": str, "width": I64}
ARTIST_SHAPE = {"id": str, "name": str}
USER_SHAPE = {"id": str}
PLAY_CONTEXT_SHAPE = {"type": str, "uri": str}
EXTERNAL_IDS_SHAPE = {"isrc": str}


class Dropped(Exception):
    """The record is not kept, on purpose (Firehose result `Dropped`)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Failed(Exception):
    """The record cannot be transformed (Firehose result `ProcessingFailed`)."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def lambda_handler(event, context):
    """Firehose transformation entry point: every input recordId is answered once, in order."""
    output = []
    reasons = Counter()
    failures = 0
    for record in event["records"]:
        record_id = record["recordId"]
        try:
            line, source, dt = transform(record["data"])
        except Dropped as dropped:
            reasons[dropped.reason] += 1
            output.append({"recordId": record_id, "result": "Dropped", "data": ""})
            continue
        except Failed as failed:
            reasons[failed.reason] += 1
            failures += 1
            if failures <= MAX_LOGGED_FAILURES:
                logger.warning("record %s not transformed: %s", record_id, failed)
            output.append({"recordId": record_id, "result": "ProcessingFailed", "data": ""})
            continue
        output.append(
            {
                "recordId": record_id,
                "result": "Ok",
                "data": base64.b64encode(line).decode("ascii"),
                "metadata": {"partitionKeys": {"source": source, "dt": dt}},
            }
        )
    logger.info(
        "invocation summary: records=%d ok=%d reasons=%s",
        len(output),
        len(output) - sum(reasons.values()),
        dict(reasons),
    )
    return {"records": output}


def transform(data):
    """One record's base64 data to (output line, source, dt)."""
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Failed(INVALID_BASE64, str(e)) from None
    try:
        envelope = json.loads(payload.decode("utf-8"))
    except ValueError as e:  # includes UnicodeDecodeError and json.JSONDecodeError
        raise Failed(INVALID_JSON, str(e)) from None
    record, source = normalize(envelope)
    try:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    except UnicodeEncodeError as e:  # a lone surrogate escape, which Rust rejects as bad JSON
        raise Failed(INVALID_JSON, str(e)) from None
    return line, source, record["event_at"][:10]


def normalize(env):
    """One envelope to (track_observation dict, source), following the rules of its source."""
    if not isinstance(env, dict):
        raise Failed(INVALID_ENVELOPE, "the envelope is not a JSON object")
    for field in ("v", "source", "observed_at", "spotify"):
        if field not in env:
            raise Failed(INVALID_ENVELOPE, f"missing field `{field}`")
    version = env["v"]
    if type(version) is not int or not U32[0] <= version <= U32[1]:
        raise Failed(INVALID_ENVELOPE, "`v` is not an envelope version")
    source = env["source"]
    if source not in SOURCES:
        raise Failed(INVALID_ENVELOPE, f"unknown source {source!r}")
    observed_at = parse_timestamp(env["observed_at"])
    if observed_at is None:
        raise Failed(INVALID_ENVELOPE, "`observed_at` is not a timestamp")
    user_id = env.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise Failed(INVALID_ENVELOPE, "`user_id` is not a string")
    ctx = env.get("context", {})
    if not isinstance(ctx, dict):
        raise Failed(INVALID_ENVELOPE, "`context` is not an object")
    check(ctx, CONTEXT_SHAPE, INVALID_ENVELOPE, "context")
    ctx_played_at = optional_timestamp(ctx, "played_at", INVALID_ENVELOPE)
    if version != ENVELOPE_VERSION:
        raise Failed(
            INVALID_ENVELOPE,
            f"envelope version {version} is not supported (this transform reads v{ENVELOPE_VERSION})",
        )

    # Where the track is, and what the source adds around it.
    spotify = env["spotify"]
    if source in WRAPPER_SOURCES:
        entry = read_entry(spotify)
        track = entry["track"]
    else:
        if spotify is None:
            raise Dropped(REMOVED_TRACK)
        track = read_track(spotify)
        entry = {"played_at": None, "added_at": None, "added_by": None, "is_local": None, "context": None}

    kind = track.get("type")
    if track.get("episode") is True or kind == "episode":
        raise Dropped(EPISODE)
    if kind not in (None, "track"):
        raise Failed(SCHEMA_VIOLATION, f"unsupported item type `{kind}`")

    # When the track entered the playlist or the library (null for old playlist entries).
    added_at = entry["added_at"] if source in ("saved_tracks", "playlist") else None
    context_id = position = None
    if source == "recently_played":
        event_at = ctx_played_at if ctx_played_at is not None else entry["played_at"]
        if event_at is None:
            raise Failed(INVALID_ENVELOPE, "a recently_played envelope needs context.played_at")
    elif source == "saved_tracks":
        event_at = entry["added_at"]
        if event_at is None:
            raise Failed(SCHEMA_VIOLATION, "saved track has no `added_at`")
    elif source == "playlist":
        position = require_context(ctx, "position", source)
        # An entry is an observation of the playlist's snapshot: one dt partition per snapshot.
        event_at = observed_at
        context_id = require_context(ctx, "playlist_id", source)
    elif source == "top_tracks":
        event_at = observed_at
        context_id = require_context(ctx, "time_range", source)
        position = require_context(ctx, "rank", source)
    else:  # search
        event_at = observed_at
        context_id = require_context(ctx, "query", source)
        position = require_context(ctx, "rank", source)
    if position is not None and position > I32_MAX:
        raise Failed(INVALID_ENVELOPE, f"context position/rank {position} does not fit an int")
    check_partition_date(event_at)

    track_uri = required(track, "uri")
    is_local = track.get("is_local")
    if is_local is None:
        is_local = entry["is_local"]
    is_local = bool(is_local) or track_uri.startswith("spotify:local:")
    album = track.get("album") or {}
    release_date, release_date_precision = parse_release_date(album.get("release_date"))
    artist_ids = []
    artist_names = []
    for i, artist in enumerate(track.get("artists") or []):
        artist_ids.append(artist.get("id") or None)
        name = artist.get("name")
        if name is None:
            raise Failed(SCHEMA_VIOLATION, f"track has no `artists[{i}].name`")
        artist_names.append(name)
    added_by = entry["added_by"] or {}
    play_context = entry["context"] or {}
    external_ids = track.get("external_ids") or {}

    record = {
        "record_key": record_key(source, user_id, context_id, position, track_uri, event_at, observed_at),
        "event_at": format_timestamp(event_at),
        "observed_at": format_timestamp(observed_at),
        "added_at": None if added_at is None else format_timestamp(added_at),
        "user_id": user_id,
        "context_id": context_id,
        "position": position,
        "snapshot_id": ctx.get("snapshot_id"),
        "added_by": added_by.get("id") or None,
        "play_context_type": play_context.get("type"),
        "play_context_uri": play_context.get("uri"),
        "track_id": track.get("id") or None,
        "track_uri": track_uri,
        "track_name": required(track, "name"),
        "duration_ms": duration_ms(required(track, "duration_ms")),
        "explicit": required(track, "explicit"),
        # Local files report popularity 0, which is no measurement: NULL, like a missing value.
        "popularity": None if is_local else popularity(track.get("popularity")),
        "isrc": external_ids.get("isrc") or None,
        "is_local": is_local,
        "disc_number": int32(track.get("disc_number"), "disc_number"),
        "track_number": int32(track.get("track_number"), "track_number"),
        "album_id": album.get("id") or None,
        "album_name": album.get("name"),
        "album_type": album.get("album_type") or None,
        "album_release_date": release_date,
        "album_release_date_precision": release_date_precision,
        "album_total_tracks": int32(album.get("total_tracks"), "album.total_tracks"),
        "album_image_url": widest_image(album.get("images") or []),
        "artist_ids": artist_ids,
        "artist_names": artist_names,
        "primary_artist_id": artist_ids[0] if artist_ids else None,
        "primary_artist_name": artist_names[0] if artist_names else None,
    }
    return record, source


def first_partition_date():
    """The first dt the Glue table's projection shows, from the schema's partition keys."""
    avsc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemas", "track_observation.avsc")
    with open(avsc, encoding="utf-8") as f:
        keys = json.load(f)["tracklake.partition_keys"]
    return date.fromisoformat(next(k["first"] for k in keys if k["name"] == "dt"))


FIRST_PARTITION_DATE = first_partition_date()


def check_partition_date(event_at):
    """A dt partition Athena's projection never lists would make the record invisible."""
    day = event_at.date()
    last = datetime.now(timezone.utc).date() + timedelta(days=FUTURE_DAYS_ALLOWED)
    if not FIRST_PARTITION_DATE <= day <= last:
        raise Failed(SCHEMA_VIOLATION, f"event date {day} is outside the dt partitions Athena shows")


def duration_ms(value):
    if value < 0:
        raise Failed(SCHEMA_VIOLATION, f"`duration_ms` {value} is negative")
    return int32(value, "duration_ms")


def popularity(value):
    if value is not None and not POPULARITY[0] <= value <= POPULARITY[1]:
        raise Failed(SCHEMA_VIOLATION, f"`popularity` {value} is outside 0..=100")
    return value


def read_entry(obj):
    """A playlist item, saved track or play-history entry: its track and what surrounds it."""
    if not isinstance(obj, dict):
        raise Failed(SCHEMA_VIOLATION, "spotify: not an object")
    check(obj, ENTRY_SHAPE, SCHEMA_VIOLATION, "spotify")
    entry = {
        "played_at": optional_timestamp(obj, "played_at", SCHEMA_VIOLATION),
        "added_at": optional_timestamp(obj, "added_at", SCHEMA_VIOLATION),
        "added_by": obj.get("added_by"),
        "is_local": obj.get("is_local"),
        "context": obj.get("context"),
    }
    if entry["added_by"] is not None:
        check(entry["added_by"], USER_SHAPE, SCHEMA_VIOLATION, "spotify.added_by")
    if entry["context"] is not None:
        check(entry["context"], PLAY_CONTEXT_SHAPE, SCHEMA_VIOLATION, "spotify.context")
    # `item` (2026) first, then `track` (older responses); both are read when both are there.
    item = read_track(obj["item"]) if obj.get("item") is not None else None
    old = read_track(obj["track"]) if obj.get("track") is not None else None
    track = item if item is not None else old
    if track is None:
        if "item" in obj or "track" in obj:
            raise Dropped(REMOVED_TRACK)
        raise Failed(SCHEMA_VIOLATION, "the spotify object has neither `item` nor `track`")
    entry["track"] = track
    return entry


def read_track(obj):
    """Type-checks a track (or episode) object and returns it."""
    if not isinstance(obj, dict):
        raise Failed(SCHEMA_VIOLATION, "spotify: the track is not an object")
    check(obj, TRACK_SHAPE, SCHEMA_VIOLATION, "track")
    if obj.get("external_ids") is not None:
        check(obj["external_ids"], EXTERNAL_IDS_SHAPE, SCHEMA_VIOLATION, "track.external_ids")
    album = obj.get("album")
    if album is not None:
        check(album, ALBUM_SHAPE, SCHEMA_VIOLATION, "track.album")
        for image in album.get("images") or []:
            if not isinstance(image, dict):
                raise Failed(SCHEMA_VIOLATION, "track.album.images: not an object")
            check(image, IMAGE_SHAPE, SCHEMA_VIOLATION, "track.album.images")
    for artist in obj.get("artists") or []:
        if not isinstance(artist, dict):
            raise Failed(SCHEMA_VIOLATION, "track.artists: not an object")
        check(artist, ARTIST_SHAPE, SCHEMA_VIOLATION, "track.artists")
    return obj


def check(obj, shape, reason, where):
    """Fails with `reason` when a field of `obj` is present, not null, and of the wrong type."""
    for key, kind in shape.items():
        value = obj.get(key)
        if value is None:
            continue
        if isinstance(kind, tuple):
            ok = type(value) is int and kind[0] <= value <= kind[1]
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise Failed(reason, f"{where}.{key}: invalid type or value")


def required(track, field):
    value = track.get(field)
    if value is None:
        raise Failed(SCHEMA_VIOLATION, f"track has no `{field}`")
    return value


def require_context(ctx, field, source):
    value = ctx.get(field)
    if value is None:
        raise Failed(INVALID_ENVELOPE, f"a {source} envelope needs context.{field}")
    return value


def int32(value, field):
    if value is not None and not I32_MIN <= value <= I32_MAX:
        raise Failed(SCHEMA_VIOLATION, f"`{field}` {value} does not fit an int")
    return value


def optional_timestamp(obj, field, reason):
    text = obj.get(field)
    if text is None:
        return None
    at = parse_timestamp(text)
    if at is None:
        raise Failed(reason, f"`{field}` is not a timestamp")
    return at


def parse_timestamp(text):
    """RFC 3339 (any offset) or `yyyy-MM-dd HH:mm:ss[.fff]` (UTC), truncated to milliseconds."""
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text)
        at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def format_timestamp(at):
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, which Firehose's OpenX JSON SerDe reads as a timestamp."""
    return at.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def epoch_millis(at):
    return (at - EPOCH) // ONE_MS


def record_key(source, user_id, context_id, position, track_uri, event_at, observed_at):
    """The deterministic key of an observation; the same algorithm as normalize.rs `record_key`."""
    parts = [source.encode(), (user_id or "").encode(), track_uri.encode()]
    if source in EVENT_SOURCES:
        parts.append(epoch_millis(event_at).to_bytes(8, "big", signed=True))
    else:
        parts.append((context_id or "").encode())
        parts.append((-1 if position is None else position).to_bytes(4, "big", signed=True))
        parts.append(epoch_millis(observed_at).to_bytes(8, "big", signed=True))
    # 0x1f (unit separator) after every part, so that no field can run into the next.
    digest = hashlib.sha256(b"\x1f".join(parts) + b"\x1f").digest()
    return digest[:16].hex()


def parse_release_date(text):
    """A release date of year, month or day precision as (first day, precision), else (None, None)."""
    if text is None:
        return None, None
    parts = text.split("-")
    if len(parts) > 3:
        return None, None
    precision = ("year", "month", "day")[len(parts) - 1]
    numbers = [number(part, 4 if i == 0 else 2) for i, part in enumerate(parts)]
    year, month, day = (numbers + [1, 1])[:3]
    if year is None or month is None or day is None or year == 0:
        return None, None
    try:
        return date(year, month, day).isoformat(), precision
    except ValueError:
        return None, None


def number(part, length):
    """A field of exactly `length` characters that is an unsigned decimal number, else None."""
    digits = part[1:] if part.startswith("+") else part
    if len(part) != length or not digits or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)


def widest_image(images):
    """The widest image's URL; the first with a URL when no widths are given."""
    with_url = [image for image in images if image.get("url") is not None]
    if not with_url:
        return None
    widest = with_url[0]
    for image in with_url[1:]:
        # `>=`: the last of equally wide images, like Rust's max_by_key.
        if (image.get("width") or 0) >= (widest.get("width") or 0):
            widest = image
    if widest.get("width") is None:
        return with_url[0]["url"]
    return widest["url"]
