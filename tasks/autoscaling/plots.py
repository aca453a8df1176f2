"""autoscaling's figure for `--artifacts`: per trace, replicas and load over time (top) and the p95
slowdown over time against the SLO (bottom), legends outside the plotting area so they never hide a
scale-up.

The slowdown panel is drawn from the outcome's detail: `finished`, each request's (completion time,
slowdown) in completion order. Per window of WINDOW_INTERVALS control intervals it shows the p95 of
the requests finished in that window, and the p95 of all requests finished so far (at the end: the
number the SLO judges). Nothing here changes a score. matplotlib is imported only when drawing, with
the Agg backend, and figures are `Figure` objects (no pyplot state is left behind).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

WINDOW_INTERVALS = 4  # a slowdown window is this many control intervals (60 s at the default 15 s)
LEGEND_OUTSIDE = {"loc": "upper left", "borderaxespad": 0.0, "fontsize": 8}
RIGHT_OF_TWIN = (1.09, 1.0)  # clear of the twin axis' tick labels and label
RIGHT_OF_AXES = (1.02, 1.0)


def windowed_percentile(finished, window: float, percentile: float, end: float | None = None):
    """(window end times, p of the slowdowns finished in each window (nan if none), p of all finished
    up to each window end (nan before the first)) from rows of (completion time, slowdown)."""
    rows = np.asarray(finished, dtype=float).reshape(-1, 2)
    last = max(float(rows[:, 0].max()) if len(rows) else 0.0, end or 0.0)
    count = max(1, int(np.ceil(last / window)))
    ends = window * np.arange(1, count + 1)
    order = np.argsort(rows[:, 0], kind="stable")
    times, values = rows[order, 0], rows[order, 1]
    bounds = np.searchsorted(times, ends, side="left")  # a request finishing at a window's end is in the next
    bounds[-1] = len(times)
    inside = np.full(count, np.nan)
    so_far = np.full(count, np.nan)
    start = 0
    for k, stop in enumerate(bounds):
        if stop > start:
            inside[k] = np.percentile(values[start:stop], percentile)
        if stop:
            so_far[k] = np.percentile(values[:stop], percentile)
        start = stop
    return ends, inside, so_far


def figure(case, outcome, settings):
    """The whole figure for one trace: axes labelled "replicas" (with its twin "load (QPS)") above,
    "p95 slowdown" below."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = outcome.detail["timeline"]
    interval = settings.interval_seconds
    times = [row[0] / 60 for row in rows]
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))

    top.step(times, [row[2] for row in rows], where="post", label="ready replicas")
    top.step(times, [row[2] + row[3] for row in rows], where="post", linestyle="--", label="ready + starting")
    top.axhline(case.reference.static_replicas, color="grey", linewidth=0.8,
                label=f"smallest static count ({case.reference.static_replicas})")
    top.set_ylabel("replicas")
    load = top.twinx()
    load.plot(times, [row[5] / interval for row in rows], color="tab:red", alpha=0.5, linewidth=0.8,
              label="arrivals (QPS)")
    load.set_ylabel("load (QPS)")
    handles = top.get_legend_handles_labels()[0] + load.get_legend_handles_labels()[0]
    top.legend(handles, [h.get_label() for h in handles], bbox_to_anchor=RIGHT_OF_TWIN, **LEGEND_OUTSIDE)
    top.set_title(f"{outcome.id}: {outcome.status}, GPU-h {outcome.metrics.get('gpu_hours', 0):.2f} "
                  f"vs static {outcome.metrics.get('static_gpu_hours', 0):.2f}")

    slo = settings.slo_max_slowdown
    p = settings.slo_percentile
    finished = outcome.detail.get("finished")
    if finished is not None and len(finished):
        window = WINDOW_INTERVALS * interval
        ends, inside, so_far = windowed_percentile(finished, window, p, rows[-1][0] if rows else None)
        starts = (ends - window) / 60
        bottom.stairs(inside, np.append(starts, ends[-1] / 60), color="tab:purple", baseline=None,
                      label=f"p{p:g} of requests finished in each {window:g} s")
        bottom.plot(ends / 60, so_far, color="black", linewidth=1.0, linestyle="-.",
                    label=f"p{p:g} of all finished so far")
        high = np.nanmax(np.concatenate([inside, so_far, [slo]]))
        if high > 10 * slo:
            bottom.set_yscale("log")
    bottom.axhline(slo, color="tab:red", linestyle="--", linewidth=1.2, label=f"SLO: p{p:g} slowdown <= {slo:g}")
    bottom.set_ylim(bottom=0 if bottom.get_yscale() == "linear" else None)
    bottom.set_ylabel(f"p{p:g} slowdown")
    bottom.set_xlabel("time (min)")
    bottom.grid(alpha=0.3)
    bottom.legend(bbox_to_anchor=RIGHT_OF_AXES, **LEGEND_OUTSIDE)
    return fig


def plot(case, outcome, settings, path: Path) -> Path:
    fig = figure(case, outcome, settings)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path
