"""Result records: build, validate against the result schema, save atomically, load and migrate.

A record is everything needed to trust and reproduce a score (asv's result files are the model):
schema version, task id and version, instance-set sha256, evaluator sha256, harness version,
submission sha256, interpreter and numpy versions, platform, limits, per-instance records and
aggregates. Older schemas are migrated by one function per version; newer ones are refused.

The schema file says the shape; two facts are filled in here, each from its one place: the schema
version (SCHEMA_VERSION) and the statuses a record's cases may have (the core's, statuses.py, plus those
its task's spec.json declares), so a record with any other status is refused.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import AdrsError, AggregateMismatch, NonFiniteNumber, ResultFileError, SchemaVersionError, UsageError
from .schemas import load_schema, validate_or_raise
from .statuses import CORE_STATUSES

SCHEMA_VERSION = 2
# Submission metadata (`run --meta key=value`): who made it and how. One place for the keys.
META_KEYS = ("framework", "model", "budget", "generations", "author", "url")


def v1_to_v2(record: dict) -> dict:
    """Schema 2 adds submission.meta (who made the submission and how); a v1 record had none."""
    record = dict(record, schema_version=2)
    record["submission"] = dict(record["submission"], meta={})
    return record


# MIGRATIONS[v] turns a version-v record into a version v+1 record.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: v1_to_v2}
OLDEST_READABLE = min(MIGRATIONS, default=SCHEMA_VERSION)


def parse_meta(pairs: Sequence[str]) -> dict[str, str]:
    """`key=value` strings into submission metadata; one-line errors for anything else."""
    meta: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected --meta KEY=VALUE, got '{pair}'; e.g. --meta framework=openevolve")
        if key not in META_KEYS:
            raise UsageError(f"expected a metadata key among {', '.join(META_KEYS)}, got '{key}'; use one of those")
        meta[key] = value
    return meta


@lru_cache(maxsize=None)
def result_schema(statuses: tuple[str, ...]) -> dict:
    """The result schema, with this harness's schema version and the statuses a record may hold."""
    schema = copy.deepcopy(load_schema("result"))
    schema["properties"]["schema_version"]["const"] = SCHEMA_VERSION
    schema["properties"]["instances"]["items"]["properties"]["status"]["enum"] = list(statuses)
    return schema


def record_statuses(record: dict) -> tuple[str, ...]:
    """The statuses a record's cases may have: the core's, plus those its task declares (none for a task
    this harness does not have, or a record too malformed to name one: the schema says why)."""
    from .registry import get_task

    task = record.get("task")
    name = task.get("name") if isinstance(task, dict) else None
    if not isinstance(name, str):
        return CORE_STATUSES
    try:
        return get_task(name).spec.statuses
    except AdrsError:
        return CORE_STATUSES


def validate(record: dict, what: str = "result record") -> None:
    validate_or_raise(record, result_schema(record_statuses(record)), ResultFileError, what)


def migrate(record: dict, what: str) -> dict:
    version = record.get("schema_version")
    if not isinstance(version, int):
        raise ResultFileError(f"{what}: expected an integer schema_version, got {version!r}; is this an adrs-bench result?")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{what}: written with result schema {version}, this adrs-bench reads schemas {OLDEST_READABLE} to "
            f"{SCHEMA_VERSION}; upgrade adrs-bench to read it")
    if version < OLDEST_READABLE:
        raise SchemaVersionError(
            f"{what}: written with result schema {version}, older than any this adrs-bench migrates "
            f"(oldest {OLDEST_READABLE}); re-run the submission to get a current record")
    while version < SCHEMA_VERSION:
        record = MIGRATIONS[version](record)
        version = record["schema_version"]
    return record


def aggregate_core(scores: Sequence[float], statuses: Sequence[str]) -> dict:
    """The part of an aggregate that follows from the instances alone: their mean score, count,
    ok/failed counts and status counts (the core's statuses in their order, then a task's own in
    alphabetical order). The one rule for what an aggregate must say, used when a record is built and
    again when it is loaded (so an edited aggregate cannot pass a gate)."""
    order = CORE_STATUSES + tuple(sorted(set(statuses) - set(CORE_STATUSES)))
    counts = {s: sum(status == s for status in statuses) for s in order}
    ok = counts["ok"]
    return {
        "score": sum(scores) / len(scores) if scores else 0.0,
        "instances": len(statuses),
        "ok": ok,
        "failed": len(statuses) - ok,
        "statuses": {s: n for s, n in counts.items() if n},
    }


def numbers(value, where: str = "") -> Iterator[tuple[str, object]]:
    """Every number in a parsed JSON value, with its path (e.g. `instances/3/score`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{where}/{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from numbers(item, f"{where}/{index}" if where else str(index))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, value


def is_finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float: no score can be that
        return False


def check_finite(record: dict, what: str) -> None:
    """JSON parsed by Python accepts NaN, Infinity and 1e999; `dumps` never writes them, so a record
    holding one was edited, and a NaN score would compare as neither better nor worse in a gate."""
    for where, value in numbers(record):
        if not is_finite(value):
            shown = repr(value) if isinstance(value, float) else f"an integer of {len(str(value))} digits"
            raise NonFiniteNumber(
                f"{what}: expected a finite number at {where}, got {shown}; adrs-bench never writes one, so "
                "the record was edited or corrupted: re-run the submission to get a new record")


def check_aggregate(record: dict, what: str) -> None:
    """The aggregate must be exactly what its instances give: counts exactly, and the mean as
    `aggregate_core` computes it, float for float (JSON round-trips a float exactly)."""
    instances = record["instances"]
    expected = aggregate_core([i["score"] for i in instances], [i["status"] for i in instances])
    for key, value in expected.items():
        got = record["aggregate"][key]
        if got != value:
            raise AggregateMismatch(
                f"{what}: expected aggregate/{key} = {value!r} (from its {len(instances)} instance records), "
                f"got {got!r}; the aggregate was edited or the record corrupted: re-run the submission to get "
                "a new record")
    if record["set"]["cases"] != len(instances):
        raise AggregateMismatch(
            f"{what}: expected set/cases = {len(instances)} (one instance record per case), got "
            f"{record['set']['cases']}; the record was edited or corrupted: re-run the submission to get a "
            "new record")


def load(path: Path | str) -> dict:
    path = Path(path)
    if path.is_dir():
        inside = sorted(path.glob("*.json"))
        hint = f"pass one of its records, e.g. {inside[0]}" if inside else "pass the path of a *.json record"
        raise ResultFileError(f"expected a result file, got the directory {path}; {hint}")
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultFileError(f"expected a result file at {path}, found none; check the path") from None
    except OSError as exc:
        raise ResultFileError(f"expected a readable result file at {path}, got {exc.strerror or exc}; check its "
                              "permissions") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: expected a JSON result record, got unparsable data ({exc}); "
                              "re-run the submission") from None
    if not isinstance(record, dict):
        raise ResultFileError(f"{path}: expected a JSON object, got {type(record).__name__}")
    record = migrate(record, str(path))
    validate(record, str(path))
    check_finite(record, str(path))
    check_aggregate(record, str(path))
    return record


def dumps(record: dict) -> str:
    return json.dumps(record, indent=1, sort_keys=True, allow_nan=False) + "\n"


def save(record: dict, path: Path | str) -> Path:
    """Validate, then write atomically (temp file in the same directory, fsync, rename)."""
    validate(record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(record)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a result record is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def default_filename(record: dict) -> str:
    """`TASK-vN__SET__LABEL__SHA8.json`: the short hash of the submission keeps two programs with the same
    label (two candidates both named main.py) from overwriting each other's records."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", record["submission"]["label"])
    set_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", record["set"]["name"]).strip("-")
    cut = ".interrupted" if is_interrupted(record) else ""  # never overwrites the complete run's record
    return f"{record['task']['id']}__{set_name}__{label}__{record['submission']['sha256'][:8]}{cut}.json"


def is_interrupted(record: dict) -> bool:
    """Whether the user stopped this run before every case ran (its missing cases count as failed)."""
    return bool(record["provenance"].get("interrupted"))


def not_run_count(record: dict) -> int:
    """How many of a record's cases never ran to an answer ("not run: ..." timeouts)."""
    return sum(1 for i in record["instances"] if i["message"].startswith("not run: "))
