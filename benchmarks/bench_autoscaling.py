"""autoscaling speed, and the baselines' figures in process (used once to tune their thresholds on dev).

Run: python benchmarks/bench_autoscaling.py [--set dev] [--baseline hpa ...] [--repeat 1]

For each trace of the set and each baseline: the policy runs in this process (compiled as plain
Python, fed the same Metrics objects the sandboxed child builds), the simulator runs the 2-hour trace
with LLQ routing, and the script prints the wall time, GPU-hours against the frozen static reference,
and the p95 slowdown. The sandboxed figures come from `adrs-bench run autoscaling`; this script is for
speed and tuning.
"""
from __future__ import annotations

import argparse
import platform
import time

from adrs_bench.registry import get_task
from adrs_bench.tasks.autoscaling import adapter, evaluator
from adrs_bench.tasks.autoscaling.settings import settings

TASK = get_task("autoscaling")


def policy_of(name: str):
    path = TASK.spec.path(TASK.spec.baselines[name])
    namespace = {"__name__": "policy"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    policy = namespace["Autoscaler"]()
    return lambda metrics: adapter.plain(policy.decide(adapter.Metrics(metrics)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="dev")
    parser.add_argument("--baseline", action="append", help="baseline name (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per trace and baseline (best time kept)")
    args = parser.parse_args()
    from adrs_bench.instances import load_set

    cases = load_set(TASK, args.set).cases
    names = args.baseline or list(TASK.spec.baselines)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; set {args.set}; best of {args.repeat}")
    print(f"{'trace':<16} {'baseline':<12} {'requests':>8} {'seconds':>8} {'GPU-h':>7} {'static':>7} "
          f"{'score':>6} {'p95 slowdown':>12}  SLO")
    for case in cases:
        requests = case.trace.requests()
        for name in names:
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                run = evaluator.simulate(settings(), requests, policy_of(name))
                best = min(best, time.perf_counter() - started)
            score = evaluator.score(case.reference.static_gpu_hours, run)
            print(f"{case.id:<16} {name:<12} {len(requests):>8} {best:>8.2f} {run.gpu_hours:>7.2f} "
                  f"{case.reference.static_gpu_hours:>7.2f} {score:>6.3f} {run.slo.percentile_slowdown:>12.2f}  "
                  f"{'kept' if run.slo.kept else 'VIOLATED'}")


if __name__ == "__main__":
    main()
