"""Trusted in-process routers: the fixed routing of the autoscaling task and the benchmarks' load.

(The llm_routing baselines are ordinary submissions under tasks/; these stay in the simulator's package
because autoscaling routes with LLQ in the trusted parent.)
"""
from __future__ import annotations

from adrs_bench.serving.views import Snapshot


def least_loaded(snapshot: Snapshot) -> list[tuple[int, int]]:
    """LLQ: send every queued request, in arrival order, to the replica with the fewest requests
    waiting plus running (lowest id on ties), counting the ones it has just sent.

    Trusted code, so it reads the replicas' queues directly rather than through their views: it runs
    at every arrival and its cost grows with the number of replicas."""
    if not snapshot.queue or not snapshot.replicas:
        return []
    replicas = [view._replica for view in snapshot.replicas]  # in id order
    loads = [r.load for r in replicas]
    pairs = []
    for request in snapshot.queue:
        best = loads.index(min(loads))
        pairs.append((replicas[best].id, request.id))
        loads[best] += 1
    return pairs
