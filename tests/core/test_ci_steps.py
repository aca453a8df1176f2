"""CI (.ci/run) runs what left the default test suite: `adrs-bench instances verify` for every registered
task (it regenerates every frozen set, references included, and compares sha256; the tests that re-derived
the sets were removed in its favour), and the `slow` tests that plain `python3 -m pytest` deselects.
Removing either step, or a task's line, fails here."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from adrs_bench.registry import task_names

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / ".ci" / "run"
README_TESTS = 'python3 -m pip install -e ".[test]" && python3 -m pytest'
SLOW_STEP = "python3 -m pytest -m slow"
ACTIVATE = "source .ci-venv/bin/activate"

# `adrs-bench instances verify TASK`, alone on its line or sent to the background as `... & NAME=$!` and
# then waited for with `wait "$NAME"` (under `set -e` a failed wait ends the run, as a failed command does).
VERIFY = re.compile(r"adrs-bench instances verify (?P<task>\S+)(?: & (?P<job>[A-Za-z_]\w*)=\$!)?")


def commands(text: str) -> list[str]:
    """The lines a bash script runs, in order, stripped: comments and blank lines left out."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def verify_steps(text: str) -> dict[str, int]:
    """Task -> the index in commands(text) of its verify step. Every line that verifies instances must be
    one: all sets (no --set), its exit status not ignored, in CI's own install, and waited for if sent to
    the background."""
    lines, steps = commands(text), {}
    for index, line in enumerate(lines):
        if "instances verify" not in line:
            continue
        match = VERIFY.fullmatch(line)
        if not match:
            raise AssertionError(f"expected `adrs-bench instances verify TASK` (all sets, status not ignored), "
                                 f"got `{line}`")
        if match["job"] and f'wait "${match["job"]}"' not in lines[index + 1:]:
            raise AssertionError(f"expected `wait \"${match['job']}\"` after `{line}`, got none")
        if ACTIVATE not in lines[:index]:
            raise AssertionError(f"expected `{line}` after `{ACTIVATE}`")
        steps[match["task"]] = index
    return steps


def test_ci_stops_at_the_first_failing_step():
    assert "set -euo pipefail" in commands(CI.read_text())


@pytest.mark.parametrize("task", task_names())
def test_ci_verifies_every_set_of_every_task(task):
    assert task in verify_steps(CI.read_text()), f"expected a line `adrs-bench instances verify {task}` in {CI}"


def test_ci_verifies_only_registered_tasks():
    assert sorted(verify_steps(CI.read_text())) == sorted(task_names())


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("adrs-bench instances verify autoscaling\n", ""), None),
    (lambda t: t.replace("verify autoscaling\n", "verify autoscaling --set smoke\n"), "all sets"),
    (lambda t: t.replace("verify autoscaling\n", "verify autoscaling || true\n"), "all sets"),
    (lambda t: re.sub(r"\nwait \"\$\w+\"\n", "\n", t), "expected `wait"),
    (lambda t: t.replace(f"{ACTIVATE}\n", "") + f"{ACTIVATE}\n", "after `source"),
], ids=["a-task-left-out", "one-set-only", "status-ignored", "never-waited-for", "outside-ci-install"])
def test_a_broken_ci_script_is_caught(edit, words):
    """The checks above are not vacuous: each way of losing the step fails."""
    broken = edit(CI.read_text())
    assert broken != CI.read_text()
    if words is None:
        assert "autoscaling" not in verify_steps(broken)
    else:
        with pytest.raises(AssertionError, match=re.escape(words)):
            verify_steps(broken)


def test_ci_runs_the_slow_tests_right_after_the_readme_test_command():
    lines = commands(CI.read_text())
    assert README_TESTS in lines, f"expected the README's test command verbatim in {CI}"
    assert lines[lines.index(README_TESTS) + 1] == SLOW_STEP


def test_the_default_run_deselects_exactly_the_slow_tests(pytestconfig):
    """Plain `python3 -m pytest` leaves out what the slow step runs, and no more; markers are strict, so a
    misspelt `slow` is an error, never a test left out of both runs."""
    assert pytestconfig.inipath == ROOT / "pyproject.toml"
    addopts = pytestconfig.getini("addopts")
    assert "--strict-markers" in addopts
    assert [addopts[i + 1] for i, a in enumerate(addopts) if a == "-m"] == ["not slow"]
    assert any(m.startswith("slow:") for m in pytestconfig.getini("markers"))
