"""One replica: vLLM's scheduler as vidur models it, over a paged KV cache.

Scheduling rules (DESIGN.md §5; vidur's `VLLMReplicaScheduler`, with the differences noted):
- A step is a prefill batch if any waiting request can be admitted, else a decode batch over every
  running request; the two are never mixed.
- Admission is first come first served from the waiting queue and stops at the first request that does
  not fit: it needs `free - ceil(prefill/16) >= watermark` (1% of blocks), `(admitted + 1) × longest
  prefill <= 8192` tokens and `running + admitted <= 128`. A lone request longer than 8192 tokens is
  admitted alone (vLLM would reject it and vidur would wait forever; restarts can make such prompts).
- Admitted requests take `ceil(prefill/16)` blocks; the end of prefill produces each one's next token.
- A decode step schedules the running requests oldest arrival first. A request whose cached tokens
  (`prompt + generated - 1`; the newest token is the step's input) fill whole blocks takes one more
  block. As in vidur, a request may take its step only while at least one block is free, whether or
  not it needs one: while none is free, the youngest request not yet scheduled in this step is
  preempted, repeatedly, and if the request being scheduled is itself the youngest left, it is the one
  preempted. A preempted request's blocks are freed, its prefill becomes everything processed so far
  and it goes to the front of the waiting queue (the last preempted first).
- Requests that have generated all their tokens free their blocks at the end of the step.
- A request that an empty replica cannot admit (it needs more blocks than the replica minus the
  watermark, as a lone request that outgrew the cache does once it restarts) ends the run with
  `RequestTooLarge` instead of waiting forever.

Two modes give the same results. Step by step (`fast=False`) is the reference: one event per step and
every request updated explicitly. Fast mode plans a *decode run*: the steps until the next completion
or the next step that would meet a full cache (at most `MAX_RUN`), using per-replica counters (which requests need a block
at which step, when the next one finishes, the batch's total context), so a run costs O(1) per step and
O(log n) per request change. Step end times are summed in the same order in both modes, so times are
bit-identical. A run is cut short at the step in flight when a request is dispatched to the replica.
Steps inside a run are applied lazily: whenever something reads state that steps change (blocks, tokens
processed or generated), the replica first applies the steps finished by the simulation clock's time,
so a router that only counts requests costs nothing per replica.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Callable

from adrs_bench.serving.errors import RequestTooLarge
from adrs_bench.serving.events import Clock
from adrs_bench.serving.profile import Profile
from adrs_bench.serving.request import DONE, PREFILL, RUNNING, WAITING, Request, RequestView

# Journal entries (first item), in the order the changes happen; a mirror replays them to rebuild the
# queues without being sent every request at every call. A running request's processed tokens are its
# offset plus the replica's decode steps, so decode steps themselves need no entry.
JOURNAL_ARRIVAL = 0  # (0, request_id, arrival_time, prompt_tokens): joins the global queue
JOURNAL_ENQUEUE = 1  # (1, replica_id, request_id): routed, at the back of the replica's waiting queue
JOURNAL_ADMIT = 2  # (2, replica_id, n): the first n waiting requests start a prefill batch
JOURNAL_PREFILL_END = 3  # (3, replica_id, [(request_id, offset, or None if it completed), ...]): the batch ends
JOURNAL_DECODE_END = 4  # (4, replica_id, [request_id, ...]): these running requests complete
JOURNAL_PREEMPT = 5  # (5, replica_id, request_id, prefill_tokens): back to the front of waiting

STARTING, READY, DRAINING, GONE = "starting", "ready", "draining", "gone"
IDLE, PREFILLING, DECODING = 0, 1, 2
MAX_RUN = 512  # fast mode plans at most this many decode steps at once (bounds wasted planning)


def _arrival_key(request: Request) -> tuple[float, int]:
    return (request.arrival_time, request.id)


@dataclass(frozen=True)
class ReplicaConfig:
    """One replica's memory and batch limits (Glia's A10 + Llama-3-8B setup, DESIGN.md §5)."""

    num_blocks: int = 2240
    block_size: int = 16
    watermark_fraction: float = 0.01
    max_batch_tokens: int = 8192
    max_batch_requests: int = 128

    def __post_init__(self) -> None:
        for name in ("num_blocks", "block_size", "max_batch_tokens", "max_batch_requests"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ReplicaConfig.{name} must be an int >= 1, got {value!r}")
        if not 0 <= self.watermark_fraction < 1:
            raise ValueError(f"ReplicaConfig.watermark_fraction must be in [0, 1), got {self.watermark_fraction!r}")

    @property
    def watermark_blocks(self) -> int:
        return int(self.watermark_fraction * self.num_blocks)


class Replica:
    """A replica's state and scheduler. Driven by the simulator: `begin` starts the next batch and returns
    when it ends, `end` finishes it, `enqueue` adds a routed request, `sync` catches up a decode run."""

    def __init__(self, replica_id: int, config: ReplicaConfig, profile: Profile, fast: bool, clock: Clock,
                 state: str, requested_at: float, ready_at: float):
        self.id = replica_id
        self.clock = clock
        self.config = config
        self.profile = profile
        self.fast = fast
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
        # fast mode counters over the running set
        self.phase_counts = [0] * config.block_size
        self.ctx_sum = 0
        self.ctx_step = 0
        self.ctx_count = 0
        self.finish_heap: list[tuple[int, int, int, Request]] = []
        self._decode_of: Callable[[int, int], float] | None = getattr(profile, "decode_time_of", None)
        self._decode_times: Callable[[int, int, int], list[float]] | None = getattr(profile, "decode_times", None)
        self._watermark = config.watermark_blocks
        self.view = ReplicaView(self)
        # A list of state changes a mirror (the sandboxed router's copy) replays; None when nobody mirrors.
        self.journal: list | None = None

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
                batch = self._admit()
                if batch:
                    return self._start_prefill(now, batch)
                if not self.running:
                    head = self.waiting[0]
                    blocks = -(-head.prefill_tokens // self.config.block_size)
                    raise RequestTooLarge(now, head.id, self.id, blocks,
                                          self.config.num_blocks - self.config.watermark_blocks)
            if not self.running:
                self.phase = IDLE
                return None
            end = self._plan_run(now) if self.fast else self._plan_step(now)
            if end is not None:
                return end
            # every running request was preempted: try to admit again (raises if it cannot fit)

    def end(self, now: float) -> list[Request]:
        """Finish the batch (or decode run) whose event fires at `now`; return the completed requests."""
        if self.phase == PREFILLING:
            done = self._end_prefill(now)
        else:
            self._apply(len(self.run_end))
            done = self._end_decode_fast(now) if self.fast else self._end_decode_step(now)
            if done and self.journal is not None:
                self.journal.append((JOURNAL_DECODE_END, self.id, [r.id for r in done]))
        self.phase = IDLE
        self.load -= len(done)
        for request in done:
            request.state = DONE
            request.completion_time = now
        return done

    # ----- prefill --------------------------------------------------------------------------------------
    def _admit(self) -> list[Request]:
        config = self.config
        block_size, watermark = config.block_size, self._watermark
        free = config.num_blocks - self.allocated
        room = config.max_batch_requests - len(self.running)
        batch: list[Request] = []
        longest = 0
        waiting = self.waiting
        while waiting and len(batch) < room:
            request = waiting[0]
            need = -(-request.prefill_tokens // block_size)
            if free - need < watermark:
                break
            new_longest = max(longest, request.prefill_tokens)
            if batch and (len(batch) + 1) * new_longest > config.max_batch_tokens:
                break
            waiting.popleft()
            free -= need
            request.blocks = need
            longest = new_longest
            batch.append(request)
        self.allocated = config.num_blocks - free
        return batch

    def _start_prefill(self, now: float, batch: list[Request]) -> float:
        for request in batch:
            request.state = PREFILL
            if request.first_scheduled_time is None:
                request.first_scheduled_time = now
        dt = _checked(self.profile.prefill_time([r.prefill_tokens for r in batch]), "prefill_time")
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
                bisect.insort(self.running, request, key=_arrival_key)
                if self.fast:
                    self._fast_add(request)
        if self.journal is not None:
            self.journal.append((JOURNAL_PREFILL_END, self.id, [
                (r.id, None if r.state != RUNNING else r.prompt_tokens + r.generated - r.base_step)
                for r in batch]))
        return done

    # ----- decode, step by step (the reference) ---------------------------------------------------------
    def _plan_step(self, now: float) -> float | None:
        block_size, num_blocks = self.config.block_size, self.config.num_blocks
        running = self.running
        tokens = [r.prompt_tokens + r.generated for r in running]
        needing = [r for r, t in zip(running, tokens) if (t - 1) % block_size == 0]
        if _no_request_meets_a_full_cache(len(needing), num_blocks - self.allocated,
                                          bool(needing) and needing[-1] is running[-1]):
            for request in needing:
                request.blocks += 1
            self.allocated += len(needing)
        else:
            i = 0
            while i < len(running):
                request = running[i]
                if self.allocated == num_blocks and self._preempt_until_free(request):
                    break
                if (request.prompt_tokens + request.generated - 1) % block_size == 0:
                    self.allocated += 1
                    request.blocks += 1
                i += 1
            if not running:
                return None
            tokens = [r.prompt_tokens + r.generated for r in running]
        if self._decode_of is not None:
            dt = self._decode_of(len(tokens), sum(tokens))
        else:
            dt = self.profile.decode_time(tokens)
        dt = _checked(dt, "decode_time")
        end = now + dt
        self.phase = DECODING
        self.run_dt, self.run_end = [dt], [end]
        self.run_applied, self.run_size = 0, len(running)
        return end

    def _end_decode_step(self, now: float) -> list[Request]:
        steps = self.steps
        done = []
        for request in self.running:
            request.generated += 1
            request.base_step = steps
            if request.generated >= request.decode_tokens:
                done.append(request)
        if done:
            self.running = [r for r in self.running if r.generated < r.decode_tokens]
            for request in done:
                self.allocated -= request.blocks
                request.blocks = 0
        return done

    # ----- decode, fast ---------------------------------------------------------------------------------
    def _plan_run(self, now: float) -> float | None:
        block_size, num_blocks = self.config.block_size, self.config.num_blocks
        running = self.running
        steps = self.steps
        phase = steps % block_size
        counts = self.phase_counts
        need = counts[phase]
        if _no_request_meets_a_full_cache(need, num_blocks - self.allocated, running[-1].need_phase == phase):
            self.allocated += need
        else:
            free = num_blocks - self.allocated
            i, count = 0, len(running)
            while i < count:
                request = running[i]
                if free == 0:
                    if self._preempt_until_free(request):
                        break
                    free, count = num_blocks - self.allocated, len(running)
                if request.need_phase == phase:
                    free -= 1
                    self.allocated += 1
                i += 1
            if not running:
                return None
        size = len(running)
        total = self.ctx_sum + size * (steps - self.ctx_step)
        limit = min(self._next_finish() - steps, MAX_RUN)
        # Steps run until the next completion or the first step that would meet a full cache (and so
        # preempt). Over any block_size consecutive steps every running request needs exactly one block,
        # so that step is found from one period's prefix sums.
        free = num_blocks - self.allocated
        if limit > 1 and self.waiting and self._head_fits(free):
            limit = 1  # a request this pass preempted can be admitted again after this step
        if limit > 1 and free <= size * -(-(limit - 1) // block_size):
            limit = min(limit, self._steps_before_a_full_cache(free, size, running[-1].need_phase))
        if self._decode_times is not None:
            run_dt = self._decode_times(size, total, limit)
        elif self._decode_of is not None:
            decode_of = self._decode_of
            run_dt = [decode_of(size, total + j * size) for j in range(limit)]
        else:
            contexts = [r.prompt_tokens + r.current_generated() for r in running]
            run_dt = [self.profile.decode_time([c + j for c in contexts]) for j in range(limit)]
        _checked_all(run_dt, "decode_time")
        run_end = list(itertools.accumulate(run_dt, initial=now))
        del run_end[0]
        self.phase = DECODING
        self.run_dt, self.run_end = run_dt, run_end
        self.run_applied, self.run_size = 0, size
        return run_end[-1]

    def _head_fits(self, free: int) -> bool:
        """Whether `_admit` would admit the head of the waiting queue with `free` blocks free. Free blocks
        only shrink inside a decode run, so if it does not fit after a run's first step it never does."""
        config = self.config
        need = -(-self.waiting[0].prefill_tokens // config.block_size)
        return len(self.running) < config.max_batch_requests and free - need >= self._watermark

    def _steps_before_a_full_cache(self, free: int, size: int, youngest_phase: int) -> int:
        """How many steps of a decode run (the first, already allocated, included) run before one would
        meet a full cache: the first later step whose needs exhaust `free` while a request is still to be
        scheduled after the last one served (so unless the youngest request takes the last block)."""
        if free == 0:
            return 1
        block_size, counts, steps = self.config.block_size, self.phase_counts, self.steps
        periods = (free - 1) // size  # whole periods that leave at least one block free
        taken = periods * size
        for offset in range(1, block_size + 1):
            step_phase = (steps + offset) % block_size
            taken += counts[step_phase]
            if taken > free:
                return periods * block_size + offset
            if taken == free:
                return periods * block_size + offset + (1 if youngest_phase == step_phase else 0)
        raise AssertionError("simulator bug: a period of decode steps took fewer blocks than it holds requests")

    def _end_decode_fast(self, now: float) -> list[Request]:
        heap, steps = self.finish_heap, self.steps
        done = []
        while heap and (heap[0][2] != heap[0][3].token or heap[0][0] <= steps):
            _, _, token, request = heapq.heappop(heap)
            if token == request.token:
                done.append(request)
        if done:
            done.sort(key=_arrival_key)
            block_size = self.config.block_size
            for request in done:
                index = bisect.bisect_left(self.running, _arrival_key(request), key=_arrival_key)
                del self.running[index]
                tokens = request.prompt_tokens + request.current_generated()
                self._fast_remove(request, tokens)
                request.generated = tokens - request.prompt_tokens
                self.allocated -= -(-(tokens - 1) // block_size)
        return done

    def _next_finish(self) -> int:
        heap = self.finish_heap
        while heap[0][2] != heap[0][3].token:
            heapq.heappop(heap)
        return heap[0][0]

    def _fast_add(self, request: Request) -> None:
        steps = self.steps
        tokens = request.prompt_tokens + request.generated
        request.need_phase = (steps + 1 - tokens) % self.config.block_size
        request.finish_step = steps + request.decode_tokens - request.generated
        self.phase_counts[request.need_phase] += 1
        self.ctx_sum += self.ctx_count * (steps - self.ctx_step) + tokens
        self.ctx_step = steps
        self.ctx_count += 1
        heapq.heappush(self.finish_heap, (request.finish_step, request.id, request.token, request))

    def _fast_remove(self, request: Request, tokens: int) -> None:
        steps = self.steps
        self.phase_counts[request.need_phase] -= 1
        self.ctx_sum += self.ctx_count * (steps - self.ctx_step) - tokens
        self.ctx_step = steps
        self.ctx_count -= 1
        request.token += 1

    # ----- shared -----------------------------------------------------------------------------------------
    def _apply(self, done: int) -> None:
        """Apply steps `run_applied .. done-1` of the decode run in flight. The blocks held during step j
        are those of step j-1 plus the new ones its running requests need (the running set does not
        change inside a run). Sums run one step at a time, in step order, as in step-by-step mode."""
        start = self.run_applied
        run_dt = self.run_dt
        if len(run_dt) == 1:  # a one-step decode (step-by-step mode, or a run cut to one step)
            dt = run_dt[0]
            self.kv_block_seconds += self.allocated * dt
            self.busy_seconds += dt
        else:
            last = len(run_dt) - 1
            counts, block_size, base = self.phase_counts, self.config.block_size, self.steps - start + 1
            allocated, kv, busy = self.allocated, self.kv_block_seconds, self.busy_seconds
            for j in range(start, done):
                dt = run_dt[j]
                kv += allocated * dt
                busy += dt
                if j < last:
                    allocated += counts[(base + j) % block_size]
            self.kv_block_seconds, self.busy_seconds, self.allocated = kv, busy, allocated
        self.tokens_generated += self.run_size * (done - start)
        self.steps += done - start
        self.run_applied = done

    def _preempt_until_free(self, request: Request) -> bool:
        """vidur's rule as a running request is scheduled for its next decode step: while the cache has no
        free block, preempt the youngest request not yet scheduled in this step; if `request` is itself
        the youngest left, preempt it and return True (the step is formed)."""
        running, num_blocks = self.running, self.config.num_blocks
        while self.allocated == num_blocks:
            victim = running.pop()
            self._preempt(victim)
            if victim is request:
                return True
        return False

    def _preempt(self, request: Request) -> None:
        """Free a running request's blocks and put it at the front of the waiting queue to restart."""
        generated = request.current_generated()
        tokens = request.prompt_tokens + generated
        if self.fast:
            self._fast_remove(request, tokens)
            self.allocated -= -(-(tokens - 1) // self.config.block_size)
        else:
            self.allocated -= request.blocks
        request.blocks = 0
        request.generated = generated
        request.state = WAITING
        request.prefill_tokens = tokens
        request.restarts += 1
        request.preemptions += 1
        self.waiting.appendleft(request)
        if self.journal is not None:
            self.journal.append((JOURNAL_PREEMPT, self.id, request.id, tokens))


def _checked(seconds: float, what: str) -> float:
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"profile {what} returned {seconds!r}; expected a finite number of seconds > 0")
    return seconds


def _checked_all(seconds: list[float], what: str) -> None:
    if not min(seconds) > 0 or max(seconds) == float("inf"):
        bad = next(s for s in seconds if not 0 < s < float("inf"))
        raise ValueError(f"profile {what} returned {bad!r}; expected a finite number of seconds > 0")


def _no_request_meets_a_full_cache(needing: int, free: int, youngest_needs: bool) -> bool:
    """Whether a decode step forms without preemption: scheduling the running requests oldest first,
    each taking its new block if it needs one, none is reached while the cache is full. True when fewer
    blocks are needed than are free, or exactly as many and the youngest request takes the last one."""
    return needing < free or (needing == free and youngest_needs)


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
