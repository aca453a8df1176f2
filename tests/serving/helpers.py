"""Small builders shared by the serving tests: hand-made traces on a fixed clock."""
from __future__ import annotations

from typing import Callable

from adrs_bench.serving import ClusterConfig, ReplicaConfig, RequestSpec, Simulator, TableProfile
from adrs_bench.serving.routers import least_loaded

ONE_SECOND = TableProfile(1.0)


def specs(*rows: tuple[float, int, int]) -> list[RequestSpec]:
    return [RequestSpec(float(t), p, d) for t, p, d in rows]


def config(fast: bool, num_replicas: int = 1, **replica) -> ClusterConfig:
    return ClusterConfig(num_replicas=num_replicas, replica=ReplicaConfig(**replica), fast=fast)


def to_replica(replica_id: int) -> Callable:
    """A router sending every queued request to one replica."""
    def route(snapshot):
        return [(replica_id, r.id) for r in snapshot.queue]
    return route


def run(rows, fast: bool, router=None, profile=ONE_SECOND, num_replicas: int = 1, on_tick=None,
        cluster: ClusterConfig | None = None, **replica):
    cluster = cluster or config(fast, num_replicas, **replica)
    return Simulator(cluster, specs(*rows), router or to_replica(0), profile, on_tick=on_tick).run()


class Probe:
    """A router for two replicas: requests with prompt_tokens == PROBE go to replica 1 (they only make
    the router run at chosen times), the rest to replica 0; it records replica 0's state at each call."""

    PROBE = 1

    def __init__(self):
        self.seen: list[dict] = []

    def __call__(self, snapshot):
        replica = next(r for r in snapshot.replicas if r.id == 0)
        self.seen.append({
            "time": snapshot.time, "allocated": replica.allocated_blocks,
            "waiting": [r.id for r in replica.waiting], "running": [r.id for r in replica.running],
            "processed": {r.id: r.processed_tokens for r in replica.running},
            "prefill": {r.id: r.prefill_tokens for r in replica.running + replica.waiting},
        })
        return [(1 if r.prompt_tokens == self.PROBE else 0, r.id) for r in snapshot.queue]

    def at(self, time: float) -> dict:
        return next(s for s in self.seen if s["time"] == time)


def probes(*times: float) -> list[tuple[float, int, int]]:
    return [(t, Probe.PROBE, 1) for t in times]


__all__ = ["ONE_SECOND", "Probe", "config", "least_loaded", "probes", "run", "specs", "to_replica"]
