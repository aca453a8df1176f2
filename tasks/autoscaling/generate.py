"""Seeded time-varying request traces for autoscaling, and their frozen static references (DESIGN.md §5).

    python -m adrs_bench.tasks.autoscaling.generate [--check] [--workers N] [SET...]

writes (or, with --check, compares) tasks/autoscaling/instances/<set>.json and <set>.csv.gz and
prints, per trace, its requests, the smallest fixed replica count that keeps the SLO (the static
reference), that count's GPU-hours, and the p95 slowdown at that count and at one replica fewer.
It fails (exit status 2) if some trace has no fixed count within the bounds that keeps the SLO.

Workload (the autoscaling issue, after Glia §5.3): request lengths are the ShareGPT model both serving
tasks draw from (adrs_bench.serving.workload: ShareGPT V3 first turns as Glia prepares them); arrivals are a
non-homogeneous Poisson process whose rate follows one of three shapes over 2 hours (7200 s):

  sinusoid  rate(t) = 15 + 7.5 sin(2 pi t / period) QPS, period 1800 s (long against the 60 s cold
            start), between 7.5 and 22.5.
  diurnal   a day compressed into 2 hours (hour h of the day at t = 300 h s), piecewise linear through
            DIURNAL_POINTS: night trough 7.5 QPS, morning ramp, midday peak 22.5 QPS, evening
            shoulder. Only the shape is stylised after the daily pattern of the Azure LLM inference
            traces (Azure public dataset, AzureLLMInferenceTrace 2023 and 2024); no trace data is used.
  spike     7.5 QPS, tripled (22.5 QPS) for SPIKE_SECONDS = 300 s from a seed-dependent whole second
            in [1800, 5400).

Sampling: thinning (Lewis and Shedler) against the shape's maximum rate: a homogeneous Poisson
process of that rate on [0, duration) (a Poisson count, then sorted uniform times), each point kept
with probability rate(t) / max rate; kept times rounded to 1 us (those rounding to `duration` are
dropped). Lengths are drawn for the kept arrivals in order.

Seeds: a trace of shape index k and seed s draws arrivals from default_rng([SEED_CONSTANT, k, s,
STREAM_ARRIVALS]), lengths from [..., STREAM_LENGTHS] and shape parameters (the spike start) from
[..., STREAM_PARAMS]. Stored seeds: smoke 0 (a short sinusoid: 900 s, period 300 s), dev 1, test 101
(held out). fresh_cases(s) derives one seed >= 2**32 per shape from default_rng([SEED_CONSTANT,
STREAM_FRESH, s]), so a fresh trace never meets a stored one.

Storage: instances/<set>.json (pinned by spec.json's sha256) holds the traces' descriptions, their
references and the sha256 of instances/<set>.csv.gz, which holds the requests (trace_id,
arrival_time, prompt_tokens, decode_tokens; trace order, then arrival order). A fresh set is one
self-contained JSON with the requests inline ("requests_inline").
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from adrs_bench.errors import InstanceSetNotFound
from adrs_bench.instances import canonical_gzip, case_built, check_pinned
from adrs_bench.serving import RequestSpec
from adrs_bench.serving.workload import sample_lengths

from . import evaluator
from .settings import Settings

FORMAT = "autoscaling-instances/1"
SHAPES = ("sinusoid", "diurnal", "spike")
DURATION = 7200.0

SINUSOID_MEAN = 15.0
SINUSOID_AMPLITUDE = 7.5
SINUSOID_PERIOD = 1800.0

# (hour of the day, QPS); hour h is at t = h * DIURNAL_HOUR_SECONDS. Hour 24 equals hour 0.
DIURNAL_HOUR_SECONDS = DURATION / 24.0
DIURNAL_POINTS = (
    (0, 9.0), (1, 8.0), (2, 7.5), (3, 7.5), (4, 7.5), (5, 8.0), (6, 9.5), (7, 11.5), (8, 14.5),
    (9, 17.5), (10, 20.0), (11, 21.5), (12, 22.5), (13, 22.5), (14, 22.0), (15, 21.0), (16, 20.0),
    (17, 18.5), (18, 17.5), (19, 17.0), (20, 16.5), (21, 15.0), (22, 13.0), (23, 11.0), (24, 9.0),
)
_DIURNAL_T = np.asarray([h * DIURNAL_HOUR_SECONDS for h, _ in DIURNAL_POINTS], dtype=float)
_DIURNAL_Q = np.asarray([q for _, q in DIURNAL_POINTS], dtype=float)

SPIKE_BASE = 7.5
SPIKE_FACTOR = 3.0
SPIKE_SECONDS = 300.0
SPIKE_START_RANGE = (1800, 5400)  # whole seconds, upper bound excluded

SEED_CONSTANT = 0x6173636C  # "ascl": separates these streams from every other task's
STREAM_ARRIVALS, STREAM_LENGTHS, STREAM_PARAMS, STREAM_FRESH = 1, 2, 3, 9


@dataclass(frozen=True)
class SetSpec:
    shapes: tuple[str, ...]
    seed: int
    duration: float
    period: float | None = None  # the sinusoid's, when not SINUSOID_PERIOD


# Fixed: changing any of these changes the instances and so the task version.
SETS = {
    "smoke": SetSpec(shapes=("sinusoid",), seed=0, duration=900.0, period=300.0),
    "dev": SetSpec(shapes=SHAPES, seed=1, duration=DURATION),
    "test": SetSpec(shapes=SHAPES, seed=101, duration=DURATION),  # held out
}

TASK_DIR = Path(__file__).resolve().parent
INSTANCES_DIR = TASK_DIR / "instances"
CSV_HEADER = ("trace_id", "arrival_time", "prompt_tokens", "decode_tokens")
REGENERATE = "regenerate with python -m adrs_bench.tasks.autoscaling.generate"

Params = tuple[tuple[str, float], ...]


# ---------------------------------------------------------------------------------------- shapes


def _param(params: Mapping[str, float] | Params | None, name: str, default: float | None = None) -> float:
    found = dict(params or ())
    if name in found:
        return float(found[name])
    if default is None:
        raise ValueError(f"shape parameter {name!r} missing")
    return default


def sinusoid_rate(t, period: float = SINUSOID_PERIOD):
    """Starts at the trough (7.5 QPS), like the other shapes, so the 4 replicas a run starts with fit the
    opening load and no policy is judged on a start-up it could not have prepared for."""
    return SINUSOID_MEAN - SINUSOID_AMPLITUDE * np.cos(2.0 * np.pi * np.asarray(t, dtype=float) / period)


def diurnal_rate(t):
    return np.interp(np.asarray(t, dtype=float), _DIURNAL_T, _DIURNAL_Q)


def spike_rate(t, start: float):
    t = np.asarray(t, dtype=float)
    inside = (t >= start) & (t < start + SPIKE_SECONDS)
    return np.where(inside, SPIKE_BASE * SPIKE_FACTOR, SPIKE_BASE)


def rate(shape: str, t, params: Mapping[str, float] | Params | None = None):
    """QPS of `shape` at time(s) t (seconds; numpy arrays accepted) with the trace's parameters."""
    if shape == "sinusoid":
        return sinusoid_rate(t, _param(params, "period", SINUSOID_PERIOD))
    if shape == "diurnal":
        return diurnal_rate(t)
    if shape == "spike":
        return spike_rate(t, _param(params, "spike_start"))
    raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")


def max_rate(shape: str, params: Mapping[str, float] | Params | None = None) -> float:
    if shape == "sinusoid":
        return SINUSOID_MEAN + SINUSOID_AMPLITUDE
    if shape == "diurnal":
        return float(_DIURNAL_Q.max())
    if shape == "spike":
        return SPIKE_BASE * SPIKE_FACTOR
    raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")


def expected_requests(shape: str, duration: float, params: Mapping[str, float] | Params | None = None) -> float:
    """The integral of rate over [0, duration): the expected request count."""
    if shape == "sinusoid":
        period = _param(params, "period", SINUSOID_PERIOD)
        return (SINUSOID_MEAN * duration
                + SINUSOID_AMPLITUDE * period / (2 * math.pi) * (1 - math.cos(2 * math.pi * duration / period)))
    if shape == "diurnal":
        knots = np.concatenate([_DIURNAL_T[_DIURNAL_T < duration], [duration]])
        values = diurnal_rate(knots)
        return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(knots)))
    if shape == "spike":
        start = _param(params, "spike_start")
        overlap = max(0.0, min(duration, start + SPIKE_SECONDS) - max(0.0, start))
        return SPIKE_BASE * duration + SPIKE_BASE * (SPIKE_FACTOR - 1) * overlap
    raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")


# ---------------------------------------------------------------------------------------- traces


@dataclass(frozen=True)
class Trace:
    id: str
    shape: str
    seed: int
    duration: float
    params: Params  # sorted (name, value) pairs: sinusoid period, spike spike_start; none for diurnal
    arrival_times: tuple[float, ...]
    prompt_tokens: tuple[int, ...]
    decode_tokens: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.arrival_times)

    def requests(self) -> list[RequestSpec]:
        return [RequestSpec(t, p, d) for t, p, d in zip(self.arrival_times, self.prompt_tokens, self.decode_tokens)]

    def rate(self, t):
        return rate(self.shape, t, self.params)


@dataclass(frozen=True)
class Reference:
    static_replicas: int  # smallest fixed count within the bounds keeping the SLO
    static_gpu_hours: float  # that count's GPU-hours (charged until the last request finishes)
    static_p95_slowdown: float
    below_p95_slowdown: float | None  # at static_replicas - 1; None when static_replicas is 1


@dataclass(frozen=True)
class Case:
    trace: Trace
    reference: Reference

    @property
    def id(self) -> str:
        return self.trace.id


def trace_id(shape: str, seed: int) -> str:
    return f"{shape}-{seed}"


def _rng(shape: str, seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([SEED_CONSTANT, SHAPES.index(shape), int(seed), stream])


def shape_params(shape: str, seed: int, duration: float = DURATION, period: float | None = None) -> Params:
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")
    if period is not None and shape != "sinusoid":
        raise ValueError(f"period applies to the sinusoid only, not {shape!r}")
    if shape == "sinusoid":
        period = SINUSOID_PERIOD if period is None else float(period)
        if not period > 0:
            raise ValueError(f"expected period > 0, got {period}")
        return (("period", period),)
    if shape == "spike":
        low, high = SPIKE_START_RANGE
        return (("spike_start", float(_rng(shape, seed, STREAM_PARAMS).integers(low, high))),)
    return ()


def generate_trace(shape: str, seed: int, duration: float = DURATION, period: float | None = None) -> Trace:
    """The trace of (shape, seed): arrivals in [0, duration) and their prompt/decode lengths."""
    duration = float(duration)
    if not 0 < duration < math.inf:
        raise ValueError(f"expected 0 < duration < inf, got {duration}")
    params = shape_params(shape, seed, duration, period)
    top = max_rate(shape, params)
    rng = _rng(shape, seed, STREAM_ARRIVALS)
    n = int(rng.poisson(top * duration))
    candidates = np.sort(rng.uniform(0.0, duration, n))
    keep = rng.uniform(0.0, 1.0, n) * top < rate(shape, candidates, params)
    times = np.round(candidates[keep], 6)
    times = times[times < duration]
    prompt, decode = sample_lengths(_rng(shape, seed, STREAM_LENGTHS), len(times))
    return Trace(id=trace_id(shape, seed), shape=shape, seed=int(seed), duration=duration, params=params,
                 arrival_times=tuple(times.tolist()), prompt_tokens=tuple(prompt.tolist()),
                 decode_tokens=tuple(decode.tolist()))


def set_traces(name: str) -> list[Trace]:
    """The traces of a stored set (smoke, dev, test), regenerated."""
    if name not in SETS:
        raise ValueError(f"unknown set {name!r}: expected one of {', '.join(SETS)}")
    spec = SETS[name]
    return [generate_trace(shape, spec.seed, spec.duration, spec.period if shape == "sinusoid" else None)
            for shape in spec.shapes]


def fresh_seeds(seed: int) -> list[int]:
    """One trace seed per shape derived from `seed`, all >= 2**32 (never a stored set's)."""
    rng = np.random.default_rng([SEED_CONSTANT, STREAM_FRESH, int(seed)])
    return [int(s) for s in rng.integers(2 ** 32, 2 ** 62, size=len(SHAPES))]


def fresh_traces(seed: int) -> list[Trace]:
    return [generate_trace(shape, s) for shape, s in zip(SHAPES, fresh_seeds(seed))]


# ------------------------------------------------------------------------------------ references


def settings() -> Settings:
    spec = json.loads((TASK_DIR / "spec.json").read_text())
    return Settings.from_parameters(spec["parameters"])


def reference_for(trace: Trace) -> Reference:
    """Search the smallest fixed replica count keeping the SLO; ValueError (naming the trace) if none
    within the bounds does."""
    try:
        count, run, checks = evaluator.smallest_static(settings(), trace.requests())
    except ValueError as exc:
        raise ValueError(f"trace {trace.id}: {exc}") from None
    below = checks[count - 1].p95_slowdown if count > 1 else None
    return Reference(static_replicas=int(count), static_gpu_hours=float(run.gpu_hours),
                     static_p95_slowdown=float(run.slo.p95_slowdown),
                     below_p95_slowdown=None if below is None else float(below))


def references_for(traces: Sequence[Trace], workers: int = 1) -> list[Reference]:
    """The traces' references, in order; each one found is reported to instances.case_built (the
    progress of a fresh set's load_set)."""
    references: list[Reference] = []
    if workers > 1 and len(traces) > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(min(workers, len(traces))) as pool:
            for reference in pool.imap(reference_for, traces, chunksize=1):
                references.append(reference)
                case_built(len(references), len(traces))
        return references
    for trace in traces:
        references.append(reference_for(trace))
        case_built(len(references), len(traces))
    return references


# --------------------------------------------------------------------------------------- storage


def _canonical(document: dict, compact: bool = False) -> bytes:
    if compact:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    else:
        text = json.dumps(document, sort_keys=True, indent=1, allow_nan=False)
    return (text + "\n").encode("ascii")


def _generator_description(name: str, seeds: Mapping[str, int], duration: float, period: float | None) -> dict:
    shapes = {
        "sinusoid": f"{SINUSOID_MEAN} + {SINUSOID_AMPLITUDE} sin(2 pi t / period) QPS, period "
                    f"{SINUSOID_PERIOD if period is None else period} s",
        "diurnal": {"hour_seconds": DIURNAL_HOUR_SECONDS, "points_qps": [q for _, q in DIURNAL_POINTS],
                    "interpolation": "linear",
                    "source": "shape stylised after AzureLLMInferenceTrace 2023/2024 (Azure public dataset)"},
        "spike": f"{SPIKE_BASE} QPS, x{SPIKE_FACTOR} for {SPIKE_SECONDS} s from a seed-dependent whole "
                 f"second in [{SPIKE_START_RANGE[0]}, {SPIKE_START_RANGE[1]})",
    }
    return {
        "module": "adrs_bench.tasks.autoscaling.generate",
        "set": name,
        "description": "llm_routing request lengths; non-homogeneous Poisson arrivals (thinning against the "
                       "shape's maximum rate) whose rate follows the shape; times rounded to 1 us",
        "duration": duration,
        "seeds": dict(seeds),
        "seed_constant": SEED_CONSTANT,
        "shapes": {shape: shapes[shape] for shape in seeds},
    }


def _trace_entry(trace: Trace, reference: Reference) -> dict:
    return {"id": trace.id, "shape": trace.shape, "seed": trace.seed, "duration": trace.duration,
            "params": dict(trace.params), "requests": len(trace),
            "reference": {"static_replicas": reference.static_replicas,
                          "static_gpu_hours": reference.static_gpu_hours,
                          "static_p95_slowdown": reference.static_p95_slowdown,
                          "below_p95_slowdown": reference.below_p95_slowdown}}


def to_csv_gz(traces: Sequence[Trace]) -> bytes:
    """Canonical gzipped CSV (one row per request); identical traces give identical bytes."""
    text = io.StringIO()
    text.write(",".join(CSV_HEADER) + "\n")
    for trace in traces:
        for t, p, d in zip(trace.arrival_times, trace.prompt_tokens, trace.decode_tokens):
            text.write(f"{trace.id},{t:.6f},{p},{d}\n")
    return canonical_gzip(text.getvalue().encode("ascii"))


def build_set(name: str, workers: int = 1) -> tuple[bytes, bytes]:
    """(instances/<name>.json bytes, instances/<name>.csv.gz bytes), references searched."""
    traces = set_traces(name)
    return set_bytes(name, traces, references_for(traces, workers))


def set_bytes(name: str, traces: Sequence[Trace], references: Sequence[Reference]) -> tuple[bytes, bytes]:
    spec = SETS[name]
    csv_gz = to_csv_gz(traces)
    document = {
        "format": FORMAT, "set": name,
        "generator": _generator_description(name, {s: spec.seed for s in spec.shapes}, spec.duration, spec.period),
        "requests_file": f"{name}.csv.gz", "requests_sha256": hashlib.sha256(csv_gz).hexdigest(),
        "traces": [_trace_entry(t, r) for t, r in zip(traces, references)],
    }
    return _canonical(document), csv_gz


def fresh_cases(seed: int, workers: int = 1) -> list[Case]:
    """One new 2-hour trace per shape (seeds derived from `seed`), references searched now."""
    traces = fresh_traces(seed)
    return [Case(t, r) for t, r in zip(traces, references_for(traces, workers))]


def fresh_set_bytes(seed: int, workers: int = 1) -> bytes:
    """A self-contained set JSON (requests inline) for fresh_cases(seed); parse_set reads it."""
    cases = fresh_cases(seed, workers)
    document = {
        "format": FORMAT, "set": f"fresh-{int(seed)}",
        "generator": _generator_description("fresh", {c.trace.shape: c.trace.seed for c in cases}, DURATION, None)
        | {"fresh_seed": int(seed)},
        "requests_inline": {c.id: [[t, p, d] for t, p, d in zip(c.trace.arrival_times, c.trace.prompt_tokens,
                                                                   c.trace.decode_tokens)] for c in cases},
        "traces": [_trace_entry(c.trace, c.reference) for c in cases],
    }
    return _canonical(document, compact=True)


# --------------------------------------------------------------------------------------- parsing

_INT = re.compile(r"[0-9]+\Z")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?\Z")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"autoscaling instances: {message}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_reference(tid: str, raw: Any) -> Reference:
    _need(isinstance(raw, dict) and set(raw) == {"static_replicas", "static_gpu_hours", "static_p95_slowdown",
                                                   "below_p95_slowdown"},
          f"trace {tid}: expected reference with static_replicas, static_gpu_hours, static_p95_slowdown, "
          f"below_p95_slowdown")
    n, hours, p95, below = (raw["static_replicas"], raw["static_gpu_hours"], raw["static_p95_slowdown"],
                            raw["below_p95_slowdown"])
    _need(isinstance(n, int) and not isinstance(n, bool) and n >= 1, f"trace {tid}: bad static_replicas {n!r}")
    _need(_is_number(hours) and hours > 0, f"trace {tid}: bad static_gpu_hours {hours!r}")
    _need(_is_number(p95) and p95 > 0, f"trace {tid}: bad static_p95_slowdown {p95!r}")
    _need((below is None) == (n == 1) and (below is None or _is_number(below)),
          f"trace {tid}: below_p95_slowdown must be a number unless static_replicas is 1, got {below!r}")
    return Reference(n, float(hours), float(p95), None if below is None else float(below))


def _parse_csv_rows(data: bytes, name: str, ids: Sequence[str]) -> dict[str, tuple[list, list, list]]:
    try:
        text = gzip.decompress(data).decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: expected gzipped ASCII CSV, got undecodable data ({exc})") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None or tuple(header) != CSV_HEADER:
        raise ValueError(f"{name}: line 1: expected header {','.join(CSV_HEADER)}, got "
                         f"{','.join(header) if header else 'an empty file'}")
    columns: dict[str, tuple[list, list, list]] = {}
    order = list(ids)
    position = -1
    current = None
    for lineno, row in enumerate(rows, start=2):
        def bad(why: str) -> ValueError:
            return ValueError(f"{name}: line {lineno}: {why} (row {','.join(row)!r})")
        if len(row) != len(CSV_HEADER):
            raise bad(f"expected {len(CSV_HEADER)} fields, got {len(row)}")
        tid, s_t, s_p, s_d = row
        if tid != current:
            if tid not in order or order.index(tid) <= position:
                raise bad(f"trace {tid!r} is not the next trace of the set")
            position, current = order.index(tid), tid
            columns[tid] = ([], [], [])
        if not _NUMBER.match(s_t):
            raise bad(f"expected a non-negative number for arrival_time, got {s_t!r}")
        if not _INT.match(s_p) or not _INT.match(s_d):
            raise bad("expected non-negative integer token counts")
        t, p, d = float(s_t), int(s_p), int(s_d)
        if p < 1 or d < 1:
            raise bad(f"expected positive token counts, got prompt {p}, decode {d}")
        times = columns[tid][0]
        if times and t < times[-1]:
            raise bad(f"arrival_time {t} is before the previous one, {times[-1]}")
        times.append(t)
        columns[tid][1].append(p)
        columns[tid][2].append(d)
    return columns


def _parse_inline(raw: Any, ids: Sequence[str]) -> dict[str, tuple[list, list, list]]:
    _need(isinstance(raw, dict) and set(raw) == set(ids),
          "requests_inline must map every trace id to its requests")
    columns = {}
    for tid in ids:
        rows = raw[tid]
        _need(isinstance(rows, list), f"requests_inline[{tid}]: expected a list")
        times, prompts, decodes = [], [], []
        for i, row in enumerate(rows):
            ok = (isinstance(row, list) and len(row) == 3 and _is_number(row[0]) and row[0] >= 0
                  and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in row[1:])
                  and (not times or row[0] >= times[-1]))
            _need(ok, f"requests_inline[{tid}][{i}]: expected [arrival_time, prompt_tokens, decode_tokens] "
                      f"in arrival order, got {row!r}")
            times.append(float(row[0]))
            prompts.append(row[1])
            decodes.append(row[2])
        columns[tid] = (times, prompts, decodes)
    return columns


def parse_set(json_bytes: bytes, directory: Path | None = None) -> list[Case]:
    """Cases from a set JSON and (unless its requests are inline) directory / its requests_file."""
    try:
        document = json.loads(json_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"autoscaling instances: not JSON ({exc})") from None
    _need(isinstance(document, dict), "expected a JSON object")
    _need(document.get("format") == FORMAT, f"expected format {FORMAT!r}, got {document.get('format')!r}")
    raw_traces = document.get("traces")
    _need(isinstance(raw_traces, list) and raw_traces, "expected a non-empty traces list")
    entries = []
    for i, raw in enumerate(raw_traces):
        _need(isinstance(raw, dict) and {"id", "shape", "seed", "duration", "params", "requests",
                                         "reference"} <= set(raw),
              f"traces[{i}]: expected id, shape, seed, duration, params, requests, reference")
        tid = raw["id"]
        _need(isinstance(tid, str) and tid and "," not in tid, f"traces[{i}]: bad id {tid!r}")
        _need(raw["shape"] in SHAPES, f"trace {tid}: unknown shape {raw['shape']!r}")
        _need(isinstance(raw["seed"], int) and raw["seed"] >= 0, f"trace {tid}: bad seed {raw['seed']!r}")
        _need(_is_number(raw["duration"]) and raw["duration"] > 0, f"trace {tid}: bad duration")
        _need(isinstance(raw["params"], dict) and all(_is_number(v) for v in raw["params"].values()),
              f"trace {tid}: bad params")
        _need(isinstance(raw["requests"], int) and raw["requests"] > 0, f"trace {tid}: bad request count")
        entries.append(raw)
    ids = [e["id"] for e in entries]
    _need(len(set(ids)) == len(ids), "duplicate trace ids")

    if "requests_inline" in document:
        _need("requests_file" not in document, "expected requests_file or requests_inline, not both")
        columns = _parse_inline(document["requests_inline"], ids)
    else:
        name = document.get("requests_file")
        _need(isinstance(name, str) and name and "/" not in name and "\\" not in name,
              f"bad requests_file {name!r}")
        _need(directory is not None, "requests_file given but no directory to read it from")
        path = Path(directory) / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InstanceSetNotFound(f"expected the instance file {path} (the requests of set "
                                      f"'{document.get('set')}'), found none; reinstall adrs-bench or "
                                      f"{REGENERATE}") from None
        except OSError as exc:
            raise ValueError(f"autoscaling instances: cannot read {path} ({exc.strerror}); {REGENERATE}") from None
        check_pinned(path, data, document.get("requests_sha256"), f"{document.get('set')}.json")
        columns = _parse_csv_rows(data, str(path), ids)

    cases = []
    for e in entries:
        tid = e["id"]
        times, prompts, decodes = columns.get(tid, ([], [], []))
        _need(len(times) == e["requests"], f"trace {tid}: expected {e['requests']} requests, got {len(times)}")
        _need(times[-1] < e["duration"], f"trace {tid}: arrival {times[-1]} at or after duration {e['duration']}")
        trace = Trace(id=tid, shape=e["shape"], seed=e["seed"], duration=float(e["duration"]),
                      params=tuple(sorted((k, float(v)) for k, v in e["params"].items())),
                      arrival_times=tuple(times), prompt_tokens=tuple(prompts), decode_tokens=tuple(decodes))
        cases.append(Case(trace, _parse_reference(tid, e["reference"])))
    return cases


def load_set(name: str) -> list[Case]:
    return parse_set((INSTANCES_DIR / f"{name}.json").read_bytes(), INSTANCES_DIR)


# ------------------------------------------------------------------------------------------ main


def _report(cases: Sequence[Case]) -> None:
    for c in cases:
        r = c.reference
        below = "-" if r.below_p95_slowdown is None else f"{r.below_p95_slowdown:.3f}"
        expected = expected_requests(c.trace.shape, c.trace.duration, c.trace.params)
        print(f"  {c.id:<16} {len(c.trace):>7} requests (expected {expected:.0f})"
              f"  static {r.static_replicas:>2} replicas  {r.static_gpu_hours:.4f} GPU-h"
              f"  p95 slowdown {r.static_p95_slowdown:.3f} (at {r.static_replicas - 1}: {below})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adrs_bench.tasks.autoscaling.generate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored files instead of writing them")
    parser.add_argument("--workers", type=int, default=1, help="processes for the reference searches (default 1)")
    parser.add_argument("sets", nargs="*", default=list(SETS), metavar="SET",
                        help=f"sets to build (default: {' '.join(SETS)})")
    args = parser.parse_args(argv)
    for name in args.sets:
        if name not in SETS:
            parser.error(f"unknown set {name!r}: expected one of {', '.join(SETS)}")
    failed = 0
    for name in args.sets:
        started = time.perf_counter()
        try:
            traces = set_traces(name)
            references = references_for(traces, args.workers)
        except ValueError as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            return 2
        json_bytes, csv_gz = set_bytes(name, traces, references)
        json_path, csv_path = INSTANCES_DIR / f"{name}.json", INSTANCES_DIR / f"{name}.csv.gz"
        status = ""
        if args.check:
            differs = [p.name for p, b in ((json_path, json_bytes), (csv_path, csv_gz))
                       if not p.exists() or p.read_bytes() != b]
            status = f"  DIFFERS: {', '.join(differs)}" if differs else "  ok"
            failed += bool(differs)
        else:
            INSTANCES_DIR.mkdir(parents=True, exist_ok=True)
            json_path.write_bytes(json_bytes)
            csv_path.write_bytes(csv_gz)
        print(f"{hashlib.sha256(json_bytes).hexdigest()}  {json_path}  ({time.perf_counter() - started:.1f} s){status}")
        _report([Case(t, r) for t, r in zip(traces, references)])
    if failed:
        print(f"{failed} set(s) differ from a regeneration; rerun without --check to rewrite", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
