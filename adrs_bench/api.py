"""The library entry point for evolution loops and scripts: `evaluate(task, program, set)` -> `Result`.

It checks, runs sandboxed and scores one program, and returns everything as one frozen value. It writes
nothing and prints nothing (the CLI's `run` is a thin layer that prints and saves). The sandbox's
children always run single-threaded BLAS, whoever calls: the fork server starts a fresh interpreter
with its own environment (sandbox/forkserver.py), not the caller's.
"""
from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .errors import UsageError
from .registry import Task, get_task
from .task_api import InstanceOutcome

Progress = Callable[[int, int, InstanceOutcome], None]

if TYPE_CHECKING:
    from .executors import Executor
    from .runner import Cancellation


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
             meta: Mapping[str, str] | None = None, executor: "str | Executor" = "local",
             address: str | None = None, cancellation: "Cancellation | None" = None,
             tick: Callable[[str, float], None] | None = None,
             building: Callable[[str], None] | None = None) -> Result:
    """Check and score `program` (a path) or `code` (the source itself; `program` then only names it)
    on `set` ("dev", "test", "fresh:SEED", ...), sandboxed. `cases` picks a subset by id; `deadline_s`
    bounds the whole evaluation and `max_failures` stops after that many timeouts, crashes or memory
    kills, every case not reached counting as a failed `timeout` ("not run: ..."). `meta` is stored in
    the record (results.META_KEYS: framework, model, budget, generations, author, url). Raises AdrsError
    (one line) when the program cannot be run at all (refused statically, missing file).

    `executor`: "local" (this process; `workers` sandboxed children at once, default 1), "ray" (the
    cases spread as Ray tasks over the cluster at `address`, or a local one; `workers` shares, default
    one per CPU), or an Executor. Scores never depend on it; the record's provenance names it. Under
    Ray, `max_failures` counts within each share.

    `cancellation` (a runner.Cancellation; local executor) lets another thread or a signal handler stop
    the run and still get its Result: the cases finished keep their scores, the others are failed
    `timeout`s "not run: <reason>", and the record says `provenance.interrupted` when any case was cut.
    `tick(case_id, share)` reports progress within a long case (the serving tasks' simulated time);
    `building(line)` reports, one line at a time, the building of a fresh set (minutes, unless cached)."""
    from .executors import get_executor, run_spread
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
    if meta:
        from .results import parse_meta

        meta = parse_meta([f"{key}={value}" for key, value in meta.items()])  # the keys checked in one place
    full = load_with_progress(loaded, set or loaded.spec.default_set, building)
    subset = pick_cases(loaded, full.cases, cases)
    instance_set = full if len(subset) == len(full.cases) else subset_of(loaded, full, subset)
    submission = check_submission(path, loaded.spec, source=code)
    outcomes, isolations, jobs = run_spread(runner, loaded, submission, subset, progress, deadline_s, max_failures,
                                            require_isolation, run_started, cancellation, tick)
    record = build_record(loaded, instance_set, submission, label or path.stem, outcomes,
                          time.monotonic() - started, jobs, isolations, runner.name, meta=dict(meta or {}),
                          interrupted=was_cut(cancellation, outcomes))
    return result_of(loaded, record, outcomes, subset)


def load_with_progress(task: Task, name: str, building: Callable[[str], None] | None):
    """The set `name`; for a fresh one, `building` hears a line per case built (with the time left), or
    that it came from the cache, and any warning about the cache."""
    from .instances import build_progress_line, is_fresh, load_set, resolve_fresh

    if building is None or not is_fresh(name):
        return load_set(task, name)
    name = resolve_fresh(name)
    started = time.monotonic()

    def built(done: int, total: int) -> None:
        building(build_progress_line(name, done, total, time.monotonic() - started))

    loaded = load_set(task, name, progress=built)
    if loaded.cache is not None:
        if loaded.cache.hit:
            building(f"{name}: from the cache ({loaded.cache.path})")
        if loaded.cache.warning:
            building(f"warning: {loaded.cache.warning}")
    return loaded


def was_cut(cancellation, outcomes: Sequence[InstanceOutcome]) -> bool:
    """Whether a cancellation stopped any case of the run (one that came after the last case cut nothing)."""
    from .runner import NOT_RUN

    if cancellation is None or not cancellation.cancelled:
        return False
    return any(o.message == f"{NOT_RUN}{cancellation.reason}" for o in outcomes)


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


# ------------------------------------------------------------------ a generation of candidates

@dataclass(frozen=True)
class CandidateError:
    """A candidate `evaluate_many` could not score at all: refused statically (`kind` InvalidSubmission),
    a missing file (SubmissionNotFound), or a machine that could not run it (SandboxUnavailable, a Ray
    worker that died). Result-like, so a search can rank it with the rest: `score` is the task's failed
    score, every case counts as failed, `record` is None and `feedback()` is the one-line reason."""

    task: str
    set: str
    label: str
    kind: str
    error: str
    score: float
    failed: int
    ok: int = 0
    statuses: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    record: None = None
    outcomes: tuple = ()
    diagnostics: tuple[str, ...] = ()

    @property
    def all_ok(self) -> bool:
        return False

    def feedback(self, max_lines: int = 20) -> str:
        return f"{self.task} on {self.set}: not run ({self.kind}): {self.error}"


Candidate = Result | CandidateError
BatchProgress = Callable[[int, int, Candidate], None]


def evaluate_many(task: Task | str, programs: Sequence[Path | str] | None = None, set: str | None = "dev", *,
                  codes: Sequence[str] | None = None, labels: Sequence[str] | None = None,
                  cases: Iterable[str] | None = None, deadline_s: float | None = None,
                  max_failures: int | None = None, executor: "str | Executor" = "local", workers: int | None = None,
                  address: str | None = None, progress: BatchProgress | None = None,
                  require_isolation: bool = False, details: bool = False) -> list[Candidate]:
    """Score a whole generation: `programs` (paths) or `codes` (sources) on `set`, one entry per
    candidate in the order given, each a `Result` exactly as `evaluate` would give it (bit for bit the
    same scores), or a `CandidateError` for one that could not be run at all. One candidate's failure
    (refused, looping, crashing) never stops the others. `deadline_s` and `max_failures` apply to each
    candidate, counted from when it starts. `progress(done, total, entry)` as each candidate finishes.

    `executor`: "local" (`workers` candidates at once in this process, default 1), "ray" (one Ray task
    per candidate, as many at once as the cluster has CPUs), or an Executor. Ctrl-C (or an exception
    raised in the caller's thread) ends every candidate's child, on every node, and propagates.

    The outcomes carry no `detail` (what `--artifacts` files are written from: megabytes a case for
    llm_routing, too much for a generation held in memory) unless `details=True`; scores, records and
    aggregates never depend on it."""
    from contextlib import closing

    from .errors import AdrsError
    from .executors import Job, JobFailure, check_part, get_executor
    from .instances import load_set
    from .evaluator_hash import evaluator_sha256
    from .runner import build_record
    from .sandbox import forkserver
    from .sandbox.checks import check_submission

    if (programs is None) == (codes is None):
        raise UsageError("expected programs (paths) or codes=[...] (sources), got "
                         + ("both" if programs is not None else "neither") + "; pass one")
    sources = list(codes) if codes is not None else [None] * len(programs)
    paths = ([Path(p) for p in programs] if programs is not None
             else [Path("<code>.py")] * len(sources))  # as evaluate(code=...) names it
    if labels is not None and len(labels) != len(paths):
        raise UsageError(f"expected one label per candidate ({len(paths)}), got {len(labels)}; pass as many")
    names = list(labels) if labels is not None else [
        path.stem if programs is not None else f"candidate-{i}" for i, path in enumerate(paths)]
    check_limits(deadline_s, max_failures)
    runner = get_executor(executor, workers, address)
    if runner.name == "local":
        forkserver.prestart()
    loaded = as_task(task)
    full = load_set(loaded, set or loaded.spec.default_set)
    subset = pick_cases(loaded, full.cases, cases)
    instance_set = full if len(subset) == len(full.cases) else subset_of(loaded, full, subset)
    entries: list[Candidate | None] = [None] * len(paths)
    done = [0]

    def finished(index: int, entry: Candidate) -> None:
        entries[index] = entry
        done[0] += 1
        if progress is not None:
            progress(done[0], len(paths), entry)

    def refused(index: int, kind: str, message: str) -> CandidateError:
        return CandidateError(loaded.spec.id, instance_set.name, names[index], kind, message,
                              loaded.plugin.failed_score, len(subset))

    submissions: dict[int, Any] = {}
    for index, (path, source) in enumerate(zip(paths, sources)):
        try:
            submissions[index] = check_submission(path, loaded.spec, source=source)
        except AdrsError as exc:  # refused here, before it costs a worker
            finished(index, refused(index, type(exc).__name__, str(exc)))
    order = list(submissions)
    work = [(Job(loaded, submissions[i], deadline_s, max_failures, require_isolation, 1, details=details), subset)
            for i in order]
    evaluator = evaluator_sha256(loaded.spec) if runner.name != "local" else None
    with closing(runner.map(work)) as results:
        for position, part in results:
            index = order[position]
            if isinstance(part, JobFailure):
                finished(index, refused(index, part.kind, part.message))
                continue
            if evaluator is not None:
                check_part(part, loaded, submissions[index].sha256, evaluator)  # another installation: refused
            record = build_record(loaded, instance_set, submissions[index], names[index], part.outcomes,
                                  part.seconds, 1, part.isolations, runner.name)
            finished(index, result_of(loaded, record, part.outcomes, subset))
    return entries  # type: ignore[return-value]


# ------------------------------------------------------------------ merging parts of one run

SUBSET_NAME = re.compile(r"(?P<base>.+)\[(?P<count>\d+) of (?P<total>\d+)\]")


def merge(results: Sequence[Result], *, label: str | None = None) -> Result:
    """One Result from parts of one run: the same task version, instance set (whole, or subsets of one
    set chosen by `cases=`), evaluator and program, each case at most once. The aggregate and its
    interval are recomputed from all the instances by the rules every record is built with (the full
    set's parts give exactly the full run's aggregate). A mismatch is refused in one line (UsageError).
    The merged provenance: this machine's, the parts' summed wall_seconds, their executor. The full set
    is loaded to check each part's set sha256 (a fresh set is rebuilt from its seed: that can take minutes)."""
    from . import results as records
    from .instances import load_set
    from .evaluator_hash import evaluator_sha256
    from .registry import Task, get_task
    from .runner import build_record
    from .sandbox.isolation import Isolation
    from .spec import Limits

    parts = list(results)
    if not parts:
        raise UsageError("expected at least one Result to merge, got none; pass the parts of one run")
    for part in parts:
        if not isinstance(part, Result):
            raise UsageError(f"expected Results to merge, got a {type(part).__name__}; a candidate that could not "
                             "run has no instances to merge")
    for number, part in enumerate(parts):
        what = f"part {number}"
        records.validate(part.record, what)
        records.check_finite(part.record, what)
        records.check_aggregate(part.record, what)
        if [o.as_record() for o in part.outcomes] != list(part.record["instances"]):
            raise UsageError(f"expected part {number}'s outcomes to be its record's instances, got others; the "
                             "record was edited: merge Results as evaluate returned them")
    first = parts[0].record

    def base_of(record) -> tuple[str, int | None]:
        match = SUBSET_NAME.fullmatch(record["set"]["name"])
        return (match["base"], int(match["total"])) if match else (record["set"]["name"], None)

    base, _ = base_of(first)
    for number, part in enumerate(parts[1:], 1):
        record = part.record
        if record["task"]["id"] != first["task"]["id"]:
            raise UsageError(f"expected parts of one task version, got {first['task']['id']} and "
                             f"{record['task']['id']} (part {number}); merge parts of one run")
        if base_of(record)[0] != base:
            raise UsageError(f"expected parts of one instance set, got {first['set']['name']} and "
                             f"{record['set']['name']} (part {number}); merge parts of one set")
        for key, what in (("evaluator_sha256", "evaluator"), ("harness_version", "harness version")):
            if record["provenance"][key] != first["provenance"][key]:
                raise UsageError(f"expected parts scored by one {what}, got {first['provenance'][key][:12]} and "
                                 f"{record['provenance'][key][:12]} (part {number}); re-run the part with this "
                                 "adrs-bench")
        if record["submission"]["sha256"] != first["submission"]["sha256"]:
            raise UsageError(f"expected parts of one program, got sha256 {first['submission']['sha256'][:12]} and "
                             f"{record['submission']['sha256'][:12]} (part {number}); merge parts of one run")
        if record["limits"] != first["limits"]:
            raise UsageError(f"expected parts run under the same limits, got {first['limits']} and "
                             f"{record['limits']} (part {number}); re-run the part with the same limits")
    loaded = get_task(first["task"]["id"])
    ours = evaluator_sha256(loaded.spec)
    if first["provenance"]["evaluator_sha256"] != ours:
        raise UsageError(f"expected parts scored by this adrs-bench's evaluator {ours[:12]}, got "
                         f"{first['provenance']['evaluator_sha256'][:12]}; re-run the parts with this adrs-bench")
    limits = Limits(**first["limits"])
    if limits != loaded.spec.limits:
        loaded = Task(spec=dataclasses.replace(loaded.spec, limits=limits), plugin=loaded.plugin)
    full = load_set(loaded, base)
    by_id = {loaded.plugin.case_id(case): case for case in full.cases}
    seen: dict[str, int] = {}
    outcomes = {}
    for number, part in enumerate(parts):
        ids = [o.id for o in part.outcomes]
        unknown = [case_id for case_id in ids if case_id not in by_id]
        if unknown:
            raise UsageError(f"expected cases of {base}, got '{unknown[0]}' in part {number}; merge parts of one set")
        chosen = [case for case_id, case in by_id.items() if case_id in set(ids)]
        expected = full.sha256 if len(chosen) == len(full.cases) else subset_of(loaded, full, chosen).sha256
        if part.record["set"]["sha256"] != expected:
            raise UsageError(f"expected part {number} to hold cases of {base} (sha256 {full.sha256[:12]}), got set "
                             f"sha256 {part.record['set']['sha256'][:12]}; its set file differs: re-run it")
        for outcome in part.outcomes:
            if outcome.id in seen:
                raise UsageError(f"expected each case in one part only, got '{outcome.id}' in parts "
                                 f"{seen[outcome.id]} and {number}; merge disjoint parts")
            seen[outcome.id] = number
            outcomes[outcome.id] = outcome
    cases = [case for case_id, case in by_id.items() if case_id in outcomes]
    instance_set = full if len(cases) == len(full.cases) else subset_of(loaded, full, cases)
    ordered = [outcomes[loaded.plugin.case_id(case)] for case in cases]
    isolations = [Isolation.from_record(p.record["provenance"]["isolation"]) for p in parts
                  if p.record["provenance"].get("isolation")]
    executors = sorted({p.record["provenance"].get("executor", "local") for p in parts})
    submission = SimpleNamespace(path=first["submission"]["path"], sha256=first["submission"]["sha256"])
    record = build_record(loaded, instance_set, submission, label or first["submission"]["label"], ordered,
                          sum(p.record["provenance"].get("wall_seconds", 0.0) for p in parts),
                          max(p.record["provenance"].get("workers", 1) for p in parts), isolations, "+".join(executors),
                          meta=dict(first["submission"].get("meta") or {}))
    return result_of(loaded, record, ordered, cases)
