"""The task's settings, read from spec.json `parameters` (one place): bounds, cold start, control
interval, the SLO, and the cluster each replica is (the llm_routing replica: A10 + Llama-3-8B)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    min_replicas: int = 1
    max_replicas: int = 32
    initial_replicas: int = 4  # ready at time 0
    cold_start_seconds: float = 60.0  # a new replica serves this long after it is requested
    interval_seconds: float = 15.0  # Kubernetes HPA's sync period
    slo_percentile: float = 95.0
    slo_max_slowdown: float = 5.0  # p95 of end-to-end time / time alone on an idle replica

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object]) -> "Settings":
        known = {k: v for k, v in parameters.items() if k in cls.__dataclass_fields__}
        unknown = sorted(set(parameters) - set(known))
        if unknown:
            raise ValueError(f"autoscaling spec parameters: unknown {', '.join(unknown)}; expected some of "
                             f"{', '.join(cls.__dataclass_fields__)}")
        settings = cls(**known)
        if not 0 <= settings.min_replicas <= settings.initial_replicas <= settings.max_replicas:
            raise ValueError(f"autoscaling spec parameters: expected 0 <= min_replicas <= initial_replicas <= "
                             f"max_replicas, got {settings.min_replicas}, {settings.initial_replicas}, "
                             f"{settings.max_replicas}")
        return settings
