"""Calls from a stateful task's trusted simulator into the sandboxed submission, under limits.

Both stateful tasks (a router called at every arrival and completion, an autoscaler every interval)
drive the child the same way: each call has its own wall-clock limit, all calls of a case share the
case's limit, and any failure ends the case with a status and a one-line message naming the call.
`call_many` sends several calls at once (the child answers them in order) and still gives each one its
own limit: answer i is awaited at most `call_seconds` past the moment answer i-1 arrived.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from .replies import ERROR, OK, TIMEOUT, Reply
from .session import SandboxSession


class CallAborted(Exception):
    """The submission failed a call (raised, timed out, crashed, ran out of memory) or answered outside
    the rules; ends the case with `status`."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class RemoteCaller:
    """One case's calls into `session`: per-call limit `call_seconds`, case limit `budget` (ending at
    the monotonic time `deadline`). `child_seconds` sums the time the child measured inside the calls."""

    def __init__(self, session: SandboxSession, call_seconds: float, deadline: float, budget: float,
                 who: str = "the submission", method: str = "the call", case: str = "case"):
        self.session, self.call_seconds, self.deadline, self.budget = session, call_seconds, deadline, budget
        self.who, self.method, self.case = who, method, case  # for messages: "the router", "schedule", "seed"
        self.child_seconds = 0.0
        self.wait_seconds = 0.0  # the parent blocked waiting for answers

    def call(self, payload: Any, where: str) -> Any:
        return self.call_many([payload], [where])[0]

    def call_many(self, payloads: Sequence[Any], wheres: Sequence[str]) -> list:
        """Each call's value, in order; raises CallAborted at the first call that fails."""
        now = time.monotonic()
        if now >= self.deadline:
            raise CallAborted(TIMEOUT, f"{wheres[0]}: {self.who} used up the per-{self.case} limit of "
                                        f"{self.budget:g} s; make {self.method} faster")
        started = time.perf_counter()
        values = []
        failed = self.session.post_many(list(payloads), None, self.deadline)
        if failed is not None:
            raise CallAborted(failed.status, f"{wheres[0]}: {failed.message}")
        answered = time.monotonic()
        try:
            for index, where in enumerate(wheres):
                limit = answered + self.call_seconds
                reply = self.session.collect(min(limit, self.deadline))
                answered = time.monotonic()
                self.child_seconds += reply.seconds
                if reply.status != OK:
                    self.abandon(index + 1, len(payloads))
                    raise CallAborted(reply.status, f"{where}: {self.explain(reply, limit)}")
                if reply.seconds > self.call_seconds:
                    self.abandon(index + 1, len(payloads))
                    raise CallAborted(TIMEOUT, f"{where}: {self.method} took {reply.seconds:.3f} s, over the per-call "
                                               f"limit of {self.call_seconds:g} s")
                values.append(reply.value)
        finally:
            self.wait_seconds += time.perf_counter() - started
        return values

    def explain(self, reply: Reply, limit: float) -> str:
        if reply.status == ERROR:
            return "raised " + reply.message
        if reply.status != TIMEOUT or "wall-clock" not in reply.message:
            return reply.message
        if limit >= self.deadline:
            return f"the per-{self.case} limit of {self.budget:g} s ran out during the call; {reply.message}"
        return f"no answer within the per-call limit of {self.call_seconds:g} s; {reply.message}"

    def abandon(self, collected: int, posted: int) -> None:
        """Calls posted but not collected would answer into the next case: end the child instead (the
        next case starts a new one)."""
        if collected < posted:
            self.session.stop()
