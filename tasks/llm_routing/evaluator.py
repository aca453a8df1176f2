"""llm_routing's scoring rule, in one place: per seed, speedup = LLQ's mean end-to-end time / the
router's, both simulated by the same trusted simulator on the same trace. A failed seed scores 0.

LLQ's figure is computed here, in process, with the simulator's own least-loaded router (not frozen
in the instance files), so the reference always comes from the evaluator that scores the submission;
it is deterministic and costs well under a second per seed.
"""
from __future__ import annotations

import functools
import math

from adrs_bench.errors import AdrsError
from adrs_bench.serving import ClusterConfig, RunResult, ServingError, Simulator, Summary, least_loaded
from adrs_bench.serving.metrics import quantile_profile

from .instance import REPLICA, Trace

FAILED_SCORE = 0.0
CLUSTER = ClusterConfig(num_replicas=4, replica=REPLICA)  # Glia: 4 x (A10 + Llama-3-8B), serving.config's replica

SUMMARY_FIELDS = ("mean_e2e", "p50_e2e", "p90_e2e", "p99_e2e", "mean_ttft", "p90_ttft", "mean_tpot",
                  "preemptions", "restarted_requests", "mean_global_queueing", "mean_replica_queueing",
                  "mean_kv_utilisation", "makespan")


class ReferenceFailed(AdrsError):
    """The trusted LLQ run on a trace ended with a simulator error, so the trace cannot be scored (it
    cannot happen with a trace the generator or the parser accepted)."""


@functools.lru_cache(maxsize=32)
def llq_summary(trace: Trace) -> Summary:
    """Least-loaded routing on this trace (the score's denominator)."""
    from .bridge import request_specs

    try:
        return Simulator(CLUSTER, request_specs(trace), least_loaded).run().summary()
    except ServingError as exc:  # the simulator knows no harness: say it as the harness's one-line error
        raise ReferenceFailed(f"LLQ reference on trace seed {trace.seed}: {exc}") from exc


def speedup(reference_mean: float, mean: float) -> float:
    """Higher is better; 1.0 is LLQ. A non-finite or non-positive mean cannot happen for a completed
    run (every request takes time); it scores as failed rather than as infinitely fast."""
    if not (math.isfinite(mean) and mean > 0):
        return FAILED_SCORE
    return reference_mean / mean


def reference_metrics(trace: Trace) -> dict:
    llq = llq_summary(trace)
    return {"requests": len(trace), "llq_mean_e2e": llq.mean_e2e,
            "llq_restarted_share": llq.restarted_requests / llq.requests}


def seed_metrics(trace: Trace, result: RunResult) -> tuple[float, dict]:
    summary = result.summary()
    metrics = reference_metrics(trace)
    metrics.update({name: getattr(summary, name) for name in SUMMARY_FIELDS})
    metrics["restarted_share"] = summary.restarted_requests / summary.requests
    metrics["e2e_quantiles"] = quantile_profile([r.e2e for r in result.records])  # for CDFs from records
    metrics["events"] = result.events
    metrics["router_calls"] = result.router_calls
    return speedup(metrics["llq_mean_e2e"], summary.mean_e2e), metrics
