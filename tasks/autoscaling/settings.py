"""The task's settings: bounds, cold start, control interval, the SLO. They exist once, as spec.json's
`parameters`; `settings()` is the one loader (the evaluator, the reference search, the plots and the
plugin all read it), and `Settings` has no defaults that could drift from the spec."""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from adrs_bench.errors import SpecError

TASK_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    min_replicas: int
    max_replicas: int
    initial_replicas: int  # ready at time 0
    cold_start_seconds: float  # a new replica serves this long after it is requested
    interval_seconds: float  # the control interval (Kubernetes HPA's sync period)
    slo_percentile: float  # the SLO holds when this percentile of the slowdowns ...
    slo_max_slowdown: float  # ... is at most this (end-to-end time / time alone on an idle replica)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object]) -> "Settings":
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(parameters) - set(names))
        missing = [name for name in names if name not in parameters]
        if unknown or missing:
            raise SpecError(f"autoscaling spec parameters: expected exactly {', '.join(names)}, got "
                            + "; ".join(part for part in (f"unknown {', '.join(unknown)}" if unknown else "",
                                                          f"missing {', '.join(missing)}" if missing else "") if part)
                            + "; fix tasks/autoscaling/spec.json")
        settings = cls(**parameters)
        if not 0 <= settings.min_replicas <= settings.initial_replicas <= settings.max_replicas:
            raise SpecError(f"autoscaling spec parameters: expected 0 <= min_replicas <= initial_replicas <= "
                            f"max_replicas, got {settings.min_replicas}, {settings.initial_replicas}, "
                            f"{settings.max_replicas}; fix tasks/autoscaling/spec.json")
        return settings


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings spec.json gives (read and checked once per process)."""
    from adrs_bench.spec import load_spec

    return Settings.from_parameters(load_spec(TASK_DIR).parameters)
