"""llm_routing's plugin: the glue the core calls. One case is one trace (a seed); it is run with
`run_case`, which drives many router calls in the child while the simulator runs here.
The rules live in evaluator.py (score), bridge.py (the calls) and the simulator (adrs_bench.serving)."""
from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path
from typing import Sequence

from adrs_bench import serving
from adrs_bench.sandbox.replies import OK, TIMEOUT
from adrs_bench.task_api import InstanceOutcome, content_bytes

from . import adapter, evaluator
from .bridge import REPLICA_STATE_FIELDS, simulate_sandboxed
from .generate import Trace, build_set_bytes, fresh_traces, parse_csv_gz, to_csv_gz

DEFAULT_CALL_SECONDS = 5.0
SERVING = Path(serving.__file__).resolve().parent


class LlmRouting:
    # The simulator is part of the scoring rule: its files pin the evaluator's sha256 too.
    evaluator_files = ("adapter.py", "bridge.py", "evaluator.py", "generate.py", "mirror.py", "task.py", "vidur_compat.py") + tuple(
        str(SERVING / f"{name}.py") for name in ("__init__", "cluster", "config", "errors", "events", "fast_replica",
                                                   "journal", "metrics", "policy", "profile", "replica", "request",
                                                   "routers", "step_replica", "views", "workload"))
    failed_score = evaluator.FAILED_SCORE

    def parse_cases(self, data: bytes) -> list[Trace]:
        return parse_csv_gz(data)

    def fresh_set_bytes(self, seed: int) -> bytes:
        return to_csv_gz(fresh_traces(seed))

    def case_id(self, case: Trace) -> str:
        return f"seed-{case.seed}"

    def payload(self, case: Trace) -> None:
        return None  # run_case drives the child itself

    def seed_material(self, case) -> bytes:
        return content_bytes([case.arrival_times, case.prompt_tokens, case.decode_tokens])

    child_adapter = staticmethod(adapter.run_call)  # runs in the child; the fork server imports it by name

    def failed_metrics(self, case: Trace) -> dict:
        return evaluator.reference_metrics(case)

    def run_case(self, session, case: Trace, seed: int, limits, remaining: float, progress=None) -> InstanceOutcome:
        """One seed; `progress(share)` gets the share of the trace's simulated time done, at each call."""
        case_id = self.case_id(case)
        budget = min(limits.instance_seconds, remaining)
        started = time.monotonic()
        run = simulate_sandboxed(session, case, evaluator.CLUSTER, seed,
                                 limits.call_seconds or DEFAULT_CALL_SECONDS, budget, progress=progress)
        stats = run.stats
        timing = {"router_calls_made": stats.calls, "router_seconds": stats.child_seconds,
                  "wait_seconds": stats.wait_seconds}
        if run.status != OK:
            message = run.message
            if run.status == TIMEOUT and budget < limits.instance_seconds:
                message = f"{message} (the total limit of {limits.total_seconds:g} s ran out)"
            metrics = self.failed_metrics(case)
            metrics.update(timing)
            return InstanceOutcome(case_id, run.status, message, self.failed_score,
                                   time.monotonic() - started, metrics)
        score, metrics = evaluator.seed_metrics(case, run.result)
        metrics.update(timing)
        metrics["wall_seconds"] = run.wall_seconds
        detail = {"records": run.result.records, "replica_states": stats.replica_states}
        return InstanceOutcome(case_id, OK, "", score, time.monotonic() - started, metrics, detail)

    def evaluate(self, case, raw):  # pragma: no cover - run_case replaces the one-call path
        raise NotImplementedError("llm_routing runs each case with run_case")

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

    def verify_instances(self, spec, set_names: Sequence[str]) -> list[tuple[str, str, bool]]:
        """Regenerate each set and compare its sha256 with the one pinned in spec.json."""
        report = []
        for name in set_names:
            entry = spec.sets[name]
            digest = hashlib.sha256(build_set_bytes(name)).hexdigest()
            stored = hashlib.sha256(spec.path(entry.file).read_bytes()).hexdigest()
            same = digest == entry.sha256 == stored
            report.append((name, f"regenerated {digest[:12]}, file {stored[:12]}, spec {entry.sha256[:12]}", same))
        return report


PLUGIN = LlmRouting()
