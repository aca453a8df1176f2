"""autoscaling's control loop and scoring rule on tiny hand-made traces with a fixed clock (every prefill
and decode step takes 1 s, so a request of d output tokens alone takes d s): cold start and charging,
scale-down order and draining, what the policy observes, the SLO check, the score and the static search."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from adrs_bench.serving import TableProfile, solo_latency
from adrs_bench.tasks.autoscaling import evaluator
from adrs_bench.tasks.autoscaling.control import TIMELINE_FIELDS, Controller, PolicyAbort
from adrs_bench.tasks.autoscaling.evaluator import ScaledRun, SloCheck
from adrs_bench.tasks.autoscaling.settings import settings as spec_settings

from serving.helpers import ONE_SECOND, specs


def settings_with(**changes):
    """The spec's settings (the one loader) with a few changed for a test."""
    return dataclasses.replace(spec_settings(), **changes)


@pytest.fixture
def one_second(monkeypatch):
    """evaluator.simulate on the fixed clock."""
    monkeypatch.setattr(evaluator, "PROFILE", ONE_SECOND)


class Script:
    """A policy answering `plan[t]` at the call at time t (the previous answer otherwise), recording what
    it saw."""

    def __init__(self, plan: dict[float, int], default: int):
        self.plan, self.answer = plan, default
        self.seen: list[dict] = []

    def __call__(self, metrics: dict) -> int:
        self.seen.append(metrics)
        self.answer = self.plan.get(metrics["time"], self.answer)
        return self.answer


def by_id(run: ScaledRun) -> dict[int, object]:
    return {r.id: r for r in run.result.replicas}


# ------------------------------------------------------------------------------------------ cold start

def test_a_new_replica_is_charged_from_the_request_and_serves_after_the_cold_start(one_second):
    settings = settings_with(initial_replicas=1)
    rows = [(0, 16, 100),  # replica 0, alone until 74: would complete at 100
            (74, 16, 10),  # the new replica is still starting: replica 0 (load 1) takes it
            (80, 16, 5)]  # replica 1 is ready (idle): it takes it
    policy = Script({}, 2)
    run = evaluator.simulate(settings, specs(*rows), policy)
    a, b, c = run.result.records
    # b is prefilled at 75-76 (after the step running at 74), stalling a for one step: a 101, b 76 + 9
    assert (b.replica_id, b.routed_time, b.first_token_time, b.completion_time) == (0, 74.0, 76.0, 85.0)
    assert (a.replica_id, a.completion_time) == (0, 101.0)
    assert (c.replica_id, c.routed_time, c.completion_time) == (1, 80.0, 85.0)
    r0, r1 = run.result.replicas
    assert (r0.requested_at, r0.ready_at, r0.left_at) == (0.0, 0.0, None)
    assert (r1.requested_at, r1.ready_at, r1.left_at) == (15.0, 75.0, None)
    assert run.result.end_time == 101.0
    assert run.gpu_hours == evaluator.gpu_hours(run.result) == ((101 - 0) + (101 - 15)) / 3600
    # the first call at the interval; replica 1 asked for then, starting until 75
    assert [row[:5] for row in run.controller.timeline] == [
        (15.0, 2, 1, 0, 0), (30.0, 2, 1, 1, 0), (45.0, 2, 1, 1, 0), (60.0, 2, 1, 1, 0), (75.0, 2, 2, 0, 0),
        (90.0, 2, 2, 0, 0)]
    assert [(r[0], r[1]) for r in policy.seen[1]["replicas"]] == [(0, "ready"), (1, "starting")]
    assert run.slo.kept and run.slo.percentile_slowdown == pytest.approx(1.01 + 0.9 * (1.1 - 1.01))


def test_a_replica_still_starting_at_the_end_is_charged_until_the_end(one_second):
    run = evaluator.simulate(settings_with(initial_replicas=1), specs((0, 16, 20)), Script({}, 3))
    assert run.result.end_time == 20.0
    assert [(r.id, r.requested_at, r.ready_at, r.left_at) for r in run.result.replicas] == [
        (0, 0.0, 0.0, None), (1, 15.0, 75.0, None), (2, 15.0, 75.0, None)]
    assert run.gpu_hours == (20 + 5 + 5) / 3600


# ------------------------------------------------------------------------------------- scaling down

def test_scale_down_removes_starting_newest_first_then_the_least_busy_ready_and_drains_it(one_second):
    settings = settings_with(initial_replicas=3)
    rows = [(0, 16, 100),  # -> r0
            (0.5, 16, 100),  # -> r1
            (1, 16, 100),  # -> r2
            (1.5, 16, 100),  # -> r0 (loads 1, 1, 1)
            (2, 16, 100),  # -> r1 (loads 2, 1, 1): r0 2, r1 2, r2 1 requests
            (40, 16, 5)]  # r2 (load 1) is draining: r0 (load 2, lowest id) takes it
    # 15: 5 -> r3, r4 start; 30: 2 -> r4, r3 (starting, newest first), then r2 (fewest) removed;
    # 45: 3 with 2 ready + 0 starting (r2 draining does not count) -> r5 starts
    policy = Script({15.0: 5, 30.0: 2, 45.0: 3}, 3)
    run = evaluator.simulate(settings, specs(*rows), policy)
    assert [r.replica_id for r in run.result.records] == [0, 1, 2, 0, 1, 0]
    # r0: 0 and 1.5 (prefill 2-3), stalled again by the prefill of request 5 at 41-42
    assert [r.completion_time for r in run.result.records] == [102.0, 101.5, 101.0, 103.0, 102.5, 46.0]
    replicas = by_id(run)
    assert sorted(replicas) == [0, 1, 2, 3, 4, 5]
    assert [(replicas[i].requested_at, replicas[i].left_at) for i in (3, 4)] == [(15.0, 30.0), (15.0, 30.0)]
    assert (replicas[2].requested_at, replicas[2].left_at) == (0.0, 101.0)  # drained its request, then left
    assert (replicas[5].requested_at, replicas[5].ready_at, replicas[5].left_at) == (45.0, 105.0, None)
    assert replicas[0].left_at is replicas[1].left_at is None
    assert run.result.end_time == 103.0
    assert [replicas[i].gpu_seconds for i in range(6)] == [103.0, 103.0, 101.0, 15.0, 15.0, 58.0]
    assert run.gpu_hours == (103 + 103 + 101 + 15 + 15 + 58) / 3600
    assert run.controller.timeline == [
        # time desired ready starting draining arrivals finished queued
        (15.0, 5, 3, 0, 0, 5, 0, 0),
        (30.0, 2, 3, 2, 0, 0, 0, 0),
        (45.0, 3, 2, 0, 1, 1, 0, 0),
        (60.0, 3, 2, 1, 1, 0, 1, 0),  # request 5 finished at 46
        (75.0, 3, 2, 1, 1, 0, 0, 0),
        (90.0, 3, 2, 1, 1, 0, 0, 0),
    ]
    assert list(TIMELINE_FIELDS) == ["time", "desired", "ready", "starting", "draining", "arrivals", "finished",
                                     "queued"]
    at_45 = policy.seen[2]["replicas"]
    assert [(r[0], r[1], r[2] + r[3]) for r in at_45] == [(0, "ready", 3), (1, "ready", 2), (2, "draining", 1)]


def test_scale_down_removes_the_newest_starting_replica_first(one_second):
    rows = [(0, 16, 100), (80, 16, 5)]
    run = evaluator.simulate(settings_with(initial_replicas=1), specs(*rows), Script({15.0: 3, 30.0: 2}, 2))
    assert [(r.id, r.requested_at, r.ready_at, r.left_at) for r in run.result.replicas] == [
        (0, 0.0, 0.0, None), (1, 15.0, 75.0, None), (2, 15.0, 75.0, 30.0)]
    assert [(r.replica_id, r.completion_time) for r in run.result.records] == [(0, 100.0), (1, 85.0)]
    assert run.gpu_hours == (100 + 85 + 15) / 3600
    assert [row[:5] for row in run.controller.timeline[:3]] == [(15.0, 3, 1, 0, 0), (30.0, 2, 1, 2, 0),
                                                                (45.0, 2, 1, 1, 0)]


@pytest.mark.parametrize("desired, removed", [(2, [1]), (1, [1, 2])])
def test_scale_down_ties_go_to_the_lowest_id(one_second, desired, removed):
    rows = [(0, 16, 50), (0.5, 16, 50), (1, 16, 50), (1.5, 16, 50)]  # r0 2, r1 1, r2 1 requests
    run = evaluator.simulate(settings_with(initial_replicas=3), specs(*rows), Script({}, desired))
    assert [r.replica_id for r in run.result.records] == [0, 1, 2, 0]
    left = {r.id: r.left_at for r in run.result.replicas}
    assert [i for i, t in left.items() if t is not None] == removed
    assert all(left[i] > 15.0 for i in removed)  # they drained their request first
    assert run.controller.timeline[0][:5] == (15.0, desired, 3, 0, 0)
    assert run.controller.timeline[1][:5] == (30.0, desired, 3 - len(removed), 0, len(removed))


def test_idle_ready_replicas_leave_at_once_and_ties_remove_the_lowest_id(one_second):
    rows = [(0, 16, 40), (20, 16, 1)]  # r0 busy; r1..r3 idle
    run = evaluator.simulate(settings_with(initial_replicas=4), specs(*rows), Script({15.0: 2}, 2))
    assert [(r.id, r.left_at) for r in run.result.replicas] == [(0, None), (1, 15.0), (2, 15.0), (3, None)]
    assert run.result.records[1].replica_id == 3
    assert run.gpu_hours == (40 + 15 + 15 + 40) / 3600


def test_answer_outside_the_rules_aborts_and_is_never_clamped():
    for answer in (0, 33, -1, 3.0, True, "4", None):
        controller = Controller(spec_settings(), lambda metrics, answer=answer: answer, ONE_SECOND)
        sim = evaluator.Simulator(evaluator.cluster_config(spec_settings(), 4), specs((0, 16, 40)),
                                  evaluator.least_loaded, ONE_SECOND, on_tick=controller.on_tick)
        controller.simulator = sim
        with pytest.raises(PolicyAbort) as caught:
            sim.run()
        assert caught.value.status == "invalid"
        assert caught.value.message == (f"decide call 1 at t=15.000 s: decide returned {answer!r}; expected an int "
                                        "from 1 to 32")
        assert controller.timeline == []


# ------------------------------------------------------------------------------------ observations

def test_observations_are_deltas_since_the_last_call(one_second):
    rows = [(1, 16, 5),  # alone: 1-6
            (10, 16, 3),  # alone: 10-13
            (16, 16, 10), (16, 16, 4),  # same instant, separate prefills (16-17, 17-18): each stalls the other
            (18, 16, 2),  # waits for the step 18-19, prefilled 19-20 (stalling both), done 21
            (40, 16, 2),  # alone: 40-42
            (50, 16, 1)]  # alone: 50-51 (no call after it)
    policy = Script({}, 1)
    run = evaluator.simulate(settings_with(initial_replicas=1), specs(*rows), policy)
    assert [r.completion_time for r in run.result.records] == [6.0, 13.0, 28.0, 22.0, 21.0, 42.0, 51.0]
    assert [m["time"] for m in policy.seen] == [15.0, 30.0, 45.0]
    assert [m["arrivals"] for m in policy.seen] == [2, 3, 1]
    # [ttft, e2e, slowdown] in completion order; slowdown = e2e / (1 prefill + d - 1 decode steps)
    assert policy.seen[0]["finished"] == [[1.0, 5.0, 1.0], [1.0, 3.0, 1.0]]
    assert policy.seen[1]["finished"] == [[2.0, 3.0, 1.5], [2.0, 6.0, 1.5], [1.0, 12.0, 1.2]]
    assert policy.seen[2]["finished"] == [[1.0, 2.0, 1.0]]
    assert [m["replicas"] for m in policy.seen] == [[[0, "ready", 0, 0, 0.0, 8]], [[0, "ready", 0, 0, 0.0, 16]],
                                                     [[0, "ready", 0, 0, 0.0, 2]]]
    assert policy.seen[0] == {"time": 15.0, "interval": 15.0, "ready": 1, "starting": 0, "draining": 0,
                              "queued": 0, "arrivals": 2, "replicas": [[0, "ready", 0, 0, 0.0, 8]],
                              "finished": [[1.0, 5.0, 1.0], [1.0, 3.0, 1.0]], "min_replicas": 1,
                              "max_replicas": 32}
    for record, slowdown in zip(run.result.records, evaluator.slowdowns(run.result, run.controller)):
        assert slowdown == record.e2e / solo_latency(ONE_SECOND, record.prompt_tokens, record.decode_tokens)
    assert [row[5:] for row in run.controller.timeline] == [(2, 2, 0), (3, 3, 0), (1, 1, 0)]


def test_observations_of_busy_replicas_mid_run(one_second):
    """Waiting/running/KV use while work is in flight, and tokens decoded per replica between calls."""
    rows = [(0, 16, 40), (0, 16, 40), (14.5, 16, 40)]  # r0 and r1 from 0; r0 again at 14.5 (waits)
    policy = Script({}, 2)
    evaluator.simulate(settings_with(initial_replicas=2), specs(*rows), policy)
    blocks = 2240
    # at 15: r0 ended the step 14-15 and prefills request 2 (in flight, so "running"): 16 + 14 tokens of
    # request 0 in 2 blocks, request 2's prompt in 1; 15 tokens each so far (1 prefill + 14 decode steps)
    assert policy.seen[0]["replicas"] == [[0, "ready", 0, 2, 3 / blocks, 15], [1, "ready", 0, 1, 2 / blocks, 15]]
    # 15-30: r0 made 1 token in the prefill, then 2 per decode step (14); r1 one per step
    assert policy.seen[1]["replicas"] == [[0, "ready", 0, 2, 5 / blocks, 29], [1, "ready", 0, 1, 3 / blocks, 15]]
    # 30-45: request 1 ended at 40 (10 tokens), request 0 at 41 (11), request 2 decoded 15
    assert policy.seen[2]["replicas"] == [[0, "ready", 0, 1, 3 / blocks, 26], [1, "ready", 0, 0, 0.0, 10]]
    assert [m["finished"] for m in policy.seen[:3]] == [[], [], [[1.0, 40.0, 1.0], [1.0, 41.0, 41 / 40]]]


# -------------------------------------------------------------------------------------------- the SLO

def test_slo_keeps_at_exactly_the_limit_and_breaks_just_above():
    settings = spec_settings()
    assert settings.slo_percentile == 95.0 and settings.slo_max_slowdown == 5.0
    at = evaluator.slo_check(settings, [5.0] * 20)
    assert (at.percentile_slowdown, at.kept, at.miss) == (5.0, True, 1.0)
    above = math.nextafter(5.0, math.inf)
    check = evaluator.slo_check(settings, [above] * 20)
    assert (check.percentile_slowdown, check.kept) == (above, False) and check.miss > 1.0
    # linear interpolation between order statistics: index 0.95 * 99 = 94.05
    assert evaluator.slo_check(settings, [1.0] * 94 + [5.0] * 6).percentile_slowdown == 5.0
    assert evaluator.slo_check(settings, [1.0] * 94 + [5.0] * 5 + [6.0]).kept
    mixed = evaluator.slo_check(settings, [1.0] * 94 + [5.0] + [7.0] * 5)
    assert mixed.percentile_slowdown == pytest.approx(5.1) and not mixed.kept
    assert mixed.miss == pytest.approx(5.1 / 5)
    assert evaluator.slo_check(settings, [1.0] * 95 + [9.0] * 5).percentile_slowdown == pytest.approx(1.4)


def test_score_is_static_over_policy_gpu_hours_when_kept_else_zero():
    kept = ScaledRun(None, None, SloCheck(5.0, True, 1.0), 2.0)
    assert evaluator.score(3.0, kept) == 1.5
    broken = ScaledRun(None, None, SloCheck(5.01, False, 1.002), 0.5)
    assert evaluator.score(3.0, broken) == 0.0 == evaluator.FAILED_SCORE
    for hours in (0.0, math.nan, math.inf):
        assert evaluator.score(3.0, ScaledRun(None, None, SloCheck(1.0, True, 0.2), hours)) == 0.0


# Decode steps take as many seconds as requests in the batch; prefill takes 1 s. A burst of 24 requests
# (16, 10) at t=0 on n replicas: m = 24 / n per replica finish at 2 + 9m (m > 1), alone in 10 s.
BATCH_SECONDS = TableProfile(lambda phase, batched: 1.0 if phase == "prefill" else float(batched))
BURST = [(0, 16, 10)] * 24


def test_smallest_static_count_matches_brute_force(monkeypatch):
    monkeypatch.setattr(evaluator, "PROFILE", BATCH_SECONDS)
    settings = settings_with(max_replicas=8)
    requests = specs(*BURST)
    brute = {n: evaluator.simulate(settings, requests, None, replicas=n) for n in range(1, 9)}
    kept = [n for n, run in brute.items() if run.slo.kept]
    assert kept == [5, 6, 7, 8]
    assert brute[4].slo.percentile_slowdown == (2 + 9 * 6) / 10  # 6 per replica
    assert brute[5].slo.percentile_slowdown == (2 + 9 * 5) / 10  # 5 on four, 4 on one
    assert brute[5].gpu_hours == 5 * (2 + 9 * 5) / 3600
    assert all(r.controller.timeline == [] for r in brute.values())  # a fixed count: no control calls

    count, run, checks = evaluator.smallest_static(settings, requests)
    assert count == 5 == min(kept)
    assert run.gpu_hours == brute[5].gpu_hours
    assert 4 in checks and not checks[4].kept and checks[5].kept  # the count below is checked
    assert {n: c.kept for n, c in checks.items()} == {n: brute[n].slo.kept for n in checks}
    assert {n: c.percentile_slowdown for n, c in checks.items()} == {n: brute[n].slo.percentile_slowdown for n in checks}
    assert set(checks) == {4, 5, 6, 8}  # the binary search visits few counts


def test_smallest_static_refuses_a_trace_too_heavy_for_the_bounds(monkeypatch):
    monkeypatch.setattr(evaluator, "PROFILE", BATCH_SECONDS)
    with pytest.raises(ValueError, match=r"no fixed replica count up to 4 keeps the SLO \(p95 slowdown 5\.60 at 4\)"):
        evaluator.smallest_static(settings_with(initial_replicas=4, max_replicas=4), specs(*BURST))


def test_smallest_static_of_one_checks_nothing_below(monkeypatch):
    monkeypatch.setattr(evaluator, "PROFILE", BATCH_SECONDS)
    count, run, checks = evaluator.smallest_static(settings_with(max_replicas=8), specs((0, 16, 10), (20, 16, 10)))
    assert count == 1 and run.slo.percentile_slowdown == 1.0
    assert set(checks) == {1, 4, 2, 8} and all(c.kept for c in checks.values())
    assert np.isclose(run.gpu_hours, 30 / 3600)


def test_settings_exist_once_as_the_specs_parameters():
    """No defaults to drift: every setting is spec.json's, and a missing or unknown one is refused."""
    from adrs_bench.errors import SpecError
    from adrs_bench.registry import get_task
    from adrs_bench.tasks.autoscaling.settings import Settings

    parameters = dict(get_task("autoscaling").spec.parameters)
    assert dataclasses.asdict(spec_settings()) == parameters
    assert (spec_settings().interval_seconds, spec_settings().cold_start_seconds) == (15, 60)
    del parameters["cold_start_seconds"]
    with pytest.raises(SpecError) as info:
        Settings.from_parameters({**parameters, "warmup": 1})
    assert str(info.value) == ("autoscaling spec parameters: expected exactly min_replicas, max_replicas, "
                               "initial_replicas, cold_start_seconds, interval_seconds, slo_percentile, "
                               "slo_max_slowdown, got unknown warmup; missing cold_start_seconds; fix "
                               "tasks/autoscaling/spec.json")
