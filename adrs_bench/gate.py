"""`adrs-bench gate NEW --against OLD`: a CI check that fails when a score regresses.

Exit 0: no regression. Exit 1: NEW is worse than OLD by more than the tolerance, or fails
instances OLD passed. Exit 2: the records are not comparable (other task version, instance set or
evaluator) — never a silent wrong comparison.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import results
from .errors import NotComparable
from .spec import Metric


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    message: str


def check_comparable(new: dict, old: dict) -> None:
    """Refuse, naming the real mismatch (most basic first): an interrupted run, another task, another
    version of the task, another instance set, another evaluator."""
    for which, record in (("NEW", new), ("OLD", old)):
        if results.is_interrupted(record):
            raise NotComparable(
                f"expected two complete runs, got an interrupted {which} ({results.not_run_count(record)} of "
                f"{record['set']['cases']} cases never ran); run {record['submission']['label']} to the end first")
    if new["task"]["name"] != old["task"]["name"]:
        raise NotComparable(
            f"expected results of one task, got {new['task']['name']} (NEW) and {old['task']['name']} (OLD); "
            "gate a submission against a record of the same task")
    if new["task"]["id"] != old["task"]["id"]:
        older, newer = sorted((new, old), key=lambda r: r["task"]["version"])
        which = "OLD" if older is old else "NEW"
        raise NotComparable(
            f"expected results of one task version, got {new['task']['id']} (NEW) and {old['task']['id']} (OLD); "
            f"re-run the {which} submission ({older['submission']['label']}) on {newer['task']['id']}")
    if new["set"]["name"] != old["set"]["name"]:
        raise NotComparable(
            f"expected results on the same instance set, got {new['set']['name']} (NEW) and {old['set']['name']} "
            f"(OLD); run both on one set (--set {old['set']['name']})")
    if new["set"]["sha256"] != old["set"]["sha256"]:
        raise NotComparable(
            f"expected results on the same instance set, got {new['set']['name']} with sha256 "
            f"{new['set']['sha256'][:12]} (NEW) and {old['set']['sha256'][:12]} (OLD): the set's file changed; "
            "re-run both with this adrs-bench")
    if new["provenance"]["evaluator_sha256"] != old["provenance"]["evaluator_sha256"]:
        raise NotComparable(
            "expected results scored by the same evaluator, got evaluator sha256 "
            f"{new['provenance']['evaluator_sha256'][:12]} (NEW) and {old['provenance']['evaluator_sha256'][:12]} "
            "(OLD); re-run both with this adrs-bench")


def compare_records(new: dict, old: dict, tolerance: float = 0.0) -> Verdict:
    check_comparable(new, old)
    metric = Metric(name=new["metric"]["name"], direction=new["metric"]["direction"], description="")
    new_score, old_score = new["aggregate"]["score"], old["aggregate"]["score"]
    old_ok = {i["id"] for i in old["instances"] if i["status"] == "ok"}
    newly_failed = sorted(i["id"] for i in new["instances"] if i["status"] != "ok" and i["id"] in old_ok)
    summary = (f"{new['task']['id']} on {new['set']['name']}: {new['submission']['label']} {new_score:.6f} vs "
               f"{old['submission']['label']} {old_score:.6f} ({metric.direction}, tolerance {tolerance:g})")
    if metric.worse(new_score, old_score, tolerance):
        return Verdict(1, f"REGRESSION: {summary}")
    if newly_failed:
        shown = ", ".join(newly_failed[:5]) + (" ..." if len(newly_failed) > 5 else "")
        return Verdict(1, f"REGRESSION: {summary}; {len(newly_failed)} instance(s) now fail: {shown}")
    return Verdict(0, f"ok: {summary}")


def compare(new_path: Path | str, old_path: Path | str, tolerance: float = 0.0) -> Verdict:
    if tolerance < 0:
        from .errors import UsageError

        raise UsageError(f"expected a tolerance >= 0, got {tolerance}; pass e.g. --tolerance 0.001")
    return compare_records(results.load(new_path), results.load(old_path), tolerance)
