"""A deliberately plain reference of vidur's vLLM replica scheduler, to cross-check adrs_bench.serving.

Written from the semantics (DESIGN.md §5 "llm_routing" and vidur's `VLLMReplicaScheduler`), not from the
simulator's code: one loop over events, one batch per event, integer tokens held on each request, every
block counted as it is taken and freed. It is slow on purpose: nothing is lazy, nothing is a closed form,
so each rule below can be read off the code.

- A global queue; the router gets a `RouterInput` (queued requests in arrival order, every replica's
  load and blocks) and returns `(replica_id, request_id)` pairs; requests it leaves out stay queued.
- The router runs at every arrival and, at every instant at which a request completes, once after all
  batches ending then have ended and before idle replicas form their next batch. An arrival at the same
  instant as batch ends comes after them.
- A free replica prefills if it can admit anyone (first come first served, stopping at the first that
  does not fit: blocks above the watermark, `requests x longest prompt <= max_batch_tokens` unless alone,
  at most `max_batch_requests` requests holding blocks); otherwise it decodes its running requests in
  arrival order, each taking its step only while a block is free, the youngest unscheduled one (or
  itself, when none is left) preempted while none is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence


@dataclass(frozen=True)
class ReferenceConfig:
    num_blocks: int = 2240
    block_size: int = 16
    watermark_fraction: float = 0.01
    max_batch_tokens: int = 8192
    max_batch_requests: int = 128

    @property
    def watermark(self) -> int:
        return int(self.watermark_fraction * self.num_blocks)


class TooLarge(Exception):
    """A request that cannot be admitted even into an empty replica."""


@dataclass
class Req:
    id: int
    arrival_time: float
    prompt_tokens: int
    decode_tokens: int
    prefill_tokens: int = 0
    generated: int = 0
    blocks: int = 0
    restarts: int = 0
    replica_id: int | None = None
    routed_time: float | None = None
    first_scheduled_time: float | None = None
    first_token_time: float | None = None
    completion_time: float | None = None

    def __post_init__(self) -> None:
        self.prefill_tokens = self.prompt_tokens


@dataclass
class Rep:
    id: int
    config: ReferenceConfig
    waiting: list[Req] = field(default_factory=list)  # index 0 is the front
    running: list[Req] = field(default_factory=list)  # decoding requests (they hold blocks)
    prefilling: list[Req] = field(default_factory=list)  # the prefill batch in flight
    decoding: list[Req] = field(default_factory=list)  # the decode batch in flight
    busy_until: float | None = None  # None: idle
    allocated: int = 0

    @property
    def free(self) -> int:
        return self.config.num_blocks - self.allocated

    @property
    def load(self) -> int:
        return len(self.waiting) + len(self.running) + len(self.prefilling)


class QueuedRequest(NamedTuple):
    id: int
    arrival_time: float
    prompt_tokens: int


class ReplicaState(NamedTuple):
    id: int
    num_waiting: int
    num_running: int  # decoding plus a prefill batch in flight
    allocated_blocks: int
    total_blocks: int
    waiting_prefill_tokens: tuple[int, ...]


class RouterInput(NamedTuple):
    time: float
    queue: tuple[QueuedRequest, ...]
    replicas: tuple[ReplicaState, ...]


class Outcome(NamedTuple):
    id: int
    replica_id: int
    routed_time: float
    first_scheduled_time: float
    first_token_time: float
    completion_time: float
    restarts: int


Router = Callable[[RouterInput], Sequence[tuple[int, int]]]


def least_loaded(view: RouterInput) -> list[tuple[int, int]]:
    """LLQ: each queued request, in arrival order, to the fewest waiting + running (lowest id on ties),
    counting the ones sent in this call."""
    loads = [r.num_waiting + r.num_running for r in view.replicas]
    pairs = []
    for request in view.queue:
        best = min(range(len(loads)), key=lambda i: (loads[i], view.replicas[i].id))
        pairs.append((view.replicas[best].id, request.id))
        loads[best] += 1
    return pairs


def capped_least_loaded(cap: int) -> Router:
    """LLQ that holds requests back while every replica already has `cap` requests (so requests wait in
    the global queue and only completions can release them)."""
    def route(view: RouterInput) -> list[tuple[int, int]]:
        loads = [r.num_waiting + r.num_running for r in view.replicas]
        pairs = []
        for request in view.queue:
            best = min(range(len(loads)), key=lambda i: (loads[i], view.replicas[i].id))
            if loads[best] >= cap:
                break
            pairs.append((view.replicas[best].id, request.id))
            loads[best] += 1
        return pairs
    return route


class Reference:
    def __init__(self, num_replicas: int, config: ReferenceConfig, rows: Sequence[tuple[float, int, int]],
                 router: Router, profile):
        self.config = config
        self.profile = profile
        self.router = router
        self.replicas = [Rep(i, config) for i in range(num_replicas)]
        self.requests = [Req(i, float(t), p, d) for i, (t, p, d) in enumerate(rows)]
        assert all(a.arrival_time <= b.arrival_time for a, b in zip(self.requests, self.requests[1:]))
        self.queue: list[Req] = []
        self.done = 0
        self.router_calls = 0

    # ----- the event loop ------------------------------------------------------------------------------
    def run(self) -> list[Outcome]:
        next_arrival = 0
        total = len(self.requests)
        while self.done < total:
            ends = [r.busy_until for r in self.replicas if r.busy_until is not None]
            next_end = min(ends) if ends else math.inf
            arrival = self.requests[next_arrival].arrival_time if next_arrival < total else math.inf
            if next_end == math.inf and arrival == math.inf:
                raise RuntimeError(f"stalled with {len(self.queue)} request(s) in the global queue")
            if next_end <= arrival:  # batch ends come before an arrival at the same instant
                now = next_end
                completed = 0
                for replica in self.replicas:
                    if replica.busy_until == now:
                        completed += self.end_batch(replica, now)
                if completed:
                    self.route(now)
            else:
                now = arrival
                self.queue.append(self.requests[next_arrival])
                next_arrival += 1
                self.route(now)
            for replica in self.replicas:
                if replica.busy_until is None:
                    self.start_batch(replica, now)
        return [Outcome(r.id, r.replica_id, r.routed_time, r.first_scheduled_time, r.first_token_time,
                        r.completion_time, r.restarts) for r in self.requests]

    def route(self, now: float) -> None:
        self.router_calls += 1
        view = RouterInput(
            now,
            tuple(QueuedRequest(r.id, r.arrival_time, r.prompt_tokens) for r in self.queue),
            tuple(ReplicaState(rep.id, len(rep.waiting), len(rep.running) + len(rep.prefilling), rep.allocated,
                               self.config.num_blocks, tuple(r.prefill_tokens for r in rep.waiting))
                  for rep in self.replicas))
        for replica_id, request_id in self.router(view):
            request = next(r for r in self.queue if r.id == request_id)
            self.queue.remove(request)
            request.replica_id = replica_id
            request.routed_time = now
            self.replicas[replica_id].waiting.append(request)

    # ----- one replica ---------------------------------------------------------------------------------
    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.config.block_size)

    def admit(self, replica: Rep) -> list[Req]:
        config = self.config
        admitted: list[Req] = []
        free = replica.free
        for request in replica.waiting:
            need = self.blocks_for(request.prefill_tokens)
            if free - need < config.watermark:
                break
            longest = max([r.prefill_tokens for r in admitted] + [request.prefill_tokens])
            if admitted and (len(admitted) + 1) * longest > config.max_batch_tokens:
                break
            if len(replica.running) + len(admitted) >= config.max_batch_requests:
                break
            admitted.append(request)
            free -= need
        return admitted

    def start_batch(self, replica: Rep, now: float) -> None:
        while True:
            admitted = self.admit(replica) if replica.waiting else []
            if admitted:
                for request in admitted:
                    replica.waiting.remove(request)
                    request.blocks = self.blocks_for(request.prefill_tokens)
                    replica.allocated += request.blocks
                    if request.first_scheduled_time is None:
                        request.first_scheduled_time = now
                replica.prefilling = admitted
                replica.busy_until = now + self.profile.prefill_time([r.prefill_tokens for r in admitted])
                return
            if not replica.running:
                if replica.waiting:
                    head = replica.waiting[0]
                    raise TooLarge(f"request {head.id} needs {self.blocks_for(head.prefill_tokens)} blocks")
                return  # idle
            batch = self.form_decode(replica)
            if batch:
                replica.decoding = batch
                contexts = [r.prompt_tokens + r.generated for r in batch]
                replica.busy_until = now + self.profile.decode_time(contexts)
                return
            # every running request was preempted: admit again (raises if the front cannot fit)

    def form_decode(self, replica: Rep) -> list[Req]:
        order = sorted(replica.running, key=lambda r: (r.arrival_time, r.id))
        scheduled: list[Req] = []
        while order:
            request = order[0]
            while replica.free == 0 and order:
                # the youngest not yet scheduled; when it is the only one left, that is itself
                self.preempt(replica, order.pop())
            if not order:
                break  # it preempted itself
            order.pop(0)
            if (request.prompt_tokens + request.generated - 1) % self.config.block_size == 0:
                request.blocks += 1  # its cached tokens fill whole blocks: the step needs a new one
                replica.allocated += 1
            scheduled.append(request)
        return scheduled

    def preempt(self, replica: Rep, request: Req) -> None:
        replica.running.remove(request)
        replica.allocated -= request.blocks
        request.blocks = 0
        request.prefill_tokens = request.prompt_tokens + request.generated
        request.restarts += 1
        replica.waiting.insert(0, request)

    def end_batch(self, replica: Rep, now: float) -> int:
        """Give each request of the batch its next token; return how many completed."""
        completed = 0
        if replica.prefilling:
            batch, replica.prefilling = replica.prefilling, []
            for request in batch:
                request.generated += 1
                if request.first_token_time is None:
                    request.first_token_time = now
                if request.generated == request.decode_tokens:
                    self.complete(replica, request, now)
                    completed += 1
                else:
                    replica.running.append(request)
        else:
            batch, replica.decoding = replica.decoding, []
            for request in batch:
                request.generated += 1
                if request.generated == request.decode_tokens:
                    replica.running.remove(request)
                    self.complete(replica, request, now)
                    completed += 1
        replica.busy_until = None
        return completed

    def complete(self, replica: Rep, request: Req, now: float) -> None:
        replica.allocated -= request.blocks
        request.blocks = 0
        request.completion_time = now
        self.done += 1


def simulate(rows: Sequence[tuple[float, int, int]], profile, router: Router = least_loaded,
             num_replicas: int = 1, **config) -> list[Outcome]:
    """Run the reference on `rows` of (arrival_time, prompt_tokens, decode_tokens); outcomes by id."""
    return Reference(num_replicas, ReferenceConfig(**config), rows, router, profile).run()
