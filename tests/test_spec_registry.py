"""Task spec schema, registry look-ups and instance-set loading (hash pinning, fresh sets)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from adrs_bench.errors import InstanceHashMismatch, InstanceSetNotFound, SpecError, TaskNotFound
from adrs_bench.instances import load_set, parse_fresh
from adrs_bench.registry import Task, get_task, task_names
from adrs_bench.spec import InstanceSetSpec, spec_from_dict

TASK = get_task("prism_placement")
SPEC_DATA = json.loads(TASK.spec.path("spec.json").read_text())

CASE = {"id": "t-000", "family": "uniform", "gpu_num": 2,
        "models": [["model_0", 10, 2, 5], ["model_1", 20, 3, 6]],
        "reference": {"status": "optimal", "value": 0.0, "value_exact": "1/35", "lower_bound": 0.0,
                      "lower_bound_exact": "1/70", "placement": [0, 1], "method": "hand"}}


def spec_with(**changes) -> dict:
    data = json.loads(json.dumps(SPEC_DATA))
    data.update(changes)
    return data


def test_shipped_spec_loads_and_is_versioned():
    assert TASK.spec.id == "prism_placement-v1"
    assert TASK.spec.interface.entry_point == "compute_model_placement"
    assert TASK.spec.metric.direction == "maximize"
    assert "numpy" in TASK.spec.allowed_imports and "os" not in TASK.spec.allowed_imports
    assert set(TASK.spec.sets) >= {"public", "dev", "test", "scale"}
    assert TASK.spec.sets["test"].held_out and not TASK.spec.sets["dev"].held_out
    assert "prism_placement" in task_names()


def test_spec_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASK.spec.version = 2  # type: ignore[misc]


@pytest.mark.parametrize("changes, words", [
    ({"id": "prism_placement"}, "at id"),
    ({"id": "prism_placement-v2"}, "expected id 'prism_placement-v1'"),
    ({"default_set": "nope"}, "default_set 'nope' is not one of"),
    ({"limits": {"instance_seconds": 0, "total_seconds": 1, "memory_mb": 128, "cpu_seconds": 1}}, "limits/instance_seconds"),
    ({"metric": {"name": "x", "direction": "up", "description": ""}}, "metric/direction"),
])
def test_bad_specs_are_refused_with_the_field(tmp_path, changes, words):
    with pytest.raises(SpecError) as info:
        spec_from_dict(spec_with(**changes), tmp_path)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_field_is_named(tmp_path):
    data = spec_with()
    del data["interface"]
    with pytest.raises(SpecError, match="'interface' is a required property"):
        spec_from_dict(data, tmp_path)


def test_unknown_task_suggests_the_close_name():
    with pytest.raises(TaskNotFound) as info:
        get_task("prism_placment")
    assert "did you mean 'prism_placement'?" in str(info.value)
    assert "adrs-bench list" in str(info.value)


def test_versioned_name_must_match():
    assert get_task("prism_placement-v1").spec.id == "prism_placement-v1"
    with pytest.raises(TaskNotFound, match="it has prism_placement-v1"):
        get_task("prism_placement-v7")


def task_with_set(tmp_path: Path, data: bytes, sha: str | None = None, cases: int = 1) -> Task:
    (tmp_path / "instances").mkdir(exist_ok=True)
    (tmp_path / "instances" / "mini.json").write_bytes(data)
    entry = InstanceSetSpec(name="mini", file="instances/mini.json", sha256=sha or hashlib.sha256(data).hexdigest(),
                            cases=cases, purpose="test", reference="hand")
    spec = dataclasses.replace(TASK.spec, sets={"mini": entry}, default_set="mini", root=tmp_path)
    return Task(spec=spec, plugin=TASK.plugin)


def document(*cases) -> bytes:
    return json.dumps({"format": "prism_placement-instances/1", "set": "mini", "generator": {},
                       "cases": list(cases)}).encode()


def test_pinned_set_loads(tmp_path):
    loaded = load_set(task_with_set(tmp_path, document(CASE)), "mini")
    assert loaded.name == "mini" and len(loaded.cases) == 1 and loaded.fresh_seed is None
    assert loaded.cases[0].models[1].model_size == 20


def test_hand_edited_instance_file_is_refused(tmp_path):
    task = task_with_set(tmp_path, document(CASE))
    edited = dict(CASE, gpu_num=3)
    (tmp_path / "instances" / "mini.json").write_bytes(document(edited))
    with pytest.raises(InstanceHashMismatch) as info:
        load_set(task, "mini")
    message = str(info.value)
    assert "expected" in message and "corrupted or edited" in message and "git checkout" in message


def test_case_count_must_match_the_spec(tmp_path):
    with pytest.raises(InstanceHashMismatch, match="holds 1 cases, expected 2"):
        load_set(task_with_set(tmp_path, document(CASE), cases=2), "mini")


def test_missing_instance_file(tmp_path):
    task = task_with_set(tmp_path, document(CASE))
    (tmp_path / "instances" / "mini.json").unlink()
    with pytest.raises(InstanceSetNotFound, match="found none"):
        load_set(task, "mini")


def test_unknown_set_names_the_sets(tmp_path):
    with pytest.raises(InstanceSetNotFound) as info:
        load_set(TASK, "pubilc")
    assert "did you mean 'public'?" in str(info.value) and "fresh:SEED" in str(info.value)


@pytest.mark.parametrize("name", ["fresh", "fresh:", "fresh:abc", "fresh:-1"])
def test_bad_fresh_seed(name):
    with pytest.raises(InstanceSetNotFound, match="expected fresh:SEED"):
        parse_fresh(name)


def test_fresh_seed_parses():
    assert parse_fresh("fresh:42") == 42
    assert parse_fresh("dev") is None
