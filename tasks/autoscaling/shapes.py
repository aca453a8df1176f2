"""The load shapes of autoscaling's traces: the arrival rate over time of each (DESIGN.md §5). The
generator samples arrivals from them; the plots draw them beside the replicas.

  sinusoid  rate(t) = 15 + 7.5 sin(2 pi t / period) QPS, period 1800 s (long against the 60 s cold
            start), between 7.5 and 22.5.
  diurnal   a day compressed into 2 hours (hour h of the day at t = 300 h s), piecewise linear through
            DIURNAL_POINTS: night trough 7.5 QPS, morning ramp, midday peak 22.5 QPS, evening
            shoulder. Only the shape is stylised after the daily pattern of the Azure LLM inference
            traces (Azure public dataset, AzureLLMInferenceTrace 2023 and 2024); no trace data is used.
  spike     7.5 QPS, tripled (22.5 QPS) for SPIKE_SECONDS = 300 s from a seed-dependent whole second
            in [1800, 5400).
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

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

Params = tuple[tuple[str, float], ...]  # sorted (name, value) pairs: sinusoid period, spike spike_start


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
