"""Cold starts, draining, GPU-time charging and the control tick (what autoscaling needs)."""
import pytest

from adrs_bench.serving import ClusterConfig, ReplicaConfig, Simulator, Stalled, least_loaded

from .helpers import ONE_SECOND, specs

MODES = pytest.mark.parametrize("fast", [False, True], ids=["step", "fast"])


def simulate(rows, fast, on_tick, router=least_loaded, **cluster):
    config = ClusterConfig(replica=ReplicaConfig(), fast=fast, **cluster)
    holder = {}

    def tick(now, view):
        on_tick(holder["sim"], now, view)

    sim = Simulator(config, specs(*rows), router, ONE_SECOND, on_tick=tick)
    holder["sim"] = sim
    return sim.run()


@MODES
def test_a_new_replica_serves_after_its_cold_start_and_is_charged_from_the_request(fast):
    calls = []

    def router(snapshot):
        calls.append(snapshot.time)
        return least_loaded(snapshot)

    def scale_up_once(sim, now, view):
        if now == 15.0:
            assert view.num_arrived == 1 and len(view.queue) == 1 and view.replicas == ()
            sim.add_replica(now)

    result = simulate([(1.0, 16, 2)], fast, scale_up_once, router=router, num_replicas=0, cold_start=60.0)
    (record,) = result.records
    assert (record.routed_time, record.first_scheduled_time, record.completion_time) == (75.0, 75.0, 77.0)
    assert calls == [75.0, 77.0]  # no ready replica at the arrival: no call; then ready, completion
    (replica,) = result.replicas
    assert (replica.requested_at, replica.ready_at, replica.left_at) == (15.0, 75.0, None)
    assert replica.gpu_seconds == 77.0 - 15.0
    assert result.summary().gpu_seconds == 62.0


@MODES
def test_a_removed_replica_takes_no_new_requests_finishes_its_work_then_leaves(fast):
    seen = []

    def router(snapshot):
        seen.append((snapshot.time, [r.id for r in snapshot.replicas]))
        return [((r.id % 2) if len(snapshot.replicas) == 2 else snapshot.replicas[0].id, r.id)
                for r in snapshot.queue]

    def drain_replica_1(sim, now, view):
        if now == 15.0:
            sim.remove_replica(now, 1)
            assert [r.state for r in sim.view().replicas] == ["ready", "draining"]

    rows = [(0, 16, 30), (1, 16, 20), (20, 16, 1)]
    result = simulate(rows, fast, drain_replica_1, router=router, num_replicas=2)
    r0, r1, r2 = result.records
    assert (r1.replica_id, r1.completion_time) == (1, 21.0)  # kept decoding after the removal
    assert (r2.replica_id, r2.first_scheduled_time, r2.completion_time) == (0, 21.0, 22.0)
    assert r0.completion_time == 31.0
    assert (20.0, [0]) in seen
    replica0, replica1 = result.replicas
    assert (replica1.left_at, replica1.gpu_seconds) == (21.0, 21.0)
    assert (replica0.left_at, replica0.gpu_seconds) == (None, 31.0)


@MODES
def test_an_idle_or_starting_replica_leaves_at_once(fast):
    def churn(sim, now, view):
        if now == 15.0:
            sim.remove_replica(now, 1)  # idle
            sim.add_replica(now)  # id 2, starting...
        if now == 30.0:
            assert [(r.id, r.state) for r in view.replicas] == [(0, "ready"), (2, "starting")]
            sim.remove_replica(now, 2)  # ...removed before it is ready

    result = simulate([(0, 16, 50)], fast, churn, num_replicas=2, cold_start=60.0)
    replicas = {r.id: r for r in result.replicas}
    assert (replicas[1].left_at, replicas[1].gpu_seconds) == (15.0, 15.0)
    assert (replicas[2].left_at, replicas[2].gpu_seconds) == (30.0, 15.0)
    assert replicas[0].gpu_seconds == result.end_time == 50.0


def test_control_api_checks_its_arguments():
    def bad(sim, now, view):
        with pytest.raises(ValueError, match=r"remove_replica: replica 9 is not ready or starting; "
                                             r"removable replicas are \[0\]"):
            sim.remove_replica(now, 9)
        with pytest.raises(ValueError, match="add_replica: now=1.0 but the simulated time is 15.0"):
            sim.add_replica(1.0)

    simulate([(0, 16, 20)], True, bad, num_replicas=1)
    sim = Simulator(ClusterConfig(), specs((0, 16, 2)), least_loaded)
    with pytest.raises(RuntimeError, match="only available while the simulation runs"):
        sim.add_replica(0.0)


def test_ticks_every_interval_see_progress_and_completions():
    ticks = []

    def watch(sim, now, view):
        ticks.append((now, view.num_completed, [r.tokens_generated for r in view.replicas],
                      [r.id for r in view.completed[:]]))

    simulate([(0, 16, 12), (1, 16, 40)], True, watch, num_replicas=2, tick_interval=10.0)
    # r0 on replica 0 (completes at t=12), r1 on replica 1 (prefill 1-2, completes at t=41)
    assert ticks[0] == (10.0, 0, [10, 9], [])
    assert ticks[1] == (20.0, 1, [12, 19], [0])
    assert [t[0] for t in ticks] == [10.0, 20.0, 30.0, 40.0]


def test_a_policy_that_never_adds_a_replica_stalls_after_stall_ticks():
    with pytest.raises(Stalled, match=r"^stalled at t=45\.000000 s: 1 request\(s\) held"):
        simulate([(1.0, 16, 1)], True, lambda sim, now, view: None, num_replicas=0, stall_ticks=3)
