"""What the OS boundary costs: this tree against an older checkout, side by side in one run.

Run:  git worktree add ../adrs-before <commit>      # e.g. the commit before the isolation work
      python benchmarks/bench_isolation.py --before ../adrs-before [--repeat 5]
      python benchmarks/bench_isolation.py --mechanisms  # what each layer costs, this tree only

Each measure runs in a fresh interpreter per tree (PYTHONPATH set to that tree), alternating between
the trees, best of N:
- whole process: `adrs-bench run prism_placement <prism_greedy> --set public --no-save --quiet`;
- 1000 cases:    `run_cases` on 1000 ADRS-like prism cases (as bench_sandbox_overhead.py builds them);
- routing seed:  `run_cases` on llm_routing dev seed 1 with the LLQ baseline (sandboxed, LLQ reference
                 simulated by the evaluator in both trees);
- autoscaling:   `run_cases` on autoscaling's smoke trace with the HPA baseline (sandboxed).
An older checkout has its tasks at the top level; the script links `adrs_bench/tasks` to them there.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

THOUSAND = """
import sys, time
sys.path.insert(0, {bench!r})
from bench_sandbox_overhead import TASK, GREEDY, adrs_like_cases
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
cases = adrs_like_cases(1000, 7)
checked = check_submission(GREEDY, TASK.spec)
run_cases(TASK, checked, cases[:10])
started = time.perf_counter()
outcomes = run_cases(TASK, checked, cases)
print(time.perf_counter() - started, sum(o.ok for o in outcomes))
"""

ROUTING = """
import time
from adrs_bench.registry import get_task
from adrs_bench.instances import load_set
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
task = get_task("llm_routing")
case = load_set(task, "dev").cases[0]
checked = check_submission(task.spec.path("baselines/llq.py"), task.spec)
started = time.perf_counter()
outcome = run_cases(task, checked, [case])[0]
print(time.perf_counter() - started, outcome.status)
"""

AUTOSCALING = """
import time
from adrs_bench.registry import get_task
from adrs_bench.instances import load_set
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
task = get_task("autoscaling")
cases = load_set(task, "smoke").cases
checked = check_submission(task.spec.path("baselines/hpa.py"), task.spec)
started = time.perf_counter()
outcome = run_cases(task, checked, cases)[0]
print(time.perf_counter() - started, outcome.status)
"""


def prepare(tree: Path) -> None:
    link = tree / "adrs_bench" / "tasks"
    if not link.exists():
        link.symlink_to(Path("..") / "tasks")


def timed(tree: Path, args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(args[:3])} failed:\n{result.stderr[-2000:]}")
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    first = last.split()[0] if last else ""
    try:
        return float(first)  # the snippet's own timing (excludes interpreter start-up)
    except ValueError:
        return elapsed


def echo(namespace: dict, payload):
    """A child adapter that does nothing: isolates the cost of a round trip."""
    return payload


def mechanisms(repeat: int) -> None:
    """Start-up of a child with each layer switched off in turn, a round trip with and without the
    system-call filter, and executing a submission's module anew (done once per case)."""
    import types

    from adrs_bench.registry import get_task
    from adrs_bench.sandbox.checks import check_submission
    from adrs_bench.sandbox.guards import SUBMISSION_MODULE, restricted_globals
    from adrs_bench.sandbox.isolation import IsolationPolicy
    from adrs_bench.sandbox.session import SandboxSession

    task = get_task("prism_placement")
    greedy = check_submission(task.spec.path("baselines/prism_greedy.py"), task.spec)
    policies = {"full boundary": IsolationPolicy(), "no namespaces/empty root": IsolationPolicy(namespaces=False),
                "no seccomp filter": IsolationPolicy(syscall_filter=False),
                "neither": IsolationPolicy(namespaces=False, syscall_filter=False)}
    starts = {name: float("inf") for name in policies}
    trips = {name: float("inf") for name in policies}
    calls = 2000
    for _ in range(repeat):
        for name, policy in policies.items():
            session = SandboxSession(greedy.code, str(greedy.path), "bench_isolation:echo", task.spec.allowed_imports,
                                     task.spec.limits, policy)
            started = time.perf_counter()
            session.start(time.monotonic() + 30)
            starts[name] = min(starts[name], time.perf_counter() - started)
            started = time.perf_counter()
            for index in range(calls):
                session.call(index, None, 10.0)
            trips[name] = min(trips[name], (time.perf_counter() - started) / calls)
            session.stop()
    for name in policies:
        print(f"child start ({name}): {starts[name] * 1000:.2f} ms; round trip: {trips[name] * 1e6:.1f} us")

    def fresh() -> None:
        module = types.ModuleType(SUBMISSION_MODULE)
        module.__dict__.update(restricted_globals(task.spec.allowed_imports))
        exec(greedy.code, module.__dict__)

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(1000):
            fresh()
        best = min(best, (time.perf_counter() - started) / 1000)
    print(f"executing prism_greedy's module anew (once per case): {best * 1e6:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="an older checkout (git worktree)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mechanisms", action="store_true", help="what each layer costs (this tree only)")
    args = parser.parse_args()
    if args.mechanisms:
        mechanisms(args.repeat)
        return
    if args.before is None:
        parser.error("expected --before PATH (an older checkout) or --mechanisms")
    trees = {"before": args.before.resolve(), "after": HERE}
    prepare(trees["before"])
    measures = {
        "run prism_placement --set public (whole process)": lambda tree: timed(tree, [
            "-m", "adrs_bench.cli", "run", "prism_placement", "tasks/prism_placement/baselines/prism_greedy.py",
            "--set", "public", "--no-save", "--quiet"]),
        "1000 prism cases (run_cases)": lambda tree: timed(tree, ["-c", THOUSAND.format(bench=str(tree / "benchmarks"))]),
        "llm_routing dev seed 1, LLQ, sandboxed (run_cases)": lambda tree: timed(tree, ["-c", ROUTING]),
        "autoscaling smoke, HPA, sandboxed (run_cases)": lambda tree: timed(tree, ["-c", AUTOSCALING]),
    }
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"best of {args.repeat}, trees alternating")
    for title, measure in measures.items():
        best = {name: float("inf") for name in trees}
        for _ in range(args.repeat):
            for name, tree in trees.items():
                best[name] = min(best[name], measure(tree))
        print(f"{title}: before {best['before']:.3f} s, after {best['after']:.3f} s, "
              f"ratio {best['after'] / best['before']:.3f}")


if __name__ == "__main__":
    main()
