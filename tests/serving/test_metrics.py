import math

import pytest

from adrs_bench.serving import summarize

from .helpers import run


def test_summary_of_a_hand_made_run():
    # r0: prompt 16, 3 tokens: prefill 0-1 (1 block), decode 1-2 and 2-3 (2 blocks: token 17 opens a block).
    # r1 arrives at 0.5 and is prefilled 1-2 (1 block; r0 waits), so r0 ends at 4.
    result = run([(0, 16, 3), (0.5, 16, 1)], True, num_blocks=10)
    r0, r1 = result.records
    assert (r0.e2e, r0.ttft, r0.tpot, r0.global_queueing, r0.replica_queueing) == (4.0, 1.0, 1.5, 0.0, 0.0)
    assert (r1.e2e, r1.ttft, r1.tpot, r1.replica_queueing) == (1.5, 1.5, None, 0.5)
    summary = summarize(result)
    assert summary.requests == 2
    assert summary.mean_e2e == 2.75
    assert summary.p50_e2e == 2.75 and summary.p99_e2e == pytest.approx(1.5 + 0.99 * 2.5)
    assert summary.mean_ttft == 1.25 and summary.mean_tpot == 1.5
    assert summary.mean_replica_queueing == 0.25 and summary.mean_global_queueing == 0.0
    assert (summary.preemptions, summary.restarted_requests) == (0, 0)
    # block-seconds: [0,1] 1, [1,2] 1+1 (r0 holds 1, r1 1), [2,3] 2, [3,4] 2 -> 7 of 10 blocks x 4 s
    assert summary.mean_kv_utilisation == 7 / 40
    assert (summary.makespan, summary.gpu_seconds, summary.gpu_seconds_per_replica) == (4.0, 4.0, (4.0,))
    assert result.replicas[0].busy_seconds == 4.0 and result.replicas[0].tokens_generated == 4


def test_summary_counts_preemptions_and_restarted_requests():
    result = run([(0, 40, 10), (0.5, 32, 10)], True, num_blocks=5, watermark_fraction=0.0)
    summary = result.summary()
    assert (summary.preemptions, summary.restarted_requests) == (1, 1)
    assert set(summary.as_dict()) >= {"mean_e2e", "p90_e2e", "p90_ttft", "mean_kv_utilisation", "gpu_seconds"}


def test_summary_of_single_token_requests_has_no_tpot():
    summary = run([(0, 16, 1)], True).summary()
    assert math.isnan(summary.mean_tpot)
