"""The simulator against a plain reference of vidur's vLLM scheduler (tests/serving/vidur_reference.py).

The reference is written from the semantics alone: one batch per event, every block counted as it is taken,
no laziness. Where both agree on every request's times and restarts, on hand-checked traces and on
random preemption-heavy ones, the simulator's shortcuts (fast mode's decode runs, lazy token counts)
change nothing. Times are compared exactly: both add each batch's duration to its start time and the
profiles sum integer token counts, so there is no float summation order to differ in.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from adrs_bench.serving import (A10Llama3Profile, ClusterConfig, ReplicaConfig, RequestSpec, RequestTooLarge, Simulator,
                                TableProfile)

from .helpers import ONE_SECOND
from .vidur_reference import (QueuedRequest, ReplicaState, RouterInput, TooLarge, capped_least_loaded,
                              least_loaded, simulate)

MODES = pytest.mark.parametrize("fast", [False, True], ids=["step", "fast"])


# ----- running both sides --------------------------------------------------------------------------------
def for_simulator(router):
    """The same router, fed from the simulator's snapshot instead of the reference's input."""
    def route(snapshot):
        view = RouterInput(
            snapshot.time,
            tuple(QueuedRequest(r.id, r.arrival_time, r.prompt_tokens) for r in snapshot.queue),
            tuple(ReplicaState(v.id, v.num_waiting, v.num_running, v.allocated_blocks, v.total_blocks,
                               tuple(w.prefill_tokens for w in v.waiting)) for v in snapshot.replicas))
        return router(view)
    return route


def headroom(reserve: int):
    """A router that reads blocks: the oldest queued request goes to the replica with the lowest projected
    usage (allocated + the waiting requests' prompts) if it leaves `reserve` blocks; else everything waits.
    It makes the block counts seen at each call (mid-step, just after completions) matter."""
    def route(view: RouterInput) -> list[tuple[int, int]]:
        projected = [r.allocated_blocks + sum(-(-p // 16) for p in r.waiting_prefill_tokens) for r in view.replicas]
        pairs = []
        for request in view.queue:
            need = -(-request.prompt_tokens // 16)
            best = min(range(len(projected)), key=lambda i: (projected[i], view.replicas[i].id))
            if view.replicas[best].total_blocks - projected[best] - need < reserve:
                break
            pairs.append((view.replicas[best].id, request.id))
            projected[best] += need
        return pairs
    return route


def simulator_outcomes(rows, fast, profile=ONE_SECOND, router=least_loaded, num_replicas=1, **replica):
    cluster = ClusterConfig(num_replicas=num_replicas, replica=ReplicaConfig(**replica), fast=fast)
    specs = [RequestSpec(float(t), p, d) for t, p, d in rows]
    records = Simulator(cluster, specs, for_simulator(router), profile).run().records
    return [outcome(r) for r in records]


def reference_outcomes(rows, profile=ONE_SECOND, router=least_loaded, num_replicas=1, **replica):
    return [outcome(o) for o in simulate(rows, profile, router, num_replicas, **replica)]


def outcome(record) -> tuple:
    return (record.id, record.replica_id, record.routed_time, record.first_scheduled_time,
            record.first_token_time, record.completion_time, record.restarts)


def times(outcome_row) -> tuple:
    """(first scheduled, first token, completion, restarts)."""
    return outcome_row[3:]


def assert_same(rows, **kwargs):
    expected = reference_outcomes(rows, **kwargs)
    for fast in (False, True):
        got = simulator_outcomes(rows, fast, **kwargs)
        mismatches = [(e, g) for e, g in zip(expected, got) if e != g]
        assert not mismatches, f"fast={fast}: first of {len(mismatches)} (reference, simulator): {mismatches[0]}"
    return expected


# ----- hand-checked traces (1 s steps) -----------------------------------------------------------------
def test_lone_request_prefill_then_one_decode_step_per_further_token():
    (r0,) = assert_same([(0, 10, 3)])
    assert times(r0) == (0.0, 1.0, 3.0, 0)


def test_simultaneous_arrivals_are_routed_one_at_a_time():
    # r0's prefill starts at its own arrival; r1, arriving at the same instant, finds the replica busy.
    r0, r1 = assert_same([(0, 16, 3), (0, 16, 2)])
    assert times(r0) == (0.0, 1.0, 4.0, 0)  # decodes alone 1-2, with r1 3-4 (r1's prefill 2-3 in between)
    assert times(r1) == (1.0, 2.0, 3.0, 0)


def test_arrival_at_a_batch_end_comes_after_it():
    # r0's prefill ends at 1 and its decode step 1-2 starts before r1 (arriving at 1) is routed.
    r0, r1 = assert_same([(0, 16, 3), (1, 16, 3)])
    assert times(r0) == (0.0, 1.0, 4.0, 0)  # decode 1-2, r1's prefill 2-3, decode with r1 3-4
    assert times(r1) == (2.0, 3.0, 5.0, 0)


def test_a_step_needs_a_free_block_even_when_it_takes_none():
    # 2 blocks, no watermark, prompt 16: the first decode step takes the 2nd block (t=1-2); from then on no
    # block is free, so every step preempts the request (a prefill of everything so far gives the token).
    (r0,) = assert_same([(0, 16, 5)], num_blocks=2, watermark_fraction=0.0)
    assert times(r0) == (0.0, 1.0, 5.0, 3)


def test_the_request_scheduled_last_preempts_itself():
    # 3 blocks. r0 and r1 each hold 1 after prefill; at t=2 r0 takes the last one, so r1 (the youngest
    # left) is preempted; its restart (17 tokens, 2 blocks) waits until r0 frees its blocks at 5.
    r0, r1 = assert_same([(0, 16, 4), (0, 16, 4)], num_blocks=3, watermark_fraction=0.0)
    assert times(r0) == (0.0, 1.0, 5.0, 0)
    assert times(r1) == (1.0, 2.0, 8.0, 1)


def test_the_youngest_unscheduled_request_is_preempted_first_and_ends_up_second():
    # 3 blocks, all held at t=2. r0 needs a free block: r2 (youngest) is preempted; r0 takes its freed
    # block; then r1 finds none and preempts itself. Waiting is [r1, r2]: r1 restarts first.
    r0, r1, r2 = assert_same([(0, 16, 2), (0, 16, 3), (0, 16, 3)], num_blocks=3, watermark_fraction=0.0)
    assert times(r0) == (0.0, 1.0, 3.0, 0)
    assert times(r1) == (1.0, 2.0, 5.0, 1)
    assert times(r2) == (1.0, 2.0, 7.0, 1)


def test_watermark_keeps_blocks_from_admission_but_not_from_decode():
    # 11 blocks, watermark 1. At t=1 r1 (96 tokens, 6 blocks) leaves exactly the watermark beside r0's 4,
    # so r2 (1 block) waits. At t=2 r0's step takes that last block and r1, finding none free, preempts
    # itself; its restart (97 tokens, 7 blocks) and r2 are admitted together once r0 completes at 4.
    rows = [(0, 64, 3), (0.5, 96, 3), (0.6, 16, 1)]
    r0, r1, r2 = assert_same(rows, num_blocks=11, watermark_fraction=0.1)
    assert times(r0) == (0.0, 1.0, 4.0, 0)
    assert times(r1) == (1.0, 2.0, 6.0, 1)
    assert times(r2) == (4.0, 5.0, 5.0, 0)


def test_completions_route_held_requests_before_the_replica_forms_its_batch():
    # At most one request per replica: r1 is held until r0 completes at 2, then joins the batch formed at 2.
    r0, r1 = assert_same([(0, 16, 2), (0.5, 16, 2)], router=capped_least_loaded(1))
    assert r1[2] == 2.0  # routed at r0's completion
    assert times(r1) == (2.0, 3.0, 4.0, 0)


def test_least_loaded_counts_prefills_in_flight_and_breaks_ties_by_id():
    r0, r1, r2, r3 = assert_same([(0, 16, 4), (0, 16, 4), (0.5, 16, 4), (0.5, 16, 4)], num_replicas=3)
    assert [r[1] for r in (r0, r1, r2, r3)] == [0, 1, 2, 0]


def scripted(plan: dict[int, tuple[int, float]], seen: list | None = None):
    """Send request i to replica plan[i][0] at the first call at or after time plan[i][1]; record what
    each call sees of the replicas (allocated blocks, waiting, running) in `seen`."""
    def route(view: RouterInput) -> list[tuple[int, int]]:
        if seen is not None:
            seen.append((view.time, [(r.allocated_blocks, r.num_waiting, r.num_running) for r in view.replicas]))
        return [(plan[r.id][0], r.id) for r in view.queue if view.time >= plan[r.id][1]]
    return route


def test_a_request_routed_at_a_completion_joins_the_batch_of_a_replica_whose_step_just_ended():
    # r0 decodes on replica 0 in steps 1-2, 2-3, 3-4...; r1 completes on replica 1 at 3, and that call
    # sends the held r2 to replica 0. Replica 0's step ended at 3 too, so it is idle when the router runs:
    # r2's prefill (priority) is the batch it forms at 3.
    plan = {0: (0, 0.0), 1: (1, 0.0), 2: (0, 2.0)}
    r0, r1, r2 = assert_same([(0, 16, 10), (0, 16, 3), (0.5, 16, 2)], router=scripted(plan), num_replicas=2)
    assert r1[5] == 3.0 and r2[2] == 3.0
    assert times(r2) == (3.0, 4.0, 5.0, 0)
    assert times(r0) == (0.0, 1.0, 11.0, 0)


def test_a_router_called_at_a_completion_sees_blocks_before_the_next_steps_take_any():
    # r0 (prompt 14) holds 1 block; its step starting at 3 is the one that crosses into a 2nd block. The
    # call at 3 (r1's completion) comes before replica 0 forms that step, so it sees 1 block allocated.
    plan = {0: (0, 0.0), 1: (1, 0.0), 2: (1, 2.0)}
    rows = [(0, 14, 10), (0, 16, 3), (0.5, 16, 2)]
    seen = []
    simulate(rows, ONE_SECOND, scripted(plan, seen), num_replicas=2)
    assert dict(seen)[3.0] == [(1, 0, 1), (0, 0, 0)]
    for fast in (False, True):
        got = []
        simulator_outcomes(rows, fast, router=scripted(plan, got), num_replicas=2)
        assert got == seen, f"fast={fast}"


@pytest.mark.parametrize("num_blocks", range(5, 13))
@pytest.mark.parametrize("watermark_fraction", [0.0, 0.2])
def test_small_caches_agree_request_by_request(num_blocks, watermark_fraction):
    rows = [(0, 40, 25), (0, 20, 25), (1, 33, 12), (2, 16, 40), (2, 1, 20), (3.5, 50, 9), (4, 17, 30)]
    outcomes = assert_same(rows, num_blocks=num_blocks, watermark_fraction=watermark_fraction)
    if num_blocks <= 8:
        assert sum(o[-1] for o in outcomes) > 0  # the small ones preempt


@MODES
def test_a_request_that_cannot_fit_an_empty_replica_is_an_error(fast):
    # 2 blocks: its 17th output token would need a 3rd at the restart that recomputes 33 tokens.
    with pytest.raises(TooLarge):
        simulate([(0, 16, 20)], ONE_SECOND, num_blocks=2, watermark_fraction=0.0)
    with pytest.raises(RequestTooLarge):
        simulator_outcomes([(0, 16, 20)], fast, num_blocks=2, watermark_fraction=0.0)


# ----- random preemption-heavy traces ----------------------------------------------------------------
def random_rows(seed: int, count: int, max_tokens: int, tie_grid: float | None,
                mean_gap: float = 1.0) -> list[tuple[float, int, int]]:
    """Bursty arrivals (log-normal gaps, sigma 1.5, as the task's trace but with `mean_gap`); every request
    fits an empty replica (prompt + decode - 1 tokens at its last restart <= max_tokens). With `tie_grid`,
    arrival times are multiples of it, so they tie with batch ends on a fixed-step clock and each other."""
    rng = random.Random(seed)
    rows, now = [], 0.0
    for _ in range(count):
        now += rng.lognormvariate(math.log(mean_gap) - 1.125, 1.5)
        arrival = round(now / tie_grid) * tie_grid if tie_grid else now
        prompt = rng.choice([rng.randint(1, 20), rng.randint(1, max_tokens // 2), 16 * rng.randint(1, 4)])
        decode = rng.randint(1, max(1, min(max_tokens - prompt + 1, 80)))
        rows.append((arrival, prompt, decode))
    rows.sort(key=lambda row: row[0])
    return rows


def dyadic_steps(phase: str, tokens: int) -> float:
    # Step times that are exact in binary and tie across replicas, varied by batch size.
    return 0.5 + 0.25 * (tokens % 4) if phase == "decode" else 1.0 + 0.125 * (tokens % 8)


CASES = [
    # (seed, replicas, profile, tie grid, replica config)
    (1, 2, ONE_SECOND, 0.5, dict(num_blocks=12, watermark_fraction=0.0)),
    (2, 3, ONE_SECOND, 1.0, dict(num_blocks=20, watermark_fraction=0.1)),
    (3, 4, TableProfile(dyadic_steps), 0.25, dict(num_blocks=16, watermark_fraction=0.0, max_batch_requests=4)),
    (4, 2, TableProfile(dyadic_steps), 0.5, dict(num_blocks=24, block_size=8, watermark_fraction=0.05,
                                                 max_batch_tokens=96)),
    (5, 2, A10Llama3Profile(), None, dict(num_blocks=12, watermark_fraction=0.0)),
    (6, 3, A10Llama3Profile(), None, dict(num_blocks=30, watermark_fraction=0.1, max_batch_tokens=128)),
    (7, 4, A10Llama3Profile(), 0.01, dict(num_blocks=10, block_size=8, watermark_fraction=0.0)),
]


def mean_gap(profile) -> float:
    # About one arrival per (short) decode step: overload in bursts, so small caches preempt often.
    return 0.03 if isinstance(profile, A10Llama3Profile) else 1.0


def capacity_tokens(replica: dict) -> int:
    blocks = replica["num_blocks"] - int(replica.get("watermark_fraction", 0.01) * replica["num_blocks"])
    return blocks * replica.get("block_size", 16)


@pytest.mark.parametrize("seed, num_replicas, profile, tie_grid, replica", CASES, ids=[str(c[0]) for c in CASES])
def test_random_traces_agree_request_by_request_under_llq(seed, num_replicas, profile, tie_grid, replica):
    rows = random_rows(seed, 300, capacity_tokens(replica), tie_grid, mean_gap(profile))
    outcomes = assert_same(rows, profile=profile, num_replicas=num_replicas, **replica)
    restarts = [o[-1] for o in outcomes]
    assert sum(1 for r in restarts if r) >= 50, "too few restarts: the comparison would not test preemption"


@pytest.mark.parametrize("router", [capped_least_loaded(3), headroom(2)], ids=["capped", "headroom"])
@pytest.mark.parametrize("profile", [ONE_SECOND, A10Llama3Profile()], ids=["1s", "a10"])
def test_random_traces_agree_with_routers_that_hold_requests(router, profile):
    # Held requests are released only by completion-time calls, whose timing and view these pin down.
    replica = dict(num_blocks=14, watermark_fraction=0.0)
    rows = random_rows(11, 250, capacity_tokens(replica), 0.5 if profile is ONE_SECOND else None, mean_gap(profile))
    outcomes = assert_same(rows, profile=profile, router=router, num_replicas=3, **replica)
    assert sum(1 for o in outcomes if o[2] > rows[o[0]][0]) >= 20  # many were held in the global queue
    assert sum(1 for o in outcomes if o[-1]) >= 10


# ----- llm_routing's own trace -------------------------------------------------------------------------
@pytest.mark.slow
@MODES
def test_dev_seed_1_with_llq_gives_the_same_mean_and_restarted_share(fast):
    # The whole trace (8364 requests): the reference runs it in a few seconds.
    from dataclasses import replace

    from adrs_bench.serving import least_loaded as simulator_llq
    from adrs_bench.tasks.llm_routing import bridge, generate
    from adrs_bench.tasks.llm_routing.evaluator import CLUSTER

    trace = generate.set_traces("dev")[0]
    specs = bridge.request_specs(trace)
    rows = [(s.arrival_time, s.prompt_tokens, s.decode_tokens) for s in specs]
    replica = CLUSTER.replica
    reference = simulate(rows, A10Llama3Profile(), least_loaded, CLUSTER.num_replicas,
                         num_blocks=replica.num_blocks, block_size=replica.block_size,
                         watermark_fraction=replica.watermark_fraction, max_batch_tokens=replica.max_batch_tokens,
                         max_batch_requests=replica.max_batch_requests)
    result = Simulator(replace(CLUSTER, fast=fast), specs, simulator_llq, A10Llama3Profile()).run()
    summary = result.summary()

    e2e = np.array([o.completion_time - o_row[0] for o, o_row in zip(reference, rows)], dtype=float)
    restarted = sum(1 for o in reference if o.restarts)
    assert float(np.mean(e2e)) == summary.mean_e2e  # same per-request floats, same numpy mean
    assert restarted / len(rows) == summary.restarted_requests / summary.requests
    assert restarted > 1000  # preemption-heavy, as Glia reports for LLQ
    assert [times(outcome(o)) for o in reference] == [times(outcome(r)) for r in result.records]
