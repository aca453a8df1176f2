"""Serving simulator speed: fast mode (closed-form decode runs) against the step-by-step reference.

Run: python benchmarks/bench_serving.py [--repeat 3] [--seed 0] [--growth]

The trace is a llm_routing dev trace (Glia's workload: 1000 s at 7.5 QPS, log-normal gaps, ShareGPT
length marginals; `--seed` picks one of the five). 4 replicas (A10 + Llama-3-8B profile,
2240 blocks), least-loaded (LLQ) routing in process. Both modes are timed alternately in one process,
best of N; they must give the same per-request results. `--growth` also times 10x the load (40
replicas, 75 QPS, same duration) in fast mode. The profile's fit is checked against vidur's table of
predicted linear-op times when the shared data file is present.
"""
from __future__ import annotations

import argparse
import csv
import math
import platform
import time
from pathlib import Path


from adrs_bench.serving import A10Llama3Profile, ClusterConfig, RequestSpec, Simulator, least_loaded
from adrs_bench.tasks.llm_routing import generate

# Shared reference data lives beside the repository (../shared), never inside it.
VIDUR_TABLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "a10_llama3_8b_linear_step_ms.csv"


def dev_trace(index: int, qps: float | None = None) -> list[RequestSpec]:
    """A llm_routing dev trace (index 0-4), or the same seed at another rate."""
    seed = generate.SETS["dev"].seeds[index]
    duration = generate.SETS["dev"].duration
    trace = generate.generate_trace(seed, duration, qps=qps or generate.QPS)
    return [RequestSpec(t, p, d) for t, p, d in zip(trace.arrival_times, trace.prompt_tokens, trace.decode_tokens)]


class TimedRouter:
    """LLQ with the time spent inside it accumulated (to report the router's share)."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, snapshot):
        started = time.perf_counter()
        answer = least_loaded(snapshot)
        self.seconds += time.perf_counter() - started
        return answer


def simulate(trace, fast: bool, replicas: int = 4, router=least_loaded):
    config = ClusterConfig(num_replicas=replicas, fast=fast)
    started = time.perf_counter()
    result = Simulator(config, trace, router, A10Llama3Profile()).run()
    return time.perf_counter() - started, result


def profile_fit() -> str:
    if not VIDUR_TABLE.exists():
        return "vidur table not found; profile fit not checked"
    profile = A10Llama3Profile()
    with VIDUR_TABLE.open() as handle:
        rows = [(int(r["num_tokens"]), float(r["linear_ms_32layers_real_a10_profile_rf"]))
                for r in csv.DictReader(handle)]

    def worst(low, high):
        errors = [(profile.linear_time(n) * 1000 / ms - 1, n) for n, ms in rows if low <= n <= high]
        error, at = max(errors, key=lambda e: abs(e[0]))
        mean = sum(abs(e) for e, _ in errors) / len(errors)
        return f"max {error:+.1%} at {at} tokens, mean |err| {mean:.1%}"

    return (f"linear-op fit vs vidur's table: 1..128 tokens {worst(1, 128)}; 1..4096 {worst(1, 4096)}; "
            f"385..4096 {worst(385, 4096)}; 4097..8192 {worst(4097, 8192)} (vidur flat at 913 ms there)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="which dev trace (0-4)")
    parser.add_argument("--growth", action="store_true", help="also time 10x the load in fast mode")
    args = parser.parse_args()

    trace = dev_trace(args.seed)
    best = {True: math.inf, False: math.inf}
    results = {}
    for _ in range(args.repeat):
        for fast in (True, False):
            seconds, results[fast] = simulate(trace, fast)
            best[fast] = min(best[fast], seconds)
    if results[True].records != results[False].records:
        raise SystemExit("fast and step-by-step modes disagree")
    summary = results[True].summary()
    steps = sum(r.decode_steps + r.prefill_steps for r in results[True].replicas)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"trace: dev trace {args.seed}, {len(trace)} requests over 1000 s, 4 replicas, LLQ")
    print(f"mean e2e {summary.mean_e2e:.2f} s, p99 {summary.p99_e2e:.1f} s, preemptions {summary.preemptions}, "
          f"restarted {summary.restarted_requests}, KV use {summary.mean_kv_utilisation:.1%}, "
          f"batch steps {steps}")
    print(f"step-by-step: {best[False]:.3f} s ({results[False].events} events, "
          f"{results[False].events / best[False]:,.0f} events/s)")
    print(f"fast:         {best[True]:.3f} s ({results[True].events} events, "
          f"{results[True].events / best[True]:,.0f} events/s, {steps / best[True]:,.0f} batch steps/s)")
    print(f"ratio step/fast: {best[False] / best[True]:.2f}x")

    router = TimedRouter()
    seconds, timed = simulate(trace, True, router=router)
    print(f"router share (fast mode, {timed.router_calls} calls): {router.seconds / seconds:.1%} of {seconds:.3f} s")

    if args.growth:
        big = dev_trace(args.seed, qps=75.0)
        big_seconds = min(simulate(big, True, replicas=40)[0] for _ in range(max(1, args.repeat - 1)))
        print(f"10x load (40 replicas, 75 QPS, {len(big)} requests): {big_seconds:.3f} s, "
              f"{big_seconds / best[True]:.1f}x the base time")
    print(profile_fit())


if __name__ == "__main__":
    main()
