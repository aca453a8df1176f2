"""The contract every task keeps, checked the same way for each task the registry lists: the built-in ones
and any added (a folder under tasks/, or through ADRS_BENCH_TASK_PATH), so a new task is covered the day
it appears, with no line here naming it. Nothing below reads a task's name: what to run comes from its
spec (its smallest set, its example, its interface).

The sandboxed runs are shared per task (module-scoped): the shipped example and a submission that raises
in its entry point, each once, on the task's smallest set.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from adrs_bench import results
from adrs_bench.api import Result, evaluate
from adrs_bench.errors import SpecError
from adrs_bench.evaluator_hash import evaluator_paths, evaluator_sha256
from adrs_bench.instances import load_set
from adrs_bench.registry import Task, get_task, task_directories, task_names
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.sandbox.forkserver import resolve
from adrs_bench.sandbox.modules import ALLOWLISTS
from adrs_bench.sandbox.session import adapter_reference
from adrs_bench.schemas import load_schema, validate_or_raise
from adrs_bench.spec import InstanceSetSpec, TaskSpec
from adrs_bench.starter import TRY_IT, starter_text
from adrs_bench.statuses import OK
from adrs_bench.task_api import PROTOCOLS, check_plugin, protocol_members

FAILURE = "deliberate failure in the entry point"


def smallest_set(spec: TaskSpec) -> InstanceSetSpec:
    """The set a quick run uses: the fewest cases; among equals, one not held out, then by name."""
    return min(spec.sets.values(), key=lambda s: (s.cases, s.held_out, s.name))


def failing_source(spec: TaskSpec) -> str:
    """A submission that passes the static check and raises as soon as it is called, built from the
    interface alone: a function taking the declared parameters, or a class whose constructor raises."""
    iface = spec.interface
    if iface.kind == "function":
        return f"def {iface.entry_point}({', '.join(iface.parameters)}):\n    raise RuntimeError({FAILURE!r})\n"
    return (f"class {iface.entry_point}:\n    def __init__(self, *args, **kwargs):\n"
            f"        raise RuntimeError({FAILURE!r})\n")


@pytest.fixture(scope="module", params=task_names())
def task(request) -> Task:
    return get_task(request.param)


@pytest.fixture(scope="module")
def example_run(task) -> Result:
    return evaluate(task, task.spec.path(task.spec.example), smallest_set(task.spec).name, label="example")


@pytest.fixture(scope="module")
def failing_run(task) -> Result:
    return evaluate(task, "raises.py", smallest_set(task.spec).name, code=failing_source(task.spec), label="raises")


def test_the_spec_loads_and_validates(task):
    spec = task.spec
    data = json.loads(spec.path("spec.json").read_text())
    validate_or_raise(data, load_schema("task_spec"), SpecError, str(spec.path("spec.json")))
    assert task_directories()[spec.name] == spec.root  # the folder's name is the spec's name
    assert spec.id == f"{spec.name}-v{spec.version}" and spec.default_set in spec.sets
    assert spec.protocol in PROTOCOLS
    for path in [spec.path(spec.example), *(spec.path(file) for file in spec.baselines.values())]:
        assert path.is_file(), f"{spec.id}: {path} is named in spec.json but missing"
    # the files pinning its scoring: every glob matches, the digest computes, the plugin itself is pinned
    labels = [label for label, _ in evaluator_paths(spec)]
    assert "task.py" in labels and len(evaluator_sha256(spec)) == 64
    # every module it allows a submission is one the sandbox has an allowlist for
    assert [module for module in spec.allowed_imports if module not in ALLOWLISTS] == []


def test_every_set_loads_with_its_pinned_sha256(task):
    for name, entry in task.spec.sets.items():
        loaded = load_set(task, name)  # refuses a file whose bytes differ from the pin, or a wrong count
        assert loaded.sha256 == entry.sha256 and len(loaded.cases) == entry.cases
        assert loaded.held_out == entry.held_out
        ids = [task.plugin.case_id(case) for case in loaded.cases]
        assert len(set(ids)) == len(ids), f"{task.spec.id} set {name}: case ids repeat"
        assert all(isinstance(task.plugin.seed_material(case), bytes) for case in loaded.cases[:3])


def test_the_plugin_keeps_its_protocol(task):
    spec, plugin = task.spec, task.plugin
    check_plugin(plugin, spec.protocol, f"adrs_bench.tasks.{spec.name}.task.PLUGIN")
    assert [name for name, _ in protocol_members(PROTOCOLS[spec.protocol]) if not hasattr(plugin, name)] == []
    assert isinstance(plugin.failed_score, (int, float)) and math.isfinite(plugin.failed_score)
    # the child adapter travels by name to the fork server, which imports it from the task's package
    reference = adapter_reference(plugin.child_adapter)
    assert reference.startswith(f"adrs_bench.tasks.{spec.name}.") and resolve(reference) is plugin.child_adapter
    assert all(isinstance(key, str) and isinstance(title, str) for key, title in plugin.summary_columns())


def test_the_example_and_its_starter_pass_the_static_check(task, tmp_path):
    spec = task.spec
    check_submission(spec.path(spec.example), spec)
    text = starter_text(spec, Path("mine.py"))
    assert f"{TRY_IT}  adrs-bench run {spec.name} mine.py" in text
    check_submission(tmp_path / "mine.py", spec, source=text)
    for file in spec.baselines.values():
        check_submission(spec.path(file), spec)


def test_the_example_runs_sandboxed_and_every_case_is_ok(task, example_run):
    chosen = smallest_set(task.spec)
    assert (example_run.set, len(example_run.outcomes)) == (chosen.name, chosen.cases)
    assert [(o.id, o.status, o.message) for o in example_run.outcomes if not o.ok] == []
    assert example_run.failed == 0 and math.isfinite(example_run.score)
    assert example_run.record["provenance"].get("isolation")  # really run in sandboxed children


def test_a_submission_that_raises_fails_every_case_and_the_harness_goes_on(task, failing_run):
    outcomes = failing_run.outcomes
    assert len(outcomes) == smallest_set(task.spec).cases and failing_run.ok == 0
    assert {o.status for o in outcomes} == {"error"}
    assert all("RuntimeError" in o.message and FAILURE in o.message for o in outcomes)
    assert all(o.score == task.plugin.failed_score for o in outcomes)
    assert failing_run.score == task.plugin.failed_score


def test_the_records_validate_and_round_trip(task, example_run, failing_run, tmp_path):
    for run in (example_run, failing_run):
        record = dict(run.record)
        results.validate(record, f"{task.spec.id} record")
        assert record["task"]["id"] == task.spec.id and set(run.statuses) <= set(task.spec.statuses)
        assert record["provenance"]["evaluator_sha256"] == evaluator_sha256(task.spec)
        path = results.save(record, tmp_path / results.default_filename(record))
        assert results.load(path) == json.loads(results.dumps(record))
    assert OK in example_run.statuses
