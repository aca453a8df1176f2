"""A discrete-event simulator of an LLM-serving cluster, shared by the llm_routing and autoscaling tasks.

Why its own package: both tasks need the same trusted model of vLLM's memory behaviour (paged KV cache,
prefill priority, preemption by recomputation) and the same metrics, and neither task may be able to
change it. The split follows vidur's (events, entities, schedulers) without its global counters,
side-effecting constructors or ineffective event tie-break. It knows nothing of the harness.

- `events`        the total event order `(time, kind priority, sequence number)` and the shared clock;
- `config`        the cluster's and each replica's configuration (2240 blocks of 16 tokens, watermark);
- `request`       the request entity (plain data) and a trace's request specification;
- `replica`       the replica entity: queues, KV blocks, the batch in flight, prefill, lazy decode steps;
- `policy`        vLLM's scheduling rules as vidur models them: admission, preemption of the youngest;
- `fast_replica`  the replica the tasks use: decode planned as runs of many steps in closed form;
- `step_replica`  the step-by-step reference replica, the fast one's test oracle;
- `views`         what routers and control policies read: live, read-only views;
- `journal`       the queue-change codes a mirror replays (imports nothing: the sandboxed child loads it);
- `cluster`       the simulator: global queue, router calls and their validation, replicas joining and leaving;
- `profile`       the execution-time model (the one pluggable place);
- `metrics`       per-request records, per-replica records and the run summary;
- `routers`       trusted in-process routers (least loaded) used by autoscaling and the benchmarks;
- `workload`      the ShareGPT request-length model both tasks' generators draw from;
- `errors`        the errors a simulation ends with (`ServingError`, not the harness's).

Importing the package loads none of them: each public name below loads its module on first use, so the
sandboxed child can import `journal` alone (it must hold no simulator).
"""
from __future__ import annotations

import importlib

_HOMES = {
    "A10Llama3Profile": "profile", "ClusterConfig": "config", "ClusterView": "views", "Profile": "profile",
    "ReplicaConfig": "config", "ReplicaRecord": "metrics", "ReplicaView": "views", "RequestRecord": "metrics",
    "RequestSpec": "request", "RequestTooLarge": "errors", "RequestView": "views", "RouterError": "errors",
    "RunResult": "metrics", "ServingError": "errors", "Simulator": "cluster", "Snapshot": "views",
    "Stalled": "errors", "Summary": "metrics", "TableProfile": "profile", "least_loaded": "routers",
    "solo_latency": "profile", "summarize": "metrics",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
