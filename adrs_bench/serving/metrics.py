"""What a run produces: one record per request and per replica, and the summary a task scores.

Every figure is computed from the records in a fixed order (request id, replica id), so the same run
gives bit-identical numbers.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple, Sequence

import numpy as np


class RequestRecord(NamedTuple):
    """One completed request (the columns of vidur's request_metrics.csv that matter here). A named
    tuple: immutable, and cheap enough to build at every completion."""

    id: int
    arrival_time: float
    prompt_tokens: int
    decode_tokens: int
    replica_id: int
    routed_time: float
    first_scheduled_time: float
    first_token_time: float
    completion_time: float
    restarts: int
    preemptions: int

    @property
    def e2e(self) -> float:
        return self.completion_time - self.arrival_time

    @property
    def ttft(self) -> float:
        return self.first_token_time - self.arrival_time

    @property
    def tpot(self) -> float | None:
        """Time per output token after the first; None for a single-token request."""
        if self.decode_tokens < 2:
            return None
        return (self.completion_time - self.first_token_time) / (self.decode_tokens - 1)

    @property
    def global_queueing(self) -> float:
        return self.routed_time - self.arrival_time

    @property
    def replica_queueing(self) -> float:
        return self.first_scheduled_time - self.routed_time


@dataclass(frozen=True)
class ReplicaRecord:
    """One replica's life: GPU time is charged from `requested_at` (cold start included) to `left_at`
    (or the end of the run)."""

    id: int
    requested_at: float
    ready_at: float
    left_at: float | None
    end_time: float
    total_blocks: int
    kv_block_seconds: float
    busy_seconds: float
    tokens_generated: int
    decode_steps: int
    prefill_steps: int

    @property
    def gpu_seconds(self) -> float:
        return (self.end_time if self.left_at is None else self.left_at) - self.requested_at

    @property
    def serving_seconds(self) -> float:
        """Time from ready to leaving (0 if it never became ready before the end)."""
        stop = self.end_time if self.left_at is None else self.left_at
        return max(0.0, stop - self.ready_at)


@dataclass(frozen=True)
class RunResult:
    records: tuple[RequestRecord, ...]  # by request id
    replicas: tuple[ReplicaRecord, ...]  # by replica id
    end_time: float
    events: int
    router_calls: int
    fast: bool

    def summary(self) -> "Summary":
        return summarize(self)


@dataclass(frozen=True)
class Summary:
    requests: int
    mean_e2e: float
    p50_e2e: float
    p90_e2e: float
    p99_e2e: float
    mean_ttft: float
    p90_ttft: float
    mean_tpot: float
    preemptions: int
    restarted_requests: int
    mean_global_queueing: float
    mean_replica_queueing: float
    mean_kv_utilisation: float
    makespan: float
    gpu_seconds: float
    gpu_seconds_per_replica: tuple[float, ...]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["gpu_seconds_per_replica"] = list(self.gpu_seconds_per_replica)
        return data


PROFILE_LEVELS = tuple(range(0, 101, 2))  # the percentiles a quantile profile holds: 0, 2, ..., 100
PROFILE_DIGITS = 6  # significant digits each is rounded to


def significant(value: float, digits: int = PROFILE_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (by its decimal text, so the same on every platform)."""
    return float(f"{value:.{digits}g}")


def quantile_profile(values: Sequence[float]) -> list[float]:
    """A distribution in a few numbers, small enough for a result record: its percentiles at
    PROFILE_LEVELS (numpy's default linear rule, so the ends are the minimum and the maximum), each
    rounded to PROFILE_DIGITS significant digits. Non-decreasing; [] for no values. The one rule for
    the latency CDFs drawn from records."""
    data = np.asarray(values, dtype=float)
    if not len(data):
        return []
    return [significant(float(v)) for v in np.percentile(data, PROFILE_LEVELS)]


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(np.asarray(values, dtype=float))) if len(values) else math.nan


def summarize(result: RunResult) -> Summary:
    """Mean end-to-end time is the primary metric; the rest explains it. KV utilisation is the
    time-weighted share of allocated blocks over every replica's serving time."""
    records = result.records
    e2e = np.array([r.e2e for r in records], dtype=float)
    ttft = np.array([r.ttft for r in records], dtype=float)
    tpots = [t for t in (r.tpot for r in records) if t is not None]
    block_seconds = sum(r.kv_block_seconds for r in result.replicas)
    capacity = sum(r.total_blocks * r.serving_seconds for r in result.replicas)
    return Summary(
        requests=len(records),
        mean_e2e=_mean(e2e),
        p50_e2e=_percentile(e2e, 50),
        p90_e2e=_percentile(e2e, 90),
        p99_e2e=_percentile(e2e, 99),
        mean_ttft=_mean(ttft),
        p90_ttft=_percentile(ttft, 90),
        mean_tpot=_mean(tpots),
        preemptions=sum(r.preemptions for r in records),
        restarted_requests=sum(1 for r in records if r.restarts),
        mean_global_queueing=_mean([r.global_queueing for r in records]),
        mean_replica_queueing=_mean([r.replica_queueing for r in records]),
        mean_kv_utilisation=block_seconds / capacity if capacity > 0 else math.nan,
        makespan=result.end_time,
        gpu_seconds=sum(r.gpu_seconds for r in result.replicas),
        gpu_seconds_per_replica=tuple(r.gpu_seconds for r in result.replicas),
    )
