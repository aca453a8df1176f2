"""Spec schema edge cases, versioned task names and fresh-set seeds (the rest of spec/registry/instance
loading is in test_spec_instances.py)."""
from __future__ import annotations

import dataclasses
import json

import pytest

from adrs_bench.errors import InstanceSetNotFound, SpecError, TaskNotFound
from adrs_bench.fresh_names import parse_fresh
from adrs_bench.registry import get_task
from adrs_bench.spec import spec_from_dict

TASK = get_task("prism_placement")
SPEC_DATA = json.loads(TASK.spec.path("spec.json").read_text())

def spec_with(**changes) -> dict:
    data = json.loads(json.dumps(SPEC_DATA))
    data.update(changes)
    return data


def test_spec_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASK.spec.version = 2  # type: ignore[misc]


@pytest.mark.parametrize("changes, words", [
    ({"id": "prism_placement"}, "at id"),
    ({"id": "prism_placement-v1"}, f"expected id '{TASK.spec.id}'"),  # an old version
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


def test_versioned_name_must_match():
    assert get_task(TASK.spec.id).spec.id == TASK.spec.id
    with pytest.raises(TaskNotFound, match=f"it has {TASK.spec.id}"):
        get_task("prism_placement-v7")


@pytest.mark.parametrize("name", ["fresh", "fresh:", "fresh:abc", "fresh:-1"])
def test_bad_fresh_seed(name):
    """parse_fresh reads a resolved name; plain `fresh` is resolved (a seed drawn) before it."""
    with pytest.raises(InstanceSetNotFound, match=r"expected fresh \(a seed drawn now\) or fresh:SEED"):
        parse_fresh(name)


def test_fresh_seed_parses():
    assert parse_fresh("fresh:42") == 42
    assert parse_fresh("dev") is None
