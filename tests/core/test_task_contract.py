"""The contract between the core and a task (task_api.py): the plugin protocols checked on load, the
CaseResult the runner turns into outcomes, the statuses a spec declares, the globbed evaluator files,
and instance verification in the core."""
from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import sys
import types
from pathlib import Path

import pytest

from adrs_bench import results
from adrs_bench.errors import (EvaluatorFilesMissing, InstanceSetNotFound, PluginContractError, ResultFileError,
                               SpecError)
from adrs_bench.evaluator_hash import PACKAGE_ROOT, evaluator_paths, evaluator_sha256
from adrs_bench.instances import verify_sets
from adrs_bench.registry import Task, get_task, load_plugin, task_names
from adrs_bench.runner import outcome_of
from adrs_bench.spec import EvaluatorFiles, spec_from_dict
from adrs_bench.statuses import CORE_STATUSES
from adrs_bench.task_api import PROTOCOLS, CaseResult, check_plugin, protocol_members

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "leaderboard" / "results"


# ------------------------------------------------------------------------------ the protocols

@pytest.mark.parametrize("name", task_names())
def test_every_task_keeps_its_protocol(name):
    task = get_task(name)  # checked on load
    assert task.stateful == (task.spec.protocol == "stateful")
    for member, is_method in protocol_members(PROTOCOLS[task.spec.protocol]):
        assert hasattr(task.plugin, member) and (not is_method or callable(getattr(task.plugin, member)))


def test_protocol_members_are_the_common_ones_then_the_kinds_own():
    one_call = [name for name, _ in protocol_members(PROTOCOLS["one_call"])]
    stateful = [name for name, _ in protocol_members(PROTOCOLS["stateful"])]
    common = ["failed_score", "child_adapter", "parse_cases", "build_set_bytes", "fresh_set_bytes", "case_id",
              "seed_material", "failed_metrics", "summarize", "summary_columns", "write_artifacts"]
    assert one_call == common + ["payload", "evaluate"]
    assert stateful == common + ["run_case"]


def plugin_without(name: str, task: str = "llm_routing"):
    """The task's plugin with one member hidden."""
    real = get_task(task).plugin

    class Partial:
        def __getattr__(self, attribute):
            if attribute == name:
                raise AttributeError(attribute)
            return getattr(real, attribute)

    return Partial()


def test_a_missing_method_is_named_in_one_line():
    with pytest.raises(PluginContractError) as info:
        check_plugin(plugin_without("run_case"), "stateful", "adrs_bench.tasks.mine.task.PLUGIN")
    assert str(info.value) == (
        "expected adrs_bench.tasks.mine.task.PLUGIN to define run_case, as every stateful task's plugin must "
        "(task_api.StatefulTask), got none; add it to the task's task.py")


def test_a_missing_attribute_and_a_member_that_is_not_a_method_are_named():
    with pytest.raises(PluginContractError, match="to define failed_score, as every one_call task's plugin"):
        check_plugin(plugin_without("failed_score", "prism_placement"), "one_call", "P")
    plugin = types.SimpleNamespace(**{name: (lambda *args: None) for name, _ in
                                      protocol_members(PROTOCOLS["one_call"])})
    plugin.evaluate = "not callable"
    with pytest.raises(PluginContractError) as info:
        check_plugin(plugin, "one_call", "P")
    assert "to define evaluate" in str(info.value) and "got a str, not a method" in str(info.value)


def test_the_registry_refuses_a_module_without_a_plugin_or_with_a_partial_one(monkeypatch):
    module = types.ModuleType("adrs_bench_test_contract_task")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with pytest.raises(PluginContractError) as info:
        load_plugin(module.__name__, "one_call")
    assert str(info.value) == ("expected adrs_bench_test_contract_task to define PLUGIN, the task's plugin object, got "
                               "none; add `PLUGIN = MyTask()` at the end of the task's task.py")
    module.PLUGIN = plugin_without("evaluate", "prism_placement")
    with pytest.raises(PluginContractError, match=r"^expected adrs_bench_test_contract_task\.PLUGIN to define "
                                                  r"evaluate, as every one_call task's plugin must"):
        load_plugin(module.__name__, "one_call")


# ------------------------------------------------------------------------------ what a case says happened

def test_a_case_result_has_a_score_exactly_when_ok():
    assert CaseResult.success(1.5, {"x": 1}).score == 1.5
    assert CaseResult.failure("invalid", "bad").score is None
    with pytest.raises(PluginContractError, match="with a score exactly when its status is ok, got status 'ok' and "
                                                  "score None"):
        CaseResult("ok")
    with pytest.raises(PluginContractError, match="got status 'invalid' and score 0.0"):
        CaseResult("invalid", "bad", 0.0)


def test_the_runner_makes_the_outcome_of_a_failure():
    """A failed case scores the task's failed score; its metrics are the failed ones plus what it measured."""
    task = get_task("llm_routing")
    case = task.plugin.parse_cases(task.spec.path(task.spec.sets["smoke"].file).read_bytes())[0]
    outcome = outcome_of(task, case, "seed-0", CaseResult.failure("stalled", "held forever", {"router_calls_made": 3},
                                                                  detail="d"), 1.25)
    assert (outcome.status, outcome.message, outcome.score, outcome.seconds) == ("stalled", "held forever", 0.0, 1.25)
    assert outcome.metrics == {**task.plugin.failed_metrics(case), "router_calls_made": 3} and outcome.detail == "d"
    ok = outcome_of(task, case, "seed-0", CaseResult.success(1.1, {"m": 2}), 2.0)
    assert (ok.status, ok.score, ok.metrics) == ("ok", 1.1, {"m": 2})


def test_a_status_the_spec_does_not_declare_is_a_bug_in_the_task():
    task = get_task("llm_routing")
    case = task.plugin.parse_cases(task.spec.path(task.spec.sets["smoke"].file).read_bytes())[0]
    with pytest.raises(PluginContractError) as info:
        outcome_of(task, case, "seed-0", CaseResult.failure("slo_violated", "no SLO here"), 0.0)
    assert str(info.value) == (
        "expected llm_routing's case seed-0 to end with one of ok, invalid, timeout, memory, crashed, error, stalled, "
        "got 'slo_violated'; declare it in the task's spec.json `statuses` or return another")


# ------------------------------------------------------------------------------ declared statuses

def test_each_task_declares_its_own_statuses():
    assert get_task("prism_placement").spec.statuses == CORE_STATUSES
    assert get_task("llm_routing").spec.statuses == CORE_STATUSES + ("stalled",)
    assert get_task("autoscaling").spec.statuses == CORE_STATUSES + ("stalled", "slo_violated")


def a_record(task_name: str) -> dict:
    return results.load(sorted(RECORDS.glob(f"{get_task(task_name).spec.id}__smoke__*.json"))[0]
                        if task_name != "prism_placement" else sorted(RECORDS.glob("prism_placement-*__public__*"))[0])


@pytest.mark.parametrize("task_name, status, allowed", [
    ("llm_routing", "stalled", True),
    ("llm_routing", "slo_violated", False),  # autoscaling's, not llm_routing's
    ("autoscaling", "slo_violated", True),
    ("prism_placement", "stalled", False),
    ("prism_placement", "crashed", True),
    ("prism_placement", "exploded", False),
])
def test_a_record_may_hold_only_its_tasks_statuses(task_name, status, allowed):
    record = copy.deepcopy(a_record(task_name))
    record["instances"][0]["status"] = status
    if allowed:
        results.validate(record, "r.json")
        return
    with pytest.raises(ResultFileError) as info:
        results.validate(record, "r.json")
    message = str(info.value)
    assert message.startswith(f"r.json does not match its schema at instances/0/status: '{status}' is not one of ")
    assert "\n" not in message


def test_a_saved_record_with_an_undeclared_status_is_refused_on_load(tmp_path):
    record = copy.deepcopy(a_record("llm_routing"))
    record["instances"][0]["status"] = "slo_violated"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ResultFileError, match="at instances/0/status: 'slo_violated' is not one of"):
        results.load(path)


def test_the_schema_version_comes_from_results():
    record = copy.deepcopy(a_record("prism_placement"))
    record["schema_version"] = results.SCHEMA_VERSION + 1
    with pytest.raises(ResultFileError, match=f"at schema_version: {results.SCHEMA_VERSION} was expected"):
        results.validate(record)


def test_a_spec_may_not_redeclare_a_core_status(tmp_path):
    data = json.loads(get_task("llm_routing").spec.path("spec.json").read_text())
    data["statuses"] = ["stalled", "timeout"]
    with pytest.raises(SpecError) as info:
        spec_from_dict(data, tmp_path)
    assert str(info.value) == (
        f"task spec {tmp_path / 'spec.json'}: expected statuses of the task's own, got the core's 'timeout' (the core "
        "has ok, invalid, timeout, memory, crashed, error); list only the statuses the core lacks")


# ------------------------------------------------------------------------------ the evaluator's files

@pytest.fixture
def package_copy(tmp_path):
    """A copy of the package's serving simulator, to add files to without touching the package."""
    shutil.copytree(PACKAGE_ROOT / "serving", tmp_path / "serving", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize("name", ["llm_routing", "autoscaling"])
def test_every_serving_file_counts_for_the_serving_tasks(name, package_copy):
    spec = get_task(name).spec
    labels = [label for label, _ in evaluator_paths(spec)]
    serving = sorted(f"adrs_bench/{p.relative_to(PACKAGE_ROOT).as_posix()}"
                     for p in (PACKAGE_ROOT / "serving").rglob("*.py"))
    assert [label for label in labels if label.startswith("adrs_bench/")] == serving
    assert "task.py" in labels and "evaluator.py" in labels
    before = evaluator_sha256(spec, package_copy)
    assert before == evaluator_sha256(spec)  # the copy hashes as the package does
    (package_copy / "serving" / "new_module.py").write_text("RULE = 1\n")
    added = evaluator_sha256(spec, package_copy)
    assert added != before
    (package_copy / "serving" / "deeper").mkdir()
    (package_copy / "serving" / "deeper" / "part.py").write_text("RULE = 2\n")
    assert evaluator_sha256(spec, package_copy) not in (before, added)


def test_prism_is_pinned_by_its_own_files_only():
    labels = [label for label, _ in evaluator_paths(get_task("prism_placement").spec)]
    assert labels == ["__init__.py", "adapter.py", "evaluator.py", "exact.py", "generate.py", "instance.py", "kvpr.py",
                      "spec.json", "task.py"]


@pytest.mark.parametrize("name", ["prism_placement", "llm_routing", "autoscaling"])
def test_a_module_a_task_adds_counts_and_its_example_does_not(name, tmp_path):
    """"*.py" less "!example.py": a new module of the task pins the scoring the day it is added; the
    shipped example (a submission) and the plots (artifacts) never do."""
    spec = get_task(name).spec
    copy = tmp_path / name
    shutil.copytree(spec.root, copy, ignore=shutil.ignore_patterns("instances", "__pycache__"))
    moved = dataclasses.replace(spec, root=copy)
    labels = [label for label, _ in evaluator_paths(moved)]
    assert "example.py" not in labels and "plots.py" not in labels and "spec.json" in labels
    before = evaluator_sha256(moved)
    (copy / "example.py").write_text("# an edited example\n")
    assert evaluator_sha256(moved) == before
    (copy / "helpers.py").write_text("RULE = 1\n")
    assert "helpers.py" in [label for label, _ in evaluator_paths(moved)] and evaluator_sha256(moved) != before


def test_an_exclusion_that_matches_nothing_leaves_everything_in():
    """A mistyped "!" glob can only pin more files (the safe side), so it is not an error; a copy of a
    task without its example hashes like the task."""
    spec = get_task("prism_placement").spec
    typo = dataclasses.replace(spec, evaluator_files=EvaluatorFiles(task=("*.py", "spec.json", "!exampel.py")))
    assert "example.py" in [label for label, _ in evaluator_paths(typo)]


def test_a_glob_that_matches_nothing_is_refused():
    spec = get_task("llm_routing").spec
    broken = dataclasses.replace(spec, evaluator_files=EvaluatorFiles(task=("task.py",), package=("servng/*.py",)))
    with pytest.raises(EvaluatorFilesMissing) as info:
        evaluator_sha256(broken)
    assert str(info.value) == (
        f"task spec {spec.root / 'spec.json'}: expected evaluator_files glob 'servng/*.py' to match files in the "
        f"adrs_bench package ({PACKAGE_ROOT}), got none; fix the glob or restore the files")


@pytest.mark.parametrize("glob", ["../serving/*.py", "/etc/passwd", "a/../../b.py", "!/etc/passwd", "!!x.py", "!"])
def test_a_glob_may_not_leave_its_root(glob, tmp_path):
    data = json.loads(get_task("llm_routing").spec.path("spec.json").read_text())
    data["evaluator_files"]["package"] = [glob]
    with pytest.raises(SpecError, match="at evaluator_files/package/0"):
        spec_from_dict(data, tmp_path)


# ------------------------------------------------------------------------------ instance verification

def regenerating(task: Task, data: bytes) -> Task:
    """The task with a generator that rebuilds every set as `data`."""
    plugin = types.SimpleNamespace(build_set_bytes=lambda name: data)
    return Task(spec=task.spec, plugin=plugin)


def test_verification_compares_the_regenerated_bytes_the_file_and_the_pin():
    task = get_task("prism_placement")
    stored = task.spec.path(task.spec.sets["public"].file).read_bytes()
    (same,) = verify_sets(regenerating(task, stored), ["public"])
    assert same.same and same.name == "public" and same.regenerated == same.stored == same.pinned
    (other,) = verify_sets(regenerating(task, b"other"), ["public"])
    assert not other.same and other.detail.startswith("regenerated ") and ", spec " in other.detail


def test_verification_refuses_an_unknown_set_before_building_any():
    built = []
    task = get_task("prism_placement")
    plugin = types.SimpleNamespace(build_set_bytes=lambda name: built.append(name) or b"")
    with pytest.raises(InstanceSetNotFound, match="got 'nope'; sets: public, dev, test, scale"):
        verify_sets(Task(spec=task.spec, plugin=plugin), ["public", "nope"])
    assert built == []
