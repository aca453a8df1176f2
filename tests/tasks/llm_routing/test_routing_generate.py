"""llm_routing workload generator: determinism, stored sets, gaps, parsing (the length model it draws from:
tests/serving/test_workload.py)."""
from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from adrs_bench.tasks.llm_routing import evaluator
from adrs_bench.tasks.llm_routing import generate as g
from adrs_bench.tasks.llm_routing import instance


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


def test_every_stored_request_fits_one_replica_of_the_cluster():
    assert evaluator.CLUSTER.replica is instance.REPLICA  # the fit is checked against the replica that is simulated
    for trace in instance.parse_csv_gz((g.INSTANCES_DIR / "dev.csv.gz").read_bytes()):
        assert all(instance.REPLICA.fits_alone(p, d) for p, d in zip(trace.prompt_tokens, trace.decode_tokens))


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
