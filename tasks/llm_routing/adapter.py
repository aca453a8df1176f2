"""Child side of llm_routing: hold the submission's router object for one run and answer each call.

Protocol (payloads from the parent, one per call):
- `{"op": "init", "replicas": [[id, total_blocks, block_size], ...], "filename": ...}` builds a fresh
  mirror and a fresh router; a new simulation (seed) always starts with it. The router is the class
  named `Router` (built as `Router()`), else the one class deriving from vidur's `BaseGlobalScheduler`
  (built as vidur builds it, with `(config, replicas)`: None and the replicas by id).
- `{"op": "schedule", "call": [time, journal, counters]}` makes one schedule call: it replays the journal
  into the mirror, sets the router's attributes (vidur's global-scheduler names without the underscore;
  with it too on a BaseGlobalScheduler) and calls `router.schedule()`. The queue it sees is a new list at
  every call, in arrival order: the router may sort, pop or rebind it; only what it returns is routed. The parent sends the calls made while the global queue is empty (whose
  only valid answer is []) together with the next call that can dispatch, in one write; the child answers
  each on its own, so each keeps its own wall-clock limit (see adrs_bench/sandbox/remote.py).

The answer is the router's return value as plain data: a list of `[replica_id, request_id]` (request
objects become their ids, integers of any integral type plain ints, bools stay bools, which the parent
refuses), else `{"not_a_list": type name}`; an exception is the call's error. Nothing here is trusted by the parent, which validates every pair against
its own queue.
"""
from __future__ import annotations

import numbers

from adrs_bench.sandbox.described import describe
from adrs_bench.sandbox.modules import is_own_class

from .mirror import Mirror, Request
from .vidur_compat import BaseGlobalScheduler

ENTRY_POINT = "Router"
STATE: dict = {}  # this child's current run: {"mirror": Mirror, "router": the submission's object}
# `Request` and `BaseGlobalScheduler` above are also what spec.json's compat_modules offer under vidur's
# module names (the child looks each name up in this module).


def plain(value):
    """JSON-safe data for one item of the answer; anything else becomes a short description."""
    if isinstance(value, Request):
        return value.id
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, numbers.Integral):  # numpy's integers: np.argmin(...) is a replica id
        return int(value)
    return describe(value)


def router_class(namespace: dict) -> type:
    """The class named Router, else the one class of the submission deriving from BaseGlobalScheduler
    that nothing else derives from (the rule checks.entry_subclass applies to the source)."""
    named = namespace.get(ENTRY_POINT)
    if isinstance(named, type):
        return named
    found = [value for value in namespace.values()
             if is_own_class(value) and issubclass(value, BaseGlobalScheduler)]
    leaves = [cls for cls in found if not any(other is not cls and issubclass(other, cls) for other in found)]
    if len(leaves) == 1:
        return leaves[0]
    if leaves:
        names = ", ".join(sorted(cls.__name__ for cls in leaves))
        raise TypeError(f"expected one class deriving from BaseGlobalScheduler, got {len(leaves)} ({names}); "
                        f"name the one to use {ENTRY_POINT}")
    raise TypeError(f"expected a class {ENTRY_POINT} or a class deriving from BaseGlobalScheduler, got "
                    f"{type(named).__name__ if named is not None else 'none'}")


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
        cls = router_class(namespace)
        mirror = STATE["mirror"] = Mirror(payload["replicas"])
        vidur_style = issubclass(cls, BaseGlobalScheduler)
        router = cls(None, dict(mirror.replicas)) if vidur_style else cls()
        if not callable(getattr(router, "schedule", None)):
            raise TypeError(f"expected {cls.__name__} to define schedule(self), got none")
        STATE["router"] = router
        STATE["vidur_style"] = vidur_style
        return None
    if op != "schedule":
        raise ValueError(f"unknown operation {op!r}")
    return schedule_once(payload["call"])


def schedule_once(call: list):
    """One schedule call: `[time, journal, counters]`."""
    mirror, router = STATE["mirror"], STATE["router"]
    mirror.apply(call[0], call[1], call[2])
    router.current_time = mirror.time
    queue = router.request_queue = mirror.request_queue()
    schedulers = router.replica_schedulers = mirror.replica_schedulers()
    router.num_replicas = len(schedulers)
    if STATE["vidur_style"]:
        router._request_queue = queue
        router._replica_schedulers = schedulers
        router._num_replicas = len(schedulers)
    return describe_answer(router.schedule())
