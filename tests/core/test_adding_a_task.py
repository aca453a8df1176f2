"""Proof that a task is added without touching the core. knapsack_mini (tests/fixtures/tasks/, the worked
example of docs/adding-a-task.md) is copied to a temporary folder and found through ADRS_BENCH_TASK_PATH;
the real `adrs-bench` runs it end to end in subprocesses (list, run, instances verify, gate, leaderboard,
new); the contract test covers it with no line naming it; and every tracked core file is byte-identical
afterwards. Also the registry's refusals, each one line: a missing directory, a name found twice, a
folder whose name is not its spec's.
"""
from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import adrs_bench.tasks
from adrs_bench import results, task_path
from adrs_bench.api import evaluate
from adrs_bench.errors import EXIT_FAILED, EXIT_USAGE, SpecError, TaskNameClash, TaskPathNotFound
from adrs_bench.registry import get_task, task_names, tasks_root

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "tasks"
NAME = "knapsack_mini"
CORE = ("adrs_bench", "tasks", "setup.py", "pyproject.toml")  # the package, the built-in tasks, the packaging
VARIABLE = task_path.VARIABLE


def git(*args: str) -> str:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to compare the tracked files")
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def tracked_core() -> dict[str, str]:
    """sha256 of every tracked file of the core, by path."""
    paths = [p for p in git("ls-files", "-z", "--", *CORE).split("\0") if p]
    return {p: hashlib.sha256((ROOT / p).read_bytes()).hexdigest() for p in paths}


def cli(*args: str, cwd: Path, task_path: Path | None = None) -> subprocess.CompletedProcess:
    """The real `adrs-bench` of this checkout (its core is what the test vouches for), with
    ADRS_BENCH_TASK_PATH set to `task_path`, or unset."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    env.pop(VARIABLE, None)
    if task_path is not None:
        env[VARIABLE] = str(task_path)
    return subprocess.run([sys.executable, "-m", "adrs_bench.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def added(tmp_path) -> Path:
    """A copy of the fixture tasks' folder, outside the repository: the directory ADRS_BENCH_TASK_PATH names."""
    copy = tmp_path / "added"
    shutil.copytree(FIXTURES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture
def task_path_env(monkeypatch):
    """Sets ADRS_BENCH_TASK_PATH in this process; afterwards the variable and adrs_bench.tasks.__path__
    are as they were."""
    def set_to(*directories: Path) -> None:
        monkeypatch.setenv(VARIABLE, os.pathsep.join(str(d) for d in directories))

    yield set_to
    monkeypatch.undo()
    task_path.extend_package_path(adrs_bench.tasks.__path__)


def record_of(out: Path, label: str) -> dict:
    (path,) = out.glob(f"{NAME}-v1__dev__{label}__*.json")
    return results.load(path)  # validates against the result schema, the task's own statuses included


OVERWEIGHT = "def choose_items(capacity, items):\n    return list(range(len(items)))\n"  # every item: too heavy


def test_a_task_added_at_run_time_runs_end_to_end_and_no_core_file_changes(added, tmp_path, task_path_env):
    before, status = tracked_core(), git("status", "--porcelain", "--", *CORE)
    work, out = tmp_path / "work", tmp_path / "work" / "results"
    work.mkdir()
    task_path_env(added)  # this process reads the records the CLI writes

    unknown = cli("run", NAME, cwd=work)  # without the variable there is no such task
    assert unknown.returncode == EXIT_USAGE and f"expected a task name, got '{NAME}'" in unknown.stderr

    listed = cli("list", cwd=work, task_path=added)
    assert listed.returncode == 0, listed.stderr
    ids = [line.split()[0] for line in listed.stdout.splitlines()]
    assert f"{NAME}-v1" in ids and {get_task(name).spec.id for name in task_names()} <= set(ids)

    # run: the shipped example, a baseline and a failing submission on dev, each a real sandboxed run
    example = cli("run", NAME, "--out", str(out), "--quiet", cwd=work, task_path=added)
    assert example.returncode == 0, example.stderr
    baseline = added / NAME / "baselines" / "ratio_greedy.py"
    ratio = cli("run", NAME, str(baseline), "--out", str(out), "--quiet", cwd=work, task_path=added)
    assert ratio.returncode == 0, ratio.stderr
    (work / "overweight.py").write_text(OVERWEIGHT)
    failing = cli("run", NAME, "overweight.py", "--out", str(out), "--quiet", "--strict", cwd=work, task_path=added)
    assert failing.returncode == EXIT_FAILED and "overweight" in failing.stdout

    spec = get_task(NAME).spec
    for label in ("example", "ratio_greedy"):
        record = record_of(out, label)
        assert record["task"]["id"] == spec.id and record["set"]["sha256"] == spec.sets["dev"].sha256
        assert {i["status"] for i in record["instances"]} == {"ok"} and record["aggregate"]["failed"] == 0
        assert record["provenance"].get("isolation")
    failed = record_of(out, "overweight")
    assert {i["status"] for i in failed["instances"]} == {"overweight"}  # the task's own status
    assert (failed["aggregate"]["failed"], failed["aggregate"]["score"]) == (6, 0.0)

    verified = cli("instances", "verify", NAME, cwd=work, task_path=added)
    assert verified.returncode == 0 and [line.split()[:2] for line in verified.stdout.splitlines()] == [
        ["ok", "dev"], ["ok", "test"]]

    paths = {label: next(out.glob(f"{NAME}-v1__dev__{label}__*.json")) for label in ("example", "ratio_greedy",
                                                                                    "overweight")}
    better = cli("gate", str(paths["ratio_greedy"]), "--against", str(paths["example"]), cwd=work, task_path=added)
    assert better.returncode == 0, better.stdout + better.stderr
    worse = cli("gate", str(paths["overweight"]), "--against", str(paths["example"]), cwd=work, task_path=added)
    assert worse.returncode == EXIT_FAILED, worse.stdout + worse.stderr

    board = cli("leaderboard", "--results", str(out), "--out", str(work / "board.md"), cwd=work, task_path=added)
    assert board.returncode == 0, board.stderr
    text = (work / "board.md").read_text()
    assert f"## {NAME}-v1 · set `dev`" in text and all(label in text for label in paths)

    starter = cli("new", NAME, "mine.py", cwd=work, task_path=added)
    assert starter.returncode == 0, starter.stderr
    assert f"Try it:  adrs-bench run {NAME} mine.py" in (work / "mine.py").read_text()
    checked = cli("validate", NAME, "mine.py", cwd=work, task_path=added)
    assert checked.returncode == 0 and checked.stdout.startswith("ok: mine.py defines choose_items("), checked.stderr

    # nothing of the core changed, and the task lives only where the variable points
    assert tracked_core() == before and git("status", "--porcelain", "--", *CORE) == status
    assert spec.root == added / NAME and not (tasks_root() / NAME).exists()
    assert [p for p in git("ls-files").splitlines() if NAME in p] == [
        p for p in git("ls-files", "--", f"tests/fixtures/tasks/{NAME}").splitlines()]


def test_the_contract_test_covers_an_added_task_without_naming_it(added):
    """tests/core/test_every_task.py, run with the variable set, checks the added task like the built-in ones:
    every one of its tests runs for it and passes."""
    contract = Path(__file__).with_name("test_every_task.py")
    env = dict(os.environ, **{VARIABLE: str(added)})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(contract),
                          "-k", NAME], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    passed = re.findall(r"^PASSED \S+::(\w+)\[(\w+)\]", run.stdout, re.MULTILINE)
    tests = sorted(node.name for node in ast.parse(contract.read_text()).body
                   if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
    assert len(tests) >= 5 and sorted(passed) == [(name, NAME) for name in tests]


def test_an_added_task_runs_in_process_with_the_variable_set_after_import(added, task_path_env):
    """An evolution loop calling adrs_bench.evaluate may set the variable late: the registry extends the
    package's path when it lists the tasks, and the fork server restarts with it."""
    task_path_env(added)
    result = evaluate(NAME, added / NAME / "example.py", "dev")
    assert (result.ok, result.failed, result.record["task"]["id"]) == (6, 0, f"{NAME}-v1")
    assert str(added) in adrs_bench.tasks.__path__


def test_a_directory_that_does_not_exist_is_refused_in_one_line(tmp_path, task_path_env):
    missing, file = tmp_path / "nowhere", tmp_path / "a-file"
    file.write_text("")
    task_path_env(missing)
    with pytest.raises(TaskPathNotFound) as info:
        task_names()
    message = (f"expected {VARIABLE} to list directories of task folders, got '{missing}' ({missing} is missing); "
               f"fix or drop that entry (entries are separated by '{os.pathsep}')")
    assert str(info.value) == message
    listed = cli("list", cwd=tmp_path, task_path=missing)
    assert (listed.returncode, listed.stderr) == (EXIT_USAGE, f"error: {message}\n")
    task_path_env(file)
    with pytest.raises(TaskPathNotFound, match=re.escape(f"({file} is a file, not a directory); fix or drop")):
        get_task("prism_placement")


def test_a_name_of_a_built_in_task_is_refused(tmp_path, task_path_env):
    extra = tmp_path / "extra"
    shutil.copytree(tasks_root() / "prism_placement", extra / "prism_placement",
                    ignore=shutil.ignore_patterns("__pycache__", "instances"))
    task_path_env(extra)
    with pytest.raises(TaskNameClash) as info:
        task_names()
    assert str(info.value) == (
        f"expected the tasks in {VARIABLE} to have names of their own, got 'prism_placement' in {extra}, which is a "
        "built-in task; rename that task (its folder, and its spec's name and id)")


def test_a_name_found_in_two_directories_is_refused(added, tmp_path, task_path_env):
    second = tmp_path / "second"
    shutil.copytree(added, second)
    task_path_env(added, second)
    with pytest.raises(TaskNameClash) as info:
        get_task(NAME)
    assert str(info.value) == (
        f"expected the tasks in {VARIABLE} to have names of their own, got '{NAME}' in {second}, which is a task "
        f"already found in {added}; rename that task (its folder, and its spec's name and id)")


def test_a_folder_named_otherwise_than_its_spec_is_refused(added, tmp_path, task_path_env):
    other = tmp_path / "other"
    shutil.copytree(added / NAME, other / "knapsack_other")
    task_path_env(other)
    with pytest.raises(SpecError) as info:
        get_task("knapsack_other")
    assert str(info.value) == (
        f"task spec {other / 'knapsack_other' / 'spec.json'}: expected name 'knapsack_other' (its folder's name, "
        f"which is its module adrs_bench.tasks.knapsack_other), got '{NAME}'; rename the folder or fix the spec's "
        "name and id")


def test_entries_are_made_absolute_and_empty_ones_or_repeats_are_left_out(tmp_path):
    environ = {VARIABLE: os.pathsep.join([str(tmp_path), "", "relative", str(tmp_path)])}
    assert task_path.entries(environ) == (tmp_path, Path.cwd() / "relative")
    assert task_path.value(environ) == os.pathsep.join([str(tmp_path), str(Path.cwd() / "relative")])
    assert task_path.entries({}) == () and task_path.value({}) == ""
