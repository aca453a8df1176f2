"""The step-by-step reference replica: one event per decode step, every request updated explicitly.

Why keep it: it is the plain reading of vLLM's rules (policy.py), with nothing derived, and so the oracle
the fast replica is tested against (tests/serving: identical per-request and per-replica records, bit for
bit). `ClusterConfig(fast=False)` runs it; the tasks use the fast one.
"""
from __future__ import annotations

from adrs_bench.serving import policy
from adrs_bench.serving.profile import checked_step
from adrs_bench.serving.replica import DECODING, Replica
from adrs_bench.serving.request import Request


class StepReplica(Replica):
    """Decode one step at a time; each request keeps its exact block count (`Request.blocks`)."""

    __slots__ = ()

    def _plan_decode(self, now: float) -> float | None:
        block_size = self.config.block_size
        running = self.running
        tokens = [r.prompt_tokens + r.generated for r in running]
        needing = [r for r, t in zip(running, tokens) if (t - 1) % block_size == 0]
        if policy.forms_without_preemption(len(needing), self.config.num_blocks - self.allocated,
                                           bool(needing) and needing[-1] is running[-1]):
            for request in needing:
                request.blocks += 1
            self.allocated += len(needing)
        else:
            needs = [(t - 1) % block_size == 0 for t in tokens]
            if not self._form_decode_step(needs):
                return None
            for request, need in zip(running, needs):  # the requests left are those of the step
                if need:
                    request.blocks += 1
            del tokens[len(running):]
        if self._decode_of is not None:
            dt = self._decode_of(len(tokens), sum(tokens))
        else:
            dt = self.profile.decode_time(tokens)
        dt = checked_step(dt, "decode_time")
        end = now + dt
        self.phase = DECODING
        self.run_dt, self.run_end = [dt], [end]
        self.run_applied, self.run_size = 0, len(running)
        return end

    def _end_decode(self, now: float) -> list[Request]:
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

    def _join_running(self, request: Request) -> None:
        pass  # nothing derived to keep

    def _leave_running(self, request: Request, tokens: int) -> int:
        return request.blocks
