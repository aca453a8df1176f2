"""The router's copy of the cluster, kept in the sandboxed child by replaying the simulator's journal.

Why a mirror: the simulator and every metric stay in the trusted parent, and sending every queued and
running request at every call would cost more than the simulation (thousands of requests wait during a
burst). The parent sends only what changed since the previous call (the entries of
`adrs_bench.serving.journal`) plus each replica's decode-step count; this module rebuilds the queues
exactly and derives a running request's processed tokens from its replica's step count.

Trusted code that runs in the child next to the submission. Its state lives in underscored attributes,
which the guards keep out of the router's reach (except the few vidur names a Replica offers by design);
the router sees properties only. A
router that mutates what it sees changes nothing but its own copy. Decode lengths never get here.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from adrs_bench.sandbox.modules import private_aliases
# The journal's codes, from the one module that defines them; it imports nothing, so the child loads no
# simulator (whose objects hold decode lengths) with it.
from adrs_bench.serving.journal import (JOURNAL_ADMIT, JOURNAL_ARRIVAL, JOURNAL_DECODE_END, JOURNAL_ENQUEUE,
                                        JOURNAL_PREEMPT, JOURNAL_PREFILL_END)


class Request:
    """A request as the router sees it. Names follow vidur's `Request` (`arrived_at`,
    `num_prefill_tokens`, `num_processed_tokens`, `num_restarts`) with plain aliases; never the decode
    length."""

    __slots__ = ("_id", "_arrival", "_prompt", "_prefill", "_restarts", "_offset", "_replica", "_state")

    def __init__(self, request_id: int, arrival: float, prompt: int):
        self._id = request_id
        self._arrival = arrival
        self._prompt = prompt
        self._prefill = prompt
        self._restarts = 0
        self._offset = 0
        self._replica = None  # the MirrorReplica holding it
        self._state = "queued"

    @property
    def id(self) -> int:
        return self._id

    @property
    def arrival_time(self) -> float:
        return self._arrival

    arrived_at = arrival_time

    @property
    def prompt_tokens(self) -> int:
        """The prompt as submitted."""
        return self._prompt

    @property
    def prefill_tokens(self) -> int:
        """What the next prefill computes: the prompt, or everything processed before a restart."""
        return self._prefill

    num_prefill_tokens = prefill_tokens

    @property
    def processed_tokens(self) -> int:
        """Tokens whose KV cache the replica holds (0 until the prefill ends, as vidur counts)."""
        if self._state == "running":
            return self._offset + self._replica._steps
        return 0

    num_processed_tokens = processed_tokens

    @property
    def restarts(self) -> int:
        return self._restarts

    num_restarts = restarts

    @property
    def replica_id(self):
        return None if self._replica is None else self._replica._id

    @property
    def state(self) -> str:
        """'queued' (global queue), 'waiting' (a replica's queue), 'prefill', 'running'."""
        return self._state

    @property
    def is_prefill_complete(self) -> bool:
        return self._state == "running"

    def __repr__(self) -> str:
        return (f"Request(id={self._id}, arrived_at={self._arrival}, prompt_tokens={self._prompt}, "
                f"processed_tokens={self.processed_tokens}, restarts={self._restarts}, state={self._state!r})")


def _arrival_key(request: Request) -> tuple[float, int]:
    return (request._arrival, request._id)


@dataclass(frozen=True)
class SchedulerConfig:
    """A replica scheduler's `_config` as vidur names it (vidur's BaseReplicaSchedulerConfig): the KV
    cache's block size and block count."""

    block_size: int
    num_blocks: int


@private_aliases("_request_queue", "_config", "_replica_id", "_num_allocated_blocks")
class Replica:
    """A replica's scheduler as the router sees it (vidur's replica-scheduler names with plain aliases).
    `running` holds the requests with KV blocks: decoding ones (oldest arrival first), then the prefill
    batch in flight; `waiting` is the replica's queue, restarted requests first. vidur's underscore
    names `_request_queue`, `_config` (`block_size`, `num_blocks`), `_replica_id` and
    `_num_allocated_blocks` read as in vidur; no other underscore attribute is readable."""

    __slots__ = ("_id", "_total", "_block_size", "_waiting", "_decoding", "_prefilling", "_steps",
                 "_allocated", "_cache_call", "_cache_waiting", "_cache_running", "_calls", "_scheduler_config")

    def __init__(self, replica_id: int, total_blocks: int, block_size: int, calls: list):
        self._id = replica_id
        self._total = total_blocks
        self._block_size = block_size
        self._scheduler_config = SchedulerConfig(block_size, total_blocks)
        self._waiting: deque[Request] = deque()
        self._decoding: list[Request] = []
        self._prefilling: list[Request] = []
        self._steps = 0
        self._allocated = 0
        self._calls = calls  # a one-item list holding the call number (shared by every replica)
        self._cache_call = -1
        self._cache_waiting: list[Request] = []
        self._cache_running: list[Request] = []

    def _lists(self) -> None:
        if self._cache_call != self._calls[0]:
            self._cache_waiting = list(self._waiting)
            self._cache_running = self._decoding + self._prefilling
            self._cache_call = self._calls[0]

    @property
    def id(self) -> int:
        return self._id

    replica_id = _replica_id = id

    @property
    def waiting(self) -> list[Request]:
        self._lists()
        return self._cache_waiting

    @property
    def running(self) -> list[Request]:
        self._lists()
        return self._cache_running

    pending_queue = _request_queue = waiting  # vidur's names (Glia's fork: pending_queue)
    active_queue = running

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    num_pending_requests = num_waiting

    @property
    def num_running(self) -> int:
        return len(self._decoding) + len(self._prefilling)

    num_active_requests = num_running

    @property
    def num_requests(self) -> int:
        """Waiting plus running: the load least-loaded routing balances."""
        return len(self._waiting) + len(self._decoding) + len(self._prefilling)

    @property
    def allocated_blocks(self) -> int:
        return self._allocated

    num_allocated_blocks = _num_allocated_blocks = allocated_blocks

    @property
    def total_blocks(self) -> int:
        return self._total

    num_blocks = total_blocks

    @property
    def free_blocks(self) -> int:
        return self._total - self._allocated

    @property
    def block_size(self) -> int:
        return self._block_size

    @property
    def _config(self) -> SchedulerConfig:
        return self._scheduler_config

    @property
    def kv_usage(self) -> float:
        return self._allocated / self._total

    @property
    def memory_usage_percent(self) -> float:
        return self._allocated * 100 / self._total

    def __repr__(self) -> str:
        return (f"Replica(id={self._id}, waiting={self.num_waiting}, running={self.num_running}, "
                f"blocks={self._allocated}/{self._total})")


class Mirror:
    """The whole cluster as the router sees it; `apply` replays one call's journal and replica counters."""

    def __init__(self, replicas: list[list[int]]):
        self._calls = [0]
        self.time = 0.0
        self.requests: dict[int, Request] = {}
        self.queue: dict[int, Request] = {}
        self.replicas: dict[int, Replica] = {}
        self.accepting: list[int] = []
        for replica_id, total, block_size in replicas:
            self.replicas[replica_id] = Replica(replica_id, total, block_size, self._calls)

    def apply(self, time: float, journal: list, counters: list[list]) -> None:
        self._calls[0] += 1
        self.time = time
        requests, queue, replicas = self.requests, self.queue, self.replicas
        for entry in journal:
            kind = entry[0]
            if kind == JOURNAL_ARRIVAL:
                request = Request(entry[1], entry[2], entry[3])
                requests[request._id] = request
                queue[request._id] = request
            elif kind == JOURNAL_ENQUEUE:
                replica = replicas[entry[1]]
                request = queue.pop(entry[2])
                request._replica = replica
                request._state = "waiting"
                replica._waiting.append(request)
            elif kind == JOURNAL_ADMIT:
                replica = replicas[entry[1]]
                batch = [replica._waiting.popleft() for _ in range(entry[2])]
                for request in batch:
                    request._state = "prefill"
                replica._prefilling = batch
            elif kind == JOURNAL_PREFILL_END:
                replica = replicas[entry[1]]
                replica._prefilling = []
                for request_id, offset in entry[2]:
                    request = requests[request_id]
                    if offset is None:
                        request._state = "done"
                        del requests[request_id]
                    else:
                        request._state = "running"
                        request._offset = offset
                        bisect.insort(replica._decoding, request, key=_arrival_key)
            elif kind == JOURNAL_DECODE_END:
                replica = replicas[entry[1]]
                decoding = replica._decoding
                for request_id in entry[2]:
                    request = requests.pop(request_id)
                    request._state = "done"
                    del decoding[bisect.bisect_left(decoding, _arrival_key(request), key=_arrival_key)]
            elif kind == JOURNAL_PREEMPT:
                replica = replicas[entry[1]]
                request = requests[entry[2]]
                decoding = replica._decoding
                del decoding[bisect.bisect_left(decoding, _arrival_key(request), key=_arrival_key)]
                request._state = "waiting"
                request._prefill = entry[3]
                request._restarts += 1
                replica._waiting.appendleft(request)
            else:
                raise ValueError(f"unknown journal entry {entry!r}")
        accepting = []
        for replica_id, steps, allocated, total, block_size in counters:
            replica = replicas.get(replica_id)
            if replica is None:
                replica = replicas[replica_id] = Replica(replica_id, total, block_size, self._calls)
            replica._steps = steps
            replica._allocated = allocated
            accepting.append(replica_id)
        self.accepting = accepting

    def request_queue(self) -> list[Request]:
        """The global queue in arrival order."""
        return list(self.queue.values())

    def replica_schedulers(self) -> dict[int, Replica]:
        """The replicas accepting requests, by id."""
        replicas = self.replicas
        return {replica_id: replicas[replica_id] for replica_id in self.accepting}
