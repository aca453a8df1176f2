"""The one place the KV-cache-pressure formula lives (Prism; ADRS blog; DESIGN.md §5).

KVPR of a GPU = sum(req_rate / slo) / (GPU_MEMORY_GB - sum(model_size)). Sums are taken with exact
fractions and rounded once, so a placement's score does not depend on the order in which a
submission listed the models: the same placement always gives the bit-identical float.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

GPU_MEMORY_GB = 80


@dataclass(frozen=True)
class ModelSpec:
    """One model of an instance, as the trusted side keeps it (pristine, immutable)."""

    model_name: str
    model_size: int
    req_rate: int
    slo: int

    @property
    def weight(self) -> Fraction:
        return Fraction(self.req_rate, self.slo)


def gpu_kvpr_exact(models: Sequence[ModelSpec]) -> Fraction | None:
    """Exact KVPR of one GPU, or None if its models fill the GPU (no KV cache left: infeasible)."""
    free = GPU_MEMORY_GB - sum(m.model_size for m in models)
    if free <= 0:
        return None
    return sum((m.weight for m in models), Fraction(0)) / free


def gpu_loads(gpu_num: int, models: Sequence[ModelSpec], assignment: Sequence[int]) -> list[list[ModelSpec]]:
    """Group models by GPU; `assignment[i]` is the GPU of `models[i]`."""
    gpus: list[list[ModelSpec]] = [[] for _ in range(gpu_num)]
    for model, gpu in zip(models, assignment):
        gpus[gpu].append(model)
    return gpus


def max_kvpr_exact(gpu_num: int, models: Sequence[ModelSpec], assignment: Sequence[int]) -> Fraction | None:
    """Exact maximum KVPR over GPUs, or None if some GPU is over-full."""
    worst = Fraction(0)
    for on_gpu in gpu_loads(gpu_num, models, assignment):
        kvpr = gpu_kvpr_exact(on_gpu)
        if kvpr is None:
            return None
        worst = max(worst, kvpr)
    return worst


def max_kvpr(gpu_num: int, models: Sequence[ModelSpec], assignment: Sequence[int]) -> float:
    """Maximum KVPR as a float (inf if some GPU is over-full)."""
    exact = max_kvpr_exact(gpu_num, models, assignment)
    return float("inf") if exact is None else float(exact)


def fluid_lower_bound(gpu_num: int, models: Sequence[ModelSpec]) -> Fraction:
    """A bound no placement beats: max(sum a / (80 G - sum s), max_i a_i / (80 - s_i)).

    The first term is the mediant inequality (a maximum of ratios is at least the ratio of the sums,
    the ADRS leaderboard's LB); the second holds because each model sits on some GPU, at best alone.
    """
    total_free = GPU_MEMORY_GB * gpu_num - sum(m.model_size for m in models)
    total_weight = sum((m.weight for m in models), Fraction(0))
    bound = total_weight / total_free if total_free > 0 else Fraction(10**18)
    for m in models:
        free = GPU_MEMORY_GB - m.model_size
        bound = max(bound, m.weight / free if free > 0 else Fraction(10**18))
    return bound
