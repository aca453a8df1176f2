"""Terminal tables for a run (tabulate): the summary, the failures, and the per-family scores; and how
every table (these, the leaderboard's Markdown and HTML) writes a value and an interval."""
from __future__ import annotations

from typing import Sequence

from .task_api import InstanceOutcome


def fmt(value) -> str:
    """A value as every table shows it: floats to 4 decimals, None as `-`, booleans as yes/no."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def interval_text(ci) -> str:
    """A 90% interval as every table shows it: `low–high`, or `-` when there is none (a single case)."""
    return f"{fmt(ci[0])}–{fmt(ci[1])}" if ci else "-"


def summary_cell(extra: dict, key: str) -> str:
    """One summary value as tables show it. A task may withhold a value: None, with `<key>_withheld`
    saying why ("49 failed": ADRS's combined score drops failed cases, so it is not shown then)."""
    value = extra.get(key)
    withheld = extra.get(f"{key}_withheld")
    if value is None and withheld:
        return f"- ({withheld})"
    return fmt(value)


def summary_table(record: dict, columns: Sequence[tuple[str, str]]) -> str:
    from tabulate import tabulate

    agg = record["aggregate"]
    rows = [
        ("task", record["task"]["id"]),
        ("set", f"{record['set']['name']} ({record['set']['cases']} cases, sha256 {record['set']['sha256'][:12]})"),
        ("submission", f"{record['submission']['label']} ({record['submission']['path']})"),
        (f"score ({record['metric']['name']}, {record['metric']['direction']})", fmt(agg["score"])),
        ("90% CI of the mean", interval_text(agg["ci90"])),
        ("instances ok / failed", f"{agg['ok']} / {agg['failed']}"),
        ("statuses", ", ".join(f"{k} {v}" for k, v in agg["statuses"].items())),
    ]
    for key, title in columns:
        rows.append((title, summary_cell(agg["extra"], key)))
    families = agg["extra"].get("family_scores")
    if families:
        rows.append(("score by family", ", ".join(f"{k} {v:.4f}" for k, v in families.items())))
    return tabulate(rows, tablefmt="simple")


def failures_table(outcomes: Sequence[InstanceOutcome], limit: int = 20) -> str:
    from tabulate import tabulate

    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return ""
    rows = [(o.id, o.status, o.message) for o in failed[:limit]]
    text = tabulate(rows, headers=["instance", "status", "message"], tablefmt="simple", maxcolwidths=[None, None, 90])
    if len(failed) > limit:
        text += f"\n... and {len(failed) - limit} more failed instances (see the JSON record)"
    return text
