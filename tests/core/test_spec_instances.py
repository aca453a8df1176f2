"""Spec loading, the registry and instance sets, on hand-made files in tmp_path (the task's own
instance files are not needed)."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json

import pytest

from adrs_bench import results
from adrs_bench.api import evaluate
from adrs_bench.errors import (InstanceCountMismatch, InstanceHashMismatch, InstanceSetNotFound, SpecError,
                               TaskNotFound)
from adrs_bench.evaluator_hash import evaluator_paths
from adrs_bench.instances import load_set
from adrs_bench.registry import Task, get_task
from adrs_bench.spec import InstanceSetSpec, load_spec, spec_from_dict

from conftest import ROUND_ROBIN, small_cases

PRISM_ID = get_task("prism_placement").spec.id  # the current version, e.g. prism_placement-v2


def case_json(case) -> dict:
    ref = case.reference
    return {"id": case.id, "family": case.family, "gpu_num": case.gpu_num,
            "models": [[m.model_name, m.model_size, m.req_rate, m.slo] for m in case.models],
            "reference": {"status": ref.status, "value_exact": str(ref.value),
                          "lower_bound_exact": str(ref.lower_bound), "placement": list(ref.placement),
                          "method": ref.method}}


@pytest.fixture
def tiny_task(task, tmp_path):
    """The prism task with its root moved to tmp_path and one set, `tiny`, of 3 hand-made cases."""
    data = json.dumps({"format": "prism_placement-instances/1",
                       "cases": [case_json(c) for c in small_cases(3)]}).encode()
    (tmp_path / "instances").mkdir()
    (tmp_path / "instances" / "tiny.json").write_bytes(data)
    entry = InstanceSetSpec(name="tiny", file="instances/tiny.json", sha256=hashlib.sha256(data).hexdigest(),
                            cases=3, purpose="tests", reference="brute force")
    spec = dataclasses.replace(task.spec, root=tmp_path, sets={"tiny": entry}, default_set="tiny")
    # The evaluator files are hashed from the spec root: copy them so provenance can be computed.
    for label, path in evaluator_paths(task.spec):
        (tmp_path / label).write_bytes(path.read_bytes())  # prism's are all its own (no package files)
    return Task(spec=spec, plugin=task.plugin)


def raw_spec(task) -> dict:
    return json.loads(task.spec.path("spec.json").read_text())


# ------------------------------------------------------------------------------ spec

def test_shipped_spec_loads(task):
    spec = load_spec(task.spec.root)
    assert spec.name == "prism_placement" and spec.id == f"prism_placement-v{spec.version}"
    assert spec.interface.entry_point == "compute_model_placement"
    assert spec.interface.parameters == ("gpu_num", "models")
    assert "numpy" in spec.allowed_imports and "os" not in spec.allowed_imports
    assert spec.metric.direction == "maximize"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.id = "other"


def test_spec_id_must_match_name_and_version(task, tmp_path):
    data = raw_spec(task)
    data["id"] = "prism_placement-v7"
    with pytest.raises(SpecError) as excinfo:
        spec_from_dict(data, tmp_path)
    assert f"expected id '{task.spec.id}'" in str(excinfo.value) and "got 'prism_placement-v7'" in str(excinfo.value)


def test_spec_default_set_must_exist(task, tmp_path):
    data = raw_spec(task)
    data["default_set"] = "nope"
    with pytest.raises(SpecError, match="default_set 'nope' is not one of the sets"):
        spec_from_dict(data, tmp_path)


def test_spec_schema_violation_names_the_field(task, tmp_path):
    data = raw_spec(task)
    data["limits"]["memory_mb"] = "lots"
    with pytest.raises(SpecError) as excinfo:
        spec_from_dict(data, tmp_path)
    message = str(excinfo.value)
    assert "limits/memory_mb" in message and "\n" not in message


def test_spec_file_missing_or_broken(tmp_path):
    with pytest.raises(SpecError, match="every task directory needs spec.json"):
        load_spec(tmp_path)
    (tmp_path / "spec.json").write_text("{broken")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(tmp_path)


# ------------------------------------------------------------------------------ registry

@pytest.mark.parametrize("name", ["prism_placement", PRISM_ID])
def test_get_task(name):
    task = get_task(name)
    assert task.spec.id == PRISM_ID
    assert hasattr(task.plugin, "evaluate")


@pytest.mark.parametrize("name, words", [
    ("prism_placment", ("did you mean 'prism_placement'?", "adrs-bench list")),
    ("Prism_Placement", ("did you mean",)),
    ("routing", ("did you mean 'llm_routing'",)),
    ("prism_placement-v1", (f"it has {PRISM_ID}", "use the plain name")),  # an old version
    # the serving tasks' scores changed with the calibrated simulator: their older versions are refused
    ("llm_routing-v1", ("it has llm_routing-v3", "not comparable")),
    ("llm_routing-v2", ("it has llm_routing-v3", "not comparable")),
    ("autoscaling-v2", ("it has autoscaling-v3", "not comparable")),
])
def test_unknown_task(name, words):
    with pytest.raises(TaskNotFound) as excinfo:
        get_task(name)
    message = str(excinfo.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert excinfo.value.exit_code == 2


# ------------------------------------------------------------------------------ instance sets

def test_load_set(tiny_task):
    loaded = load_set(tiny_task, "tiny")
    assert loaded.name == "tiny" and not loaded.held_out and loaded.fresh_seed is None
    assert [c.id for c in loaded.cases] == ["case-0", "case-1", "case-2"]
    assert loaded.cases == small_cases(3)
    assert loaded.sha256 == tiny_task.spec.sets["tiny"].sha256


def test_edited_instance_file_is_refused(tiny_task):
    path = tiny_task.spec.path("instances/tiny.json")
    path.write_bytes(path.read_bytes().replace(b'"gpu_num": 2', b'"gpu_num": 3', 1))
    with pytest.raises(InstanceHashMismatch) as excinfo:
        load_set(tiny_task, "tiny")
    message = str(excinfo.value)
    assert "corrupted or edited" in message and "git checkout" in message and "\n" not in message


def test_case_count_must_match(tiny_task):
    entry = dataclasses.replace(tiny_task.spec.sets["tiny"], cases=4)
    spec = dataclasses.replace(tiny_task.spec, sets={"tiny": entry})
    with pytest.raises(InstanceCountMismatch, match="holds 3 cases, expected 4"):
        load_set(Task(spec=spec, plugin=tiny_task.plugin), "tiny")


def test_missing_instance_file(tiny_task):
    tiny_task.spec.path("instances/tiny.json").unlink()
    with pytest.raises(InstanceSetNotFound) as excinfo:
        load_set(tiny_task, "tiny")
    assert "found none" in str(excinfo.value) and "regenerate" in str(excinfo.value)


@pytest.mark.parametrize("name, words", [
    ("tinny", ("did you mean 'tiny'?", "fresh:SEED")),
    ("fresh:abc", ("fresh:SEED", "non-negative integer")),
    ("fresh:-1", ("fresh:SEED",)),
    ("fresh:", ("fresh:SEED",)),  # plain `fresh` draws a seed (test_fresh_sets.py)
])
def test_unknown_set(tiny_task, name, words):
    with pytest.raises(InstanceSetNotFound) as excinfo:
        load_set(tiny_task, name)
    for word in words:
        assert word in str(excinfo.value)


def test_fresh_sets_can_be_disabled(tiny_task):
    spec = dataclasses.replace(tiny_task.spec, fresh_allowed=False)
    with pytest.raises(InstanceSetNotFound, match="has no fresh sets"):
        load_set(Task(spec=spec, plugin=tiny_task.plugin), "fresh:1")


# ------------------------------------------------------------------------------ the whole flow

def test_run_end_to_end(tiny_task, tmp_path):
    path = tmp_path / "rr.py"
    path.write_text(ROUND_ROBIN)
    result = evaluate(tiny_task, path, None)
    record, outcomes = result.record, result.outcomes
    assert record["set"]["name"] == "tiny" and record["set"]["sha256"] == load_set(tiny_task, "tiny").sha256
    assert record["submission"]["label"] == "rr"
    assert record["submission"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [o.status for o in outcomes] == ["ok"] * 3
    assert record["aggregate"]["score"] == pytest.approx(sum(o.score for o in outcomes) / 3)
    saved = results.save(record, tmp_path / "out" / results.default_filename(record))
    assert results.load(saved) == json.loads(json.dumps(record))
    # deterministic: a second run gives the same scores and per-instance records (but the clock)
    again = evaluate(tiny_task, path, None).record
    strip = lambda r: [dict(i, seconds=0) for i in r["instances"]]  # noqa: E731
    assert strip(again) == strip(record)
    assert again["aggregate"]["score"] == record["aggregate"]["score"]


def test_run_checks_the_set_before_the_submission(tiny_task, tmp_path):
    with pytest.raises(InstanceSetNotFound):
        evaluate(tiny_task, tmp_path / "missing.py", "nope")


def test_records_of_different_runs_gate_cleanly(tiny_task, tmp_path):
    from adrs_bench.gate import compare_records

    path = tmp_path / "rr.py"
    path.write_text(ROUND_ROBIN)
    first, second = (evaluate(tiny_task, path, None).record for _ in range(2))
    assert compare_records(second, first).exit_code == 0
    worse = copy.deepcopy(second)
    worse["aggregate"]["score"] -= 0.1
    assert compare_records(worse, first).exit_code == 1
