"""A result record is checked when it is loaded: no NaN or infinity anywhere (Python's JSON parser
accepts them), and an aggregate that is exactly what its instance records give. Both used to pass
`gate` with exit 0 after a hand edit."""
from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from adrs_bench import results
from adrs_bench.cli import main
from adrs_bench.errors import AggregateMismatch, NonFiniteNumber, ResultFileError
from adrs_bench.instances import InstanceSet
from adrs_bench.registry import get_task
from adrs_bench.runner import aggregate
from adrs_bench.task_api import InstanceOutcome

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "leaderboard" / "results").glob("*.json"))
# A committed record with failed instances (two statuses), so the counts are not trivial.
MIXED = next((ROOT / "leaderboard" / "results").glob(f"{get_task('prism_placement').spec.id}__dev__first_fit__*.json"))


@pytest.fixture
def record() -> dict:
    return json.loads(MIXED.read_text())


def write(tmp_path, record: dict, name: str = "edited.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(record, allow_nan=True))  # what a hand edit can produce
    return path


def refused(path: Path, error: type) -> str:
    with pytest.raises(error) as excinfo:
        results.load(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert isinstance(excinfo.value, ResultFileError) and excinfo.value.exit_code == 2
    return message


def test_mixed_fixture_has_failures(record):
    assert set(record["aggregate"]["statuses"]) == {"ok", "error"}


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_records_load(path):
    results.load(path)


# ------------------------------------------------------------------------------ non-finite numbers

@pytest.mark.parametrize("where, value, shown", [
    (("aggregate", "score"), math.nan, "got nan"),
    (("aggregate", "score"), math.inf, "got inf"),
    (("instances", 3, "score"), math.nan, "got nan"),
    (("instances", 0, "score"), -math.inf, "got -inf"),
    (("aggregate", "ci90", 1), math.inf, "got inf"),
], ids=["aggregate-nan", "aggregate-inf", "instance-nan", "instance-minus-inf", "ci90-inf"])
def test_non_finite_score_is_refused(record, tmp_path, where, value, shown):
    target = record
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    path = write(tmp_path, record)
    message = refused(path, NonFiniteNumber)
    assert message == (
        f"{path}: expected a finite number at {'/'.join(map(str, where))}, {shown}; adrs-bench never writes "
        "one, so the record was edited or corrupted: re-run the submission to get a new record")


def test_overflowing_literal_is_refused(record, tmp_path):
    """`1e999` parses to inf; an integer of 400 digits fits no float."""
    path = tmp_path / "big.json"
    text = json.dumps(record).replace(f'"score": {json.dumps(record["instances"][0]["score"])}', '"score": 1e999', 1)
    path.write_text(text)
    assert "expected a finite number at instances/0/score, got inf;" in refused(path, NonFiniteNumber)
    record["instances"][1]["metrics"]["huge"] = 10 ** 400
    path = write(tmp_path, record, "huge.json")
    assert ("expected a finite number at instances/1/metrics/huge, got an integer of 401 digits;"
            in refused(path, NonFiniteNumber))


def test_gate_refuses_a_nan_score(record, tmp_path):
    """Before: `gate` said ok and exited 0 on a NaN score."""
    old = write(tmp_path, record, "old.json")
    record["aggregate"]["score"] = math.nan
    new = write(tmp_path, record, "new.json")
    outcome = CliRunner().invoke(main, ["gate", str(new), "--against", str(old)])
    assert outcome.exit_code == 2
    assert outcome.output == (
        f"error: {new}: expected a finite number at aggregate/score, got nan; adrs-bench never writes one, so "
        "the record was edited or corrupted: re-run the submission to get a new record\n")


# ------------------------------------------------------------------------------ aggregate vs instances

@pytest.mark.parametrize("key, change, expected, got", [
    ("score", lambda a: a.update(score=0.99), None, "0.99"),
    ("instances", lambda a: a.update(instances=119), "120", "119"),
    ("ok", lambda a: a.update(ok=120), "113", "120"),
    ("failed", lambda a: a.update(failed=0), "7", "0"),
    ("statuses", lambda a: a.update(statuses={"ok": 120}), "{'ok': 113, 'error': 7}", "{'ok': 120}"),
])
def test_edited_aggregate_is_refused(record, tmp_path, key, change, expected, got):
    true_mean = record["aggregate"]["score"]
    change(record["aggregate"])
    path = write(tmp_path, record)
    message = refused(path, AggregateMismatch)
    expected = repr(true_mean) if expected is None else expected
    assert message == (
        f"{path}: expected aggregate/{key} = {expected} (from its 120 instance records), got {got}; the "
        "aggregate was edited or the record corrupted: re-run the submission to get a new record")


def test_one_ulp_off_is_refused(record, tmp_path):
    """The mean is compared bit for bit: JSON round-trips floats exactly."""
    record["aggregate"]["score"] = math.nextafter(record["aggregate"]["score"], 2.0)
    assert "expected aggregate/score = " in refused(write(tmp_path, record), AggregateMismatch)


def test_edited_instance_score_is_refused(record, tmp_path):
    """Raising one instance's score without the mean is caught just the same."""
    failed = next(i for i in record["instances"] if i["status"] != "ok")
    failed["score"] = 1.0
    assert "expected aggregate/score = " in refused(write(tmp_path, record), AggregateMismatch)


def test_edited_instance_status_is_refused(record, tmp_path):
    failed = next(i for i in record["instances"] if i["status"] != "ok")
    failed["status"] = "ok"
    assert "expected aggregate/ok = 114 (from its 120 instance records), got 113;" in refused(
        write(tmp_path, record), AggregateMismatch)


def test_dropped_instance_is_refused(record, tmp_path):
    """Dropping a failed instance and fixing the aggregate still disagrees with the set's case count."""
    record["instances"] = [i for i in record["instances"] if i["status"] == "ok"]
    record["aggregate"].update(results.aggregate_core([i["score"] for i in record["instances"]],
                                                      [i["status"] for i in record["instances"]]))
    path = write(tmp_path, record)
    assert refused(path, AggregateMismatch) == (
        f"{path}: expected set/cases = 113 (one instance record per case), got 120; the record was edited or "
        "corrupted: re-run the submission to get a new record")


# ------------------------------------------------------------------------------ one rule

def outcomes_from(seed: int, count: int) -> list[InstanceOutcome]:
    rng = random.Random(seed)
    statuses = get_task("autoscaling").spec.statuses  # the core's and a task's own
    return [InstanceOutcome(f"c{k}", rng.choice(statuses), "", rng.random(), 0.0) for k in range(count)]


@pytest.mark.parametrize("seed, count", [(0, 0), (1, 1), (2, 7), (3, 120), (4, 1000)])
def test_aggregate_core_is_what_the_runner_writes(seed, count):
    outcomes = outcomes_from(seed, count)
    task = SimpleNamespace(plugin=SimpleNamespace(summarize=lambda *args: {}))
    instance_set = InstanceSet("s", "0" * 64, [None] * count, None, False)
    built = aggregate(task, instance_set, instance_set.cases, outcomes)
    core = results.aggregate_core([o.score for o in outcomes], [o.status for o in outcomes])
    assert core == {key: built[key] for key in core}
    assert list(core["statuses"]) == list(built["statuses"])  # same order too
    assert type(core["score"]) is float and core["score"].hex() == float(built["score"]).hex()


def test_aggregate_core_of_a_real_record(record):
    instances = record["instances"]
    core = results.aggregate_core([i["score"] for i in instances], [i["status"] for i in instances])
    assert core == {key: record["aggregate"][key] for key in core}


def test_save_then_load_passes_the_checks(record, tmp_path):
    path = results.save(copy.deepcopy(record), tmp_path / "again.json")
    assert results.load(path) == record
