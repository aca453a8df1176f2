"""What routers and control policies read: live, read-only views that never show a decode length."""
import pytest

from adrs_bench.serving import ReplicaView, RequestView

from .helpers import Probe, probes, run

MODES = pytest.mark.parametrize("fast", [False, True], ids=["step", "fast"])


def test_router_sees_no_decode_length():
    seen = []

    def look(snapshot):
        for request in snapshot.queue:
            seen.append(request)
            assert not hasattr(request, "decode_tokens")
            with pytest.raises(AttributeError):
                request.prompt_tokens = 1
        return [(0, r.id) for r in snapshot.queue]

    run([(0, 16, 3)], True, router=look)
    assert seen and "decode" not in repr(seen[0])


def test_views_are_read_only():
    checked = []

    def look(snapshot):
        for replica in snapshot.replicas:
            for name in ("num_waiting", "allocated_blocks", "waiting", "state"):
                with pytest.raises(AttributeError):
                    setattr(replica, name, 0)
            checked.append(replica)
        return [(0, r.id) for r in snapshot.queue]

    run([(0, 16, 3)], True, router=look)
    assert checked and isinstance(checked[0], ReplicaView)
    assert RequestView.__slots__ == ("_request",) and ReplicaView.__slots__[0] == "_replica"  # no instance dict


@MODES
def test_a_running_requests_processed_tokens_are_read_at_the_call_time(fast):
    # prompt 16, steps of 1 s: prefill 0-1 (first token), then one token per decode step. Read mid-run,
    # the replica first applies the steps finished by then (the fast one plans them as one run).
    probe = Probe()
    run([(0, 16, 30)] + probes(0.5, 1.5, 10.5, 25.5), fast, router=probe, num_replicas=2)
    assert [probe.at(t)["processed"] for t in (0.5, 1.5, 10.5, 25.5)] == [{0: 0}, {0: 17}, {0: 26}, {0: 41}]
