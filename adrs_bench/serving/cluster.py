"""The simulator: a global queue, a router, and replicas that may join (after a cold start) and leave.

The router (a callable taking a `Snapshot`) is called on every arrival, once per instant at which
batches end with at least one completion (vidur calls it only on arrivals, which strands requests a
router holds back), and when a replica becomes ready while requests wait. It returns
`(replica_id, request_id)` pairs to dispatch; requests it leaves out stay in the global queue. Its answer
is validated before anything is applied, and a bad answer ends the run with `RouterError`.

What anyone sees at time t does not depend on how simultaneous events were ordered: every batch that
ends at t ends before the router or the control policy is called at t. At an instant with completions
the router is called before the idle replicas form their next batch (as vidur's global scheduler runs
before its replica schedulers), so a request it dispatches at t can join the batch formed at t; the
replicas start their next batch once the router has answered. An arrival at the same instant is routed
after that (a replica that just started a decode step then makes it wait for that step). Fast and
step-by-step modes agree bit for bit even when events tie.

The run ends when every request has completed. If requests wait in the global queue while every
replica idles and nothing can change (no arrival left, no replica starting, no batch in flight), the run
ends with `Stalled` at once, or, when a control policy ticks, after `stall_ticks` such ticks in a row.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Callable

from adrs_bench.quote import clip, quote
from adrs_bench.serving.config import ClusterConfig
from adrs_bench.serving.errors import RouterError, Stalled
from adrs_bench.serving.events import Clock, EventKind, EventQueue
from adrs_bench.serving.fast_replica import FastReplica
from adrs_bench.serving.journal import JOURNAL_ARRIVAL
from adrs_bench.serving.metrics import ReplicaRecord, RequestRecord, RunResult
from adrs_bench.serving.profile import A10Llama3Profile, Profile
from adrs_bench.serving.replica import DECODING, DRAINING, GONE, READY, STARTING, Replica
from adrs_bench.serving.request import Request, RequestSpec
from adrs_bench.serving.step_replica import StepReplica
from adrs_bench.serving.views import ClusterView, ReadOnlyList, RequestView, Snapshot

STEP_END = int(EventKind.STEP_END)
REPLICA_READY = int(EventKind.REPLICA_READY)
REPLICA_REMOVE = int(EventKind.REPLICA_REMOVE)
ARRIVAL = int(EventKind.ARRIVAL)
CONTROL_TICK = int(EventKind.CONTROL_TICK)


Router = Callable[[Snapshot], Any]
TickCallback = Callable[[float, ClusterView], None]


def _is_int(value: Any) -> bool:
    """An integer of any integral type (numpy's included: np.argmin gives one); never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Simulator:
    """One simulation of `requests` (sorted by arrival; request i gets id i) on a cluster.

    Construction only stores and checks its inputs; `run()` (once) does the work. During a run, the
    control callback may call `add_replica(now)` and `remove_replica(now, replica_id)`.
    """

    def __init__(self, config: ClusterConfig, requests: Sequence[RequestSpec], router: Router,
                 profile: Profile | None = None, on_tick: TickCallback | None = None, journal: list | None = None):
        previous = -math.inf
        for index, spec in enumerate(requests):
            spec.check(index)
            if spec.arrival_time < previous:
                raise ValueError(f"request {index} arrives at {spec.arrival_time} before request {index - 1} "
                                 f"({previous}); sort the requests by arrival time")
            previous = spec.arrival_time
        self.config = config
        self.specs = tuple(requests)
        self.router = router
        self.profile = profile if profile is not None else A10Llama3Profile()
        self.on_tick = on_tick
        self.journal = journal  # if a list: every change a mirror of the queues needs (journal.py)
        self._started = False
        self._clock = Clock()

    @property
    def now(self) -> float:
        """The simulated time of the event being processed."""
        return self._clock.now

    # ----- control API (from the tick callback) ----------------------------------------------------------
    def add_replica(self, now: float) -> int:
        """Request a new replica now; it serves after the cold start and is charged from now."""
        self._check_now(now, "add_replica")
        replica = self._new_replica(STARTING, requested_at=now, ready_at=now + self.config.cold_start)
        self._events.push(replica.ready_at, EventKind.REPLICA_READY, replica)
        return replica.id

    def remove_replica(self, now: float, replica_id: int) -> None:
        """Stop sending requests to a replica; it leaves when its last request finishes (at once if idle
        or still starting)."""
        self._check_now(now, "remove_replica")
        replica = self._replicas.get(replica_id) if _is_int(replica_id) else None
        if replica is None or replica.state not in (READY, STARTING):
            live = [r.id for r in self._live if r.state in (READY, STARTING)]
            raise ValueError(f"remove_replica: replica {replica_id!r} is not ready or starting; "
                             f"removable replicas are {live}")
        replica.state = DRAINING
        self._refresh_accepting()
        self._events.push(now, EventKind.REPLICA_REMOVE, replica)

    def view(self) -> ClusterView:
        """The cluster at the current simulated time (used for the tick callback)."""
        self._check_now(self.now, "view")
        self._clock.reads += 1
        return ClusterView(self.now, tuple(r.view for r in self._live),
                           tuple(r.view for r in self._queue.values()), self._next_arrival,
                           len(self._completed), ReadOnlyList(self._completed))

    def _check_now(self, now: float, what: str) -> None:
        if not self._started or self._finished:
            raise RuntimeError(f"{what} is only available while the simulation runs (from the tick callback)")
        if now != self.now:
            raise ValueError(f"{what}: now={now!r} but the simulated time is {self.now!r}")

    # ----- the run ----------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        if self._started:
            raise RuntimeError("a Simulator runs once; build a new one (with a fresh router) to run again")
        self._started = True
        self._finished = False
        config = self.config
        self._events = events = EventQueue()
        clock = self._clock
        self._requests = [Request(i, s.arrival_time, s.prompt_tokens, s.decode_tokens)
                          for i, s in enumerate(self.specs)]
        for request in self._requests:
            request.view = RequestView(request)
        self._queue: dict[int, Request] = {}
        self._completed: list[RequestRecord] = []
        self._replicas: dict[int, Replica] = {}
        self._live: list[Replica] = []
        self._accepting: list[Replica] = []
        self._accepting_by_id: dict[int, Replica] = {}
        self._pending: list[Replica] = []
        self._next_replica_id = 0
        self._next_arrival = 0
        self._calls = 0
        self._stalled_ticks = 0
        processed = 0
        for _ in range(config.num_replicas):
            self._new_replica(READY, 0.0, 0.0)
        self._refresh_accepting()
        total = len(self._requests)
        if total:
            events.push(self._requests[0].arrival_time, EventKind.ARRIVAL, 0)
        if self.on_tick is not None and total:
            events.push(config.tick_interval, EventKind.CONTROL_TICK, 1)

        while len(self._completed) < total:
            if not events:
                self._raise_stalled()
            time, kind, _, payload = events.pop()
            if kind == STEP_END:
                replica, epoch = payload
                if epoch != replica.epoch:
                    continue
                clock.now = time
                done = replica.end(time)
                self._pending.append(replica)
                while events.next_is(time, EventKind.STEP_END):  # every batch ending now ends first
                    _, _, _, (other, epoch) = events.pop()
                    if epoch == other.epoch:
                        done += other.end(time)
                        self._pending.append(other)
                        processed += 1
                if done:  # the router runs before the idle replicas form their next batch
                    if config.fast:
                        self._end_runs_at(time)
                    done.sort(key=_request_id)
                    for request in done:
                        self._completed.append(_record(request))
                    self._route(time)
            elif kind == ARRIVAL:
                clock.now = time
                request = self._requests[payload]
                self._queue[request.id] = request
                if self.journal is not None:
                    self.journal.append((JOURNAL_ARRIVAL, request.id, request.arrival_time, request.prompt_tokens))
                self._next_arrival = payload + 1
                if payload + 1 < total:
                    events.push(self._requests[payload + 1].arrival_time, EventKind.ARRIVAL, payload + 1)
                self._route(time)
            elif kind == REPLICA_READY:
                if payload.state != STARTING:
                    continue
                clock.now = time
                payload.state = READY
                self._refresh_accepting()
                if self._queue:
                    self._route(time)
            elif kind == REPLICA_REMOVE:
                clock.now = time
                self._pending.append(payload)
            else:
                clock.now = time
                self._tick(time, payload)
            processed += 1
            if self._pending:
                self._start_pending(self.now)
            if self._queue and self.on_tick is None and self._nothing_can_happen():
                self._raise_stalled()

        self._finished = True
        end = self.now
        replicas = tuple(ReplicaRecord(
            id=r.id, requested_at=r.requested_at, ready_at=r.ready_at, left_at=r.left_at, end_time=end,
            total_blocks=r.config.num_blocks, kv_block_seconds=r.kv_block_seconds, busy_seconds=r.busy_seconds,
            tokens_generated=r.tokens_generated, decode_steps=r.steps, prefill_steps=r.prefill_steps,
        ) for r in self._replicas.values())
        records = tuple(sorted(self._completed, key=lambda record: record.id))
        return RunResult(records=records, replicas=replicas, end_time=end, events=processed,
                         router_calls=self._calls, fast=config.fast)

    def _new_replica(self, state: str, requested_at: float, ready_at: float) -> Replica:
        """The next replica (ids in order of request), fast or the step-by-step reference as configured."""
        kind = FastReplica if self.config.fast else StepReplica
        replica = kind(self._next_replica_id, self.config.replica, self.profile, self._clock, state,
                       requested_at, ready_at, self.journal)
        self._next_replica_id += 1
        self._replicas[replica.id] = replica
        self._live.append(replica)
        return replica

    def _end_runs_at(self, now: float) -> None:
        """Fast mode, before a router call at a completion instant: a decode run with a step ending
        exactly at `now` ends there (step by step, that step's own event would have ended it with the
        others at `now`), so the router sees that replica idle and its next batch forms after the call."""
        for replica in self._live:
            if replica.phase == DECODING and replica.cut_at_boundary(now):
                replica.end(now)  # a boundary inside a run completes nothing
                self._pending.append(replica)

    def _start_pending(self, now: float) -> None:
        pending, self._pending = self._pending, []
        for replica in pending:
            if replica.busy or replica.state == GONE:
                continue
            if replica.state in (READY, DRAINING):
                end = replica.begin(now)
                if end is not None:
                    self._events.push(end, EventKind.STEP_END, (replica, replica.epoch))
                    continue
            if replica.state == DRAINING and not replica.has_work():
                self._leave(replica, now)

    def _leave(self, replica: Replica, now: float) -> None:
        replica.state = GONE
        replica.left_at = now
        self._live.remove(replica)

    def _refresh_accepting(self) -> None:
        self._accepting = [r for r in self._live if r.state == READY]
        self._accepting_by_id = {r.id: r for r in self._accepting}
        self._accepting_views = tuple(r.view for r in self._accepting)

    def _nothing_can_happen(self) -> bool:
        if self._next_arrival < len(self._requests):
            return False
        return not any(r.busy or r.state == STARTING for r in self._live)

    def _raise_stalled(self) -> None:
        if not self._queue:
            raise AssertionError(f"simulator bug: no event left at t={self.now} with "
                                 f"{len(self._requests) - len(self._completed)} request(s) unfinished")
        raise Stalled(self.now, len(self._queue))

    def _tick(self, now: float, index: int) -> None:
        self.on_tick(now, self.view())
        if self._queue and self._nothing_can_happen():
            self._stalled_ticks += 1
            if self._stalled_ticks >= self.config.stall_ticks:
                self._raise_stalled()
        else:
            self._stalled_ticks = 0
        self._events.push((index + 1) * self.config.tick_interval, EventKind.CONTROL_TICK, index + 1)

    # ----- routing ----------------------------------------------------------------------------------------
    def _route(self, now: float) -> None:
        if not self._accepting:
            return
        self._calls += 1
        self._clock.reads += 1
        call = self._calls
        queue = self._queue
        snapshot = Snapshot(now, call, tuple(r.view for r in queue.values()), self._accepting_views)
        try:
            answer = self.router(snapshot)
        except Exception as exc:  # the router's own failure, reported as the router's
            raise RouterError(f"raised {clip(f'{type(exc).__name__}: {exc}')}", now, call) from exc
        pairs = self._validate(answer, now, call)
        for replica, request in pairs:
            del queue[request.id]
            end = replica.enqueue(request, now)
            if end is not None:
                self._events.push(end, EventKind.STEP_END, (replica, replica.epoch))
            self._pending.append(replica)

    def _validate(self, answer: Any, now: float, call: int) -> list[tuple[Replica, Request]]:
        if type(answer) is not list:
            raise RouterError(f"returned {type(answer).__name__}; expected a list of "
                              f"(replica_id, request_id) pairs", now, call)
        pairs = []
        seen: set[int] = set()
        for position, item in enumerate(answer):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise RouterError(f"item {position} is {quote(item)}; expected a (replica_id, request_id) "
                                  f"pair", now, call)
            replica_id, request_id = item
            if isinstance(request_id, RequestView):
                request_id = request_id.id
            replica = self._accepting_by_id.get(replica_id) if _is_int(replica_id) else None
            if replica is None:
                raise RouterError(f"item {position}: unknown replica id {quote(replica_id)}; replicas "
                                  f"accepting requests are {sorted(self._accepting_by_id)}", now, call)
            if not _is_int(request_id):
                raise RouterError(f"item {position}: request id {quote(request_id)} is not an int",
                                  now, call)
            if request_id in seen:
                raise RouterError(f"item {position}: request {request_id} is dispatched twice", now, call)
            request = self._queue.get(request_id)
            if request is None:
                raise RouterError(f"item {position}: request {request_id} is not in the global queue", now, call)
            seen.add(request_id)
            pairs.append((replica, request))
        return pairs


def _request_id(request: Request) -> int:
    return request.id


def _record(request: Request) -> RequestRecord:
    return RequestRecord(
        id=request.id, arrival_time=request.arrival_time, prompt_tokens=request.prompt_tokens,
        decode_tokens=request.decode_tokens, replica_id=request.replica_id, routed_time=request.routed_time,
        first_scheduled_time=request.first_scheduled_time, first_token_time=request.first_token_time,
        completion_time=request.completion_time, restarts=request.restarts, preemptions=request.preemptions)
