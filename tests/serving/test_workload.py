"""The ShareGPT length model both serving tasks draw from: marginals, correlation, and that every request
fits one replica of the default configuration."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from adrs_bench.serving import ReplicaConfig, workload

N = 200_000


@pytest.fixture(scope="module")
def lengths():
    return workload.sample_lengths(np.random.default_rng(12345), N)


@pytest.mark.parametrize("which", ["prompt", "decode"])
def test_marginals_match_table(lengths, which):
    x = lengths[0] if which == "prompt" else lengths[1]
    table = dict(zip(workload.QUANTILE_PERCENTS,
                     workload.PROMPT_QUANTILES if which == "prompt" else workload.DECODE_QUANTILES))
    for pct in (5, 10, 25, 50, 75, 90, 95, 99):
        q = np.percentile(x, pct)
        assert abs(q - table[pct]) <= 0.04 * table[pct] + 1, (pct, q, table[pct])
    assert x.min() >= 1
    target = 295 if which == "prompt" else 362
    assert abs(x.mean() - target) <= 0.05 * target, x.mean()


def test_rank_correlation(lengths):
    rho = spearmanr(lengths[0], lengths[1]).statistic
    assert abs(rho - workload.COPULA_RHO) <= 0.02, rho


def test_requests_fit_a_replica(lengths):
    replica = ReplicaConfig()
    blocks = -(-(lengths[0] + lengths[1]) // replica.block_size)
    assert blocks.max() <= replica.max_request_blocks
    # and so does the longest request the tables can give
    assert replica.fits_alone(workload.PROMPT_QUANTILES[-1], workload.DECODE_QUANTILES[-1])


def test_the_tables_are_quantiles():
    for table in (workload.PROMPT_QUANTILES, workload.DECODE_QUANTILES):
        assert len(table) == len(workload.QUANTILE_PERCENTS) and list(table) == sorted(table)
    assert workload.QUANTILE_PERCENTS[0] == 0 and workload.QUANTILE_PERCENTS[-1] == 100
