"""Sweep an autoscaling policy's constants on a tuning set (dev) in process: GPU-hours, p95 slowdown, SLO, score.

Run:
  python benchmarks/sweep_autoscaling.py production --workers 2 \\
      --grid HIGH_TOKENS_PER_SECOND=300:800:100 --grid low_fraction=0.5,0.7 \\
      --derive LOW_TOKENS_PER_SECOND=HIGH_TOKENS_PER_SECOND*low_fraction --grid COOLDOWN_SECONDS=15,30,60
  python benchmarks/sweep_autoscaling.py hpa --grid TARGET_IN_FLIGHT=16,20,24,28,32
  python benchmarks/sweep_autoscaling.py tasks/autoscaling/baselines/kpa.py      # the file as it is

POLICY is a baseline name of the task or a path to a policy file. Each `--grid NAME=VALUES` sweeps a
constant at the top of the file (VALUES: `a,b,c` or `start:stop:step`, stop included); a lower-case NAME
that is not in the file is a sweep variable for `--derive NAME=EXPR`, a Python expression over the
setting's values (e.g. a low threshold as a fraction of the high one). Every setting runs on every trace
of the set; the table has, per setting, the GPU-hours and p95 slowdown per trace, whether the SLO holds on
all of them, and the task score (the mean over traces of evaluator.score: static GPU-hours / the policy's,
0 for a trace that breaks the SLO). Settings are printed best score first (`--order grid` keeps grid order).

The policy runs in this process (compiled as plain Python, fed the same Metrics objects the sandboxed
child builds, as benchmarks/bench_autoscaling.py), not in the sandbox: fast, for tuning only. The
simulator, the control loop and the score are the task's own (tasks/autoscaling/evaluator.py). Tuning is
on `dev`; the held-out `test` set is refused. If the set file does not match the sha256 pinned in
spec.json (references being regenerated), the file is read as it is and a warning says so: the GPU-hours
and SLO columns stay valid, the scores use whatever references the file holds.
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

from adrs_bench.errors import InstanceHashMismatch
from adrs_bench.instances import load_set
from adrs_bench.registry import get_task
from adrs_bench.tasks.autoscaling import adapter, evaluator
from adrs_bench.tasks.autoscaling.settings import settings

TASK = get_task("autoscaling")
CASES: list = []  # the set's cases, loaded once per process (workers inherit them when forked)


def policy_path(policy: str) -> Path:
    if policy in TASK.spec.baselines:
        return TASK.spec.path(TASK.spec.baselines[policy])
    path = Path(policy)
    if not path.is_file():
        raise SystemExit(f"expected a baseline name ({', '.join(TASK.spec.baselines)}) or a policy file, got {policy!r}")
    return path


def constants_of(source: str) -> dict[str, object]:
    """The module-level NAME = literal assignments of a policy file."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


def parse_values(text: str) -> list[float]:
    def number(s: str) -> float:
        value = float(s)
        return int(value) if value.is_integer() and "." not in s else value

    if ":" in text:
        start, stop, step = (float(part) for part in text.split(":"))
        count = int(round((stop - start) / step)) + 1
        values = [start + i * step for i in range(count)]
        return [int(v) if v.is_integer() and "." not in text else round(v, 10) for v in values]
    return [number(part) for part in text.split(",") if part]


def settings_of(grid: list[tuple[str, list]], derive: list[tuple[str, str]]) -> list[dict]:
    names = [name for name, _ in grid]
    out = []
    for values in itertools.product(*(v for _, v in grid)):
        setting = dict(zip(names, values))
        for name, expr in derive:
            setting[name] = eval(expr, {"__builtins__": {}, "round": round, "min": min, "max": max}, dict(setting))
        out.append(setting)
    return out


def make_policy(source: str, filename: str, overrides: dict):
    namespace = {"__name__": "policy"}
    exec(compile(source, filename, "exec"), namespace)
    namespace.update(overrides)  # methods read the constants as globals of this namespace at call time
    policy = namespace["Autoscaler"]()
    return lambda metrics: adapter.plain(policy.decide(adapter.Metrics(metrics)))


def load_cases(set_name: str) -> tuple[list, str | None]:
    try:
        return load_set(TASK, set_name).cases, None
    except InstanceHashMismatch as exc:
        path = TASK.spec.path(TASK.spec.sets[set_name].file)
        return TASK.plugin.parse_cases(path.read_bytes()), str(exc)


def init_worker(set_name: str) -> None:
    global CASES
    if not CASES:
        CASES = load_cases(set_name)[0]


def run_one(job: tuple) -> tuple:
    index, trace, source, filename, overrides = job
    case = CASES[trace]
    started = time.perf_counter()
    run = evaluator.simulate(settings(), case.trace.requests(), make_policy(source, filename, overrides))
    return (index, trace, run.gpu_hours, run.slo.percentile_slowdown, run.slo.kept,
            evaluator.score(case.reference.static_gpu_hours, run), time.perf_counter() - started)


def progress(done: int, total: int, started: float) -> None:
    if done % 10 == 0 or done == total:
        print(f"  {done}/{total} runs, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def short(name: str) -> str:
    return {"HIGH_TOKENS_PER_SECOND": "high", "LOW_TOKENS_PER_SECOND": "low", "COOLDOWN_SECONDS": "cool"}.get(name, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("policy", help="baseline name or policy file")
    parser.add_argument("--set", default="dev", help="tuning set (default dev; held-out sets are refused)")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES")
    parser.add_argument("--derive", action="append", default=[], metavar="NAME=EXPR")
    parser.add_argument("--workers", type=int, default=1, help="parallel runs (processes)")
    parser.add_argument("--order", choices=("score", "grid"), default="score")
    parser.add_argument("--json", type=Path, help="also write every setting's figures here")
    args = parser.parse_args()

    entry = TASK.spec.sets.get(args.set)
    if entry is None or entry.held_out:
        raise SystemExit(f"expected a tuning set ({', '.join(n for n, e in TASK.spec.sets.items() if not e.held_out)}), "
                         f"got {args.set!r}: held-out sets are not for tuning")
    path = policy_path(args.policy)
    source = path.read_text()
    constants = constants_of(source)
    grid = []
    for item in args.grid:
        name, _, values = item.partition("=")
        grid.append((name, parse_values(values)))
    derive = [tuple(item.split("=", 1)) for item in args.derive]
    derived_from = " ".join(expr for _, expr in derive)
    for name in [n for n, _ in grid] + [n for n, _ in derive]:
        if name not in constants and not (name.islower() and name in derived_from):
            raise SystemExit(f"{name}: not a constant of {path.name} ({', '.join(constants)}) nor a variable "
                             f"used by --derive")
    swept = settings_of(grid, derive)
    shown = [n for n, _ in grid if n in constants] + [n for n, _ in derive]

    global CASES
    CASES, mismatch = load_cases(args.set)
    if mismatch:
        print(f"warning: {mismatch}\n  (references being regenerated?) reading the file as it is: GPU-hours and SLO "
              f"are valid, scores use the references the file holds now", file=sys.stderr)
    print(f"policy {path}; set {args.set}; {len(swept)} settings x {len(CASES)} traces; {args.workers} workers")
    print("constants in the file: " + ", ".join(f"{k}={v}" for k, v in constants.items()))
    print("static references: " + "; ".join(f"{c.id}: {c.reference.static_replicas} replicas, "
                                            f"{c.reference.static_gpu_hours:.2f} GPU-h" for c in CASES))

    overrides_of = [{k: v for k, v in s.items() if k in constants} for s in swept]
    jobs = [(i, t, source, str(path), overrides_of[i]) for i in range(len(swept)) for t in range(len(CASES))]
    started = time.perf_counter()
    results: dict[int, dict[int, tuple]] = {}
    if args.workers > 1:
        with multiprocessing.get_context("fork").Pool(args.workers, init_worker, (args.set,)) as pool:
            for done, row in enumerate(pool.imap_unordered(run_one, jobs), 1):
                results.setdefault(row[0], {})[row[1]] = row[2:]
                progress(done, len(jobs), started)
    else:
        for done, job in enumerate(jobs, 1):
            row = run_one(job)
            results.setdefault(row[0], {})[row[1]] = row[2:]
            progress(done, len(jobs), started)
    wall = time.perf_counter() - started

    rows = []
    for i, setting in enumerate(swept):
        per = [results[i][t] for t in range(len(CASES))]
        scores = [p[3] for p in per]
        rows.append({"setting": {k: setting[k] for k in shown},
                     "gpu_hours": [p[0] for p in per], "p95_slowdown": [p[1] for p in per],
                     "slo_kept": all(p[2] for p in per), "score": sum(scores) / len(scores),
                     "total_gpu_hours": sum(p[0] for p in per), "seconds": sum(p[4] for p in per)})
    if args.order == "score":
        rows.sort(key=lambda r: (-r["score"], r["total_gpu_hours"]))
    ids = [c.id for c in CASES]
    head = " ".join(f"{short(n):>7}" for n in shown)
    print(f"\n{head} | " + " ".join(f"{i[:10]:>10}" for i in ids) + " | GPU-h sum | "
          + " ".join(f"{'p95 ' + i[:6]:>10}" for i in ids) + " | SLO | score")
    for r in rows:
        print(" ".join(f"{r['setting'][n]:>7g}" for n in shown) + " | "
              + " ".join(f"{g:>10.2f}" for g in r["gpu_hours"]) + f" | {r['total_gpu_hours']:>9.2f} | "
              + " ".join(f"{p:>10.2f}" for p in r["p95_slowdown"]) + f" | {'yes' if r['slo_kept'] else ' NO'} | "
              + f"{r['score']:.3f}")
    print(f"\n{len(jobs)} runs in {wall:.0f} s wall ({sum(r['seconds'] for r in rows) / len(jobs):.1f} s per run)")
    if args.json:
        args.json.write_text(json.dumps({"policy": str(path), "set": args.set, "traces": ids,
                                         "static_gpu_hours": [c.reference.static_gpu_hours for c in CASES],
                                         "references_pinned": mismatch is None, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
