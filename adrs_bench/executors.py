"""Executors: what runs a program's cases. One small interface, two implementations.

A *job* is one program on some cases of a set: a share of one run (`evaluate`, `adrs-bench run`), or
one whole candidate (`evaluate_many`). An executor runs jobs and hands back, as each finishes, a `Part`
(the cases' outcomes, in order, with the isolation the children had and the harness and evaluator
that scored them) or a `JobFailure` (one line: the program could not be run at all, or the machine
failed). Whoever runs a job runs `run_job`: the same check, the same sandboxed children (one fork
server per process), the same limits, the same scoring, so scores never depend on the executor.

    executor.name                      # recorded in a result's provenance.executor
    executor.slots()                   # how many jobs run at once
    executor.job_workers               # sandboxed children each share of one run drives
    executor.shares(task, count)       # how one run's `count` cases are spread as jobs (ranges)
    executor.map(work, on_outcome)     # work: [(Job, cases)]; yields (index, Part | JobFailure) as they
                                       # finish; closing it early (Ctrl-C, an exception) ends every job
    executor.map(work, on_outcome, cancellation=..., on_tick=...)   # local only: a runner.Cancellation
                                       # that ends the jobs keeping their finished cases, and progress
                                       # within long cases (Ray returns each share whole and ignores both)
    executor.close()

`LocalExecutor(workers)` is today's `--workers` threads in this process; `RayExecutor` (ray_executor.py,
imported only when asked for: the core never imports ray) runs each job as a Ray task.
"""
from __future__ import annotations

import dataclasses
import queue
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from .errors import AdrsError, UsageError

OutcomeHook = Callable[[int, Any], None]  # (job index, InstanceOutcome), as each case finishes
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class TaskRef:
    """A task as it travels to another machine: its versioned id and the limits the caller ran with
    (resolved there from that machine's own adrs-bench; a task of another version is refused)."""

    id: str
    limits: Any


@dataclass(frozen=True)
class SourceRef:
    """A submission as it travels: its source text and the path that names it (checked again there)."""

    path: str
    source: str


@dataclass(frozen=True)
class Job:
    """One program on some cases (the cases travel beside it, so that many jobs can share them).

    `task` is a Task (or a TaskRef), `submission` a CheckedSubmission (or a SourceRef). `run_started`
    is the wall-clock time the run this job is a share of began: its deadline and the task's total
    limit count from there. None: from the job's own start (a candidate of `evaluate_many`)."""

    task: Any
    submission: Any
    deadline_s: float | None = None
    max_failures: int | None = None
    require_isolation: bool = False
    workers: int = 1
    run_started: float | None = None
    details: bool = True  # keep each outcome's `detail` (what artifacts are written from; megabytes a case
    # for llm_routing); never part of a score, a record or an aggregate

    def shipped(self) -> "Job":
        """This job as data another process resolves with its own adrs-bench (no code objects, no paths
        into this machine's installation)."""
        task, submission = self.task, self.submission
        if not isinstance(task, TaskRef):
            task = TaskRef(task.spec.id, task.spec.limits)
        if not isinstance(submission, SourceRef):
            submission = SourceRef(str(submission.path), submission.source)
        return dataclasses.replace(self, task=task, submission=submission)


@dataclass(frozen=True)
class Part:
    """What a job gives back: its cases' outcomes in order, and what the parent checks before merging."""

    outcomes: tuple
    isolations: tuple
    harness_version: str
    evaluator_sha256: str
    submission_sha256: str
    seconds: float
    host: str


@dataclass(frozen=True)
class JobFailure:
    """A job that gave no outcomes: `kind` is the exception's class name, `message` one line. `adrs` says
    whether it was an AdrsError (a refused program, a machine without the sandbox: said to the user as
    it is) or something else (a harness bug, a worker that died)."""

    kind: str
    message: str
    adrs: bool
    host: str = ""

    def error(self) -> AdrsError:
        """The exception to raise for it: the AdrsError it was, where this harness knows the class."""
        from . import errors

        cls = getattr(errors, self.kind, None)
        if self.adrs and isinstance(cls, type) and issubclass(cls, AdrsError):
            return cls(self.message)
        where = f" on {self.host}" if self.host else ""
        return ExecutorError(f"expected every share of the run to finish, got {self.kind}{where}: {self.message}")


class ExecutorError(AdrsError):
    """A job failed for a reason that is not the program's: a worker died, a harness bug on a worker."""


def resolve_task(task):
    if not isinstance(task, TaskRef):
        return task
    from .registry import Task, get_task

    loaded = get_task(task.id)
    if loaded.spec.limits == task.limits:
        return loaded
    return Task(spec=dataclasses.replace(loaded.spec, limits=task.limits), plugin=loaded.plugin)


def run_job(job: Job, cases: Sequence, on_outcome: Callable[[Any], None] | None = None,
            cancellation=None, on_tick: Callable[[str, float], None] | None = None) -> Part | JobFailure:
    """Run `job` on `cases` here: check the program (again, if it travelled), run it in this process's
    sandboxed children under the task's limits, score. A program that cannot be run, or a machine that
    cannot sandbox it (an AdrsError), comes back as a JobFailure; anything else (Ctrl-C, an exception a
    framework raises in the caller's thread to cancel it, a harness bug) propagates, as from `evaluate`."""
    from . import __version__
    from .evaluator_hash import evaluator_sha256
    from .runner import run_cases
    from .sandbox import forkserver
    from .sandbox.checks import check_submission

    started = time.monotonic()
    host = socket.gethostname()
    try:
        forkserver.prestart()
        task = resolve_task(job.task)
        submission = job.submission
        if isinstance(submission, SourceRef):
            submission = check_submission(Path(submission.path), task.spec, source=submission.source)
        elapsed = 0.0 if job.run_started is None else max(0.0, time.time() - job.run_started)
        isolations: list = []
        progress = (lambda done, total, outcome: on_outcome(outcome)) if on_outcome else None
        outcomes = run_cases(task, submission, list(cases), progress, job.workers, isolations, job.require_isolation,
                             deadline_s=job.deadline_s, max_failures=job.max_failures, elapsed_before=elapsed,
                             cancellation=cancellation, tick=on_tick)
        if not job.details:
            outcomes = [dataclasses.replace(outcome, detail=None) for outcome in outcomes]
        return Part(tuple(outcomes), tuple(isolations), __version__, evaluator_sha256(task.spec), submission.sha256,
                    time.monotonic() - started, host)
    except AdrsError as exc:
        return JobFailure(type(exc).__name__, str(exc), True, host)


def failure_of(exc: BaseException, host: str = "") -> JobFailure:
    """A job's unexpected exception (a harness bug, a worker that died) as one line: said, never lost."""
    text = " ".join(str(exc).split())[:300]
    return JobFailure(type(exc).__name__, text or "(no message)", False, host)


def run_job_shipped(job: Job, cases: Sequence) -> Part | JobFailure:
    """The entry point of a job on another process or machine (a Ray task): nothing but a Part or a
    JobFailure comes back (a harness bug there is a JobFailure too, never a lost job)."""
    try:
        return run_job(job, cases)
    except Exception as exc:
        return failure_of(exc, socket.gethostname())


def contiguous(count: int, parts: int) -> list[range]:
    """`count` indices as `parts` contiguous ranges of sizes differing by at most one (runner's rule)."""
    parts = max(1, min(parts, count))
    return [range(count * p // parts, count * (p + 1) // parts) for p in range(parts)]


class Executor(Protocol):
    name: str
    job_workers: int

    def slots(self) -> int: ...

    def shares(self, task, count: int) -> list[range]: ...

    def map(self, work: Sequence[tuple[Job, Sequence]], on_outcome: OutcomeHook | None = None, *,
            cancellation=None, on_tick=None) -> Iterator[tuple[int, Part | JobFailure]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Jobs on threads of this process, `workers` at a time; one run is one job whose `workers` children
    take contiguous shares of its cases (what `--workers` always did). A single job runs on the caller's
    thread, so Ctrl-C reaches it as it reaches `evaluate`."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or 1)

    @property
    def job_workers(self) -> int:
        return self.workers

    def slots(self) -> int:
        return self.workers

    def shares(self, task, count: int) -> list[range]:
        return [range(count)] if count else []

    def map(self, work, on_outcome=None, *, cancellation=None, on_tick=None):
        from .runner import Cancellation

        work = list(work)
        hook_lock = threading.Lock()

        def hook(index: int):
            if on_outcome is None:
                return None

            def call(outcome) -> None:
                with hook_lock:
                    on_outcome(index, outcome)

            return call

        if self.workers == 1 or len(work) <= 1:
            for index, (job, cases) in enumerate(work):
                yield index, run_job(job, cases, hook(index), cancellation, on_tick)
            return
        cancellation = cancellation or Cancellation()
        done: queue.Queue = queue.Queue()
        lock = threading.Lock()
        upcoming = iter(range(len(work)))

        def worker() -> None:
            while not cancellation.cancelled:
                with lock:
                    index = next(upcoming, None)
                if index is None:
                    return
                job, cases = work[index]
                try:
                    part = run_job(job, cases, hook(index), cancellation, on_tick)
                except BaseException as exc:  # never lose a job silently
                    part = failure_of(exc)
                done.put((index, part))

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.workers, len(work)))]
        for thread in threads:
            thread.start()
        finished = 0
        try:
            while finished < len(work):
                try:
                    item = done.get(timeout=0.25)  # in slices: Ctrl-C and cancellation land between them
                except queue.Empty:
                    if not any(thread.is_alive() for thread in threads) and done.empty():
                        raise RuntimeError("the executor's threads ended with jobs unfinished")
                    continue
                finished += 1
                yield item
        finally:
            if finished < len(work):  # closed early (Ctrl-C, an exception, the caller stopped): end them all
                cancellation.cancel()
                for thread in threads:
                    thread.join(timeout=10)

    def close(self) -> None:
        pass


def get_executor(executor: "str | Executor" = "local", workers: int | None = None,
                 address: str | None = None) -> Executor:
    """An executor by name ("local", "ray"), or the one given. `workers`: local threads (children) at
    once; for Ray, the number of shares one run is spread over (default: one per CPU of the cluster)."""
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        if address is not None:
            raise UsageError(f"expected --address only with --executor ray, got --address {address} with "
                             "the local executor; add --executor ray")
        return LocalExecutor(workers)
    if executor == "ray":
        from .ray_executor import RayExecutor  # the only place ray is imported from

        return RayExecutor(address=address, parts=workers)
    raise UsageError(f"expected an executor {' or '.join(EXECUTORS)}, got '{executor}'; pass one of those")


def check_part(part: Part, task, submission_sha256: str, evaluator: str | None = None) -> None:
    """A part is merged only if it was scored by this adrs-bench (same harness version and evaluator
    sha256) and ran the same program; a worker with another installation is refused in one line."""
    from . import __version__
    from .evaluator_hash import evaluator_sha256

    evaluator = evaluator or evaluator_sha256(task.spec)
    where = f" on {part.host}" if part.host else ""
    if part.harness_version != __version__ or part.evaluator_sha256 != evaluator:
        raise UsageError(
            f"expected every worker to score with adrs-bench {__version__} (evaluator {evaluator[:12]}), got "
            f"adrs-bench {part.harness_version} (evaluator {part.evaluator_sha256[:12]}){where}; install the same "
            "adrs-bench version on every worker")
    if part.submission_sha256 != submission_sha256:
        raise UsageError(f"expected the worker{where} to run the program of sha256 {submission_sha256[:12]}, got "
                         f"{part.submission_sha256[:12]}; this is a harness bug, please report it")


def run_spread(executor: Executor, task, submission, cases: Sequence, progress=None, deadline_s=None,
               max_failures=None, require_isolation: bool = False, run_started: float | None = None,
               cancellation=None, tick=None) -> tuple[list, list, int]:
    """One run's cases spread over `executor`'s jobs and merged back in case order: (outcomes, isolations,
    jobs). `progress(done, total, outcome)` as each case is known, `tick(case_id, share)` within a long
    case (local only). A failed share raises (one line). `cancellation` (a runner.Cancellation, local
    only) ends the run early keeping every finished case; the others are "not run: <reason>"."""
    from contextlib import closing

    shares = executor.shares(task, len(cases))
    run_started = time.time() if run_started is None else run_started
    jobs = [(Job(task, submission, deadline_s, max_failures, require_isolation, executor.job_workers, run_started),
             [cases[i] for i in share]) for share in shares]
    done = [0]

    def counted(index: int, outcome) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(cases), outcome)

    outcomes: list = [None] * len(cases)
    isolations: list = []
    evaluator = None
    with closing(executor.map(jobs, counted, cancellation=cancellation, on_tick=tick)) as finished:
        for index, part in finished:
            if isinstance(part, JobFailure):
                raise part.error()
            if executor.name != "local":
                if evaluator is None:
                    from .evaluator_hash import evaluator_sha256

                    evaluator = evaluator_sha256(task.spec)
                check_part(part, task, submission.sha256, evaluator)
            for position, outcome in zip(shares[index], part.outcomes, strict=True):
                outcomes[position] = outcome
            isolations.extend(part.isolations)
    assert all(outcome is not None for outcome in outcomes)
    return outcomes, isolations, len(shares) if executor.name != "local" else executor.job_workers
