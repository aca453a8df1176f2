"""Shared helpers: small in-memory prism_placement cases (no instance files needed), a checked
submission built from a source string, and tasks with shorter limits."""
from __future__ import annotations

import dataclasses
import importlib
import itertools
import os
import tempfile
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest

# Fresh sets built by the tests are cached in a folder of this session, never the user's cache (set in
# the environment, so the CLI run as a subprocess uses it too).
os.environ["ADRS_BENCH_CACHE"] = tempfile.mkdtemp(prefix="adrs-bench-test-cache-")

from adrs_bench.registry import Task, get_task
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.tasks.prism_placement.instance import Case, Reference
from adrs_bench.tasks.prism_placement.kvpr import ModelSpec, fluid_lower_bound, max_kvpr_exact

FIXTURES = Path(__file__).parent / "fixtures"

# The allowlisted modules (numpy with its sandboxed submodules included) are imported here, in the
# parent, on purpose: sandboxed children are forked from this process, and whether a module is
# already loaded must not depend on which test ran first. A harness that has not imported them is
# tested in a fresh interpreter (tests/sandbox/test_bad_submissions.py::test_fresh_harness_scores_the_example).
PREIMPORTED = ("numpy", "numpy.random", "numpy.linalg", "dataclasses", "typing", "math", "random", "copy",
               "collections", "functools", "itertools", "heapq", "bisect", "time")
for _name in PREIMPORTED:
    importlib.import_module(_name)

# A correct submission: every model on GPU i % gpu_num, checking nothing (the cases below fit).
ROUND_ROBIN = """
def compute_model_placement(gpu_num, models):
    placement = {g: [] for g in range(gpu_num)}
    for i, m in enumerate(models):
        placement[i % gpu_num].append(m)
    return placement
"""


def make_case(case_id: str, gpu_num: int, rows, family: str = "tiny") -> Case:
    """A Case whose reference is the exact optimum found by brute force (keep it tiny)."""
    models = tuple(ModelSpec(*row) for row in rows)
    best, best_assignment = None, None
    for assignment in itertools.product(range(gpu_num), repeat=len(models)):
        value = max_kvpr_exact(gpu_num, models, assignment)
        if value is not None and (best is None or value < best):
            best, best_assignment = value, assignment
    assert best is not None, "the test case must have a feasible placement"
    reference = Reference(status="optimal", value=Fraction(best), lower_bound=fluid_lower_bound(gpu_num, models),
                          placement=tuple(best_assignment), method="brute force (tests)")
    return Case(id=case_id, family=family, gpu_num=gpu_num, models=models, reference=reference)


def small_cases(count: int = 3) -> list[Case]:
    """`count` cases of 2 GPUs and 4 models; round robin places them all validly."""
    cases = []
    for k in range(count):
        rows = [(f"m{k}_{i}", 10 + 3 * i + k, 1 + (i * 3 + k) % 7, 5 + (i + k) % 4) for i in range(4)]
        cases.append(make_case(f"case-{k}", 2, rows))
    return cases


@pytest.fixture(scope="session")
def task() -> Task:
    return get_task("prism_placement")


def task_with_limits(task: Task, **changes) -> Task:
    limits = dataclasses.replace(task.spec.limits, **changes)
    return Task(spec=dataclasses.replace(task.spec, limits=limits), plugin=task.plugin)


@pytest.fixture
def write_submission(tmp_path):
    counter = itertools.count()

    def write(source: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"submission_{next(counter)}.py")
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def checked(write_submission, task):
    """Write a source string and statically check it against the task."""

    def check(source: str, spec=None):
        return check_submission(write_submission(source), spec or task.spec)

    return check


@pytest.fixture
def run_source(checked, task):
    """Check and run a source string on cases; return the outcomes (one per case, always)."""

    def run(source: str, cases=None, on_task: Task | None = None):
        on_task = on_task or task
        cases = small_cases() if cases is None else cases
        outcomes = run_cases(on_task, checked(source, on_task.spec), cases)
        assert len(outcomes) == len(cases)
        assert [o.id for o in outcomes] == [c.id for c in cases]
        return outcomes

    return run

