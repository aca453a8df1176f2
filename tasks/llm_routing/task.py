"""llm_routing's plugin, a stateful task (task_api.StatefulTask): the glue the core calls. One case is one
trace (a seed); `run_case` drives many router calls in the child while the simulator runs here and says
what happened; the runner makes the outcome. The rules live in evaluator.py (score), bridge.py (the
calls) and the simulator (adrs_bench.serving); the file format in instance.py."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from adrs_bench.statuses import OK, TIMEOUT
from adrs_bench.task_api import CaseResult, InstanceOutcome, content_bytes

from . import adapter, evaluator
from .bridge import REPLICA_STATE_FIELDS, simulate_sandboxed
from .instance import Trace, parse_csv_gz, to_csv_gz

DEFAULT_CALL_SECONDS = 5.0


class LlmRouting:
    failed_score = evaluator.FAILED_SCORE

    def parse_cases(self, data: bytes) -> list[Trace]:
        return parse_csv_gz(data)

    def build_set_bytes(self, set_name: str) -> bytes:
        from .generate import build_set_bytes

        return build_set_bytes(set_name)

    def fresh_set_bytes(self, seed: int) -> bytes:
        from .generate import fresh_traces

        return to_csv_gz(fresh_traces(seed))

    def case_id(self, case: Trace) -> str:
        return f"seed-{case.seed}"

    def seed_material(self, case) -> bytes:
        return content_bytes([case.arrival_times, case.prompt_tokens, case.decode_tokens])

    child_adapter = staticmethod(adapter.run_call)  # runs in the child; the fork server imports it by name

    def failed_metrics(self, case: Trace) -> dict:
        return evaluator.reference_metrics(case)

    def run_case(self, session, case: Trace, seed: int, limits, remaining: float, progress=None) -> CaseResult:
        """One seed; `progress(share)` gets the share of the trace's simulated time done, at each call."""
        budget = min(limits.instance_seconds, remaining)
        run = simulate_sandboxed(session, case, evaluator.CLUSTER, seed,
                                 limits.call_seconds or DEFAULT_CALL_SECONDS, budget, progress=progress)
        stats = run.stats
        timing = {"router_calls_made": stats.calls, "router_seconds": stats.child_seconds,
                  "wait_seconds": stats.wait_seconds}
        if run.status != OK:
            message = run.message
            if run.status == TIMEOUT and budget < limits.instance_seconds:
                message = f"{message} (the total limit of {limits.total_seconds:g} s ran out)"
            return CaseResult.failure(run.status, message, timing)
        score, metrics = evaluator.seed_metrics(case, run.result)
        metrics.update(timing)
        metrics["wall_seconds"] = run.wall_seconds
        return CaseResult.success(score, metrics, {"records": run.result.records,
                                                   "replica_states": stats.replica_states})

    def summarize(self, set_name: str, cases: Sequence[Trace], outcomes: Sequence[InstanceOutcome]) -> dict:
        ok = [o for o in outcomes if o.ok]

        def mean(key: str, among=ok):
            values = [o.metrics[key] for o in among if key in o.metrics]
            return sum(values) / len(values) if values else None

        per_seed = {o.id: {"status": o.status, "speedup": o.score,
                           "mean_e2e": o.metrics.get("mean_e2e"), "llq_mean_e2e": o.metrics.get("llq_mean_e2e"),
                           "restarted_share": o.metrics.get("restarted_share"),
                           "llq_restarted_share": o.metrics.get("llq_restarted_share")}
                    for o in outcomes}
        router = sum(o.metrics.get("router_seconds", 0.0) for o in ok)
        wall = sum(o.metrics.get("wall_seconds", 0.0) for o in ok)
        return {
            "mean_e2e": mean("mean_e2e"),
            "llq_mean_e2e": mean("llq_mean_e2e", outcomes),
            "p99_e2e": mean("p99_e2e"),
            "mean_ttft": mean("mean_ttft"),
            "restarted_share": mean("restarted_share"),
            "llq_restarted_share": mean("llq_restarted_share", outcomes),
            "router_share": router / wall if wall > 0 else None,
            "mean_seconds": sum(o.seconds for o in outcomes) / len(outcomes) if outcomes else 0.0,
            "per_seed": per_seed,
        }

    def diagnostics(self, record: dict) -> list[str]:
        """Feedback's task lines, per seed: latency against LLQ, restarts, queueing delay and TTFT."""
        lines = []
        for i in record["instances"]:
            m = i["metrics"]
            if i["status"] != "ok":
                continue
            lines.append(f"{i['id']}: mean e2e {m['mean_e2e']:.2f} s (LLQ {m['llq_mean_e2e']:.2f} s), restarted "
                         f"{100 * m['restarted_share']:.1f}% (LLQ {100 * m['llq_restarted_share']:.1f}%), queueing "
                         f"global {m['mean_global_queueing']:.2f} s + replica {m['mean_replica_queueing']:.2f} s, "
                         f"TTFT {m['mean_ttft']:.2f} s")
        return lines

    def summary_columns(self) -> list[tuple[str, str]]:
        return [("mean_e2e", "mean e2e (s)"), ("llq_mean_e2e", "LLQ mean e2e (s)"), ("p99_e2e", "p99 e2e (s)"),
                ("restarted_share", "restarted requests (share)"), ("router_share", "router time (share of wall)"),
                ("mean_seconds", "wall s/seed")]

    def write_artifacts(self, cases: Sequence[Trace], outcomes: Sequence[InstanceOutcome], directory: Path) -> list[Path]:
        """The diagnostics Glia's researcher agent read: per request (vidur's request_metrics.csv),
        the replicas' state at every router call, and where each request went; and two figures
        (plots.py): latency_cdf.png (per-request end-to-end latency, one CDF per seed) and kv_use.png
        (each replica's allocated KV blocks over simulated time, one panel per seed)."""
        directory.mkdir(parents=True, exist_ok=True)
        seeds = directory / "seeds.csv"
        with seeds.open("w", newline="") as f:
            out = csv.writer(f)
            keys = ("mean_e2e", "llq_mean_e2e", "p50_e2e", "p90_e2e", "p99_e2e", "mean_ttft", "p90_ttft",
                    "mean_tpot", "preemptions", "restarted_requests", "mean_global_queueing",
                    "mean_replica_queueing", "mean_kv_utilisation", "router_calls_made", "router_seconds")
            out.writerow(("seed", "status", "message", "speedup") + keys)
            for case, o in zip(cases, outcomes):
                out.writerow([case.seed, o.status, o.message, o.score] + [o.metrics.get(k, "") for k in keys])
        requests = directory / "request_metrics.csv"
        routes = directory / "routes.csv"
        states = directory / "replica_states.csv"
        with requests.open("w", newline="") as fr, routes.open("w", newline="") as fo, states.open("w", newline="") as fs:
            req, route, state = csv.writer(fr), csv.writer(fo), csv.writer(fs)
            req.writerow(["seed", "request_id", "arrived_at", "prompt_tokens", "decode_tokens", "replica_id",
                          "routed_at", "scheduled_at", "first_token_at", "completed_at", "e2e_time",
                          "ttft", "tpot", "global_queueing", "replica_queueing", "restarts", "preemptions"])
            route.writerow(["seed", "request_id", "routed_at", "replica_id"])
            state.writerow(("seed",) + REPLICA_STATE_FIELDS)
            for case, o in zip(cases, outcomes):
                if not o.detail:
                    continue
                for r in o.detail["records"]:
                    tpot = r.tpot
                    req.writerow([case.seed, r.id, r.arrival_time, r.prompt_tokens, r.decode_tokens, r.replica_id,
                                  r.routed_time, r.first_scheduled_time, r.first_token_time, r.completion_time,
                                  r.e2e, r.ttft, "" if tpot is None else tpot, r.global_queueing,
                                  r.replica_queueing, r.restarts, r.preemptions])
                for r in sorted(o.detail["records"], key=lambda r: (r.routed_time, r.id)):
                    route.writerow([case.seed, r.id, r.routed_time, r.replica_id])
                flat = o.detail["replica_states"]
                width = len(REPLICA_STATE_FIELDS)
                for i in range(0, len(flat), width):
                    row = flat[i:i + width]
                    state.writerow([case.seed, int(row[0]), row[1], int(row[2]), int(row[3]), int(row[4]),
                                    int(row[5])])
        from . import plots

        return [seeds, requests, routes, states] + plots.write_run_plots(
            cases, outcomes, directory, evaluator.CLUSTER.replica.num_blocks)

    def comparison_plots(self, records: Sequence[dict], out_dir: Path) -> list[Path]:
        """`adrs-bench compare`'s task part: the records' latency CDFs overlaid per seed (latency_cdf.png)."""
        from . import plots

        return plots.comparison_plots(records, out_dir)


PLUGIN = LlmRouting()
