"""Trusted in-process routers: the fixed routing of the autoscaling task and the benchmarks' load.

(The llm_routing baselines are ordinary submissions under tasks/; these stay in the simulator's package
because autoscaling routes with LLQ in the trusted parent.)
"""
from __future__ import annotations

from adrs_bench.serving.cluster import Snapshot


def least_loaded(snapshot: Snapshot) -> list[tuple[int, int]]:
    """LLQ: send every queued request, in arrival order, to the replica with the fewest requests
    waiting plus running (lowest id on ties), counting the ones it has just sent."""
    if not snapshot.queue or not snapshot.replicas:
        return []
    loads = [[r.num_requests, r.id] for r in snapshot.replicas]
    pairs = []
    for request in snapshot.queue:
        best = min(loads)
        pairs.append((best[1], request.id))
        best[0] += 1
    return pairs
