"""llm_routing's figures: what `--artifacts` draws from one run (each request's end-to-end latency as a
CDF per seed; every replica's allocated KV blocks over simulated time) and what `adrs-bench compare`
draws from several records (their seeds' latency CDFs overlaid, from each seed's `e2e_quantiles`).

Nothing here changes a score. matplotlib is imported only when a figure is drawn, with the Agg
backend, and figures are built as `Figure` objects (no pyplot state is left behind).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from adrs_bench.serving.metrics import PROFILE_LEVELS

from .bridge import REPLICA_STATE_FIELDS

LEGEND_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "fontsize": 8}
LOG_RATIO = 20.0  # latencies spanning more than this factor are drawn on a log axis


def new_figure(**kwargs):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


def wants_log(low: float, high: float) -> bool:
    return low > 0 and high / low > LOG_RATIO


# ---------------------------------------------------------------------------------------- one run

def latency_cdf_figure(cases: Sequence, outcomes: Sequence):
    """One CDF of per-request end-to-end latency per seed that ran to the end; None if none did."""
    runs = [(case, np.sort(np.array([r.e2e for r in o.detail["records"]], dtype=float)))
            for case, o in zip(cases, outcomes) if o.detail and o.detail.get("records")]
    if not runs:
        return None
    fig = new_figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for case, e2e in runs:
        share = np.arange(1, len(e2e) + 1) / len(e2e)
        ax.step(e2e, share, where="post", linewidth=1.2,
                label=f"seed {case.seed}: mean {e2e.mean():.2f} s, p99 {np.percentile(e2e, 99):.2f} s")
    low = min(float(e2e[0]) for _, e2e in runs)
    high = max(float(e2e[-1]) for _, e2e in runs)
    if wants_log(low, high):
        ax.set_xscale("log")
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("end-to-end latency (s)" + (", log scale" if wants_log(low, high) else ""))
    ax.set_ylabel("share of requests finished within")
    ax.set_title("per-request end-to-end latency (CDF)")
    ax.grid(alpha=0.3)
    ax.legend(**LEGEND_OUTSIDE)
    return fig


def kv_use_figure(cases: Sequence, outcomes: Sequence, num_blocks: int | None = None):
    """Per seed (one panel each), every replica's allocated KV blocks at each router call over simulated
    time; None if no seed recorded replica states."""
    width = len(REPLICA_STATE_FIELDS)
    time_col, replica_col = REPLICA_STATE_FIELDS.index("time"), REPLICA_STATE_FIELDS.index("replica_id")
    blocks_col = REPLICA_STATE_FIELDS.index("allocated_blocks")
    runs = []
    for case, o in zip(cases, outcomes):
        flat = (o.detail or {}).get("replica_states")
        if flat is not None and len(flat):
            runs.append((case, np.asarray(flat, dtype=float).reshape(-1, width)))
    if not runs:
        return None
    fig = new_figure(figsize=(9, 1.2 + 2.4 * len(runs)))
    axes = fig.subplots(len(runs), 1, squeeze=False)[:, 0]
    for ax, (case, rows) in zip(axes, runs):
        for replica in np.unique(rows[:, replica_col]).astype(int):
            mine = rows[rows[:, replica_col] == replica]
            ax.step(mine[:, time_col], mine[:, blocks_col], where="post", linewidth=0.8, label=f"replica {replica}")
        if num_blocks:
            ax.axhline(num_blocks, color="black", linestyle="--", linewidth=0.8,
                       label=f"capacity ({num_blocks} blocks)")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("allocated KV blocks")
        ax.set_title(f"seed {case.seed}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("simulated time (s)")
    axes[0].legend(**LEGEND_OUTSIDE)
    return fig


def write_run_plots(cases: Sequence, outcomes: Sequence, directory: Path, num_blocks: int | None = None) -> list[Path]:
    """latency_cdf.png and kv_use.png in `directory` (each only if some seed has what it draws)."""
    written = []
    for name, fig in (("latency_cdf.png", latency_cdf_figure(cases, outcomes)),
                      ("kv_use.png", kv_use_figure(cases, outcomes, num_blocks))):
        if fig is not None:
            written.append(save(fig, directory / name))
    return written


# ----------------------------------------------------------------------------------- several records

def comparison_cdf_figure(records: Sequence[dict], labels: Sequence[str]):
    """One panel per seed: each record's end-to-end latency CDF from the seed's `e2e_quantiles` (seeds
    that failed, or records without quantiles, are left out); None if no record has any."""
    levels = np.asarray(PROFILE_LEVELS, dtype=float) / 100.0
    ids: list[str] = []
    for record in records:
        ids += [i["id"] for i in record["instances"] if i["id"] not in ids]
    curves = {case_id: [] for case_id in ids}
    for k, record in enumerate(records):
        for instance in record["instances"]:
            quantiles = instance["metrics"].get("e2e_quantiles")
            if instance["status"] == "ok" and quantiles and len(quantiles) == len(levels):
                curves[instance["id"]].append((k, np.asarray(quantiles, dtype=float)))
    shown = [case_id for case_id in ids if curves[case_id]]
    if not shown:
        return None
    columns = min(3, len(shown))
    rows = math.ceil(len(shown) / columns)
    fig = new_figure(figsize=(2.0 + 3.6 * columns, 0.8 + 3.0 * rows))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    handles = {}
    for ax, case_id in zip(axes, shown):
        low = min(float(q[0]) for _, q in curves[case_id])
        high = max(float(q[-1]) for _, q in curves[case_id])
        for k, quantiles in curves[case_id]:
            (line,) = ax.plot(quantiles, levels, color=f"C{k % 10}", linewidth=1.2)
            handles.setdefault(k, line)
        if wants_log(low, high):
            ax.set_xscale("log")
        ax.set_ylim(0, 1.0)
        ax.set_title(case_id, fontsize=10)
        ax.set_xlabel("end-to-end latency (s)")
        ax.set_ylabel("share of requests")
        ax.grid(alpha=0.3)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    order = sorted(handles)
    fig.legend([handles[k] for k in order], [labels[k] for k in order], loc="outside right upper", fontsize=8)
    fig.suptitle(f"{records[0]['task']['id']} on {records[0]['set']['name']}\nend-to-end latency CDF per seed",
                 fontsize=10)
    return fig


def comparison_plots(records: Sequence[dict], out_dir: Path) -> list[Path]:
    """latency_cdf.png in `out_dir`: the records' latency CDFs overlaid, one panel per seed."""
    from adrs_bench.compare import submission_labels

    fig = comparison_cdf_figure(records, submission_labels(records))
    if fig is None:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    return [save(fig, out_dir / "latency_cdf.png")]
