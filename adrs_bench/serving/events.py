"""The simulator's total event order.

Every event is the tuple `(time, kind, sequence, payload)` on a binary heap. `sequence` comes from the
queue's own counter (one per simulator, never global), so no two keys are equal and the payload is never
compared: ties in time are broken by kind priority, then by the order in which events were scheduled.
(vidur's events carry a tie-break that never takes effect; this one is part of the key.)
"""
from __future__ import annotations

import heapq
from enum import IntEnum
from typing import Any


class EventKind(IntEnum):
    """Event kinds; the value is the priority at equal times (lower first).

    Why this order: a batch that ends at time t frees its blocks and records its completions before
    anything else looks at the cluster at t; a replica that becomes ready (or leaves) at t does so before
    an arrival at t is routed; the control tick at t sees everything that happened at t.
    """

    STEP_END = 0
    REPLICA_READY = 1
    REPLICA_REMOVE = 2
    ARRIVAL = 3
    CONTROL_TICK = 4


Event = tuple[float, int, int, Any]


class EventQueue:
    """A heap of events keyed `(time, kind priority, sequence number)`."""

    __slots__ = ("_heap", "_sequence")

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._sequence = 0

    def push(self, time: float, kind: EventKind, payload: Any = None) -> int:
        """Schedule an event; returns its sequence number."""
        sequence = self._sequence
        self._sequence = sequence + 1
        heapq.heappush(self._heap, (time, int(kind), sequence, payload))
        return sequence

    def pop(self) -> Event:
        return heapq.heappop(self._heap)

    def peek_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def next_is(self, time: float, kind: EventKind) -> bool:
        """Whether the next event has exactly this time and kind (to gather simultaneous events)."""
        heap = self._heap
        return bool(heap) and heap[0][0] == time and heap[0][1] == kind

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)


class Clock:
    """One simulation's current time, shared by its replicas so that what anyone reads of a replica is
    brought up to date lazily (fast mode), and a counter of reads (router calls and ticks) that lets views
    cache the request lists they built during one call."""

    __slots__ = ("now", "reads")

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0
