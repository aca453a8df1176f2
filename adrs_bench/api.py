"""The library entry point for evolution loops and scripts: `evaluate(task, program, set)` -> `Result`.

It checks, runs sandboxed and scores one program, and returns everything as one frozen value. It writes
nothing and prints nothing (the CLI's `run` is a thin layer that prints and saves). The sandbox's
children always run single-threaded BLAS, whoever calls: the fork server starts a fresh interpreter
with its own environment (sandbox/forkserver.py), not the caller's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .errors import UsageError
from .registry import Task, get_task
from .task_api import InstanceOutcome

Progress = Callable[[int, int, InstanceOutcome], None]

if TYPE_CHECKING:
    from .executors import Executor


@dataclass(frozen=True)
class Result:
    """One evaluation. `score` is the task's metric (failed cases count as failed, never dropped);
    `record` is the result record exactly as `adrs-bench run` writes it."""

    task: str
    set: str
    score: float
    ok: int
    failed: int
    statuses: Mapping[str, int]
    record: Mapping[str, Any]
    outcomes: tuple[InstanceOutcome, ...]
    diagnostics: tuple[str, ...] = ()  # the task's main figures, one line each (worst gaps, restarts, ...)
    cases: tuple = field(default=(), repr=False, compare=False)  # the cases run, for artifacts

    @property
    def all_ok(self) -> bool:
        return self.failed == 0

    def feedback(self, max_lines: int = 20) -> str:
        """Text for an LLM or a person: the score, what failed and why, the per-family scores and the
        task's main diagnostics, at most `max_lines` lines (failures first: they are what to fix)."""
        agg = self.record["aggregate"]
        lines = [f"{self.task} on {self.set}: score {self.score:.4f} ({self.ok} ok, {self.failed} failed: "
                 + ", ".join(f"{k} {v}" for k, v in self.statuses.items()) + ")"]
        failed = [o for o in self.outcomes if not o.ok]
        shown = failed[: max(1, max_lines // 2)]
        lines += [f"{o.id}: {o.status}: {o.message}" for o in shown]
        if len(failed) > len(shown):
            lines.append(f"... and {len(failed) - len(shown)} more failed cases")
        families = agg["extra"].get("family_scores")
        if families:
            lines.append("score by family: " + ", ".join(f"{k} {v:.4f}" for k, v in families.items()))
        lines += self.diagnostics
        return "\n".join(lines[:max_lines])


def as_task(task: Task | str) -> Task:
    return task if isinstance(task, Task) else get_task(task)


def pick_cases(task: Task, cases: Sequence, wanted: Iterable[str] | None) -> list:
    """The cases whose ids are in `wanted`, in set order; an unknown id is a one-line error."""
    if wanted is None:
        return list(cases)
    wanted = list(wanted)
    by_id = {task.plugin.case_id(case): case for case in cases}
    unknown = [case_id for case_id in wanted if case_id not in by_id]
    if unknown:
        sample = ", ".join(list(by_id)[:5])
        raise UsageError(f"expected case ids of the set, got unknown '{unknown[0]}'; ids look like {sample}, ...")
    chosen = set(wanted)
    return [case for case_id, case in by_id.items() if case_id in chosen]


def subset_of(task: Task, full, subset: Sequence):
    """A subset as a set of its own: named `dev[3 of 120]`, with a sha256 of the full set's and the
    chosen ids, so its record is never compared with a record of the full set."""
    import hashlib

    from .instances import InstanceSet

    ids = [task.plugin.case_id(case) for case in subset]
    digest = hashlib.sha256("\n".join([full.sha256, *ids]).encode()).hexdigest()
    return InstanceSet(name=f"{full.name}[{len(subset)} of {len(full.cases)}]", sha256=digest, cases=list(subset),
                       fresh_seed=full.fresh_seed, held_out=full.held_out)


def evaluate(task: Task | str, program: Path | str | None = None, set: str | None = "dev", *,
             code: str | None = None, cases: Iterable[str] | None = None, deadline_s: float | None = None,
             max_failures: int | None = None, workers: int | None = None, label: str | None = None,
             progress: Progress | None = None, require_isolation: bool = False,
             executor: "str | Executor" = "local", address: str | None = None) -> Result:
    """Check and score `program` (a path) or `code` (the source itself; `program` then only names it)
    on `set` ("dev", "test", "fresh:SEED", ...), sandboxed. `cases` picks a subset by id; `deadline_s`
    bounds the whole evaluation and `max_failures` stops after that many timeouts, crashes or memory
    kills, every case not reached counting as a failed `timeout` ("not run: ..."). Raises AdrsError
    (one line) when the program cannot be run at all (refused statically, missing file).

    `executor`: "local" (this process; `workers` sandboxed children at once, default 1), "ray" (the
    cases spread as Ray tasks over the cluster at `address`, or a local one; `workers` shares, default
    one per CPU), or an Executor. Scores never depend on it; the record's provenance names it. Under
    Ray, `max_failures` counts within each share."""
    from .executors import get_executor, run_spread
    from .instances import load_set
    from .runner import build_record
    from .sandbox import forkserver
    from .sandbox.checks import check_submission

    started, run_started = time.monotonic(), time.time()
    runner = get_executor(executor, workers, address)
    if runner.name == "local":
        forkserver.prestart()  # boots while the set loads (the children's parent never holds the set)
    loaded = as_task(task)
    if program is None and code is None:
        raise UsageError("expected a program path or code=..., got neither; pass one")
    path = Path(program if program is not None else "<code>.py")
    check_limits(deadline_s, max_failures)
    full = load_set(loaded, set or loaded.spec.default_set)
    subset = pick_cases(loaded, full.cases, cases)
    instance_set = full if len(subset) == len(full.cases) else subset_of(loaded, full, subset)
    submission = check_submission(path, loaded.spec, source=code)
    outcomes, isolations, jobs = run_spread(runner, loaded, submission, subset, progress, deadline_s, max_failures,
                                            require_isolation, run_started)
    record = build_record(loaded, instance_set, submission, label or path.stem, outcomes,
                          time.monotonic() - started, jobs, isolations, runner.name)
    return result_of(loaded, record, outcomes, subset)


def check_limits(deadline_s: float | None, max_failures: int | None) -> None:
    if deadline_s is not None and deadline_s <= 0:
        raise UsageError(f"expected deadline_s > 0, got {deadline_s}; pass a positive number of seconds or None")
    if max_failures is not None and max_failures < 1:
        raise UsageError(f"expected max_failures >= 1, got {max_failures}; pass a positive count or None")


def result_of(task: Task, record: dict, outcomes: Sequence[InstanceOutcome], cases: Sequence = ()) -> Result:
    agg = record["aggregate"]
    diagnose = getattr(task.plugin, "diagnostics", None)
    return Result(task=record["task"]["id"], set=record["set"]["name"], score=agg["score"], ok=agg["ok"],
                  failed=agg["failed"], statuses=MappingProxyType(dict(agg["statuses"])), record=record,
                  outcomes=tuple(outcomes), diagnostics=tuple(diagnose(record) if diagnose else ()),
                  cases=tuple(cases))
