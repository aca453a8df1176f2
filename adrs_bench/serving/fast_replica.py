"""The fast replica: decode planned as runs of many steps in closed form, the replica the tasks use.

Why: a busy replica takes a decode step every few tens of milliseconds, so a 1000 s trace has hundreds of
thousands of them; one event per step is the reference (step_replica.py) but too slow to score with. A
*decode run* is the steps until the next completion or the next step that would meet a full cache (at
most `MAX_RUN`). Per-replica counters over the running set (which requests need a block at which step,
when the next one finishes, the batch's total context) make a run cost O(1) per step and O(log n) per
request change. The rules are policy.py's; the results are the reference's, bit for bit (tests/serving).
"""
from __future__ import annotations

import bisect
import heapq
import itertools
from typing import Callable

from adrs_bench.serving import policy
from adrs_bench.serving.profile import checked_steps
from adrs_bench.serving.replica import DECODING, Replica, arrival_key
from adrs_bench.serving.request import Request

MAX_RUN = 512  # decode steps planned at most at once (bounds wasted planning)


class FastReplica(Replica):
    """Decode in runs. A running request's `generated` is brought up to date only when it leaves the
    running set; until then `Replica.generated_of` derives it from the replica's step count."""

    __slots__ = ("phase_counts", "ctx_sum", "ctx_step", "ctx_count", "finish_heap", "_decode_times")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # counters over the running set
        self.phase_counts = [0] * self.config.block_size  # requests needing a new block at each step phase
        self.ctx_sum = 0  # total context as of step ctx_step
        self.ctx_step = 0
        self.ctx_count = 0
        self.finish_heap: list[tuple[int, int, int, Request]] = []  # (finish step, id, token, request)
        self._decode_times: Callable[[int, int, int], list[float]] | None = getattr(self.profile, "decode_times",
                                                                                   None)

    def _plan_decode(self, now: float) -> float | None:
        block_size, num_blocks = self.config.block_size, self.config.num_blocks
        running = self.running
        steps = self.steps
        phase = steps % block_size
        need = self.phase_counts[phase]
        if policy.forms_without_preemption(need, num_blocks - self.allocated, running[-1].need_phase == phase):
            self.allocated += need
        elif not self._form_decode_step([r.need_phase == phase for r in running]):
            return None
        size = len(running)
        total = self.ctx_sum + size * (steps - self.ctx_step)
        limit = min(self._next_finish() - steps, MAX_RUN)
        # Steps run until the next completion or the first step that would meet a full cache (and so
        # preempt). Over any block_size consecutive steps every running request needs exactly one block,
        # so that step is found from one period's prefix sums.
        free = num_blocks - self.allocated
        if limit > 1 and self.waiting and policy.admits_head(self.waiting[0], free, size, self.config):
            # A request this pass preempted can be admitted again after this step; free blocks only
            # shrink inside a decode run, so if the head does not fit after a run's first step it never does.
            limit = 1
        if limit > 1 and free <= size * -(-(limit - 1) // block_size):
            limit = min(limit, self._steps_before_a_full_cache(free, size, running[-1].need_phase))
        if self._decode_times is not None:
            run_dt = self._decode_times(size, total, limit)
        elif self._decode_of is not None:
            decode_of = self._decode_of
            run_dt = [decode_of(size, total + j * size) for j in range(limit)]
        else:
            contexts = [r.prompt_tokens + self.generated_of(r) for r in running]
            run_dt = [self.profile.decode_time([c + j for c in contexts]) for j in range(limit)]
        checked_steps(run_dt, "decode_time")
        run_end = list(itertools.accumulate(run_dt, initial=now))
        del run_end[0]
        self.phase = DECODING
        self.run_dt, self.run_end = run_dt, run_end
        self.run_applied, self.run_size = 0, size
        return run_end[-1]

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

    def _apply(self, done: int) -> None:
        """`Replica._apply` over steps `run_applied .. done-1` of a run: the blocks held during step j are
        those of step j-1 plus the new ones its running requests need (the running set does not change
        inside a run)."""
        start, run_dt = self.run_applied, self.run_dt
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

    def _end_decode(self, now: float) -> list[Request]:
        heap, steps = self.finish_heap, self.steps
        done = []
        while heap and (heap[0][2] != heap[0][3].token or heap[0][0] <= steps):
            _, _, token, request = heapq.heappop(heap)
            if token == request.token:
                done.append(request)
        if done:
            done.sort(key=arrival_key)
            for request in done:
                index = bisect.bisect_left(self.running, arrival_key(request), key=arrival_key)
                del self.running[index]
                tokens = request.prompt_tokens + self.generated_of(request)
                self.allocated -= self._leave_running(request, tokens)
                request.generated = tokens - request.prompt_tokens
        return done

    def _next_finish(self) -> int:
        heap = self.finish_heap
        while heap[0][2] != heap[0][3].token:
            heapq.heappop(heap)
        return heap[0][0]

    def _join_running(self, request: Request) -> None:
        steps = self.steps
        tokens = request.prompt_tokens + request.generated
        request.need_phase = (steps + 1 - tokens) % self.config.block_size
        request.finish_step = steps + request.decode_tokens - request.generated
        self.phase_counts[request.need_phase] += 1
        self.ctx_sum += self.ctx_count * (steps - self.ctx_step) + tokens
        self.ctx_step = steps
        self.ctx_count += 1
        heapq.heappush(self.finish_heap, (request.finish_step, request.id, request.token, request))

    def _leave_running(self, request: Request, tokens: int) -> int:
        steps = self.steps
        self.phase_counts[request.need_phase] -= 1
        self.ctx_sum += self.ctx_count * (steps - self.ctx_step) - tokens
        self.ctx_step = steps
        self.ctx_count -= 1
        request.token += 1
        return -(-(tokens - 1) // self.config.block_size)  # the cached tokens (the newest is the next input)
