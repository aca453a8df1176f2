"""Seeded time-varying request traces for autoscaling, and their sets with frozen static references
(DESIGN.md §5). The load shapes are shapes.py's, the reference search reference.py's, the file format
instance.py's; this module draws the traces and is the CLI that writes the sets:

    python -m adrs_bench.tasks.autoscaling.generate [--check] [--workers N] [SET...]

writes (or, with --check, compares) tasks/autoscaling/instances/<set>.json and <set>.csv.gz and
prints, per trace, its requests, the smallest fixed replica count that keeps the SLO (the static
reference), that count's GPU-hours, and the p95 slowdown at that count and at one replica fewer.
It fails (exit status 2) if some trace has no fixed count within the bounds that keeps the SLO.

Workload (the autoscaling issue, after Glia §5.3): request lengths are the ShareGPT model both serving
tasks draw from (adrs_bench.serving.workload: ShareGPT V3 first turns as Glia prepares them); arrivals are
a non-homogeneous Poisson process whose rate follows one of three shapes (shapes.py) over 2 hours (7200 s).

Sampling: thinning (Lewis and Shedler) against the shape's maximum rate: a homogeneous Poisson
process of that rate on [0, duration) (a Poisson count, then sorted uniform times), each point kept
with probability rate(t) / max rate; kept times rounded to 1 us (those rounding to `duration` are
dropped). Lengths are drawn for the kept arrivals in order.

Seeds: a trace of shape index k and seed s draws arrivals from default_rng([SEED_CONSTANT, k, s,
STREAM_ARRIVALS]), lengths from [..., STREAM_LENGTHS] and shape parameters (the spike start) from
[..., STREAM_PARAMS]. Stored seeds: smoke 0 (a short sinusoid: 900 s, period 300 s), dev 1, test 101
(held out). fresh_cases(s) derives one seed >= 2**32 per shape from default_rng([SEED_CONSTANT,
STREAM_FRESH, s]), so a fresh trace never meets a stored one.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from adrs_bench.serving.workload import sample_lengths

from .instance import INSTANCES_DIR, Case, Reference, Trace, inline_document_bytes, set_document_bytes
from .reference import references_for
from .shapes import (DIURNAL_HOUR_SECONDS, DIURNAL_POINTS, DURATION, SHAPES, SINUSOID_AMPLITUDE, SINUSOID_MEAN,
                     SINUSOID_PERIOD, SPIKE_BASE, SPIKE_FACTOR, SPIKE_SECONDS, SPIKE_START_RANGE, Params,
                     expected_requests, max_rate, rate)

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


# ---------------------------------------------------------------------------------------- traces


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


# ------------------------------------------------------------------------------------------ sets


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


def build_set(name: str, workers: int = 1) -> tuple[bytes, bytes]:
    """(instances/<name>.json bytes, instances/<name>.csv.gz bytes), references searched."""
    traces = set_traces(name)
    return set_bytes(name, traces, references_for(traces, workers))


def set_bytes(name: str, traces: Sequence[Trace], references: Sequence[Reference]) -> tuple[bytes, bytes]:
    spec = SETS[name]
    generator = _generator_description(name, {s: spec.seed for s in spec.shapes}, spec.duration, spec.period)
    return set_document_bytes(name, generator, [Case(t, r) for t, r in zip(traces, references)])


def fresh_cases(seed: int, workers: int = 1) -> list[Case]:
    """One new 2-hour trace per shape (seeds derived from `seed`), references searched now."""
    traces = fresh_traces(seed)
    return [Case(t, r) for t, r in zip(traces, references_for(traces, workers))]


def fresh_set_bytes(seed: int, workers: int = 1) -> bytes:
    """A self-contained set JSON (requests inline) for fresh_cases(seed); instance.parse_set reads it."""
    cases = fresh_cases(seed, workers)
    generator = (_generator_description("fresh", {c.trace.shape: c.trace.seed for c in cases}, DURATION, None)
                 | {"fresh_seed": int(seed)})
    return inline_document_bytes(f"fresh-{int(seed)}", generator, cases)


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
