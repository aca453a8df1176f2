"""Compare several submissions' result records of one task on one instance set, as figures.

`compare(paths, out_dir)` writes `scores.png` for any task: a grouped bar chart of the score per
instance (one bar per submission, failed instances hatched) and a final group of each submission's
aggregate score with its 90% interval (`aggregate.ci90`) as an error bar. A task may add its own
figures through an optional plugin method, `comparison_plots(records, out_dir) -> list[Path]`
(llm_routing draws its seeds' latency CDFs); this module never imports a task's internals.
`comparison_png(records)` returns the scores chart as PNG bytes, for pages that embed it.

Records of different tasks (or task versions) or of different instance sets are refused: their
scores are not comparable. matplotlib is imported only when drawing, with the Agg backend.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence, Union

from . import results
from .errors import TaskNotFound, UsageError

RecordLike = Union[Path, str, dict]
AGGREGATE = object()  # the final group's key (never an instance id)
AGGREGATE_LABEL = "aggregate\n(90% interval)"
BARS_PER_ROW = 130  # about this many bars on one row of the scores chart before it wraps
LEGEND_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0, "fontsize": 8}


def load_records(items: Sequence[RecordLike]) -> list[dict]:
    """Each item loaded (a path; a dict is taken as an already loaded record), all of one task and set."""
    items = list(items)
    if not items:
        raise UsageError("expected at least one result record to compare, got none; pass record paths")
    records = [item if isinstance(item, dict) else results.load(item) for item in items]
    names = [item if not isinstance(item, dict) else item["submission"]["label"] for item in items]
    first = records[0]
    for name, record in zip(names[1:], records[1:]):
        if record["task"]["id"] != first["task"]["id"]:
            raise UsageError(f"expected records of one task, got {first['task']['id']} ({names[0]}) and "
                             f"{record['task']['id']} ({name}); compare records of the same task and set")
        if (record["set"]["name"], record["set"]["sha256"]) != (first["set"]["name"], first["set"]["sha256"]):
            raise UsageError(f"expected records of one instance set, got {first['set']['name']} "
                             f"({first['set']['sha256'][:12]}, {names[0]}) and {record['set']['name']} "
                             f"({record['set']['sha256'][:12]}, {name}); compare records of the same task and set")
    return records


def submission_labels(records: Sequence[dict]) -> list[str]:
    """Each record's submission label; labels shared by different programs get their sha256's first 8
    hex digits, and records of the same program a #n."""
    labels = [r["submission"]["label"] for r in records]
    shas = [r["submission"]["sha256"] for r in records]
    out = []
    for k, label in enumerate(labels):
        same = [j for j in range(len(records)) if labels[j] == label]
        if len(same) > 1:
            twins = [j for j in same if shas[j] == shas[k]]
            if len(twins) < len(same):
                label = f"{label} ({shas[k][:8]})"
            if len(twins) > 1:
                label = f"{label} #{twins.index(k) + 1}"
        out.append(label)
    return out


def new_figure(**kwargs):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def scores_figure(records: Sequence[dict], labels: Sequence[str] | None = None):
    """The grouped bar chart of `compare`'s scores.png, as a matplotlib Figure: one group of bars per
    instance and a final `aggregate` group with the 90% intervals; many instances wrap onto several
    rows (one axes each, the aggregate in the last), so the figure stays readable on a page."""
    from matplotlib.patches import Patch

    labels = list(labels) if labels is not None else submission_labels(records)
    ids: list[str] = []
    for record in records:
        ids += [i["id"] for i in record["instances"] if i["id"] not in ids]
    count = len(records)
    groups = ids + [AGGREGATE]
    per_row = max(3, BARS_PER_ROW // count)
    rows = [groups[start:start + per_row] for start in range(0, len(groups), per_row)]
    width = 0.8 / count
    longest = max(len(row) for row in rows)
    fig = new_figure(figsize=(min(16.0, max(7.0, 2.5 + 0.13 * count * longest)), 1.2 + 3.2 * len(rows)))
    axes = fig.subplots(len(rows), 1, squeeze=False, sharey=True)[:, 0]
    by_id = [{i["id"]: i for i in record["instances"]} for record in records]
    any_failed = False
    for ax, row in zip(axes, rows):
        for k in range(count):
            color, offset = f"C{k % 10}", (k - (count - 1) / 2) * width
            shown = [(x, by_id[k][case_id]) for x, case_id in enumerate(row) if case_id in by_id[k]]
            bars = ax.bar([x + offset for x, _ in shown], [i["score"] for _, i in shown], width, color=color)
            for bar, (_, instance) in zip(bars, shown):
                if instance["status"] != "ok":
                    any_failed = True
                    bar.set_hatch("///")
                    bar.set_edgecolor("black")
            if row[-1] is AGGREGATE:
                agg = records[k]["aggregate"]
                ci = agg.get("ci90")
                yerr = [[max(0.0, agg["score"] - ci[0])], [max(0.0, ci[1] - agg["score"])]] if ci else None
                ax.bar([len(row) - 1 + offset], [agg["score"]], width, color=color, yerr=yerr, capsize=4,
                       edgecolor="black", linewidth=0.6, error_kw={"elinewidth": 1.0})
        names = [AGGREGATE_LABEL if case_id is AGGREGATE else case_id for case_id in row]
        if row[-1] is AGGREGATE and len(row) > 1:
            ax.axvline(len(row) - 1.5, color="grey", linestyle=":", linewidth=1.0)
        ax.set_xticks(range(len(row)), names)
        if len(ids) > 8:
            ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.set_xlim(-0.6, max(len(row), per_row if len(rows) > 1 else 0) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    metric = records[0]["metric"]
    direction = "higher is better" if metric["direction"] == "maximize" else "lower is better"
    for ax in axes:
        ax.set_ylabel(f"score ({direction})")
    axes[-1].set_xlabel("instance")
    axes[0].set_title(f"{records[0]['task']['id']} on {records[0]['set']['name']}: {metric['name']}", fontsize=10)
    handles = [Patch(facecolor=f"C{k % 10}") for k in range(count)]  # not a bar's: that may be hatched
    names = list(labels)
    if any_failed:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="///"))
        names.append("failed instance")
    axes[0].legend(handles, names, **LEGEND_OUTSIDE)
    return fig


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def comparison_png(records: Sequence[RecordLike]) -> bytes:
    """The scores chart of these records (paths, or loaded records) as PNG bytes, e.g. to embed in a page."""
    return png_bytes(scores_figure(load_records(records)))


def task_plugin(record: dict):
    """The plugin of the record's task version, or None if this harness does not have that version."""
    from .registry import get_task

    try:
        return get_task(record["task"]["id"]).plugin
    except TaskNotFound:
        return None


def compare(record_paths: Sequence[RecordLike], out_dir: Path) -> list[Path]:
    """Write scores.png (and the task's own comparison figures, if its plugin has `comparison_plots`)
    into `out_dir`; return the paths written. Raises UsageError for records of different tasks or sets."""
    records = load_records(record_paths)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = out_dir / "scores.png"
    scores.write_bytes(png_bytes(scores_figure(records)))
    written = [scores]
    plugin = task_plugin(records[0])
    extra = getattr(plugin, "comparison_plots", None)
    if extra is not None:
        written += list(extra(records, out_dir))
    return written
