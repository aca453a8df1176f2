"""The views routers and control policies read: live, read-only windows on the simulation.

Why views: a router or a policy must see the cluster as it is at the time of its call, cheaply, and
must not be able to change it or learn a request's decode length. Each view wraps one entity and offers
properties only (the underscored fields are out of reach of sandboxed code); values are read at the
call's simulated time, the replica first applying the decode steps finished by then.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from adrs_bench.serving.request import RUNNING, STATE_NAMES, Request

if TYPE_CHECKING:
    from adrs_bench.serving.metrics import RequestRecord
    from adrs_bench.serving.replica import Replica


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
        """Tokens whose KV the replica holds, as vidur counts them (0 before the prefill ends)."""
        request = self._request
        return request.replica.processed_tokens(request) if request.state == RUNNING else 0

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


class ReplicaView:
    """What a router or a control policy may read about a replica, at the time of the call.

    `running` lists the requests holding KV blocks (decoding, then the prefill batch in flight), as
    vidur's allocation map does; `waiting` is the replica's queue, restarted requests first.
    One view per replica, live: request lists are built on first access in each call and kept for the
    call, so a router that only counts pays nothing for them. Read-only: its attributes are properties
    without setters (the underscored fields are out of reach of sandboxed code).
    """

    __slots__ = ("_replica", "_read", "_waiting", "_running")

    def __init__(self, replica: Replica):
        self._replica = replica
        self._read = -1
        self._waiting: tuple[RequestView, ...] = ()
        self._running: tuple[RequestView, ...] = ()

    def _lists(self) -> None:
        replica = self._replica
        if self._read != replica.clock.reads:
            replica.catch_up()
            self._waiting = tuple(r.view for r in replica.waiting)
            self._running = tuple(r.view for r in replica.running) + tuple(r.view for r in replica.prefilling)
            self._read = replica.clock.reads

    @property
    def id(self) -> int:
        return self._replica.id

    @property
    def state(self) -> str:
        """'starting', 'ready', 'draining' (or 'gone')."""
        return self._replica.state

    @property
    def waiting(self) -> tuple[RequestView, ...]:
        self._lists()
        return self._waiting

    @property
    def running(self) -> tuple[RequestView, ...]:
        self._lists()
        return self._running

    @property
    def num_waiting(self) -> int:
        return len(self._replica.waiting)

    @property
    def num_running(self) -> int:
        return len(self._replica.running) + len(self._replica.prefilling)

    @property
    def num_requests(self) -> int:
        """Waiting plus running (the load least-loaded routing balances)."""
        return self._replica.load

    @property
    def allocated_blocks(self) -> int:
        self._replica.catch_up()
        return self._replica.allocated

    @property
    def total_blocks(self) -> int:
        return self._replica.config.num_blocks

    @property
    def free_blocks(self) -> int:
        self._replica.catch_up()
        return self._replica.config.num_blocks - self._replica.allocated

    @property
    def block_size(self) -> int:
        return self._replica.config.block_size

    @property
    def kv_usage(self) -> float:
        self._replica.catch_up()
        return self._replica.allocated / self._replica.config.num_blocks

    @property
    def tokens_generated(self) -> int:
        """Output tokens produced since the replica started (autoscaling's decode throughput)."""
        self._replica.catch_up()
        return self._replica.tokens_generated

    @property
    def requested_at(self) -> float:
        return self._replica.requested_at

    @property
    def ready_at(self) -> float:
        return self._replica.ready_at

    def __repr__(self) -> str:
        return (f"ReplicaView(id={self.id}, state={self.state!r}, waiting={self.num_waiting}, "
                f"running={self.num_running}, blocks={self.allocated_blocks}/{self.total_blocks})")


class Snapshot(NamedTuple):
    """What the router sees at one call: the global queue (arrival order) and the ready replicas that
    accept requests (id order). A named tuple: immutable and cheap to build on every call."""

    time: float
    call_index: int
    queue: tuple[RequestView, ...]
    replicas: tuple[ReplicaView, ...]


class ReadOnlyList(Sequence):
    """A read-only window on a list the simulator keeps growing (finished requests), O(1) to hand out."""

    __slots__ = ("_items",)

    def __init__(self, items: list):
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):
        return self._items[index]


class ClusterView(NamedTuple):
    """What a control policy sees at a tick: every replica not yet gone (starting, ready, draining) in id
    order, the global queue, and counts and records of the requests so far (`completed` in completion
    order: slice from the previous call's `num_completed` to get the new ones)."""

    time: float
    replicas: tuple[ReplicaView, ...]
    queue: tuple[RequestView, ...]
    num_arrived: int
    num_completed: int
    completed: Sequence[RequestRecord]
