"""autoscaling's scoring rule, in one place.

A run keeps the SLO when the percentile settings.slo_percentile (95) of its requests' slowdowns (end-to-end time
/ time alone on an idle replica, same profile) is at most settings.slo_max_slowdown. Score of a run
that keeps it: the GPU-hours of the smallest fixed replica count that keeps the SLO on that trace (found
by the generator and frozen with the set) / the run's GPU-hours; above 1 is cheaper than static
provisioning. A run that breaks the SLO is `slo_violated` and scores 0, below every run that keeps it;
its miss (p95 slowdown / limit) is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from adrs_bench.errors import AdrsError
from adrs_bench.serving import (A10Llama3Profile, ClusterConfig, RequestSpec, RunResult, ServingError, Simulator,
                                least_loaded)

from .control import Controller, SlowdownMeter
from .settings import Settings

FAILED_SCORE = 0.0
PROFILE = A10Llama3Profile()


def cluster_config(settings: Settings, replicas: int) -> ClusterConfig:
    return ClusterConfig(num_replicas=replicas, cold_start=settings.cold_start_seconds,
                         tick_interval=settings.interval_seconds)


@dataclass(frozen=True)
class SloCheck:
    percentile_slowdown: float  # the slowdown at settings.slo_percentile (records call it p95_slowdown)
    kept: bool
    miss: float  # percentile_slowdown / limit (<= 1 when kept)


def slo_check(settings: Settings, slowdowns: Sequence[float]) -> SloCheck:
    p = float(np.percentile(np.asarray(slowdowns, dtype=float), settings.slo_percentile))
    return SloCheck(p, p <= settings.slo_max_slowdown, p / settings.slo_max_slowdown)


def slowdowns(result: RunResult, controller: Controller | None = None) -> list[float]:
    """Every request's slowdown, in request id order (with the controller's cache when there is one)."""
    meter = controller.meter if controller is not None else SlowdownMeter(PROFILE)
    return [meter(r) for r in result.records]


def gpu_hours(result: RunResult) -> float:
    return sum(r.gpu_seconds for r in result.replicas) / 3600.0


@dataclass
class ScaledRun:
    result: RunResult
    controller: Controller
    slo: SloCheck
    gpu_hours: float
    slowdowns: list[float] = field(default_factory=list)  # per request, in request id order


def simulate(settings: Settings, requests: Sequence[RequestSpec], decide: Callable[[dict], Any] | None,
             replicas: int | None = None) -> ScaledRun:
    """One run with LLQ routing; `decide` (metrics -> desired count) every interval, or a fixed count of
    `replicas` when decide is None. Raises PolicyAbort (policy failures) or the simulator's errors."""
    fixed = decide is None
    start = replicas if fixed else settings.initial_replicas
    controller = Controller(settings, decide if not fixed else (lambda metrics: start), PROFILE)
    simulator = Simulator(cluster_config(settings, start), requests, least_loaded, PROFILE,
                          on_tick=None if fixed else controller.on_tick)
    controller.simulator = simulator
    result = simulator.run()
    values = slowdowns(result, controller)
    return ScaledRun(result, controller, slo_check(settings, values), gpu_hours(result), values)


def score(static_gpu_hours: float, run: ScaledRun) -> float:
    if not run.slo.kept or not (math.isfinite(run.gpu_hours) and run.gpu_hours > 0):
        return FAILED_SCORE
    return static_gpu_hours / run.gpu_hours


class ReferenceFailed(AdrsError):
    """A fixed-count run of the static reference search ended with a simulator error, so the trace cannot
    be scored (it cannot happen with requests the generator draws)."""


def smallest_static(settings: Settings, requests: Sequence[RequestSpec]) -> tuple[int, ScaledRun, dict[int, SloCheck]]:
    """The smallest fixed replica count within the bounds that keeps the SLO (binary search; the count
    just below is checked to break it). Raises ValueError if even max_replicas breaks it."""
    checked: dict[int, ScaledRun] = {}

    def run(n: int) -> ScaledRun:
        if n not in checked:
            try:
                checked[n] = simulate(settings, requests, None, replicas=n)
            except ServingError as exc:  # the simulator knows no harness: say it as the harness's error
                raise ReferenceFailed(f"static reference with {n} replicas: {exc}") from exc
        return checked[n]

    low, high = max(1, settings.min_replicas), settings.max_replicas
    if not run(high).slo.kept:
        raise ValueError(f"no fixed replica count up to {high} keeps the SLO (p{settings.slo_percentile:g} slowdown "
                         f"{run(high).slo.percentile_slowdown:.2f} at {high}); the trace is too heavy for the bounds")
    while low < high:
        middle = (low + high) // 2
        if run(middle).slo.kept:
            high = middle
        else:
            low = middle + 1
    if low > 1:
        run(low - 1)
    return low, checked[low], {n: r.slo for n, r in sorted(checked.items())}
