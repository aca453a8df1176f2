"""Parent side of llm_routing: run the trusted simulator with the router answering from the sandboxed child.

The simulator, its journal and every metric stay here. Each router call sends the child only the journal
entries since the previous call and each replica's step and block counters (see mirror.py), waits for the
answer under the per-call and per-seed wall-clock limits, and hands the pairs to the simulator, which
validates them against its own queue. Whatever goes wrong ends the seed with a status and a one-line
message naming the call and the simulated time.
"""
from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

from adrs_bench.sandbox.described import restore
from adrs_bench.sandbox.remote import CallAborted, RemoteCaller
from adrs_bench.sandbox.replies import OK
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.serving import ClusterConfig, RequestSpec, RequestTooLarge, RouterError, RunResult, Simulator, Stalled
from adrs_bench.statuses import INVALID

from .instance import Trace

STALLED = "stalled"  # llm_routing's own status, declared in its spec.json
MAX_BATCH = 64  # calls sent together at most (a router that never dispatches is still heard from)
REPLICA_STATE_FIELDS = ("call", "time", "replica_id", "waiting", "running", "allocated_blocks")


@dataclass
class RouterStats:
    calls: int = 0
    child_seconds: float = 0.0  # inside the router's schedule (as the child measured it)
    wait_seconds: float = 0.0  # the parent blocked waiting for answers (the IPC cost the simulation sees)
    replica_states: array = field(default_factory=lambda: array("d"))  # flat rows of REPLICA_STATE_FIELDS


class SandboxedRouter:
    """The simulator's router callable: forwards each call to the child over the session."""

    def __init__(self, session: SandboxSession, journal: list, call_seconds: float, deadline: float,
                 seed_budget: float, record_states: bool = True, on_time=None):
        self.remote = RemoteCaller(session, call_seconds, deadline, seed_budget, "the router", "schedule", "seed")
        self.journal = journal
        self.record_states = record_states
        self.stats = RouterStats()
        self.outbox: list = []  # calls made while the queue was empty, not yet sent: ((call, time), call)
        self.on_time = on_time  # called with the simulated time at each call (progress within a seed)

    def __call__(self, snapshot):
        if self.on_time is not None:
            self.on_time(snapshot.time)
        counters = []
        states = self.stats.replica_states
        for view in snapshot.replicas:
            replica = view._replica
            replica.catch_up()
            counters.append([replica.id, replica.steps, replica.allocated, replica.config.num_blocks,
                             replica.config.block_size])
            if self.record_states:
                states.extend((snapshot.call_index, snapshot.time, replica.id, len(replica.waiting),
                               len(replica.running) + len(replica.prefilling), replica.allocated))
        self.outbox.append(((snapshot.call_index, snapshot.time), [snapshot.time, self.journal.copy(), counters]))
        self.journal.clear()
        if not snapshot.queue and len(self.outbox) < MAX_BATCH:
            # Nothing to route: the only valid answer is [], so the call waits to go with the next one
            # that can dispatch (it is still made, in order; `flush` checks its answer).
            return []
        return self.flush()

    def flush(self) -> list:
        """Send the batched calls (each under its own per-call limit), check every answer in order,
        return the last one's pairs."""
        if not self.outbox:
            return []
        batch, self.outbox = self.outbox, []
        wheres = [describe_call(where) for where, _ in batch]
        answers = self.remote.call_many([{"op": "schedule", "call": call} for _, call in batch], wheres)
        self.stats.calls += len(answers)
        self.stats.child_seconds = self.remote.child_seconds
        self.stats.wait_seconds = self.remote.wait_seconds
        pairs: list = []
        for index, answer in enumerate(answers):
            pairs = self._pairs(batch[index][0], answer)
            if pairs and index < len(batch) - 1:
                raise CallAborted(INVALID, f"{wheres[index]}: returned {len(pairs)} pair(s) while the "
                                           f"global queue was empty; expected []")
        return pairs

    @staticmethod
    def _pairs(where: tuple[int, float], answer) -> list:
        if isinstance(answer, dict):
            got = answer.get("not_a_list", "something else")
            raise CallAborted(INVALID, f"{describe_call(where)}: schedule returned {got}; expected a list of "
                                       f"(replica_id, request) pairs")
        if not isinstance(answer, list):
            raise CallAborted(INVALID, f"{describe_call(where)}: the child sent a malformed answer")
        return [tuple(restore(part) for part in item) if isinstance(item, list) else restore(item)
                for item in answer]


def describe_call(where: tuple[int, float]) -> str:
    return f"router call {where[0]} at t={where[1]:.6f} s"


@dataclass
class SeedRun:
    status: str
    message: str
    result: RunResult | None
    stats: RouterStats
    wall_seconds: float


def request_specs(trace: Trace) -> list[RequestSpec]:
    return [RequestSpec(t, p, d) for t, p, d in zip(trace.arrival_times, trace.prompt_tokens, trace.decode_tokens)]


def simulate_sandboxed(session: SandboxSession, trace: Trace, config: ClusterConfig, seed: int,
                       call_seconds: float, seed_budget: float, record_states: bool = True,
                       progress=None) -> SeedRun:
    """One seed: a fresh router object in the child, then the simulation with every call forwarded.
    `progress(share)` gets the share of the trace's simulated time done, at each router call."""
    started = time.monotonic()
    deadline = started + seed_budget
    stats = RouterStats()
    init = {"op": "init", "filename": session.filename,
            "replicas": [[i, config.replica.num_blocks, config.replica.block_size] for i in range(config.num_replicas)]}
    reply = session.call(init, seed, min(call_seconds, seed_budget))
    if reply.status != OK:
        return SeedRun(reply.status, f"creating Router(): {reply.message}", None, stats,
                       time.monotonic() - started)
    journal: list = []
    on_time = (lambda now: progress(min(1.0, now / trace.duration))) if progress else None
    router = SandboxedRouter(session, journal, call_seconds, deadline, seed_budget, record_states, on_time)
    simulator = Simulator(config, request_specs(trace), router, journal=journal)
    try:
        result = simulator.run()
        router.flush()  # the calls made after the last dispatch still count: they must answer, and []
    except CallAborted as exc:
        return SeedRun(exc.status, exc.message, None, router.stats, time.monotonic() - started)
    except RouterError as exc:
        cause = exc.__cause__
        if isinstance(cause, CallAborted):
            return SeedRun(cause.status, cause.message, None, router.stats, time.monotonic() - started)
        return SeedRun(INVALID, str(exc), None, router.stats, time.monotonic() - started)
    except Stalled as exc:
        return SeedRun(STALLED, str(exc), None, router.stats, time.monotonic() - started)
    except RequestTooLarge as exc:
        return SeedRun(INVALID, str(exc), None, router.stats, time.monotonic() - started)
    return SeedRun(OK, "", result, router.stats, time.monotonic() - started)
