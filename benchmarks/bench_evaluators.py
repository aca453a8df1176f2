"""Evaluations per minute on prism_placement dev: the raw API against each exported evaluator, side by
side in one run (rounds alternate, best of N), and a `while True` candidate's cost with a deadline.

    python benchmarks/bench_evaluators.py --repeat 5 [--loop-deadline 30]

The in-process adapters (OpenEvolve's evaluate_stage2, SkyDiscover's evaluate) call adrs_bench.evaluate
and convert its Result; ShinkaEvolve's evaluate.py and SkyDiscover's evaluate.sh are subprocesses (as the
frameworks run them), so they also pay an interpreter and a fork server per evaluation.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adrs_bench import evaluate
from adrs_bench.export import export
from adrs_bench.registry import get_task

LOOP = "def compute_model_placement(gpu_num, models):\n    while True:\n        pass\n"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop-deadline", type=float, default=30.0)
    args = parser.parse_args()
    task = get_task("prism_placement")
    example = str(task.spec.path(task.spec.example))
    work = Path(tempfile.mkdtemp(prefix="bench_evaluators_"))
    for framework in ("openevolve", "shinka", "skydiscover"):
        export(framework, task, work / framework)
    oe = load(work / "openevolve" / "evaluator.py", "oe_evaluator")
    sky = load(work / "skydiscover" / "evaluator.py", "sky_evaluator")
    runs = {
        "raw API (adrs_bench.evaluate)": lambda: evaluate("prism_placement", example, "dev"),
        "openevolve evaluator.evaluate_stage2": lambda: oe.evaluate_stage2(example),
        "skydiscover evaluator.evaluate": lambda: sky.evaluate(example),
        "shinka evaluate.py (subprocess)": lambda: subprocess.run(
            [sys.executable, str(work / "shinka" / "evaluate.py"), "--program_path", example, "--results_dir",
             str(work / "out")], check=True, capture_output=True),
        "skydiscover evaluate.sh (subprocess)": lambda: subprocess.run(
            ["bash", str(work / "skydiscover" / "evaluate.sh"), example, "train"], check=True, capture_output=True),
    }
    try:
        from openevolve.config import load_config
        from openevolve.evaluator import Evaluator

        config = load_config(str(work / "openevolve" / "config.yaml"))
        evaluator = Evaluator(config.evaluator, str(work / "openevolve" / "evaluator.py"))
        code = (work / "openevolve" / "initial_program.py").read_text()
        runs["openevolve Evaluator (cascade: quick stage + dev)"] = lambda: asyncio.run(evaluator.evaluate_program(code, "b"))
    except ImportError:
        print("openevolve is not installed: its Evaluator row is left out")
    evaluate("prism_placement", example, "dev")  # warm: the fork server and the set's caches
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():  # alternating: each round runs every way once
            best[name] = min(best[name], timed(run))
    raw = best["raw API (adrs_bench.evaluate)"]
    print(f"prism_placement dev (120 cases), example program, best of {args.repeat}")
    print(f"{'way':<52} {'s/eval':>8} {'eval/min':>9} {'vs raw':>7}")
    for name, seconds in best.items():
        print(f"{name:<52} {seconds:8.3f} {60 / seconds:9.1f} {seconds / raw:7.3f}")
    started = time.perf_counter()
    result = evaluate("prism_placement", code=LOOP, set="dev", deadline_s=args.loop_deadline)
    loop = time.perf_counter() - started
    limits = task.spec.limits
    print(f"while True candidate, deadline_s={args.loop_deadline:g}: {loop:.1f} s ({dict(result.statuses)}); without a "
          f"deadline: {len(result.outcomes)} cases x {limits.instance_seconds:g} s = "
          f"{len(result.outcomes) * limits.instance_seconds / 60:.0f} min (capped by the total limit of "
          f"{limits.total_seconds:g} s)")


if __name__ == "__main__":
    main()
