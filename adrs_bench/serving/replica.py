"""The replica entity: one replica's queues, KV blocks and batch in flight, and the life of its batches.

Why a base class: a replica forms batches by vLLM's rules (policy.py), runs prefills and keeps its
statistics the same way in both modes; only decode differs. Two subclasses plan decode:
- `FastReplica` (fast_replica.py) plans a *decode run*, many steps at once in closed form: the one the
  tasks use;
- `StepReplica` (step_replica.py) takes one step per event, updating every request: the reference the
  fast one is tested against, request by request and bit for bit.

Step end times are summed in the same order in both modes, so times are bit-identical. The batch in flight
is one entry per step in `run_dt`/`run_end` (a prefill or a one-step decode has one). A run is cut short
at the step in flight when a request is dispatched to the replica. Steps inside a run are applied lazily:
whenever something reads state that steps change (blocks, tokens processed or generated), the replica
first applies the steps finished by the simulation clock's time (`catch_up`), so a router that only
counts requests costs nothing per replica.

A request that an empty replica cannot admit (it needs more blocks than the replica minus the watermark,
as a lone request that outgrew the cache does once it restarts) ends the run with `RequestTooLarge`
instead of waiting forever.
"""
from __future__ import annotations

import bisect
from collections import deque
from typing import Callable

from adrs_bench.serving import policy
from adrs_bench.serving.config import ReplicaConfig
from adrs_bench.serving.errors import RequestTooLarge
from adrs_bench.serving.events import Clock
from adrs_bench.serving.journal import (JOURNAL_ADMIT, JOURNAL_DECODE_END, JOURNAL_ENQUEUE, JOURNAL_PREEMPT,
                                        JOURNAL_PREFILL_END)
from adrs_bench.serving.profile import Profile, checked_step
from adrs_bench.serving.request import DONE, PREFILL, RUNNING, WAITING, Request
from adrs_bench.serving.views import ReplicaView

STARTING, READY, DRAINING, GONE = "starting", "ready", "draining", "gone"
IDLE, PREFILLING, DECODING = 0, 1, 2


def arrival_key(request: Request) -> tuple[float, int]:
    """The running set's order (oldest arrival first), which is also the order a decode step schedules."""
    return (request.arrival_time, request.id)


class Replica:
    """A replica's state and the life of its batches. Driven by the simulator: `begin` starts the next
    batch and returns when it ends, `end` finishes it, `enqueue` adds a routed request, `sync` catches up
    a decode run. Readers (views, the bridge) ask it for a running request's tokens (`processed_tokens`).

    Subclasses define how decode is planned and ended (`_plan_decode`, `_end_decode`) and how a request
    joins and leaves the running set (`_join_running`, `_leave_running`)."""

    # Declared fields: a replica is read at every event, and slots keep those reads cheap.
    __slots__ = ("id", "clock", "config", "profile", "state", "requested_at", "ready_at", "left_at", "waiting",
                 "running", "prefilling", "allocated", "load", "steps", "phase", "epoch", "run_dt", "run_end",
                 "run_applied", "run_size", "kv_block_seconds", "busy_seconds", "tokens_generated",
                 "prefill_steps", "_decode_of", "view", "journal")

    def __init__(self, replica_id: int, config: ReplicaConfig, profile: Profile, clock: Clock, state: str,
                 requested_at: float, ready_at: float, journal: list | None = None):
        self.id = replica_id
        self.clock = clock
        self.config = config
        self.profile = profile
        self.state = state
        self.requested_at = requested_at
        self.ready_at = ready_at
        self.left_at: float | None = None
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []  # decoding requests, oldest arrival first
        self.prefilling: list[Request] = []  # the prefill batch in flight
        self.allocated = 0  # blocks held, including those taken for the step in flight
        self.load = 0  # requests waiting + running + prefilling (kept as they come and go: LLQ reads it)
        self.steps = 0  # decode steps applied so far
        self.phase = IDLE
        self.epoch = 0  # bumped when a planned end event is replaced
        # the batch in flight: one entry per step (a prefill or a one-step decode has one)
        self.run_dt: list[float] = []
        self.run_end: list[float] = []
        self.run_applied = 0
        self.run_size = 0
        # statistics
        self.kv_block_seconds = 0.0
        self.busy_seconds = 0.0
        self.tokens_generated = 0
        self.prefill_steps = 0
        self._decode_of: Callable[[int, int], float] | None = getattr(profile, "decode_time_of", None)
        self.view = ReplicaView(self)
        # A list of state changes a mirror (the sandboxed router's copy) replays (journal.py); None when
        # nobody mirrors.
        self.journal = journal

    # ----- what the simulator asks -------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.phase != IDLE

    def has_work(self) -> bool:
        return bool(self.waiting or self.running or self.prefilling)

    def enqueue(self, request: Request, now: float) -> float | None:
        """Add a routed request at the back of the waiting queue. If a decode run is planned past the step
        in flight, cut it there (the request's prefill has priority) and return the new end time."""
        request.state = WAITING
        request.replica = self
        request.replica_id = self.id
        request.routed_time = now
        self.waiting.append(request)
        self.load += 1
        if self.journal is not None:
            self.journal.append((JOURNAL_ENQUEUE, self.id, request.id))
        if self.phase == DECODING and len(self.run_end) > self.run_applied + 1:
            self.sync(now)
            keep = self.run_applied + 1
            if keep < len(self.run_end):
                del self.run_end[keep:], self.run_dt[keep:]
                self.epoch += 1
                return self.run_end[-1]
        return None

    def cut_at_boundary(self, now: float) -> bool:
        """If a step of the decode run in flight (not its last) ends exactly at `now`, make it the
        run's last step (its planned end event becomes stale) and return True."""
        run_end, last = self.run_end, len(self.run_end) - 1
        if self.run_applied and run_end[self.run_applied - 1] == now:
            raise AssertionError("simulator bug: a decode run was read at a completion instant before its end")
        index = bisect.bisect_left(run_end, now, self.run_applied, last)
        if index == last or run_end[index] != now:
            return False
        del run_end[index + 1:], self.run_dt[index + 1:]
        self.epoch += 1
        return True

    def catch_up(self) -> None:
        """Bring a decode run up to the clock's time (before anything reads step-dependent state)."""
        if self.phase == DECODING:
            self.sync(self.clock.now)

    def sync(self, now: float) -> None:
        """Apply the decode steps of the run in flight that ended by `now` (never the run's last step:
        its own event applies it)."""
        if self.phase == DECODING and self.run_applied < len(self.run_end) - 1:
            done = bisect.bisect_right(self.run_end, now, self.run_applied, len(self.run_end) - 1)
            if done > self.run_applied:
                self._apply(done)

    def begin(self, now: float) -> float | None:
        """Start the next batch at `now`; return the time its (first) event ends, or None if idle."""
        while True:
            if self.waiting:
                batch, free = policy.admit(self.waiting, self.config.num_blocks - self.allocated,
                                           len(self.running), self.config)
                self.allocated = self.config.num_blocks - free
                if batch:
                    return self._start_prefill(now, batch)
                if not self.running:
                    head = self.waiting[0]
                    raise RequestTooLarge(now, head.id, self.id, self.config.blocks_for(head.prefill_tokens),
                                          self.config.max_request_blocks)
            if not self.running:
                self.phase = IDLE
                return None
            end = self._plan_decode(now)
            if end is not None:
                return end
            # every running request was preempted: try to admit again (raises if it cannot fit)

    def end(self, now: float) -> list[Request]:
        """Finish the batch (or decode run) whose event fires at `now`; return the completed requests."""
        if self.phase == PREFILLING:
            done = self._end_prefill(now)
        else:
            self._apply(len(self.run_end))
            done = self._end_decode(now)
            if done and self.journal is not None:
                self.journal.append((JOURNAL_DECODE_END, self.id, [r.id for r in done]))
        self.phase = IDLE
        self.load -= len(done)
        for request in done:
            request.state = DONE
            request.completion_time = now
        return done

    # ----- what readers ask (views, the bridge) ------------------------------------------------------
    def generated_of(self, request: Request) -> int:
        """A request's output tokens so far, as of the replica's last applied step (a running request's
        count is lazy: its `generated` as of `base_step`, plus the decode steps since)."""
        if request.state == RUNNING:
            return request.generated + self.steps - request.base_step
        return request.generated

    def processed_tokens(self, request: Request) -> int:
        """Tokens of a running request whose KV the replica holds, at the clock's time (`generated_of`
        written out: routers may read it for every running request at every call)."""
        self.catch_up()
        return request.prompt_tokens + request.generated + self.steps - request.base_step

    # ----- prefill --------------------------------------------------------------------------------------
    def _start_prefill(self, now: float, batch: list[Request]) -> float:
        for request in batch:
            request.state = PREFILL
            if request.first_scheduled_time is None:
                request.first_scheduled_time = now
        dt = checked_step(self.profile.prefill_time([r.prefill_tokens for r in batch]), "prefill_time")
        self.prefilling = batch
        if self.journal is not None:
            self.journal.append((JOURNAL_ADMIT, self.id, len(batch)))
        self.phase = PREFILLING
        end = now + dt
        self.run_dt, self.run_end = [dt], [end]
        self.run_applied, self.run_size = 0, len(batch)
        return end

    def _end_prefill(self, now: float) -> list[Request]:
        dt = self.run_dt[0]
        self.kv_block_seconds += self.allocated * dt
        self.busy_seconds += dt
        self.prefill_steps += 1
        batch, self.prefilling = self.prefilling, []
        self.tokens_generated += len(batch)
        done = []
        for request in batch:
            request.generated += 1
            if request.first_token_time is None:
                request.first_token_time = now
            if request.generated >= request.decode_tokens:
                self.allocated -= request.blocks
                request.blocks = 0
                done.append(request)
            else:
                request.state = RUNNING
                request.base_step = self.steps
                bisect.insort(self.running, request, key=arrival_key)
                self._join_running(request)
        if self.journal is not None:
            self.journal.append((JOURNAL_PREFILL_END, self.id, [
                (r.id, None if r.state != RUNNING else r.prompt_tokens + r.generated - r.base_step)
                for r in batch]))
        return done

    # ----- decode -------------------------------------------------------------------------------------
    def _plan_decode(self, now: float) -> float | None:
        """Form the next decode step (preempting by the policy's rule) and plan the batch in flight; return
        when its event fires, or None if every running request was preempted."""
        raise NotImplementedError

    def _end_decode(self, now: float) -> list[Request]:
        """Finish the decode batch in flight (its steps applied): remove and return the completed requests."""
        raise NotImplementedError

    def _join_running(self, request: Request) -> None:
        """A request has just joined the running set (at the end of its prefill)."""
        raise NotImplementedError

    def _leave_running(self, request: Request, tokens: int) -> int:
        """A running request holding `tokens` tokens leaves the running set (preempted): return the blocks
        it held."""
        raise NotImplementedError

    def _form_decode_step(self, needs: list[bool]) -> bool:
        """Form a decode step that may preempt, by the policy's rule: the running set's new-block needs are
        `needs` (schedule order); blocks are taken (`allocated`) and victims preempted. Returns False if
        every running request was preempted."""
        free = policy.schedule_decode_step(self.running, needs, self.config.num_blocks - self.allocated,
                                           self._preempt)
        self.allocated = self.config.num_blocks - free
        return bool(self.running)

    def _preempt(self, request: Request) -> int:
        """Free a running request's blocks and put it at the front of the waiting queue to restart (the
        policy's victim); return the blocks freed."""
        generated = self.generated_of(request)
        tokens = request.prompt_tokens + generated
        freed = self._leave_running(request, tokens)
        request.blocks = 0
        request.generated = generated
        request.state = WAITING
        request.prefill_tokens = tokens
        request.restarts += 1
        request.preemptions += 1
        self.waiting.appendleft(request)
        if self.journal is not None:
            self.journal.append((JOURNAL_PREEMPT, self.id, request.id, tokens))
        return freed

    def _apply(self, done: int) -> None:
        """Apply steps `run_applied .. done-1` of the decode batch in flight: KV block-seconds, busy time,
        tokens generated and the step count, one step at a time in step order (the fast replica's runs
        of several steps sum the same way). Here a decode batch is one step."""
        dt = self.run_dt[0]
        self.kv_block_seconds += self.allocated * dt
        self.busy_seconds += dt
        self.tokens_generated += self.run_size
        self.steps += 1
        self.run_applied = done
