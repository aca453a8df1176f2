"""llm_routing speed: one dev seed simulated in process against the same seed with the router sandboxed.

Run: python benchmarks/bench_routing.py [--repeat 3] [--seed-index 0] [--growth]

Variants, timed alternately in one process (best of N), all on the same dev trace (4 replicas, LLQ):
- in-process fast:  the simulator with its trusted least-loaded router (closed-form decode runs);
- in-process step:  the same, one decode step at a time (the reference semantics);
- mirror, no IPC:   the LLQ baseline submission answering through the child's mirror, called in process
                    (isolates the cost of the journal and mirror from the cost of the pipes);
- sandboxed:        the LLQ baseline in the sandboxed child, as `adrs-bench run` does it.
All must give the same per-request results. `--growth` also times 10x the load (40 replicas, 75 QPS,
1000 s) in process, fast mode. Reports events per second and the share of time in the router call.
"""
from __future__ import annotations

import argparse
import platform
import time
from collections import deque

from adrs_bench.registry import get_task
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.sandbox.replies import OK, Reply
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.serving import ClusterConfig, Simulator, least_loaded
from adrs_bench.tasks.llm_routing import adapter, bridge, evaluator, generate

TASK = get_task("llm_routing")
LLQ = TASK.spec.path("baselines/llq.py")


class InProcessSession:
    """A SandboxSession stand-in that runs the child adapter in this process (no fork, no pipes)."""

    def __init__(self, code):
        self.namespace = {"__name__": "submission"}
        exec(code, self.namespace)
        self.answers: deque = deque()

    filename = ""

    def post_many(self, payloads, seed, deadline):
        for payload in payloads:
            self.answers.append(adapter.run_call(self.namespace, payload))
        return None

    def collect(self, deadline):
        return Reply(OK, self.answers.popleft())

    def call(self, payload, seed, timeout):
        self.post_many([payload], seed, 0)
        return self.collect(0)


def in_process(trace, fast: bool, replicas: int = 4):
    config = ClusterConfig(num_replicas=replicas, fast=fast)
    started = time.perf_counter()
    result = Simulator(config, bridge.request_specs(trace), least_loaded).run()
    return time.perf_counter() - started, result


def through(session, trace):
    started = time.perf_counter()
    run = bridge.simulate_sandboxed(session, trace, evaluator.CLUSTER, 0, 5.0, 600.0)
    elapsed = time.perf_counter() - started
    assert run.status == OK, run.message
    return elapsed, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed-index", type=int, default=0, help="which dev trace (0-4)")
    parser.add_argument("--growth", action="store_true", help="also time 10x the load in process")
    args = parser.parse_args()

    trace = generate.set_traces("dev")[args.seed_index]
    plain_code = compile(LLQ.read_text(), str(LLQ), "exec")
    checked = check_submission(LLQ, TASK.spec)
    best = {"fast": float("inf"), "step": float("inf"), "mirror": float("inf"), "sandboxed": float("inf")}
    last = {}
    with SandboxSession(checked.code, str(LLQ), TASK.plugin.child_adapter, TASK.spec.allowed_imports,
                        TASK.spec.limits) as session:
        for _ in range(args.repeat):
            t, fast = in_process(trace, True)
            best["fast"] = min(best["fast"], t)
            t, step = in_process(trace, False)
            best["step"] = min(best["step"], t)
            t, mirrored = through(InProcessSession(plain_code), trace)
            best["mirror"] = min(best["mirror"], t)
            t, sandboxed = through(session, trace)
            if t < best["sandboxed"]:
                best["sandboxed"], last["sandboxed"] = t, sandboxed
    same = fast.records == step.records == mirrored.result.records == sandboxed.result.records
    events = fast.events
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"trace: dev seed {trace.seed}, {len(trace)} requests, {trace.duration:g} s, 4 replicas, LLQ; "
          f"{events} events, {fast.router_calls} router calls; best of {args.repeat}")
    print(f"identical per-request results in all four variants: {same}")
    for name in ("fast", "step", "mirror", "sandboxed"):
        ratio = best[name] / best["fast"]
        print(f"  {name:<10} {best[name]:7.3f} s  {ratio:5.2f}x in-process fast  {events / best[name]:10.0f} events/s")
    stats = last["sandboxed"].stats
    print(f"sandboxed: router code {stats.child_seconds:.3f} s ({stats.child_seconds / best['sandboxed']:.0%} of the run), "
          f"parent blocked on answers {stats.wait_seconds:.3f} s ({stats.wait_seconds / best['sandboxed']:.0%})")
    if args.growth:
        big = generate.generate_trace(trace.seed, trace.duration, qps=generate.QPS * 10)
        t_small = min(in_process(trace, True)[0] for _ in range(args.repeat))
        t_big = min(in_process(big, True, replicas=40)[0] for _ in range(args.repeat))
        print(f"growth: 10x load (40 replicas, {len(big)} requests) {t_big:.3f} s vs {t_small:.3f} s: "
              f"{t_big / t_small:.1f}x the time")


if __name__ == "__main__":
    main()
