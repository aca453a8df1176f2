"""Child side of llm_routing: hold the submission's router object for one run and answer each call.

Protocol (payloads from the parent, one per call):
- `{"op": "init", "replicas": [[id, total_blocks, block_size], ...], "filename": ...}` builds a fresh
  mirror and a fresh `Router()`; a new simulation (seed) always starts with it.
- `{"op": "batch", "calls": [[time, journal, counters], ...]}` makes several schedule calls in order:
  each replays its journal into the mirror, sets the router's attributes (vidur's global-scheduler names
  without the underscore) and calls `router.schedule()`. The parent batches the calls made while the
  global queue is empty (whose only valid answer is []) with the next call that can dispatch, which
  halves the round trips without skipping or reordering a call.

The reply: `{"answers": [...], "seconds": [...]}`, one per call made, plus `"failed": {index, status,
message}` if a call raised (the rest of the batch is not made). An answer is the router's return value
as plain data: a list of `[replica_id, request_id]` (request objects become their ids), else
`{"not_a_list": type name}`. Nothing here is trusted by the parent, which validates every pair against
its own queue.
"""
from __future__ import annotations

import time

from adrs_bench.sandbox.described import describe
from adrs_bench.sandbox.replies import describe_exception

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
    if op != "batch":
        raise ValueError(f"unknown operation {op!r}")
    answers, seconds = [], []
    for call in payload["calls"]:
        started = time.perf_counter()
        try:
            answers.append(schedule_once(call))
        except MemoryError:
            return {"answers": answers, "seconds": seconds,
                    "failed": {"index": len(answers), "status": "memory", "message": "ran out of memory (MemoryError)"}}
        except BaseException as exc:  # the router's failure: name the call it happened in
            return {"answers": answers, "seconds": seconds,
                    "failed": {"index": len(answers), "status": "error",
                               "message": "raised " + describe_exception(exc, STATE.get("filename", ""))}}
        seconds.append(time.perf_counter() - started)
    return {"answers": answers, "seconds": seconds}


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
