"""When the router is called, what it sees, and how its answers are checked."""
import pytest

from adrs_bench.serving import RouterError, Stalled

from .helpers import run

MODES = pytest.mark.parametrize("fast", [False, True], ids=["step", "fast"])


class Recorder:
    def __init__(self, decide=None):
        self.calls = []
        self.decide = decide

    def __call__(self, snapshot):
        self.calls.append((snapshot.time, snapshot.call_index, [r.id for r in snapshot.queue]))
        if self.decide is not None:
            return self.decide(snapshot)
        return [(0, r.id) for r in snapshot.queue]


@MODES
def test_router_is_called_on_every_arrival_and_every_batch_end_with_a_completion(fast):
    router = Recorder()
    result = run([(0, 16, 2), (0.5, 16, 1)], fast, router=router)
    # arrivals at 0 and 0.5; r1 (prefilled 1-2) completes at 2, r0 at 3; r0's first token at 1 is no call
    assert router.calls == [(0.0, 1, [0]), (0.5, 2, [1]), (2.0, 3, []), (3.0, 4, [])]
    assert result.router_calls == 4


@MODES
def test_a_router_that_holds_requests_dispatches_them_on_a_completion(fast):
    def only_to_an_empty_replica(snapshot):
        replica = snapshot.replicas[0]
        if replica.num_waiting + replica.num_running == 0 and snapshot.queue:
            return [(replica.id, snapshot.queue[0].id)]
        return []

    r0, r1 = run([(0, 16, 3), (0.5, 16, 1)], fast, router=only_to_an_empty_replica).records
    assert r0.completion_time == 3.0
    assert (r1.routed_time, r1.global_queueing, r1.completion_time) == (3.0, 2.5, 4.0)


@pytest.mark.parametrize("answer, message", [
    (lambda s: (0, 0), "returned tuple; expected a list of (replica_id, request_id) pairs"),
    (lambda s: None, "returned NoneType; expected a list of (replica_id, request_id) pairs"),
    (lambda s: [0], "item 0 is 0; expected a (replica_id, request_id) pair"),
    (lambda s: [(0, 0, 0)], "item 0 is (0, 0, 0); expected a (replica_id, request_id) pair"),
    (lambda s: [(7, 0)], "item 0: unknown replica id 7; replicas accepting requests are [0]"),
    (lambda s: [(True, 0)], "item 0: unknown replica id True; replicas accepting requests are [0]"),
    (lambda s: [(0, "0")], "item 0: request id '0' is not an int"),
    (lambda s: [(0, 0), (0, 0)], "item 1: request 0 is dispatched twice"),
    (lambda s: [(0, 99)], "item 0: request 99 is not in the global queue"),
])
def test_invalid_router_answers_raise_router_error_naming_call_and_time(answer, message):
    with pytest.raises(RouterError) as caught:
        run([(0.25, 16, 3)], True, router=answer)
    assert str(caught.value) == f"router call 1 at t=0.250000 s: {message}"
    assert (caught.value.time, caught.value.call_index) == (0.25, 1)


def test_a_router_that_raises_is_reported_as_a_router_error():
    def broken(snapshot):
        if snapshot.call_index == 2:
            raise ValueError("boom")
        return [(0, r.id) for r in snapshot.queue]

    with pytest.raises(RouterError, match=r"^router call 2 at t=0\.500000 s: raised ValueError: boom$"):
        run([(0, 16, 3), (0.5, 16, 3)], True, router=broken)


def test_an_answer_is_applied_only_if_it_is_all_valid():
    # the first pair is fine, the second is not: nothing may have been dispatched (the error ends the run)
    with pytest.raises(RouterError, match="item 1"):
        run([(0, 16, 3)], True, router=lambda s: [(0, 0), (0, 5)])


@MODES
def test_a_router_holding_forever_while_replicas_idle_stalls_with_time_and_queue_length(fast):
    def hold_the_second(snapshot):
        return [(0, r.id) for r in snapshot.queue if r.id == 0]

    with pytest.raises(Stalled) as caught:
        run([(0, 16, 3), (1.0, 16, 3), (1.5, 16, 2)], fast, router=hold_the_second)
    assert str(caught.value) == (
        "stalled at t=3.000000 s: 2 request(s) held in the global queue while every replica is idle and "
        "no event is pending; dispatch held requests when replicas idle")
    assert (caught.value.time, caught.value.queue_length) == (3.0, 2)


def test_a_router_returning_nothing_at_all_stalls_at_the_last_arrival():
    with pytest.raises(Stalled, match=r"^stalled at t=1\.000000 s: 1 request\(s\)"):
        run([(1.0, 16, 1)], True, router=lambda s: [])


def test_a_request_view_can_be_returned_instead_of_its_id():
    (r0,) = run([(0, 16, 2)], True, router=lambda s: [(0, r) for r in s.queue]).records
    assert r0.completion_time == 2.0


@MODES
def test_golden_at_a_completion_the_router_runs_before_the_next_batch_forms(fast):
    # r0 completes at t=3 while r1 keeps decoding; r2 (arrived at 2.5) is held until then. The router is
    # called at t=3 before the replica forms its next batch, so r2 joins that batch: its prefill runs
    # 3-4 (prefill has priority) and r1 resumes after it. Under the earlier order the replica first
    # started r1's decode step 3-4 and r2's prefill waited for it (4-5).
    def hold_until_three(snapshot):
        return [(0, r.id) for r in snapshot.queue if r.id < 2 or snapshot.time >= 3.0]

    r0, r1, r2 = run([(0, 16, 2), (0.5, 16, 10), (2.5, 16, 3)], fast, router=Recorder(hold_until_three)).records
    assert r0.completion_time == 3.0
    assert (r2.routed_time, r2.first_scheduled_time, r2.first_token_time, r2.completion_time) == (3.0, 3.0, 4.0, 6.0)
    assert r1.completion_time == 12.0  # r1: prefill 1-2, then 9 decode steps and one wait during r2's prefill
