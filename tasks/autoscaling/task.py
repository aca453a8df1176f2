"""autoscaling's plugin: the glue the core calls. One case is one trace; `run_case` runs the trusted
simulator here and asks the sandboxed policy for a replica count every interval (a few hundred calls per
trace, so each call is a plain round trip). Rules: control.py (scaling), evaluator.py (SLO and score)."""
from __future__ import annotations

import csv
import functools
import hashlib
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from adrs_bench import serving
from adrs_bench.sandbox.described import restore
from adrs_bench.sandbox.remote import RemoteCaller
from adrs_bench.sandbox.replies import OK
from adrs_bench.serving import RequestTooLarge, Stalled
from adrs_bench.spec import load_spec
from adrs_bench.task_api import InstanceOutcome, content_bytes

from . import adapter, evaluator
from .control import TIMELINE_FIELDS, PolicyAbort, describe_call
from .settings import Settings

HERE = Path(__file__).resolve().parent
SERVING = Path(serving.__file__).resolve().parent
DEFAULT_CALL_SECONDS = 5.0
SLO_VIOLATED = "slo_violated"
PERCENTILES = (50, 90, 95, 99, 99.9)


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_parameters(load_spec(HERE).parameters)


class SandboxedPolicy:
    """The controller's decide callable: one round trip to the child per control interval."""

    def __init__(self, session, call_seconds: float, deadline: float, budget: float, on_time=None):
        self.remote = RemoteCaller(session, call_seconds, deadline, budget, "the policy", "decide", "trace")
        self.calls = 0
        self.on_time = on_time  # called with the simulated time at each call (progress within a trace)

    @property
    def child_seconds(self) -> float:
        return self.remote.child_seconds

    def __call__(self, metrics: dict):
        self.calls += 1
        if self.on_time is not None:
            self.on_time(metrics["time"])
        return restore(self.remote.call({"op": "decide", "metrics": metrics}, describe_call(self.calls, metrics["time"])))


def finished_slowdowns(run) -> np.ndarray:
    """Rows of (completion time, slowdown), one per request in completion order: the slowdown over
    time of the artifacts' plot (not part of the score)."""
    rows = np.array([(r.completion_time, s) for r, s in zip(run.result.records, run.slowdowns)],
                    dtype=float).reshape(-1, 2)
    return rows[np.argsort(rows[:, 0], kind="stable")]


class Autoscaling:
    evaluator_files = ("adapter.py", "control.py", "evaluator.py", "generate.py", "settings.py", "spec.json",
                       "task.py") + tuple(str(SERVING / f"{name}.py") for name in (
                           "__init__", "cluster", "config", "errors", "events", "fast_replica", "journal", "metrics",
                           "policy", "profile", "replica", "request", "routers", "step_replica", "views", "workload"))
    failed_score = evaluator.FAILED_SCORE

    def parse_cases(self, data: bytes):
        from .generate import parse_set

        return parse_set(data, HERE / "instances")

    def fresh_set_bytes(self, seed: int) -> bytes:
        from .generate import fresh_set_bytes

        return fresh_set_bytes(seed)

    def case_id(self, case) -> str:
        return case.id

    def payload(self, case) -> None:
        return None  # run_case drives the child itself

    def seed_material(self, case) -> bytes:
        return content_bytes([case.trace.arrival_times, case.trace.prompt_tokens, case.trace.decode_tokens])

    child_adapter = staticmethod(adapter.run_call)  # runs in the child; the fork server imports it by name

    def failed_metrics(self, case) -> dict:
        ref = case.reference
        return {"requests": len(case.trace), "static_replicas": ref.static_replicas,
                "static_gpu_hours": ref.static_gpu_hours}

    def run_case(self, session, case, seed: int, limits, remaining: float, progress=None) -> InstanceOutcome:
        """One trace; `progress(share)` gets the share of the trace's simulated time done, at each call."""
        config = settings()
        budget = min(limits.instance_seconds, remaining)
        started = time.monotonic()
        call_seconds = limits.call_seconds or DEFAULT_CALL_SECONDS

        def failed(status: str, message: str, policy=None) -> InstanceOutcome:
            metrics = self.failed_metrics(case)
            if policy is not None:
                metrics.update({"decide_calls": policy.calls, "policy_seconds": policy.child_seconds})
            return InstanceOutcome(case.id, status, message, self.failed_score, time.monotonic() - started, metrics)

        reply = session.call({"op": "init", "filename": session.filename}, seed, min(call_seconds, budget))
        if reply.status != OK:
            return failed(reply.status, f"creating Autoscaler(): {reply.message}")
        on_time = (lambda now: progress(min(1.0, now / case.trace.duration))) if progress else None
        policy = SandboxedPolicy(session, call_seconds, started + budget, budget, on_time)
        try:
            run = evaluator.simulate(config, case.trace.requests(), policy)
        except PolicyAbort as exc:
            return failed(exc.status, exc.message, policy)
        except Stalled as exc:
            return failed("stalled", str(exc), policy)
        except RequestTooLarge as exc:
            return failed("invalid", str(exc), policy)
        metrics = self.run_metrics(case, run)
        metrics.update({"decide_calls": policy.calls, "policy_seconds": policy.child_seconds})
        detail = {"timeline": run.controller.timeline, "slowdowns": sorted(run.slowdowns),
                  "finished": finished_slowdowns(run)}
        if not run.slo.kept:
            message = (f"p95 slowdown {run.slo.p95_slowdown:.2f} > {config.slo_max_slowdown:g}: the SLO is missed "
                       f"by {run.slo.miss:.2f}x (GPU-hours {run.gpu_hours:.2f})")
            return InstanceOutcome(case.id, SLO_VIOLATED, message, self.failed_score, time.monotonic() - started,
                                   metrics, detail)
        return InstanceOutcome(case.id, OK, "", evaluator.score(case.reference.static_gpu_hours, run),
                               time.monotonic() - started, metrics, detail)

    @staticmethod
    def run_metrics(case, run) -> dict:
        summary = run.result.summary()
        timeline = run.controller.timeline
        desired = [row[1] for row in timeline]
        metrics = {
            "requests": summary.requests, "gpu_hours": run.gpu_hours,
            "static_replicas": case.reference.static_replicas, "static_gpu_hours": case.reference.static_gpu_hours,
            "p95_slowdown": run.slo.p95_slowdown, "slo_miss": run.slo.miss, "slo_kept": run.slo.kept,
            "mean_e2e": summary.mean_e2e, "p99_e2e": summary.p99_e2e, "mean_ttft": summary.mean_ttft,
            "preemptions": summary.preemptions, "makespan": summary.makespan,
            "max_desired": max(desired) if desired else None, "min_desired": min(desired) if desired else None,
            "replicas_used": len(run.result.replicas),
        }
        values = np.asarray(run.slowdowns, dtype=float)
        for p in PERCENTILES:
            metrics[f"p{p:g}_slowdown".replace(".", "_")] = float(np.percentile(values, p))
        return metrics

    def summarize(self, set_name: str, cases, outcomes: Sequence[InstanceOutcome]) -> dict:
        kept = [o for o in outcomes if o.status in (OK, SLO_VIOLATED)]
        per_trace = {o.id: {"status": o.status, "score": o.score, "gpu_hours": o.metrics.get("gpu_hours"),
                            "static_gpu_hours": o.metrics.get("static_gpu_hours"),
                            "static_replicas": o.metrics.get("static_replicas"),
                            "p95_slowdown": o.metrics.get("p95_slowdown")} for o in outcomes}
        return {
            "gpu_hours": sum(o.metrics["gpu_hours"] for o in kept) if kept else None,
            "static_gpu_hours": sum(o.metrics["static_gpu_hours"] for o in outcomes),
            "slo_kept": sum(1 for o in outcomes if o.status == OK),
            "worst_p95_slowdown": max((o.metrics["p95_slowdown"] for o in kept), default=None),
            "mean_seconds": sum(o.seconds for o in outcomes) / len(outcomes) if outcomes else 0.0,
            "per_trace": per_trace,
        }

    def diagnostics(self, record: dict) -> list[str]:
        """Feedback's task lines, per trace: GPU-hours against the smallest static count, p95 slowdown."""
        lines = []
        for i in record["instances"]:
            m = i["metrics"]
            if "gpu_hours" not in m or m.get("gpu_hours") is None:
                continue
            lines.append(f"{i['id']}: {m['gpu_hours']:.2f} GPU-h (static {m['static_replicas']} replicas: "
                         f"{m['static_gpu_hours']:.2f}), p95 slowdown {m['p95_slowdown']:.2f}, {i['status']}")
        return lines

    def summary_columns(self) -> list[tuple[str, str]]:
        return [("gpu_hours", "GPU-hours (h)"), ("static_gpu_hours", "static GPU-hours (h)"),
                ("slo_kept", "SLO kept (traces)"), ("worst_p95_slowdown", "worst p95 slowdown (x ideal)"),
                ("mean_seconds", "wall s/trace")]

    def write_artifacts(self, cases, outcomes: Sequence[InstanceOutcome], directory: Path) -> list[Path]:
        """Replica count and load over time (CSV), slowdown percentiles (CSV), and a PNG per trace of
        replicas and load over time with the p95 slowdown over time against the SLO (plots.py)."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        timeline_path = directory / "timeline.csv"
        with timeline_path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(("trace",) + TIMELINE_FIELDS)
            for o in outcomes:
                for row in (o.detail or {}).get("timeline", ()):
                    out.writerow((o.id,) + tuple(row))
        written.append(timeline_path)
        slowdown_path = directory / "slowdowns.csv"
        with slowdown_path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["trace", "status", "gpu_hours", "static_gpu_hours"] + [f"p{p:g}_slowdown" for p in PERCENTILES])
            for o in outcomes:
                values = (o.detail or {}).get("slowdowns")
                cells = [float(np.percentile(values, p)) for p in PERCENTILES] if values else [""] * len(PERCENTILES)
                out.writerow([o.id, o.status, o.metrics.get("gpu_hours", ""), o.metrics.get("static_gpu_hours", "")] + cells)
        written.append(slowdown_path)
        for case, o in zip(cases, outcomes):
            if o.detail and o.detail.get("timeline"):
                written.append(self.plot(case, o, directory / f"{o.id}.png"))
        return written

    @staticmethod
    def plot(case, outcome: InstanceOutcome, path: Path) -> Path:
        """Replicas and load over time, and the p95 slowdown over time against the SLO (plots.py)."""
        from . import plots

        return plots.plot(case, outcome, settings(), path)

    def verify_instances(self, spec, set_names: Sequence[str]) -> list[tuple[str, str, bool]]:
        """Regenerate each set (traces and their static references) and compare with the pinned sha256."""
        from .generate import build_set

        report = []
        for name in set_names:
            entry = spec.sets[name]
            data, _ = build_set(name)
            digest = hashlib.sha256(data).hexdigest()
            stored = hashlib.sha256(spec.path(entry.file).read_bytes()).hexdigest()
            same = digest == entry.sha256 == stored
            report.append((name, f"regenerated {digest[:12]}, file {stored[:12]}, spec {entry.sha256[:12]}", same))
        return report


PLUGIN = Autoscaling()
