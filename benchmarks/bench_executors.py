"""The local executor against Ray on one machine, side by side in one run (rounds alternate, best of N):
one run of prism_placement dev and of llm_routing dev, and a generation of 50 prism candidates.

    python benchmarks/bench_executors.py --repeat 3 [--cpus 2] [--candidates 50] [--nice 15]

Ray starts its workers at niceness 15 (a worker's os.nice(0) says so), and their fork servers and sandboxed
children inherit it: on a machine shared with other work they yield to it, where this process's own
children (the local executor) do not. `--nice 15` puts this process at the same niceness once the cluster
is up (before any fork server starts), so both executors compete on equal terms.

Ray's start-up (the local cluster, then the first job: a worker process and its fork server) is measured
once and reported apart; so is its per-task overhead (an empty Ray task's round trip, and a one-case job on
Ray against the same job in this process). Every Ray result is checked against the local one: the same
per-instance statuses and scores, or the benchmark stops.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time

from adrs_bench import evaluate, evaluate_many
from adrs_bench.executors import Job, LocalExecutor, run_job
from adrs_bench.instances import load_set
from adrs_bench.registry import get_task
from adrs_bench.sandbox.checks import check_submission


def variant(source: str, k: float) -> str:
    old = "pressure = load[gpu_id] / free[gpu_id]"
    return source.replace(old, f"pressure = (load[gpu_id] + {k} * model.req_rate / model.slo) / "
                               f"(free[gpu_id] - {k} * model.model_size)")


def timed(run):
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def same(a, b) -> None:
    left = [(o.id, o.status, o.score) for o in a.outcomes]
    right = [(o.id, o.status, o.score) for o in b.outcomes]
    if left != right:
        raise SystemExit("Ray and local scores differ: a bug")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="local workers, and the Ray cluster's CPUs")
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--nice", type=int, default=0, help="raise this process's niceness once Ray is up")
    args = parser.parse_args()
    import ray

    from adrs_bench.ray_executor import RayExecutor

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"ray {ray.__version__}; this process at niceness {os.nice(0) + args.nice}")
    startup, _ = timed(lambda: ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.WARNING))
    if args.nice:
        os.nice(args.nice)  # after the cluster started (its raylet keeps its own), before any fork server
    ray_executor = RayExecutor()
    ray_one_cpu = RayExecutor(cpus_per_job=1)
    local = LocalExecutor(args.cpus)
    prism = get_task("prism_placement")
    routing = get_task("llm_routing")
    prism_example = prism.spec.path(prism.spec.example)
    routing_example = routing.spec.path(routing.spec.example)
    first_job, _ = timed(lambda: evaluate(prism, prism_example, "public", executor=ray_executor))
    worker_nice = ray.get(ray.remote(num_cpus=1)(lambda: os.nice(0)).remote())
    print(f"Ray start-up: cluster {startup:.2f} s; first run (workers and their fork servers) {first_job:.2f} s; "
          f"workers at niceness {worker_nice}")

    @ray.remote(num_cpus=1)
    def noop():
        return None

    ray.get([noop.remote() for _ in range(4)])
    trips = []
    for _ in range(50):
        seconds, _ = timed(lambda: ray.get(noop.remote()))
        trips.append(seconds)
    case = load_set(prism, "dev").cases[:1]
    checked = check_submission(prism_example, prism.spec)
    job = Job(prism, checked)
    here, there = [], []
    for _ in range(20):
        here.append(timed(lambda: run_job(job, case))[0])
        there.append(timed(lambda: ray.get(ray_executor.submit(job, case)))[0])
    print(f"Ray per-task overhead: empty task round trip {statistics.median(trips) * 1e3:.1f} ms (median of 50); "
          f"a one-case prism job {statistics.median(there) * 1e3:.1f} ms on Ray vs {statistics.median(here) * 1e3:.1f} ms "
          f"in this process (median of 20): {1e3 * (statistics.median(there) - statistics.median(here)):.1f} ms "
          "per job")

    runs = {
        ("prism_placement dev (120 cases)", "local"): lambda: evaluate(prism, prism_example, "dev", executor=local),
        ("prism_placement dev (120 cases)", "ray"): lambda: evaluate(prism, prism_example, "dev", executor=ray_executor),
        ("llm_routing dev (5 cases)", "local"): lambda: evaluate(routing, routing_example, "dev", executor=local),
        ("llm_routing dev (5 cases)", "ray (2 CPUs a job)"): lambda: evaluate(routing, routing_example, "dev",
                                                                           executor=ray_executor),
        ("llm_routing dev (5 cases)", "ray (1 CPU a job)"): lambda: evaluate(routing, routing_example, "dev",
                                                                          executor=ray_one_cpu),
    }
    source = prism_example.read_text()
    codes = [variant(source, k / args.candidates) for k in range(args.candidates)]
    generation = f"{args.candidates} prism candidates on dev"
    runs[(generation, f"sequential evaluate(workers={args.cpus})")] = lambda: [
        evaluate(prism, code=code, set="dev", workers=args.cpus) for code in codes]
    runs[(generation, f"evaluate_many local (workers={args.cpus})")] = lambda: evaluate_many(
        prism, codes=codes, set="dev", executor=local)
    runs[(generation, "evaluate_many ray")] = lambda: evaluate_many(prism, codes=codes, set="dev", executor=ray_executor)
    best: dict = {}
    values: dict = {}
    for round_ in range(args.repeat):
        for key, run in runs.items():
            seconds, value = timed(run)
            best[key] = min(best.get(key, float("inf")), seconds)
            values[key] = value
        print(f"round {round_ + 1}: " + ", ".join(f"{k[0][:12]}/{k[1][:10]} {v:.2f}" for k, v in best.items()), flush=True)
    for workload in dict.fromkeys(k[0] for k in runs):
        keys = [k for k in runs if k[0] == workload]
        reference = values[keys[0]]
        for key in keys[1:]:
            if isinstance(reference, list):
                for a, b in zip(reference, values[key]):
                    same(a, b)
            else:
                same(reference, values[key])
    print("\n| workload | executor | best of %d (s) | vs first |" % args.repeat)
    print("|---|---|---|---|")
    for workload in dict.fromkeys(k[0] for k in runs):
        keys = [k for k in runs if k[0] == workload]
        for key in keys:
            print(f"| {workload} | {key[1]} | {best[key]:.2f} | {best[key] / best[keys[0]]:.2f} |")
    # the per-case cost of llm_routing dev, one CPU, from the local run (each case's own wall time)
    routing_result = values[("llm_routing dev (5 cases)", "local")]
    per_case = statistics.mean(o.seconds for o in routing_result.outcomes)
    print(f"\nllm_routing dev: {per_case:.2f} s per case on one CPU (the example router, mean of 5 cases)")
    ray.shutdown()


if __name__ == "__main__":
    main()
