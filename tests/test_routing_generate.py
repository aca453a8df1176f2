"""llm_routing workload generator: determinism, stored sets, marginals, correlation, gaps, parsing."""
from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from scipy.stats import spearmanr

from adrs_bench.tasks.llm_routing import generate as g
from adrs_bench.tasks.llm_routing import instance

N = 200_000


@pytest.fixture(scope="module")
def lengths():
    return g.sample_lengths(np.random.default_rng(12345), N)


def test_same_seed_same_trace_and_bytes():
    a, b = g.generate_trace(7, 200.0), g.generate_trace(7, 200.0)
    assert a == b
    assert instance.to_csv_gz([a]) == instance.to_csv_gz([b])
    assert g.generate_trace(8, 200.0) != a


def test_shorter_trace_is_prefix():
    short, long = g.generate_trace(3, 50.0), g.generate_trace(3, 200.0)
    n = len(short)
    assert n > 0
    assert long.arrival_times[:n] == short.arrival_times
    assert long.prompt_tokens[:n] == short.prompt_tokens
    assert long.decode_tokens[:n] == short.decode_tokens


@pytest.mark.parametrize("name", sorted(g.SETS))
def test_stored_set_equals_regeneration(name):
    stored = (g.INSTANCES_DIR / f"{name}.csv.gz").read_bytes()
    built = g.build_set_bytes(name)
    assert hashlib.sha256(gzip.decompress(stored)).hexdigest() == \
        hashlib.sha256(gzip.decompress(built)).hexdigest()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(built).hexdigest()
    traces = instance.parse_csv_gz(stored)
    assert traces == g.set_traces(name)
    spec = g.SETS[name]
    assert [t.seed for t in traces] == list(spec.seeds)
    for t in traces:
        assert t.duration == spec.duration
        assert all(0 < x < t.duration for x in t.arrival_times)
        assert list(t.arrival_times) == sorted(t.arrival_times)
        assert all(round(x, 6) == x for x in t.arrival_times)


def test_dev_trace_size():
    for t in instance.parse_csv_gz((g.INSTANCES_DIR / "dev.csv.gz").read_bytes()):
        assert 6000 <= len(t) <= 9000, (t.seed, len(t))


def test_fresh_traces_distinct_from_sets():
    seeds = g.fresh_seeds(0)
    assert len(set(seeds)) == 5 and seeds == g.fresh_seeds(0) and seeds != g.fresh_seeds(1)
    stored = {s for spec in g.SETS.values() for s in spec.seeds}
    assert not stored & set(seeds)


@pytest.mark.parametrize("which", ["prompt", "decode"])
def test_marginals_match_table(lengths, which):
    x = lengths[0] if which == "prompt" else lengths[1]
    table = dict(zip(g.QUANTILE_PERCENTS,
                     g.PROMPT_QUANTILES if which == "prompt" else g.DECODE_QUANTILES))
    for pct in (5, 10, 25, 50, 75, 90, 95, 99):
        q = np.percentile(x, pct)
        assert abs(q - table[pct]) <= 0.04 * table[pct] + 1, (pct, q, table[pct])
    assert x.min() >= 1
    target = 295 if which == "prompt" else 362
    assert abs(x.mean() - target) <= 0.05 * target, x.mean()


def test_rank_correlation(lengths):
    rho = spearmanr(lengths[0], lengths[1]).statistic
    assert abs(rho - 0.12) <= 0.02, rho


def test_requests_fit_a_replica(lengths):
    replica = instance.REPLICA
    blocks = -(-(lengths[0] + lengths[1]) // replica.block_size)
    assert blocks.max() <= replica.num_blocks - replica.watermark_blocks
    assert (replica.num_blocks, replica.block_size, replica.watermark_blocks) == (2240, 16, 22)  # DESIGN.md §5


def test_mean_gap():
    gaps = g.sample_gaps(np.random.default_rng(99), 2_000_000)
    assert abs(gaps.mean() * g.QPS - 1) <= 0.05, gaps.mean()
    assert abs(np.median(np.log(gaps)) - (np.log(1 / g.QPS) - 2)) <= 0.01


def test_roundtrip_and_header():
    traces = [g.generate_trace(1, 20.0), g.generate_trace(2, 20.0)]
    data = instance.to_csv_gz(traces)
    assert instance.parse_csv_gz(data) == traces
    text = gzip.decompress(data).decode()
    assert text.splitlines()[0] == "seed,duration,arrival_time,prompt_tokens,decode_tokens"
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime 0


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


HEAD = "seed,duration,arrival_time,prompt_tokens,decode_tokens\n"


@pytest.mark.parametrize("body, line, words", [
    ("1,60.0,1.0,10,5\n1,60.0,0.5,10,5\n", 3, "before the previous"),
    ("1,60.0,1.0,0,5\n", 2, "positive"),
    ("1,60.0,1.0,10,-5\n", 2, "decode_tokens"),
    ("1,60.0,1.0,10\n", 2, "5 fields"),
    ("1,60.0,61.0,10,5\n", 2, "arrival_time < duration"),
    ("1,60.0,1.0,10,5\n2,60.0,1.0,10,5\n1,60.0,2.0,10,5\n", 4, "appears again"),
    ("1,60.0,1.0,10,5\n1,30.0,2.0,10,5\n", 3, "differs"),
    ("1,60.0,1.0,x,5\n", 2, "prompt_tokens"),
    ("1,60.0,1.0,30000,6000\n", 2, "fit one replica"),
])
def test_parse_errors_name_the_line(body, line, words):
    with pytest.raises(ValueError, match=rf"^line {line}: .*{words}"):
        instance.parse_csv_gz(_gz(HEAD + body))


def test_parse_rejects_bad_header_and_data():
    with pytest.raises(ValueError, match="^line 1: expected header"):
        instance.parse_csv_gz(_gz("seed,duration,arrival,prompt_tokens,decode_tokens\n"))
    with pytest.raises(ValueError, match="gzipped"):
        instance.parse_csv_gz(b"not gzip")
