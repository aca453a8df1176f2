"""`adrs-bench verify`: re-check a result record against its program, so that a leaderboard shows only
what anyone can reproduce.

Cheap checks first (the record loads, its aggregate is what its instances give, it names today's task
version, its set's sha256 and its evaluator's sha256 are today's, and the program is the one it names),
then the program is run again on the record's set, a fresh set rebuilt from its recorded seed, a subset
from its recorded case ids; every instance's status and score must be bit-identical.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import results
from .errors import AdrsError


@dataclass(frozen=True)
class Verdict:
    """One record's verification: `differences` is empty when it verifies (one line each otherwise)."""

    record_path: Path
    differences: tuple[str, ...]
    rerun: bool  # whether the program was run again (the cheap checks passed)

    @property
    def ok(self) -> bool:
        return not self.differences


def rebuild_set(task, record: dict):
    """The record's instance set as it was scored: shipped, fresh (from its seed) or a subset (by ids)."""
    from .api import pick_cases, subset_of
    from .fresh_names import fresh_name
    from .instances import load_set

    name = record["set"]["name"]
    base = name.split("[", 1)[0]
    if record["set"].get("fresh_seed") is not None:
        base = fresh_name(record["set"]["fresh_seed"])
    full = load_set(task, base)
    if "[" not in name:
        return full
    ids = [instance["id"] for instance in record["instances"]]
    return subset_of(task, full, pick_cases(task, full.cases, ids))


def cheap_differences(task, record: dict, program: Path) -> list[str]:
    """What can be checked without running anything."""
    import hashlib

    from .evaluator_hash import evaluator_sha256

    found = []
    if results.is_interrupted(record):
        found.append(f"interrupted: {results.not_run_count(record)} of {record['set']['cases']} cases never ran, so "
                     "the record cannot be checked against a re-run; run the submission to the end")
    if record["task"]["id"] != task.spec.id:
        found.append(f"task: the record is {record['task']['id']}, this harness scores {task.spec.id}; "
                     "re-run the submission on the current version")
    shipped = task.spec.sets.get(record["set"]["name"])
    if record["set"].get("fresh_seed") is None and shipped is not None and shipped.sha256 != record["set"]["sha256"]:
        found.append(f"set: {record['set']['name']} sha256 {record['set']['sha256'][:12]} in the record, "
                     f"{shipped.sha256[:12]} today")
    today = evaluator_sha256(task.spec)
    if record["provenance"]["evaluator_sha256"] != today:
        found.append(f"evaluator: sha256 {record['provenance']['evaluator_sha256'][:12]} in the record, "
                     f"{today[:12]} today; re-run the submission")
    if not program.is_file():
        found.append(f"program: {program} not found; pass --program FILE")
    else:
        digest = hashlib.sha256(program.read_bytes()).hexdigest()
        if digest != record["submission"]["sha256"]:
            found.append(f"program: {program} has sha256 {digest[:12]}, the record names "
                         f"{record['submission']['sha256'][:12]} (changed since it was scored)")
    return found


def instance_differences(record: dict, outcomes) -> list[str]:
    found = []
    recorded = {i["id"]: i for i in record["instances"]}
    rerun = {o.id: o for o in outcomes}
    for case_id in sorted(set(recorded) | set(rerun)):
        old, new = recorded.get(case_id), rerun.get(case_id)
        if old is None or new is None:
            found.append(f"{case_id}: {'missing from the record' if old is None else 'not in the re-run'}")
        elif (old["status"], old["score"]) != (new.status, new.score):
            found.append(f"{case_id}: recorded {old['status']} {old['score']!r}, re-run {new.status} {new.score!r}")
    return found


def verify(record_path: Path | str, program: Path | str | None = None, workers: int = 1) -> Verdict:
    """Verify one record; raises AdrsError (one line) when the record itself cannot be read."""
    from .registry import get_task
    from .runner import run_cases
    from .sandbox.checks import check_submission

    record_path = Path(record_path)
    record = results.load(record_path)  # schema, finite numbers, aggregate == what the instances give
    task = get_task(record["task"]["name"])
    path = Path(program) if program is not None else Path(record["submission"]["path"])
    found = cheap_differences(task, record, path)
    if found:
        return Verdict(record_path, tuple(found), rerun=False)
    instance_set = rebuild_set(task, record)
    if instance_set.sha256 != record["set"]["sha256"]:
        return Verdict(record_path, (f"set: rebuilt {record['set']['name']} has sha256 {instance_set.sha256[:12]}, "
                                     f"the record names {record['set']['sha256'][:12]}",), rerun=False)
    try:
        submission = check_submission(path, task.spec)
    except AdrsError as exc:
        return Verdict(record_path, (f"program: refused today: {exc}",), rerun=False)
    outcomes = run_cases(task, submission, instance_set.cases, workers=workers)
    return Verdict(record_path, tuple(instance_differences(record, outcomes)), rerun=True)
