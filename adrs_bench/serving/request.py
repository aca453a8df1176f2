"""The request entity, its input specification, and the read-only view a router gets.

A request's decode length is what the simulator must know and the router must never see: it lives on
`Request` (trusted) and nowhere on `RequestView`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adrs_bench.serving.replica import Replica

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

    While a request is RUNNING on a replica its `generated` is lazy: the true value is
    `generated + replica.steps - base_step` (a replica advances all its decoding requests at once, and
    fast mode advances many steps without touching each request). Use `current_generated()`.
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
        self.base_step = 0
        self.blocks = 0  # blocks held (kept exactly in step-by-step mode; fast mode derives them)
        self.restarts = 0
        self.preemptions = 0
        self.routed_time: float | None = None
        self.first_scheduled_time: float | None = None
        self.first_token_time: float | None = None
        self.completion_time: float | None = None
        self.replica_id: int | None = None
        self.replica: Replica | None = None
        self.state = QUEUED
        self.finish_step = 0  # fast mode: the replica step count at which it completes
        self.need_phase = 0  # fast mode: it needs a new block before step s+1 iff s % block_size == need_phase
        self.token = 0  # fast mode: bumped when it leaves the running set (invalidates heap entries)
        self.view = RequestView(self)

    def current_generated(self) -> int:
        """Output tokens so far, as of the replica's last applied step (the simulator's own view)."""
        if self.state == RUNNING:
            return self.generated + self.replica.steps - self.base_step
        return self.generated

    def processed_tokens(self) -> int:
        """Tokens whose KV the replica holds or is computing, as vidur counts them (0 before prefill ends),
        at the clock's time (for readers outside the replica)."""
        if self.state == RUNNING:
            replica = self.replica
            replica.catch_up()
            return self.prompt_tokens + self.generated + replica.steps - self.base_step
        return 0

    def __repr__(self) -> str:
        return (f"Request(id={self.id}, state={STATE_NAMES[self.state]}, prompt={self.prompt_tokens}, "
                f"decode={self.decode_tokens}, generated={self.current_generated()}, restarts={self.restarts})")


class RequestView:
    """What a router may read about a request: never its decode length.

    Live and read-only: values are those at the simulated time of the call (a running request's replica
    is brought up to date when its processed tokens are read). Names follow vidur's `Request` where they exist there
    (`num_prefill_tokens`, `num_processed_tokens`, `num_restarts`) so routers written against vidur port
    by renaming.
    """

    __slots__ = ("_request",)

    def __init__(self, request: Request):
        self._request = request

    @property
    def id(self) -> int:
        return self._request.id

    @property
    def arrival_time(self) -> float:
        return self._request.arrival_time

    @property
    def prompt_tokens(self) -> int:
        """The prompt as submitted."""
        return self._request.prompt_tokens

    @property
    def prefill_tokens(self) -> int:
        """The prompt the next (or current) prefill computes: grows by the tokens kept at each restart."""
        return self._request.prefill_tokens

    @property
    def processed_tokens(self) -> int:
        return self._request.processed_tokens()

    @property
    def restarts(self) -> int:
        return self._request.restarts

    @property
    def replica_id(self) -> int | None:
        return self._request.replica_id

    @property
    def state(self) -> str:
        return STATE_NAMES[self._request.state]

    def __repr__(self) -> str:
        return (f"RequestView(id={self.id}, arrival_time={self.arrival_time}, prompt_tokens={self.prompt_tokens}, "
                f"processed_tokens={self.processed_tokens}, restarts={self.restarts}, state={self.state!r})")
