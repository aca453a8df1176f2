"""vLLM's scheduling policy (policy.py): its functions on hand-made queues, then its semantics on hand-made
traces, every step 1 s, on both replicas (fast, and the step-by-step reference)."""
from collections import deque

import pytest

from adrs_bench.serving import ReplicaConfig, RequestTooLarge, policy
from adrs_bench.serving.request import Request

from .helpers import Probe, probes, run

MODES = pytest.mark.parametrize("fast", [False, True], ids=["step", "fast"])


def times(record):
    return (record.first_scheduled_time, record.first_token_time, record.completion_time)


def requests(*prefills: int) -> list[Request]:
    """Requests 0, 1, ... arriving in that order, with these prefills."""
    return [Request(i, float(i), prefill, 10) for i, prefill in enumerate(prefills)]


def test_admit_is_fcfs_and_stops_at_the_first_request_that_does_not_fit():
    config = ReplicaConfig(num_blocks=20, watermark_fraction=0.1)  # watermark 2
    waiting = deque(requests(32, 160, 16))  # 2, 10 and 1 blocks
    batch, free = policy.admit(waiting, 11, 0, config)  # 11 - 2 = 9 >= 2; 9 - 10 < 2: stop (r2 would fit)
    assert [r.id for r in batch] == [0] and free == 9 and batch[0].blocks == 2
    assert [r.id for r in waiting] == [1, 2]
    assert policy.admits_head(waiting[0], 12, 0, config) and not policy.admits_head(waiting[0], 11, 0, config)
    assert not policy.admits_head(waiting[0], 100, config.max_batch_requests, config)


def test_admit_caps_requests_and_tokens_but_admits_a_long_prompt_alone():
    config = ReplicaConfig(num_blocks=10_000, max_batch_tokens=100, max_batch_requests=3)
    batch, _ = policy.admit(deque(requests(10, 10, 10, 10)), 10_000, 1, config)  # 1 running: room for 2
    assert [r.id for r in batch] == [0, 1]
    batch, _ = policy.admit(deque(requests(40, 60)), 10_000, 0, config)  # 2 x 60 > 100
    assert [r.id for r in batch] == [0]
    batch, _ = policy.admit(deque(requests(500, 1)), 10_000, 0, config)
    assert [r.id for r in batch] == [0]


def test_a_step_forms_without_preemption_unless_a_request_meets_a_full_cache():
    assert policy.forms_without_preemption(2, 3, False)
    assert policy.forms_without_preemption(3, 3, True)  # the youngest takes the last block
    assert not policy.forms_without_preemption(3, 3, False)  # someone after the last taker meets it full
    assert not policy.forms_without_preemption(0, 0, False)  # no free block: nobody may step


def test_schedule_preempts_the_youngest_not_yet_scheduled_and_may_preempt_the_request_itself():
    freed = []

    def preempt(victim):
        freed.append(victim.id)
        return 2

    running = requests(16, 16, 16, 16)
    # One block free; r0 takes it, r1 meets a full cache: r3 (youngest) goes, then r1 steps without a
    # block, r2 needs one and takes one of r3's two.
    free = policy.schedule_decode_step(running, [True, False, True, True], 1, preempt)
    assert freed == [3] and [r.id for r in running] == [0, 1, 2] and free == 1
    freed.clear()
    running = requests(16, 16)
    # No block free: r0 meets a full cache and preempts r1; then r0 steps.
    assert policy.schedule_decode_step(running, [False, False], 0, preempt) == 2 and freed == [1]
    freed.clear()
    running = requests(16, 16)
    # r0 takes the last block; r1 meets a full cache and is itself the youngest left: it is preempted.
    assert policy.schedule_decode_step(running, [True, True], 1, preempt) == 2 and freed == [1]
    assert [r.id for r in running] == [0]


@MODES
def test_prefill_has_priority_and_is_not_mixed_with_decode(fast):
    # r0 decodes from t=1; r1 arrives at 1.5, is prefilled alone at 2-3 while r0 waits, then both decode.
    r0, r1 = run([(0, 16, 5), (1.5, 16, 3)], fast).records
    assert times(r0) == (0.0, 1.0, 6.0)
    assert times(r1) == (2.0, 3.0, 5.0)


@MODES
def test_first_token_at_end_of_prefill_and_single_token_request_completes_there(fast):
    (r0,) = run([(0, 100, 1)], fast).records
    assert (r0.first_token_time, r0.completion_time) == (1.0, 1.0)
    assert r0.tpot is None


@MODES
@pytest.mark.parametrize("r2_prompt, r2_start", [(80, 1.0), (96, 2.0)])
def test_admission_watermark_and_stop_at_first_that_does_not_fit(fast, r2_prompt, r2_start):
    # 10 blocks, watermark 1. At t=1: r1 takes 4 blocks (6 free); r2 needs 5 (leaves 1 = watermark: fits)
    # or 6 (leaves 0: does not fit) -- then r3, which would fit, must wait too (first come first served).
    rows = [(0, 16, 1), (0.1, 64, 1), (0.2, r2_prompt, 1), (0.3, 16, 1)]
    records = run(rows, fast, num_blocks=10, watermark_fraction=0.1).records
    starts = [r.first_scheduled_time for r in records]
    assert starts[:3] == [0.0, 1.0, r2_start]
    assert starts[3] == 2.0  # admitted in the next batch either way (with r2 when r2 waited)


@MODES
@pytest.mark.parametrize("r3_prompt, expected", [(3000, [1.0, 1.0, 2.0, 2.0]), (2730, [1.0, 1.0, 1.0, 2.0])])
def test_admission_token_rule_requests_times_longest_prompt(fast, r3_prompt, expected):
    # (admitted + 1) x longest prompt <= 8192: 3 x 3000 = 9000 stops at r3; 3 x 2730 = 8190 fits, 4 x 2730 not.
    longest = 3000 if r3_prompt == 3000 else 2730
    rows = [(0, 16, 1), (0.1, longest, 1), (0.2, 1000, 1), (0.3, r3_prompt, 1), (0.4, 10, 1)]
    starts = [r.first_scheduled_time for r in run(rows, fast).records]
    assert starts == [0.0] + expected


@MODES
def test_admission_request_cap_counts_running_requests(fast):
    # At most 2 requests hold blocks: r0 is running, so only r1 is admitted at t=1, r2 at t=2.
    r0, r1, r2 = run([(0, 16, 3), (0.1, 16, 1), (0.2, 16, 1)], fast, max_batch_requests=2).records
    assert (r1.first_scheduled_time, r2.first_scheduled_time) == (1.0, 2.0)
    assert r0.completion_time == 5.0


@MODES
def test_a_lone_prompt_longer_than_the_batch_token_limit_is_admitted_alone(fast):
    # 9000 > 8192 tokens: vLLM would refuse it, vidur would wait forever; here it is prefilled alone.
    starts = [r.first_scheduled_time for r in run([(0, 16, 1), (0.1, 9000, 2), (0.2, 10, 1)], fast).records]
    assert starts == [0.0, 1.0, 2.0]


@MODES
def test_a_request_larger_than_an_empty_replica_raises(fast):
    with pytest.raises(RequestTooLarge, match=r"^at t=0\.000000 s request 0 needs 13 KV blocks but replica 0 can "
                                              r"give at most 10 \(blocks minus watermark\)"):
        run([(0, 200, 2)], fast, num_blocks=10, watermark_fraction=0.0)


@MODES
def test_blocks_are_taken_on_16_token_boundaries_and_freed_at_completion(fast):
    # prompt 16: 1 block; the first decode step (t=1) caches token 17 -> 2 blocks; step 17 (t=17) -> 3.
    probe = Probe()
    rows = [(0, 16, 20)] + probes(0.5, 1.5, 5.5, 16.5, 17.5, 19.5, 20.5)
    result = run(rows, fast, router=probe, num_replicas=2)
    assert [probe.at(t)["allocated"] for t in (0.5, 1.5, 16.5, 17.5, 19.5, 20.5)] == [1, 2, 2, 3, 3, 0]
    assert probe.at(0.5)["processed"] == {0: 0}  # in prefill: nothing processed yet (as vidur counts)
    assert probe.at(5.5)["processed"] == {0: 16 + 5}  # 4 decode steps done: 5 tokens generated
    assert result.records[0].completion_time == 20.0


@MODES
def test_preemption_of_the_youngest_restarts_it_at_the_front_of_the_queue(fast):
    # 7 blocks, watermark 1. r0 and r1 (prompt 32, 2 blocks each) take a 3rd block at t=2 (1 stays free);
    # r2 (1 block) arrives at t=10 and waits: admitting it would leave 0 < watermark. At t=18 both need a
    # 4th: r0 (older) takes the last one, then r1 meets a full cache and, the youngest left, is preempted:
    # it restarts with prompt 32 + 17 generated = 49 at the front of the queue, ahead of r2.
    probe = Probe()
    rows = [(0, 32, 40), (0.5, 32, 40), (10, 16, 3)] + probes(20.5, 35.5)
    result = run(rows, fast, router=probe, num_replicas=2, num_blocks=7, watermark_fraction=0.15)
    r0, r1, r2 = result.records[:3]
    assert probe.at(20.5)["waiting"] == [1, 2] and probe.at(20.5)["running"] == [0]
    assert probe.at(20.5)["prefill"][1] == 49 and probe.at(20.5)["allocated"] == 4
    assert probe.at(35.5)["allocated"] == 5
    assert (r0.completion_time, r0.restarts) == (41.0, 0)
    assert (r1.restarts, r1.preemptions) == (1, 1)
    assert times(r1) == (1.0, 2.0, 64.0)  # first scheduling and first token are the first ever
    assert times(r2) == (41.0, 42.0, 44.0)  # re-admitted with r1 once r0 freed its blocks


@MODES
def test_golden_a_full_cache_preempts_even_when_no_request_needs_a_block(fast):
    # vidur's rule (DESIGN.md §5): a running request takes its step only while a block is free. 5 blocks,
    # no watermark: r0 (prompt 40: 3 blocks) and r1 (prompt 24: 2 blocks) fill the cache at t=2, and
    # neither needs a new block for 7 more tokens. r0 is scheduled first, meets the full cache and
    # preempts r1 (the youngest); r1 is re-admitted at once (its 25 tokens fit the 2 freed blocks) and
    # preempted again at every decode step until r0 completes at t=11 (r1: 5 restarts).
    # Under the earlier rule (preempt only when a block is needed) nothing is preempted: both end at 7.
    r0, r1 = run([(0, 40, 6), (0.5, 24, 6)], fast, num_blocks=5, watermark_fraction=0.0).records
    assert (r0.completion_time, r0.restarts) == (11.0, 0)
    assert (r1.completion_time, r1.restarts, r1.preemptions) == (12.0, 5, 5)
    assert times(r1)[:2] == (1.0, 2.0)


@MODES
def test_golden_the_request_taking_the_last_block_decides_who_is_preempted(fast):
    # One free block at t=2 and exactly one request needs one. If it is the oldest (r0: prompt 32), r1
    # (prompt 24, needing none) then meets the full cache and is preempted in that very step; if it is
    # the youngest (r1: prompt 32), every request is served and the preemption comes one step later.
    # The earlier rule preempted neither: both ended at t=6.
    oldest_takes = run([(0, 32, 5), (0.5, 24, 5)], fast, num_blocks=5, watermark_fraction=0.0).records
    youngest_takes = run([(0, 32, 5), (0.5, 32, 5)], fast, num_blocks=6, watermark_fraction=0.0).records
    assert [(r.completion_time, r.restarts) for r in oldest_takes] == [(9.0, 0), (10.0, 4)]
    assert [(r.completion_time, r.restarts) for r in youngest_takes] == [(8.0, 0), (9.0, 3)]


@MODES
def test_the_youngest_may_be_the_request_needing_the_block(fast):
    # 5 blocks: r0 (prompt 40, 3 blocks) needs none at t=2, r1 (prompt 32) needs one and is the youngest:
    # r1 preempts itself; r0, which needs no block, is never a victim.
    r0, r1 = run([(0, 40, 10), (0.5, 32, 10)], fast, num_blocks=5, watermark_fraction=0.0).records
    assert (r0.completion_time, r0.restarts) == (11.0, 0)
    assert (r1.restarts, r1.first_token_time, r1.completion_time) == (1, 2.0, 20.0)


def test_a_request_that_outgrows_the_whole_cache_raises():
    # 3 blocks hold 48 tokens: at t=33 the lone request needs a 4th block, preempts itself and would
    # re-prefill 49 tokens (4 blocks): no replica can ever run it.
    for fast in (False, True):
        with pytest.raises(RequestTooLarge, match="request 0 needs 4 KV blocks but replica 0 can give at most 3"):
            run([(0, 16, 40)], fast, num_blocks=3, watermark_fraction=0.0)
