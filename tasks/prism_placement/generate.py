"""Seeded instance generator for prism_placement (DESIGN.md §5).

    python -m adrs_bench.tasks.prism_placement.generate [--sets public dev test scale] [--out DIR]

Sets:
  public      the ADRS 50 cases, drawn exactly as ADRS draws them (legacy np.random.seed(42)).
  dev, test   four families (uniform, longtail, tight, mixed), 30 cases each; every case has its
              own numpy Generator seeded with [SET_CODE, seed, family index, case index].
  fresh:SEED  the same families with another seed, built in memory (never written by default).
  scale       10 uniform-like cases of 64..1024 GPUs; heuristic references only.

References come from `exact.solve` (bisection + MILP, deterministic budgets, no time limits) or,
for `scale`, `exact.best_known`. Output is canonical JSON, so two runs give identical bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from adrs_bench.instances import case_built
from adrs_bench.tasks.prism_placement import exact
from adrs_bench.tasks.prism_placement.kvpr import GPU_MEMORY_GB, ModelSpec

FORMAT = "prism_placement-instances/1"
GENERATOR_VERSION = 1
SETS = ("public", "dev", "test", "scale")
FAMILIES = ("uniform", "longtail", "tight", "mixed")
CASES_PER_FAMILY = 30
# Seed code of a set: dev, test and fresh sets never share a Generator seed.
SET_CODES = {"dev": 1, "test": 2, "fresh": 3}
SCALE_GPUS = (64, 96, 128, 192, 256, 384, 512, 640, 768, 1024)
SCALE_SEED = 4
PUBLIC_SEED = 42

NODE_LIMIT = exact.DEFAULT_NODE_LIMIT
SOLVE_KICKS = exact.DEFAULT_SOLVE_KICKS
SCALE_KICKS = 0
MAX_REDRAWS = 100

INSTANCES_DIR = Path(__file__).resolve().parent / "instances"

FAMILY_DOC = {
    "uniform": "8-32 GPUs, 2-3 models per GPU; size 10-29, req_rate 1-9, slo 5-9 (uniform)",
    "longtail": "8-24 GPUs, 2.5-3.5 models per GPU; size 10-29, slo 5-9, "
                "req_rate = min(50, 1 + floor(4 * Lomax(2.5))) (few hot, many cold)",
    "tight": "8-20 GPUs; a hidden packing fills each GPU to 85-95% (+-3%) with 2-4 models "
             "(sizes >= 8), shuffled; req_rate 1-9, slo 5-9",
    "mixed": "8-24 GPUs; models drawn until 60-80% of memory is used: sizes 4-15 (40%), "
             "16-39 (40%), 40-70 (20%); req_rate 1-9 (1-4 for sizes 40-70), slo 5-9",
}


# --------------------------------------------------------------------------------------------
# Case data
# --------------------------------------------------------------------------------------------

def _models(sizes, rates, slos) -> list[list]:
    return [[f"model_{i}", int(s), int(r), int(t)] for i, (s, r, t) in enumerate(zip(sizes, rates, slos))]


def _public_cases() -> list[dict]:
    """The ADRS draw: np.random.seed(42); per case gpu_num in 5..9, 2*gpu_num models, each
    drawing size 10..29, req_rate 1..9, slo 5..9 in that order."""
    state = np.random.get_state()
    try:
        np.random.seed(PUBLIC_SEED)
        cases = []
        for c in range(50):
            gpu_num = int(np.random.randint(5, 10))
            models = []
            for i in range(2 * gpu_num):
                size = int(np.random.randint(10, 30))
                rate = int(np.random.randint(1, 10))
                slo = int(np.random.randint(5, 10))
                models.append([f"model_{i}", size, rate, slo])
            cases.append({"id": f"public-{c:03d}", "family": "adrs", "seed": PUBLIC_SEED,
                          "gpu_num": gpu_num, "models": models})
        return cases
    finally:
        np.random.set_state(state)


def _feasible(gpu_num: int, models: list[list]) -> bool:
    return exact.greedy_placement(gpu_num, _specs(models)) is not None


def _draw_uniform(rng: np.random.Generator, min_gpus: int = 8, max_gpus: int = 32):
    gpu_num = int(rng.integers(min_gpus, max_gpus + 1))
    n = int(rng.integers(2 * gpu_num, 3 * gpu_num + 1))
    sizes, rates, slos = [], [], []
    for _ in range(n):
        sizes.append(rng.integers(10, 30))
        rates.append(rng.integers(1, 10))
        slos.append(rng.integers(5, 10))
    return gpu_num, _models(sizes, rates, slos), None


def _draw_longtail(rng: np.random.Generator):
    gpu_num = int(rng.integers(8, 25))
    n = int(rng.integers(5 * gpu_num // 2, 7 * gpu_num // 2 + 1))
    sizes, rates, slos = [], [], []
    for _ in range(n):
        sizes.append(rng.integers(10, 30))
        rates.append(min(50, 1 + int(4.0 * rng.pareto(2.5))))
        slos.append(rng.integers(5, 10))
    return gpu_num, _models(sizes, rates, slos), None


def _draw_tight(rng: np.random.Generator):
    gpu_num = int(rng.integers(8, 21))
    frac = float(rng.uniform(0.85, 0.95))
    sizes, hidden = [], []
    for g in range(gpu_num):
        fill = int(round(GPU_MEMORY_GB * float(rng.uniform(frac - 0.03, frac + 0.03))))
        fill = min(fill, GPU_MEMORY_GB - 2)
        k = int(rng.integers(2, 5))
        # a random composition of `fill` into k parts of at least 8
        cuts = np.sort(rng.choice(np.arange(1, fill - 8 * k + k), size=k - 1, replace=False))
        parts = np.diff(np.concatenate([[0], cuts, [fill - 8 * k + k]])) + 7
        sizes.extend(int(p) for p in parts)
        hidden.extend([g] * k)
    perm = rng.permutation(len(sizes))
    sizes = [sizes[p] for p in perm]
    hidden = [hidden[p] for p in perm]
    rates = [rng.integers(1, 10) for _ in sizes]
    slos = [rng.integers(5, 10) for _ in sizes]
    return gpu_num, _models(sizes, rates, slos), hidden


def _draw_mixed(rng: np.random.Generator):
    gpu_num = int(rng.integers(8, 25))
    target = float(rng.uniform(0.60, 0.80)) * GPU_MEMORY_GB * gpu_num
    sizes, rates, slos = [], [], []
    while sum(sizes) < target:
        kind = int(rng.choice(3, p=[0.4, 0.4, 0.2]))
        lo, hi = ((4, 15), (16, 39), (40, 70))[kind]
        sizes.append(rng.integers(lo, hi + 1))
        # big models draw less traffic (else one hot 70 GB model alone decides the case)
        rates.append(rng.integers(1, 5 if kind == 2 else 10))
        slos.append(rng.integers(5, 10))
    return gpu_num, _models(sizes, rates, slos), None


DRAW = {"uniform": _draw_uniform, "longtail": _draw_longtail, "tight": _draw_tight, "mixed": _draw_mixed}


def _family_case(set_name: str, set_code: int, seed: int, fi: int, ci: int) -> dict:
    family = FAMILIES[fi]
    seed_key = [set_code, seed, fi, ci]
    rng = np.random.default_rng(seed_key)
    for _ in range(MAX_REDRAWS):  # redraw (same Generator) until a feasible placement is known
        gpu_num, models, hidden = DRAW[family](rng)
        if hidden is not None or _feasible(gpu_num, models):
            break
    else:  # pragma: no cover - the families are far from infeasible
        raise RuntimeError(f"could not draw a feasible {family} case {seed_key}")
    case = {"id": f"{set_name}-{family}-{ci:03d}", "family": family, "seed": seed_key,
            "gpu_num": gpu_num, "models": models}
    if hidden is not None:
        case["_initial"] = hidden  # private: a known feasible packing for the solver
    return case


def _scale_cases() -> list[dict]:
    cases = []
    for ci, gpus in enumerate(SCALE_GPUS):
        seed_key = [SCALE_SEED, 0, 0, ci]
        rng = np.random.default_rng(seed_key)
        for _ in range(MAX_REDRAWS):
            gpu_num, models, _ = _draw_uniform(rng, gpus, gpus)
            if _feasible(gpu_num, models):
                break
        cases.append({"id": f"scale-{gpus:04d}", "family": "uniform", "seed": seed_key,
                      "gpu_num": gpu_num, "models": models})
    return cases


def _parse_set(set_name: str) -> tuple[str, int | None]:
    if set_name in SETS:
        return set_name, None
    if set_name.startswith("fresh:"):
        try:
            seed = int(set_name.split(":", 1)[1])
        except ValueError:
            seed = -1
        if seed >= 0:
            return "fresh", seed
    raise ValueError(f"unknown instance set {set_name!r} (public, dev, test, scale or fresh:<int >= 0>)")


def _raw_cases(set_name: str) -> list[dict]:
    kind, seed = _parse_set(set_name)
    if kind == "public":
        return _public_cases()
    if kind == "scale":
        return _scale_cases()
    code = SET_CODES[kind]
    seed = 0 if seed is None else seed
    label = set_name.replace(":", "")
    return [_family_case(label, code, seed, fi, ci)
            for fi in range(len(FAMILIES)) for ci in range(CASES_PER_FAMILY)]


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------

def _specs(models: list[list]) -> list[ModelSpec]:
    return [ModelSpec(str(n), int(s), int(r), int(t)) for n, s, r, t in models]


def _frac(f: Fraction) -> str:
    return f"{f.numerator}/{f.denominator}"


def _reference(case: dict, heuristic_only: bool) -> dict:
    specs = _specs(case["models"])
    initial = case.get("_initial")
    if heuristic_only:
        ref = exact.best_known(case["gpu_num"], specs, initial=initial, kicks=SCALE_KICKS)
    else:
        ref = exact.solve(case["gpu_num"], specs, NODE_LIMIT, initial=initial, kicks=SOLVE_KICKS)
    return {"status": ref.status, "value": float(ref.value), "value_exact": _frac(ref.value),
            "lower_bound": float(ref.lower_bound), "lower_bound_exact": _frac(ref.lower_bound),
            "placement": list(ref.placement), "method": ref.method}


def _reference_job(args: tuple[dict, bool]) -> dict:
    return _reference(*args)


def build_cases(set_name: str, *, references: bool = True, workers: int | None = 1) -> list[dict]:
    """The cases of a set, each with its "reference" unless `references` is False.

    `workers` > 1 computes references in that many processes (results do not depend on it). Each
    reference computed is reported to instances.case_built (the progress of a fresh set's load_set)."""
    kind, _ = _parse_set(set_name)
    cases = _raw_cases(set_name)
    if references:
        jobs = [(c, kind == "scale") for c in cases]
        refs = [None] * len(jobs)
        if workers and workers > 1 and len(jobs) > 1:
            # Largest cases first, for balance; every reference is computed alone, so the
            # result does not depend on the order or on the number of workers.
            order = sorted(range(len(jobs)), key=lambda k: (-len(cases[k]["models"]), k))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for done, (k, ref) in enumerate(zip(order, pool.map(_reference_job, [jobs[k] for k in order],
                                                                    chunksize=1)), 1):
                    refs[k] = ref
                    case_built(done, len(jobs))
        else:
            for k, job in enumerate(jobs):
                refs[k] = _reference_job(job)
                case_built(k + 1, len(jobs))
        for case, ref in zip(cases, refs):
            case["reference"] = ref
    for case in cases:
        case.pop("_initial", None)
    return cases


def _solver_doc(kind: str) -> dict:
    if kind == "scale":
        return {"solver": "exact.best_known", "kicks": SCALE_KICKS}
    return {"solver": "exact.solve", "node_limit": NODE_LIMIT, "kicks": SOLVE_KICKS,
            "max_steps": exact.DEFAULT_MAX_STEPS, "set_cap": exact.DEFAULT_SET_CAP,
            "column_cap": exact.DEFAULT_COLUMN_CAP,
            "fallback_node_limit": exact.DEFAULT_FALLBACK_NODE_LIMIT,
            "polish_kicks": exact.DEFAULT_POLISH_KICKS}


def build_document(set_name: str, *, workers: int | None = 1) -> dict:
    """The whole file for a set: format, set name, how it was generated, cases with references."""
    kind, seed = _parse_set(set_name)
    cases = build_cases(set_name, workers=workers)
    generator: dict[str, Any] = {"module": "adrs_bench.tasks.prism_placement.generate",
                                 "version": GENERATOR_VERSION, "gpu_memory_gb": GPU_MEMORY_GB,
                                 "reference": _solver_doc(kind)}
    if kind == "public":
        generator.update(seed=PUBLIC_SEED, rng="numpy legacy np.random.seed",
                         description="ADRS: 50 cases; gpu_num randint(5,10); 2*gpu_num models; "
                                     "size randint(10,30), req_rate randint(1,10), slo randint(5,10)",
                         counts={"adrs": len(cases)})
    elif kind == "scale":
        generator.update(seed=SCALE_SEED, rng=f"numpy default_rng([{SCALE_SEED}, 0, 0, case index])",
                         gpus=list(SCALE_GPUS),
                         description="uniform-like: 2-3 models per GPU; size 10-29, req_rate 1-9, slo 5-9",
                         counts={"uniform": len(cases)})
    else:
        code = SET_CODES[kind]
        generator.update(seed=0 if seed is None else seed, set_code=code,
                         rng=f"numpy default_rng([{code}, seed, family index, case index])",
                         families={f: FAMILY_DOC[f] for f in FAMILIES},
                         counts={f: CASES_PER_FAMILY for f in FAMILIES},
                         redraw="a draw is redrawn (same Generator) until a greedy finds a feasible "
                                "placement; tight cases are feasible by construction")
    return {"format": FORMAT, "set": set_name, "generator": generator, "cases": cases}


def document_bytes(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def case_data_digest(case: dict) -> str:
    """sha256 of a case's data (everything but its reference), canonical JSON."""
    data = {k: v for k, v in case.items() if k != "reference"}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adrs_bench.tasks.prism_placement.generate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS),
                        help="sets to write: public dev test scale, or fresh:<int>")
    parser.add_argument("--out", type=Path, default=INSTANCES_DIR, help="output directory")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the reference solves (output does not depend on it)")
    args = parser.parse_args(argv)
    for name in args.sets:
        _parse_set(name)
    args.out.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    for name in args.sets:
        start = time.perf_counter()
        doc = build_document(name, workers=args.workers)
        data = document_bytes(doc)
        path = args.out / f"{name.replace(':', '-')}.json"
        path.write_bytes(data)
        statuses = [c["reference"]["status"] for c in doc["cases"]]
        print(f"{hashlib.sha256(data).hexdigest()}  {path}  ({len(statuses)} cases, "
              f"{statuses.count('optimal')} optimal, {statuses.count('best_known')} best_known, "
              f"{time.perf_counter() - start:.1f} s)", flush=True)
    print(f"total {time.perf_counter() - total:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
