"""Child side of autoscaling: hold the submission's policy object for one run and answer each decide call.

Payloads: `{"op": "init", "filename": ...}` makes a fresh `Autoscaler()` (each trace starts with one);
`{"op": "decide", "metrics": {...}}` builds the read-only-by-convention `Metrics` the policy sees (plain
objects: a policy that edits them changes only its own copy) and calls `decide(metrics)`. The answer goes
back as plain data (an integer, including numpy's, as an int; anything else described), and the parent
checks it against the bounds.
"""
from __future__ import annotations

import numbers

from adrs_bench.sandbox.described import describe

ENTRY_POINT = "Autoscaler"
STATE: dict = {}


class Replica:
    """One replica as the metrics pipeline shows it."""

    def __init__(self, row):
        self.id, self.state, self.waiting, self.running, self.kv_usage, self.tokens_decoded = row

    def __repr__(self):
        return (f"Replica(id={self.id}, state={self.state!r}, waiting={self.waiting}, running={self.running}, "
                f"kv_usage={self.kv_usage:.3f}, tokens_decoded={self.tokens_decoded})")


class Finished:
    """A request that finished since the last call: time to first token, end-to-end time, slowdown."""

    def __init__(self, row):
        self.ttft, self.e2e, self.slowdown = row

    def __repr__(self):
        return f"Finished(ttft={self.ttft:.3f}, e2e={self.e2e:.3f}, slowdown={self.slowdown:.3f})"


class Metrics:
    """Everything `decide` sees at one call (see the task spec's signature)."""

    def __init__(self, data: dict):
        self.time = data["time"]
        self.interval = data["interval"]
        self.ready = data["ready"]
        self.starting = data["starting"]
        self.draining = data["draining"]
        self.queued = data["queued"]
        self.arrivals = data["arrivals"]
        self.min_replicas = data["min_replicas"]
        self.max_replicas = data["max_replicas"]
        self.replicas = [Replica(row) for row in data["replicas"]]
        self.finished = [Finished(row) for row in data["finished"]]

    def __repr__(self):
        return (f"Metrics(time={self.time}, ready={self.ready}, starting={self.starting}, "
                f"draining={self.draining}, arrivals={self.arrivals}, finished={len(self.finished)})")


def plain(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return describe(value)


def run_call(namespace: dict, payload: dict):
    op = payload["op"]
    if op == "init":
        STATE.clear()
        policy_class = namespace.get(ENTRY_POINT)
        if not isinstance(policy_class, type):
            raise TypeError(f"expected a class {ENTRY_POINT}, got {type(policy_class).__name__}")
        policy = policy_class()
        if not callable(getattr(policy, "decide", None)):
            raise TypeError(f"expected {ENTRY_POINT} to define decide(self, metrics), got none")
        STATE["policy"] = policy
        return None
    if op != "decide":
        raise ValueError(f"unknown operation {op!r}")
    return plain(STATE["policy"].decide(Metrics(payload["metrics"])))
