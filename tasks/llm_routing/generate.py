"""Seeded request traces for llm_routing (DESIGN.md §5); their file format is instance.py's.

    python -m adrs_bench.tasks.llm_routing.generate [--check] [SET...]

writes (or, with --check, compares) tasks/llm_routing/instances/<set>.csv.gz and prints each
file's sha256 and request count.

The workload is Glia's trace generator reduced to its outputs (Glia §5.1): prompt and decode
lengths come from the ShareGPT length model shared with autoscaling (adrs_bench.serving.workload),
and arrivals from Glia's bursty gaps:

  arrivals gaps log-normal with mu = ln(1/QPS) - 2, sigma = 2 (mean gap 1/QPS, very bursty),
           first arrival at the first gap, arrivals while t < duration, times rounded to 1 us.

Every request fits one replica on its own (the cluster's ReplicaConfig: 2240 blocks of 16 tokens, 1%
watermark), so no run can end with RequestTooLarge.

Seeds: trace `seed` draws its gaps from default_rng([SEED_CONSTANT, STREAM_GAPS, seed]) and its
lengths from default_rng([SEED_CONSTANT, STREAM_LENGTHS, seed]), so a shorter trace with the same
seed is a prefix of a longer one. The set seeds (smoke 0, dev 1..5, test 101..105) are distinct;
fresh_traces(s) derives 5 seeds >= 2**32 from default_rng([SEED_CONSTANT, STREAM_FRESH, s]), so
they never meet a stored set.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adrs_bench.instances import case_built
from adrs_bench.serving.workload import sample_lengths

from .instance import REPLICA, Trace, parse_csv_gz, to_csv_gz

QPS = 7.5
GAP_SIGMA = 2.0

SEED_CONSTANT = 0x6C6C6D72  # "llmr": separates these streams from every other task's
STREAM_GAPS, STREAM_LENGTHS, STREAM_FRESH = 1, 2, 9
FRESH_COUNT = 5
FRESH_DURATION = 1000.0

INSTANCES_DIR = Path(__file__).resolve().parent / "instances"


@dataclass(frozen=True)
class SetSpec:
    seeds: tuple[int, ...]
    duration: float


# Fixed: changing any of these changes the instances and so the task version.
SETS = {
    "smoke": SetSpec(seeds=(0,), duration=60.0),
    "dev": SetSpec(seeds=(1, 2, 3, 4, 5), duration=1000.0),
    "test": SetSpec(seeds=(101, 102, 103, 104, 105), duration=1000.0),  # held out
}


def sample_gaps(rng: np.random.Generator, n: int, qps: float = QPS) -> np.ndarray:
    """n inter-arrival gaps, log-normal(ln(1/qps) - sigma^2/2, sigma): mean exactly 1/qps."""
    return rng.lognormal(mean=math.log(1.0 / qps) - GAP_SIGMA ** 2 / 2, sigma=GAP_SIGMA, size=n)


def _arrival_times(seed: int, duration: float, qps: float) -> list[float]:
    rng = np.random.default_rng([SEED_CONSTANT, STREAM_GAPS, seed])
    chunk = max(64, int(duration * qps * 1.25))  # fixed per (duration, qps): output is deterministic
    times: list[float] = []
    t = 0.0
    while True:
        for gap in sample_gaps(rng, chunk, qps).tolist():
            t += gap
            rounded = round(t, 6)
            if rounded >= duration:
                return times
            times.append(rounded)


def generate_trace(seed: int, duration: float, qps: float = QPS) -> Trace:
    """The trace of `seed`: arrivals in [0, duration) and their prompt/decode lengths."""
    if duration <= 0 or qps <= 0:
        raise ValueError(f"expected duration > 0 and qps > 0, got {duration} and {qps}")
    times = _arrival_times(seed, float(duration), float(qps))
    prompt, decode = sample_lengths(np.random.default_rng([SEED_CONSTANT, STREAM_LENGTHS, seed]),
                                    len(times))
    prompt_list, decode_list = prompt.tolist(), decode.tolist()
    for p, d in zip(prompt_list, decode_list):
        if not REPLICA.fits_alone(p, d):  # cannot happen with these tables (max 8230 tokens)
            raise RuntimeError(f"request of {p}+{d} tokens does not fit one replica")
    return Trace(seed=int(seed), duration=float(duration), arrival_times=tuple(times),
                 prompt_tokens=tuple(prompt_list), decode_tokens=tuple(decode_list))


def set_traces(name: str) -> list[Trace]:
    """The traces of a stored set (smoke, dev, test), regenerated."""
    if name not in SETS:
        raise ValueError(f"unknown set {name!r}: expected one of {', '.join(SETS)}")
    spec = SETS[name]
    return [generate_trace(seed, spec.duration) for seed in spec.seeds]


def fresh_seeds(seed: int) -> list[int]:
    """FRESH_COUNT trace seeds derived from `seed`, all >= 2**32 (never a stored set's)."""
    rng = np.random.default_rng([SEED_CONSTANT, STREAM_FRESH, seed])
    return [int(s) for s in rng.integers(2 ** 32, 2 ** 62, size=FRESH_COUNT)]


def fresh_traces(seed: int) -> list[Trace]:
    """A fresh 5 x 1000 s set for checking that a result is not tuned to dev; each trace made is
    reported to instances.case_built (the progress of a fresh set's load_set)."""
    seeds = fresh_seeds(seed)
    traces = []
    for s in seeds:
        traces.append(generate_trace(s, FRESH_DURATION))
        case_built(len(traces), len(seeds))
    return traces


def build_set_bytes(name: str) -> bytes:
    return to_csv_gz(set_traces(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adrs_bench.tasks.llm_routing.generate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the stored files instead of writing them")
    parser.add_argument("sets", nargs="*", default=list(SETS), metavar="SET",
                        help=f"sets to build (default: {' '.join(SETS)})")
    args = parser.parse_args(argv)
    for name in args.sets:
        if name not in SETS:
            parser.error(f"unknown set {name!r}: expected one of {', '.join(SETS)}")
    failed = 0
    for name in args.sets:
        data = build_set_bytes(name)
        path = INSTANCES_DIR / f"{name}.csv.gz"
        requests = sum(len(t) for t in parse_csv_gz(data))
        status = ""
        if args.check:
            if not path.exists():
                status, failed = "  MISSING", failed + 1
            elif path.read_bytes() != data:
                status, failed = "  DIFFERS", failed + 1
            else:
                status = "  ok"
        else:
            INSTANCES_DIR.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        print(f"{hashlib.sha256(data).hexdigest()}  {path}  ({requests} requests){status}")
    if failed:
        print(f"{failed} set(s) differ from a regeneration; rerun without --check to rewrite",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
