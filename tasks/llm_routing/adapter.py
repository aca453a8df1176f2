"""Child side of llm_routing: hold the submission's router object for one run and answer each call.

Protocol (payloads from the parent, one per call):
- `{"op": "init", "replicas": [[id, total_blocks, block_size], ...], "filename": ...}` builds a fresh
  mirror and a fresh `Router()`; a new simulation (seed) always starts with it.
- `{"op": "schedule", "call": [time, journal, counters]}` makes one schedule call: it replays the journal
  into the mirror, sets the router's attributes (vidur's global-scheduler names without the underscore)
  and calls `router.schedule()`. The parent sends the calls made while the global queue is empty (whose
  only valid answer is []) together with the next call that can dispatch, in one write; the child answers
  each on its own, so each keeps its own wall-clock limit (see adrs_bench/sandbox/remote.py).

The answer is the router's return value as plain data: a list of `[replica_id, request_id]` (request
objects become their ids), else `{"not_a_list": type name}`; an exception is the call's error. Nothing here is trusted by the parent, which validates every pair against
its own queue.
"""
from __future__ import annotations

from adrs_bench.sandbox.described import describe

from .mirror import Mirror, Request

ENTRY_POINT = "Router"
STATE: dict = {}  # this child's current run: {"mirror": Mirror, "router": the submission's object}


def plain(value):
    """JSON-safe data for one item of the answer; anything else becomes a short description."""
    if isinstance(value, Request):
        return value.id
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return describe(value)


def describe_answer(answer):
    if not isinstance(answer, list):
        return {"not_a_list": type(answer).__name__}
    pairs = []
    for item in answer:
        if isinstance(item, (tuple, list)):
            pairs.append([plain(part) for part in item])
        else:
            pairs.append(plain(item))
    return pairs


def run_call(namespace: dict, payload: dict):
    op = payload["op"]
    if op == "init":
        STATE.clear()
        STATE["filename"] = payload.get("filename", "")
        router_class = namespace.get(ENTRY_POINT)
        if not isinstance(router_class, type):
            raise TypeError(f"expected a class {ENTRY_POINT}, got {type(router_class).__name__}")
        STATE["mirror"] = Mirror(payload["replicas"])
        router = router_class()
        if not callable(getattr(router, "schedule", None)):
            raise TypeError(f"expected {ENTRY_POINT} to define schedule(self), got none")
        STATE["router"] = router
        return None
    if op != "schedule":
        raise ValueError(f"unknown operation {op!r}")
    return schedule_once(payload["call"])


def schedule_once(call: list):
    """One schedule call: `[time, journal, counters]`."""
    mirror, router = STATE["mirror"], STATE["router"]
    mirror.apply(call[0], call[1], call[2])
    router.current_time = mirror.time
    router.request_queue = mirror.request_queue()
    schedulers = mirror.replica_schedulers()
    router.replica_schedulers = schedulers
    router.num_replicas = len(schedulers)
    return describe_answer(router.schedule())
