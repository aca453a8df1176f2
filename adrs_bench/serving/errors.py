"""Errors a simulation ends with. Each names the simulated time (and the router call) in one line, so a
task can turn it into a per-instance status (`invalid`, `stalled`) without reformatting.

Why their own base: the simulator knows nothing of the harness that scores with it. Where a task needs
one of these shown to a user as a harness error, the task converts it (the harness's `AdrsError`)."""
from __future__ import annotations


class ServingError(Exception):
    """Base of the simulator's errors."""


class RouterError(ServingError):
    """The router raised or returned something the simulator cannot apply."""

    def __init__(self, message: str, time: float, call_index: int):
        super().__init__(f"router call {call_index} at t={time:.6f} s: {message}")
        self.time = time
        self.call_index = call_index


class Stalled(ServingError):
    """Requests wait in the global queue, every replica is idle and nothing else can happen."""

    def __init__(self, time: float, queue_length: int):
        super().__init__(
            f"stalled at t={time:.6f} s: {queue_length} request(s) held in the global queue while every "
            f"replica is idle and no event is pending; dispatch held requests when replicas idle")
        self.time = time
        self.queue_length = queue_length


class RequestTooLarge(ServingError):
    """A request needs more KV blocks than an empty replica can give it (it would wait forever)."""

    def __init__(self, time: float, request_id: int, replica_id: int, blocks: int, capacity: int):
        super().__init__(
            f"at t={time:.6f} s request {request_id} needs {blocks} KV blocks but replica {replica_id} can give "
            f"at most {capacity} (blocks minus watermark); use more blocks or shorter requests")
        self.time = time
        self.request_id = request_id
        self.replica_id = replica_id
