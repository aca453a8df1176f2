from adrs_bench.serving.events import EventKind, EventQueue


class Opaque:
    """A payload that cannot be compared: the key alone must order events."""

    def __lt__(self, other):
        raise AssertionError("payloads must never be compared")


def drain(queue):
    out = []
    while queue:
        out.append(queue.pop())
    return out


def test_time_then_kind_priority_then_sequence():
    queue = EventQueue()
    queue.push(2.0, EventKind.ARRIVAL, "late")
    queue.push(1.0, EventKind.CONTROL_TICK, "tick")
    queue.push(1.0, EventKind.ARRIVAL, "arrival-a")
    queue.push(1.0, EventKind.STEP_END, "step")
    queue.push(1.0, EventKind.ARRIVAL, "arrival-b")
    queue.push(1.0, EventKind.REPLICA_READY, "ready")
    queue.push(1.0, EventKind.REPLICA_REMOVE, "remove")
    assert [e[3] for e in drain(queue)] == ["step", "ready", "remove", "arrival-a", "arrival-b", "tick", "late"]


def test_sequence_numbers_are_per_queue_and_break_ties_without_comparing_payloads():
    first, second = EventQueue(), EventQueue()
    assert [first.push(0.0, EventKind.ARRIVAL, Opaque()) for _ in range(3)] == [0, 1, 2]
    assert second.push(0.0, EventKind.ARRIVAL, Opaque()) == 0  # no global counter
    assert [e[2] for e in drain(first)] == [0, 1, 2]


def test_step_end_is_processed_before_an_arrival_at_the_same_time():
    from .helpers import run
    # request 0's prefill ends at t=1 exactly when request 1 arrives: the replica has already started a
    # decode step at t=1 when request 1 is routed, so request 1 is prefilled at t=2, not t=1.
    for fast in (False, True):
        result = run([(0, 16, 5), (1, 16, 2)], fast)
        assert result.records[1].first_scheduled_time == 2.0
        assert result.records[0].first_token_time == 1.0
