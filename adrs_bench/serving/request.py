"""The request entity and its input specification: plain data.

A request's decode length is what the simulator must know and a router must never see: it lives on
`Request` (trusted) and nowhere on the views routers read (views.py). `Request` has no behaviour: the
replica holding a request owns the rules that change it (replica.py), including the count of tokens
generated while a decode run is in flight.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Where a request is. Plain ints (not an Enum) because they are read in the simulator's hot loops.
QUEUED, WAITING, PREFILL, RUNNING, DONE = range(5)
STATE_NAMES = ("queued", "waiting", "prefill", "running", "done")


@dataclass(frozen=True)
class RequestSpec:
    """One request of a trace: when it arrives and how many tokens it reads and writes."""

    arrival_time: float
    prompt_tokens: int
    decode_tokens: int

    def check(self, index: int) -> None:
        """Raise ValueError naming the request if the spec cannot be simulated."""
        if not (isinstance(self.arrival_time, (int, float)) and math.isfinite(self.arrival_time)
                and self.arrival_time >= 0):
            raise ValueError(f"request {index}: arrival_time must be a finite number >= 0, got {self.arrival_time!r}")
        for name in ("prompt_tokens", "decode_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"request {index}: {name} must be an int >= 1, got {value!r}")


class Request:
    """A request inside one simulation (mutable; created by `Simulator.run`, never shared between runs).

    Token accounting follows vidur's `Request`: `generated` counts output tokens so far (the first one
    comes at the end of prefill); after a preemption the request restarts with
    `prefill_tokens = prompt_tokens + generated` (everything processed so far is recomputed in one
    prefill) and keeps `generated`, so it completes when `generated == decode_tokens`.

    While a request is RUNNING on a replica its `generated` is lazy: a replica advances all its decoding
    requests at once, and the fast one advances many steps without touching each request, so the true
    count is the replica's to give (`Replica.generated_of`): `generated` as of `base_step`, plus the
    replica's decode steps since.
    """

    __slots__ = (
        "id", "arrival_time", "prompt_tokens", "decode_tokens", "prefill_tokens", "generated", "base_step",
        "blocks", "restarts", "preemptions", "routed_time", "first_scheduled_time", "first_token_time",
        "completion_time", "replica_id", "replica", "state", "finish_step", "need_phase", "token", "view",
    )

    def __init__(self, request_id: int, arrival_time: float, prompt_tokens: int, decode_tokens: int):
        self.id = request_id
        self.arrival_time = arrival_time
        self.prompt_tokens = prompt_tokens
        self.decode_tokens = decode_tokens
        self.prefill_tokens = prompt_tokens
        self.generated = 0
        self.base_step = 0  # the replica's decode-step count when `generated` was last brought up to date
        self.blocks = 0  # blocks held (kept exactly by the step-by-step replica; the fast one derives them)
        self.restarts = 0
        self.preemptions = 0
        self.routed_time: float | None = None
        self.first_scheduled_time: float | None = None
        self.first_token_time: float | None = None
        self.completion_time: float | None = None
        self.replica_id: int | None = None
        self.replica: Any = None  # the replica holding it, once routed
        self.state = QUEUED
        self.finish_step = 0  # fast replica: its decode-step count at which the request completes
        self.need_phase = 0  # fast replica: a new block before step s+1 iff s % block_size == need_phase
        self.token = 0  # fast replica: bumped when it leaves the running set (invalidates heap entries)
        self.view: Any = None  # its read-only view (views.RequestView), made by the simulator

    def __repr__(self) -> str:
        return (f"Request(id={self.id}, state={STATE_NAMES[self.state]}, prompt={self.prompt_tokens}, "
                f"decode={self.decode_tokens}, generated={self.generated}@step{self.base_step}, "
                f"restarts={self.restarts})")
