"""A discrete-event simulator of an LLM-serving cluster, shared by the llm_routing and autoscaling tasks.

Why its own package: both tasks need the same trusted model of vLLM's memory behaviour (paged KV cache,
prefill priority, preemption by recomputation) and the same metrics, and neither task may be able to
change it. The split follows vidur's (events, entities, schedulers) without its global counters,
side-effecting constructors or ineffective event tie-break:

- `events`   the total event order `(time, kind priority, sequence number)`;
- `request`  the request entity and the read-only view routers get;
- `profile`  the execution-time model (the one pluggable place);
- `replica`  one replica: vLLM's scheduler as vidur models it, KV-cache blocks, decode runs;
- `cluster`  the simulator: global queue, router calls and their validation, replicas joining and leaving;
- `metrics`  per-request records, per-replica records and the run summary;
- `routers`  trusted in-process routers (least loaded) used by autoscaling and the benchmarks.
"""
from __future__ import annotations

from adrs_bench.serving.cluster import ClusterConfig, ClusterView, Simulator, Snapshot
from adrs_bench.serving.errors import RequestTooLarge, RouterError, ServingError, Stalled
from adrs_bench.serving.metrics import ReplicaRecord, RequestRecord, RunResult, Summary, summarize
from adrs_bench.serving.profile import A10Llama3Profile, Profile, TableProfile, solo_latency
from adrs_bench.serving.replica import ReplicaConfig, ReplicaView
from adrs_bench.serving.request import RequestSpec, RequestView
from adrs_bench.serving.routers import least_loaded

__all__ = [
    "A10Llama3Profile", "ClusterConfig", "ClusterView", "Profile", "ReplicaConfig", "ReplicaRecord",
    "ReplicaView", "RequestRecord", "RequestSpec", "RequestTooLarge", "RequestView", "RouterError",
    "RunResult", "ServingError", "Simulator", "Snapshot", "Stalled", "Summary", "TableProfile",
    "least_loaded", "solo_latency", "summarize",
]
