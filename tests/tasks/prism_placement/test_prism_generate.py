"""Instance sets of prism_placement: the ADRS public draw, the stored references, regeneration."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from adrs_bench.tasks.prism_placement import exact, generate
from adrs_bench.tasks.prism_placement.kvpr import ModelSpec, fluid_lower_bound, max_kvpr_exact

INSTANCES = Path(generate.__file__).resolve().parent / "instances"
STORED_SETS = ("public", "dev", "test", "scale")


def _load(name: str) -> dict:
    return json.loads((INSTANCES / f"{name}.json").read_bytes())


_DOCS: dict[str, dict] = {}


def doc(name: str) -> dict:
    if name not in _DOCS:
        _DOCS[name] = _load(name)
    return _DOCS[name]


def specs(case: dict) -> list[ModelSpec]:
    return [ModelSpec(n, s, r, t) for n, s, r, t in case["models"]]


def frac(text: str) -> Fraction:
    num, den = text.split("/")
    return Fraction(int(num), int(den))


# ----------------------------------------------------------------------------------------------
# The public set is the ADRS draw
# ----------------------------------------------------------------------------------------------

def adrs_draw() -> list[tuple[int, list[list]]]:
    """Written independently of the generator: np.random.seed(42), 50 cases."""
    np.random.seed(42)
    cases = []
    for _ in range(50):
        gpu_num = np.random.randint(5, 10)
        models = []
        for i in range(gpu_num * 2):
            size = np.random.randint(10, 30)
            rate = np.random.randint(1, 10)
            slo = np.random.randint(5, 10)
            models.append([f"model_{i}", int(size), int(rate), int(slo)])
        cases.append((int(gpu_num), models))
    return cases


def test_public_is_the_adrs_draw():
    cases = doc("public")["cases"]
    assert len(cases) == 50
    for (gpu_num, models), case in zip(adrs_draw(), cases):
        assert case["gpu_num"] == gpu_num
        assert case["models"] == models
    # a few literal anchors
    assert cases[0]["gpu_num"] == 8 and cases[0]["models"][0] == ["model_0", 24, 8, 9]
    assert cases[1]["gpu_num"] == 9 and cases[1]["models"][-1] == ["model_17", 25, 7, 9]
    assert cases[49]["models"][0] == ["model_0", 18, 9, 5]
    assert sum(c["gpu_num"] for c in cases) == 353


def prism_greedy(gpu_num: int, models: list[list]) -> list[list]:
    """Prism's initial program: req_rate/slo descending; lowest current KVPR among GPUs with room."""
    order = sorted(models, key=lambda m: m[2] / m[3], reverse=True)
    free = [80] * gpu_num
    weight = [0.0] * gpu_num
    gpus: list[list] = [[] for _ in range(gpu_num)]
    for m in order:
        best, best_ratio = None, float("inf")
        for g in range(gpu_num):
            if m[1] <= free[g] and free[g] > 0:
                ratio = weight[g] / free[g]
                if ratio < best_ratio:
                    best, best_ratio = g, ratio
        gpus[best].append(m)
        free[best] -= m[1]
        weight[best] += m[2] / m[3]
    return gpus


def test_public_scores_greedy_and_exact():
    cases = doc("public")["cases"]
    worst = []
    for case in cases:
        gpus = prism_greedy(case["gpu_num"], case["models"])
        worst.append(max(sum(m[2] / m[3] for m in g) / (80 - sum(m[1] for m in g)) for g in gpus))
    assert round(1 / np.mean(worst) + 1, 4) == 21.8916
    values = [c["reference"]["value"] for c in cases]
    assert all(c["reference"]["status"] == "optimal" for c in cases)
    assert round(1 / np.mean(values) + 1, 4) == 26.2560


# ----------------------------------------------------------------------------------------------
# Stored references
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", STORED_SETS)
def test_stored_file_format(name):
    d = doc(name)
    assert d["format"] == "prism_placement-instances/1"
    assert d["set"] == name
    assert isinstance(d["generator"], dict)
    ids = [c["id"] for c in d["cases"]]
    assert len(ids) == len(set(ids))
    for case in d["cases"]:
        assert set(case) == {"id", "family", "seed", "gpu_num", "models", "reference"}
        for name_, size, rate, slo in case["models"]:
            assert isinstance(name_, str)
            assert all(isinstance(v, int) and v >= 1 for v in (size, rate, slo))
        assert set(case["reference"]) == {"status", "value", "value_exact", "lower_bound",
                                          "lower_bound_exact", "placement", "method"}
    if name in ("dev", "test"):
        families = [c["family"] for c in d["cases"]]
        assert {f: families.count(f) for f in set(families)} == {f: 30 for f in generate.FAMILIES}


@pytest.mark.parametrize("name", STORED_SETS)
def test_stored_references_are_exact(name):
    for case in doc(name)["cases"]:
        ref = case["reference"]
        models = specs(case)
        placement = ref["placement"]
        assert len(placement) == len(models)
        assert all(isinstance(g, int) and 0 <= g < case["gpu_num"] for g in placement)
        value = max_kvpr_exact(case["gpu_num"], models, placement)
        assert value is not None, case["id"]  # every GPU keeps some free memory
        assert value == frac(ref["value_exact"]), case["id"]
        assert ref["value"] == float(value)
        lower = frac(ref["lower_bound_exact"])
        assert ref["lower_bound"] == float(lower)
        assert fluid_lower_bound(case["gpu_num"], models) <= lower <= value, case["id"]
        assert ref["status"] in ("optimal", "best_known")
        if ref["status"] == "optimal":
            assert lower == value
        if name == "scale":
            assert ref["method"] == "local-search"
        else:
            assert ref["method"] == "milp-bisection"


# ----------------------------------------------------------------------------------------------
# Regeneration
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["public", "dev"])
def test_case_data_regenerates(name):
    fresh = generate.build_cases(name, references=False)
    stored = doc(name)["cases"]
    assert [c["id"] for c in fresh] == [c["id"] for c in stored]
    assert [generate.case_data_digest(c) for c in fresh] == [generate.case_data_digest(c) for c in stored]


def test_fresh_sets_differ_and_are_seeded():
    a = generate.build_cases("fresh:7", references=False)
    b = generate.build_cases("fresh:7", references=False)
    c = generate.build_cases("fresh:8", references=False)
    dev = doc("dev")["cases"]
    digest = generate.case_data_digest
    assert [digest(x) for x in a] == [digest(x) for x in b]
    assert {digest(x) for x in a}.isdisjoint({digest(x) for x in c})
    strip = lambda x: {k: v for k, v in x.items() if k not in ("id", "seed")}  # noqa: E731
    assert not any(strip(x) == strip(y) for x, y in zip(a, dev))
    assert len(a) == 4 * generate.CASES_PER_FAMILY


def test_unknown_set_is_rejected():
    for bad in ("nope", "fresh:", "fresh:x", "fresh:-1"):
        with pytest.raises(ValueError):
            generate.build_cases(bad, references=False)


def test_document_bytes_is_canonical():
    d = {"b": [1, 2], "a": {"y": 1, "x": "é"}}
    assert generate.document_bytes(d) == b'{"a":{"x":"\\u00e9","y":1},"b":[1,2]}\n'


# Regenerating every stored set byte for byte (references and their MILP proofs included) is
# `adrs-bench instances verify prism_placement`, run by CI (.ci/run; tests/core/test_ci_steps.py checks the step).


# ----------------------------------------------------------------------------------------------
# The exact solver
# ----------------------------------------------------------------------------------------------

def brute_force(gpu_num: int, models: list[ModelSpec]) -> Fraction:
    best = None
    for assignment in itertools.product(range(gpu_num), repeat=len(models)):
        value = max_kvpr_exact(gpu_num, models, assignment)
        if value is not None and (best is None or value < best):
            best = value
    return best


@pytest.mark.parametrize("seed", range(6))
def test_solve_matches_brute_force(seed):
    rng = np.random.default_rng([99, seed])
    gpu_num = int(rng.integers(2, 4))
    models = [ModelSpec(f"m{i}", int(rng.integers(10, 45)), int(rng.integers(1, 10)), int(rng.integers(5, 10)))
              for i in range(int(rng.integers(4, 8)))]
    expected = brute_force(gpu_num, models)
    if expected is None:
        pytest.skip("infeasible draw")
    ref = exact.solve(gpu_num, models)
    assert ref.status == "optimal"
    assert ref.value == expected == ref.lower_bound
    assert max_kvpr_exact(gpu_num, models, ref.placement) == ref.value


def test_modules_do_not_import_scipy():
    code = ("import sys; import adrs_bench.tasks.prism_placement.exact, "
            "adrs_bench.tasks.prism_placement.generate; print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
