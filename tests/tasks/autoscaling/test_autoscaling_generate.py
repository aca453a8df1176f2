"""autoscaling workload: rate shapes (shapes.py), NHPP counts and determinism (generate.py), stored sets
and their frozen static references (reference.py), strict parsing (instance.py)."""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import shutil

import numpy as np
import pytest

from adrs_bench.errors import InstanceHashMismatch
from adrs_bench.tasks.autoscaling import evaluator, instance, reference, shapes
from adrs_bench.tasks.autoscaling import generate as g
from adrs_bench.tasks.autoscaling import settings as settings_module

SPEC = json.loads((settings_module.TASK_DIR / "spec.json").read_text())


def stored(name: str) -> list[instance.Case]:
    return instance.load_set(name)


# ------------------------------------------------------------------------------------ rate shapes


def test_sinusoid_bounds_and_period():
    t = np.arange(0.0, shapes.DURATION, 0.5)
    r = shapes.rate("sinusoid", t)
    assert r.min() == pytest.approx(7.5) and r.max() == pytest.approx(22.5)
    assert np.allclose(shapes.rate("sinusoid", t + 1800.0), r)
    assert np.allclose(shapes.rate("sinusoid", t, {"period": 300.0}), shapes.rate("sinusoid", t * 6))
    assert shapes.rate("sinusoid", 900.0) == pytest.approx(22.5) and shapes.rate("sinusoid", 0.0) == pytest.approx(7.5)
    assert shapes.rate("sinusoid", 1800.0) == pytest.approx(7.5)


def test_diurnal_bounds():
    assert len(shapes.DIURNAL_POINTS) == 25 and shapes.DIURNAL_POINTS[0][1] == shapes.DIURNAL_POINTS[-1][1]
    r = shapes.rate("diurnal", np.arange(0.0, shapes.DURATION, 1.0))
    assert r.min() == 7.5 and r.max() == 22.5
    assert shapes.rate("diurnal", 12 * 300.0) == 22.5 and shapes.rate("diurnal", 3 * 300.0) == 7.5
    assert shapes.rate("diurnal", shapes.DURATION) == shapes.rate("diurnal", 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 101, 2 ** 40])
def test_spike_triples_for_exactly_300_s(seed):
    params = dict(g.shape_params("spike", seed))
    start = params["spike_start"]
    assert start == int(start) and 1800 <= start < 5400
    t = np.arange(0.0, shapes.DURATION, 0.25)
    r = shapes.rate("spike", t, params)
    assert set(np.unique(r)) == {7.5, 22.5}
    assert np.count_nonzero(r == 22.5) * 0.25 == 300.0
    assert shapes.rate("spike", start, params) == 22.5 and shapes.rate("spike", start + 300.0, params) == 7.5
    assert shapes.rate("spike", start - 1e-6, params) == 7.5


def test_spike_starts_vary_with_seed():
    assert len({dict(g.shape_params("spike", s))["spike_start"] for s in range(10)}) > 5


# ----------------------------------------------------------------------------------------- traces


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_nhpp_counts_follow_the_rate(shape):
    trace = g.generate_trace(shape, 7)
    expected = shapes.expected_requests(shape, trace.duration, trace.params)
    assert abs(len(trace) - expected) < 4 * math.sqrt(expected), (len(trace), expected)
    # and per 5-minute window (the rate integrated on a fine grid)
    times = np.asarray(trace.arrival_times)
    edges = np.arange(0.0, trace.duration + 1, 300.0)
    counts, _ = np.histogram(times, bins=edges)
    for (a, b), n in zip(zip(edges[:-1], edges[1:]), counts):
        grid = np.linspace(a, b, 3001)
        mean = float(np.mean(trace.rate(grid)) * (b - a))
        assert abs(n - mean) < 5 * math.sqrt(mean), (a, n, mean)


def test_trace_well_formed():
    trace = g.generate_trace("sinusoid", 0, 900.0, period=300.0)
    assert trace.id == "sinusoid-0" and trace.params == (("period", 300.0),)
    assert list(trace.arrival_times) == sorted(trace.arrival_times)
    assert all(0 <= t < trace.duration and round(t, 6) == t for t in trace.arrival_times)
    assert min(trace.prompt_tokens) >= 1 and min(trace.decode_tokens) >= 1
    reqs = trace.requests()
    assert len(reqs) == len(trace) and reqs[5].arrival_time == trace.arrival_times[5]
    assert reqs[5].prompt_tokens == trace.prompt_tokens[5] and reqs[5].decode_tokens == trace.decode_tokens[5]


def test_determinism():
    for shape in shapes.SHAPES:
        a, b = g.generate_trace(shape, 3), g.generate_trace(shape, 3)
        assert a == b
        assert g.generate_trace(shape, 4) != a
    short = [g.generate_trace(shape, 3, 600.0) for shape in shapes.SHAPES]
    assert instance.to_csv_gz(short) == instance.to_csv_gz([g.generate_trace(shape, 3, 600.0) for shape in shapes.SHAPES])


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown shape"):
        g.generate_trace("square", 0)
    with pytest.raises(ValueError, match="sinusoid only"):
        g.generate_trace("spike", 0, period=300.0)


def test_fresh_seeds():
    seeds = g.fresh_seeds(0)
    assert len(seeds) == 3 and all(s >= 2 ** 32 for s in seeds)
    assert seeds == g.fresh_seeds(0) and seeds != g.fresh_seeds(1)


def test_fresh_set_round_trip(monkeypatch):
    """Inline requests parse back (short traces and a dummy reference here, to stay fast)."""
    dummy = instance.Reference(7, 14.1, 3.0, 6.0)
    short = [g.generate_trace(shape, s, 300.0) for shape, s in zip(shapes.SHAPES, g.fresh_seeds(5))]
    monkeypatch.setattr(reference, "reference_for", lambda trace: dummy)
    monkeypatch.setattr(g, "fresh_traces", lambda seed: short if seed == 5 else None)
    data = g.fresh_set_bytes(5)
    assert data.endswith(b"\n") and json.loads(data)["set"] == "fresh-5"
    cases = instance.parse_set(data)
    assert [c.trace for c in cases] == short
    assert all(c.reference == dummy for c in cases)
    assert [c.id for c in cases] == [f"{s}-{n}" for s, n in zip(shapes.SHAPES, g.fresh_seeds(5))]


def test_inline_fast_path_agrees_with_the_row_by_row_check(monkeypatch):
    """The column-wise check (cached fresh sets: ~270k rows) accepts what the row-by-row check accepts,
    gives the same columns, and leaves every bad row to the row-by-row message."""
    short = [g.generate_trace(shape, s, 300.0) for shape, s in zip(shapes.SHAPES, g.fresh_seeds(5))]
    rows = {f"t{i}": [[t, p, d] for t, p, d in zip(tr.arrival_times, tr.prompt_tokens, tr.decode_tokens)]
            for i, tr in enumerate(short)}
    ids = list(rows)
    fast = instance._parse_inline(rows, ids)
    assert all(instance._inline_columns(r) is not None for r in rows.values())
    monkeypatch.setattr(instance, "_inline_columns", lambda r: None)
    assert instance._parse_inline(rows, ids) == fast
    monkeypatch.undo()
    for bad in ([[0, 1, True]], [[0, 1, 0]], [[-1, 1, 1]], [[1, 1, 1], [0.5, 1, 1]], [[math.nan, 1, 1]],
                [[math.inf, 1, 1]], [(0, 1, 1)], [[0, 1]], [["0", 1, 1]], [[0, 1.0, 1]], [[True, 1, 1]]):
        assert instance._inline_columns(bad) is None, bad
        with pytest.raises(ValueError, match=r"requests_inline\[a\]\[\d\]: expected \[arrival_time, "
                                             r"prompt_tokens, decode_tokens\] in arrival order, got "):
            instance._parse_inline({"a": bad}, ["a"])


# ----------------------------------------------------------------------------------- stored sets


@pytest.mark.parametrize("name", sorted(g.SETS))
def test_stored_set_hashes_and_parse(name):
    data = (instance.INSTANCES_DIR / f"{name}.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SPEC["sets"][name]["sha256"]
    assert SPEC["sets"][name]["file"] == f"instances/{name}.json"
    document = json.loads(data)
    csv_gz = (instance.INSTANCES_DIR / document["requests_file"]).read_bytes()
    assert hashlib.sha256(csv_gz).hexdigest() == document["requests_sha256"]
    cases = instance.parse_set(data, instance.INSTANCES_DIR)
    assert len(cases) == SPEC["sets"][name]["cases"]
    for case in cases:
        r = case.reference
        assert SPEC["parameters"]["min_replicas"] <= r.static_replicas <= SPEC["parameters"]["max_replicas"]
        assert r.static_p95_slowdown <= SPEC["parameters"]["slo_max_slowdown"]
        assert r.below_p95_slowdown is not None and r.below_p95_slowdown > SPEC["parameters"]["slo_max_slowdown"]
        assert r.static_gpu_hours >= r.static_replicas * case.trace.duration / 3600


@pytest.mark.parametrize("name", [
    # smoke in the default run; dev and test (1-3 s each) run with -m slow and again in CI's `instances verify`
    name if name == "smoke" else pytest.param(name, marks=pytest.mark.slow) for name in sorted(g.SETS)])
def test_stored_set_equals_regeneration(name):
    """Traces and bytes regenerate exactly (the references take simulation: CI's `instances verify` searches them)."""
    cases = stored(name)
    traces = g.set_traces(name)
    assert [c.trace for c in cases] == traces
    json_bytes, csv_gz = g.set_bytes(name, traces, [c.reference for c in cases])
    assert csv_gz == (instance.INSTANCES_DIR / f"{name}.csv.gz").read_bytes()
    assert json_bytes == (instance.INSTANCES_DIR / f"{name}.json").read_bytes()


def test_smoke_reference_at_static_and_below():
    """The frozen numbers: the static count keeps the SLO with these GPU-hours, one fewer breaks it."""
    (case,) = stored("smoke")
    settings, requests, r = settings_module.settings(), case.trace.requests(), case.reference
    run = evaluator.simulate(settings, requests, None, replicas=r.static_replicas)
    assert (run.gpu_hours, run.slo.percentile_slowdown) == (r.static_gpu_hours, r.static_p95_slowdown)
    below = evaluator.simulate(settings, requests, None, replicas=r.static_replicas - 1)
    assert below.slo.percentile_slowdown == r.below_p95_slowdown


# The stored references equal a new search (every set, bytes and sha256 included): that is
# `adrs-bench instances verify autoscaling`, run by CI (.ci/run; tests/core/test_ci_steps.py checks the step).


# ---------------------------------------------------------------------------------------- parsing


@pytest.fixture
def smoke_copy(tmp_path):
    for suffix in ("json", "csv.gz"):
        shutil.copy(instance.INSTANCES_DIR / f"smoke.{suffix}", tmp_path / f"smoke.{suffix}")
    return tmp_path


def test_tampered_requests_rejected(smoke_copy):
    """The same refusal as any pinned instance file (more in test_autoscaling_pins.py)."""
    path = smoke_copy / "smoke.csv.gz"
    text = gzip.decompress(path.read_bytes()).decode() + "sinusoid-0,899.999999,10,10\n"
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    with pytest.raises(InstanceHashMismatch) as info:
        instance.parse_set((smoke_copy / "smoke.json").read_bytes(), smoke_copy)
    message = str(info.value)
    expected = json.loads((smoke_copy / "smoke.json").read_text())["requests_sha256"]
    assert "\n" not in message and "smoke.csv.gz" in message and expected[:12] in message
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] in message
    assert "(pinned in smoke.json); it was corrupted or edited: restore it" in message


def _with_rows(smoke_copy, edit) -> bytes:
    """The smoke JSON pointing at an edited CSV (its hash updated), so only the rows are wrong."""
    path = smoke_copy / "smoke.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    data = gzip.compress("".join(edit(lines)).encode(), mtime=0)
    path.write_bytes(data)
    document = json.loads((smoke_copy / "smoke.json").read_text())
    document["requests_sha256"] = hashlib.sha256(data).hexdigest()
    return json.dumps(document).encode()


def test_bad_row_named(smoke_copy):
    def edit(lines):
        lines[3] = "sinusoid-0,abc,10,10\n"
        return lines
    with pytest.raises(ValueError, match=r"line 4: .*arrival_time"):
        instance.parse_set(_with_rows(smoke_copy, edit), smoke_copy)


def test_missing_row_counted(smoke_copy):
    with pytest.raises(ValueError, match=r"expected 13\d\d\d requests, got"):
        instance.parse_set(_with_rows(smoke_copy, lambda lines: lines[:-1]), smoke_copy)


def test_wrong_format_rejected(smoke_copy):
    document = json.loads((smoke_copy / "smoke.json").read_text())
    document["format"] = "autoscaling-instances/0"
    with pytest.raises(ValueError, match="expected format"):
        instance.parse_set(json.dumps(document).encode(), smoke_copy)
