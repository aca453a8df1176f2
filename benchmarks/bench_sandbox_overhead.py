"""Sandbox overhead: `adrs-bench run` (restricted compile, forked child, pipes, parent-side
validation) against a plain in-process loop doing the same work without the sandbox.

Run: python benchmarks/bench_sandbox_overhead.py [--repeat 5]
Both sides are timed alternately in one process, best of N, so the ratio is robust to noise.
The loop side = build Model objects, call the submission compiled as plain Python, describe and
validate/score the placement with the same adapter and evaluator. The sandboxed side = the whole
`adrs_bench.evaluate` (or `run_cases` for the synthetic 1000-case set).
"""
from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from adrs_bench.api import evaluate
from adrs_bench.registry import get_task
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.tasks.prism_placement import adapter, evaluator
from adrs_bench.tasks.prism_placement.instance import Case, Reference
from adrs_bench.tasks.prism_placement.kvpr import ModelSpec

TASK = get_task("prism_placement")
GREEDY = TASK.spec.path("baselines/prism_greedy.py")


def adrs_like_cases(count: int, seed: int) -> list[Case]:
    """ADRS-style cases (5-9 GPUs, 2 models per GPU), reference = 1 (scores are not the point here)."""
    rng = np.random.RandomState(seed)
    cases = []
    for index in range(count):
        gpus = int(rng.randint(5, 10))
        models = tuple(ModelSpec(f"model_{j}", int(rng.randint(10, 30)), int(rng.randint(1, 10)),
                                 int(rng.randint(5, 10))) for j in range(2 * gpus))
        cases.append(Case(f"synthetic-{index:04d}", "adrs", gpus, models,
                          Reference("best_known", Fraction(1), Fraction(0), tuple([0] * len(models)), "none")))
    return cases


def plain_loop(source: str, cases: list[Case]) -> float:
    namespace: dict = {"__name__": "plain"}
    exec(compile(source, str(GREEDY), "exec"), namespace)
    total = 0.0
    for case in cases:
        raw = adapter.run_placement(namespace, TASK.plugin.payload(case))
        total += evaluator.evaluate(case, raw)[2]
    return total


def best_of(repeat: int, func) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    source = GREEDY.read_text()
    public = TASK.plugin.parse_cases(TASK.spec.path(TASK.spec.sets["public"].file).read_bytes())
    synthetic = adrs_like_cases(1000, 7)
    checked = check_submission(GREEDY, TASK.spec)

    rows = []
    loop = best_of(args.repeat, lambda: plain_loop(source, public))
    sandboxed = best_of(args.repeat, lambda: evaluate(TASK, GREEDY, "public"))
    rows.append(("public (50 cases): adrs-bench run vs plain loop", sandboxed, loop))
    loop = best_of(args.repeat, lambda: plain_loop(source, synthetic))
    sandboxed = best_of(args.repeat, lambda: run_cases(TASK, checked, synthetic))
    rows.append(("1000 ADRS-like cases: sandboxed run_cases vs plain loop", sandboxed, loop))
    for title, sandboxed, loop in rows:
        print(f"{title}: sandboxed {sandboxed * 1000:.1f} ms, loop {loop * 1000:.1f} ms, ratio {sandboxed / loop:.2f}x")


if __name__ == "__main__":
    main()
