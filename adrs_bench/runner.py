"""One run's cases: run the submission sandboxed on each, score, aggregate, build the record.

The runner drives both kinds of task (task_api.py) and builds every case's InstanceOutcome itself from
what the task says happened (a CaseResult): a case the submission failed scores as failed and stays in
every mean; a case never reached because the total time ran out is a `timeout`, never skipped.
`api.evaluate` is the whole run (load the set, check the program, run, record).
"""
from __future__ import annotations

import dataclasses
import hashlib
import platform
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from . import __version__
from .errors import PluginContractError
from .evaluator_hash import evaluator_sha256
from .instances import InstanceSet
from .results import SCHEMA_VERSION, aggregate_core
from .registry import Task
from .sandbox.checks import CheckedSubmission
from .sandbox.isolation import Isolation
from .sandbox.session import SandboxSession
from .statuses import CRASHED, MEMORY, OK, TIMEOUT
from .task_api import CaseResult, InstanceOutcome

Progress = Callable[[int, int, InstanceOutcome], None]
Tick = Callable[[str, float], None]  # (case id, share of the case done, 0..1) while a long case runs


def case_seed(plugin, case) -> int:
    """The seed `random` and `numpy.random` get before a case: a hash of the case's whole content, never
    of its id, so reruns are bit-identical while the seed tells nothing the case itself does not (and
    for a set drawn at run time cannot be known in advance)."""
    return int.from_bytes(hashlib.sha256(plugin.seed_material(case)).digest()[:8], "big")


def failed_outcome(plugin, case, case_id: str, status: str, message: str, seconds: float,
                   metrics: dict | None = None, detail: Any = None) -> InstanceOutcome:
    """A failed case: the task's failed score, and its failed metrics with what the case measured added."""
    merged = plugin.failed_metrics(case)
    if metrics:
        merged = {**merged, **metrics}
    return InstanceOutcome(case_id, status, message, plugin.failed_score, seconds, merged, detail)


def outcome_of(task: Task, case, case_id: str, result: CaseResult, seconds: float) -> InstanceOutcome:
    """The outcome of a case the task judged (either kind): the one rule for both protocols."""
    if result.status == OK:
        return InstanceOutcome(case_id, OK, result.message, result.score, seconds, result.metrics, result.detail)
    if result.status not in task.spec.statuses:
        raise PluginContractError(
            f"expected {task.spec.name}'s case {case_id} to end with one of {', '.join(task.spec.statuses)}, got "
            f"'{result.status}'; declare it in the task's spec.json `statuses` or return another")
    return failed_outcome(task.plugin, case, case_id, result.status, result.message, seconds, result.metrics,
                          result.detail)


def bootstrap_ci90(scores: Sequence[float], resamples: int = 2000) -> list[float] | None:
    """90% percentile-bootstrap interval of the mean, with a fixed seed (reproducible)."""
    if len(scores) < 2:
        return None
    import numpy as np

    values = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(20261123)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [0.05, 0.95])
    return [float(low), float(high)]


# Failures that cost the most (a case's whole time, or a re-forked child): what max_failures counts.
COSTLY_FAILURES = frozenset({TIMEOUT, CRASHED, MEMORY})
NOT_RUN = "not run: "  # how every case a stopped run never reached begins its message
CANCELLED = "the evaluation was cancelled"  # the default reason a Budget is cancelled for
INTERRUPTED = "interrupted"  # the reason when the user stopped the run (Ctrl-C, SIGTERM)


class Budget:
    """When a run stops early, shared by its worker threads: the task's total time limit, the caller's
    deadline, and the caller's cap on costly failures. A case it refuses is still an outcome (status
    `timeout`, "not run: ...", the failed score): nothing is dropped from the mean."""

    def __init__(self, total_seconds: float, deadline_s: float | None = None, max_failures: int | None = None,
                 elapsed_before: float = 0.0):
        # elapsed_before: seconds the run had already used when this budget's cases began (a share of a
        # run spread over machines starts after the run did; its limits still count from the run's start)
        self.started = time.monotonic() - max(0.0, elapsed_before)
        self.total_seconds = total_seconds
        self.deadline_s = deadline_s
        self.max_failures = max_failures
        self.failures = 0
        self.lock = threading.Lock()
        self.cancelled = False
        self.reason = CANCELLED
        self.sessions: set[SandboxSession] = set()  # open now, one per worker

    def cancel(self, reason: str = CANCELLED) -> None:
        """The caller was interrupted: start no case, and end every running child now. The cases cut
        short and those never started are `timeout` outcomes, "not run: <reason>"."""
        self.reason = reason
        self.cancelled = True
        with self.lock:
            sessions = list(self.sessions)
        for session in sessions:
            try:
                if session.pid is not None:
                    session.kill()
            except Exception:  # the session is closing on its own thread: that ends the child too
                pass

    def remaining(self) -> float:
        """Seconds left for the next case: the tighter of the total limit and the deadline."""
        elapsed = time.monotonic() - self.started
        left = self.total_seconds - elapsed
        return left if self.deadline_s is None else min(left, self.deadline_s - elapsed)

    def count(self, outcome: InstanceOutcome) -> None:
        if outcome.status in COSTLY_FAILURES and not outcome.message.startswith(NOT_RUN):
            with self.lock:
                self.failures += 1

    def refusal(self, plugin, case, case_id: str) -> InstanceOutcome | None:
        """The outcome of a case that must not start, or None when it may."""
        elapsed = time.monotonic() - self.started
        if self.cancelled:
            message = f"{NOT_RUN}{self.reason}"
        elif self.max_failures is not None and self.failures >= self.max_failures:
            message = f"{NOT_RUN}{self.failures} failures (max_failures {self.max_failures})"
        elif self.deadline_s is not None and elapsed >= self.deadline_s:
            message = f"{NOT_RUN}deadline ({self.deadline_s:g} s) reached"
        elif elapsed >= self.total_seconds:
            message = f"{NOT_RUN}the total time limit of {self.total_seconds:g} s was used up by earlier cases"
        else:
            return None
        return failed_outcome(plugin, case, case_id, TIMEOUT, message, 0.0)

    def cut_short(self, plugin, case, outcome: InstanceOutcome) -> InstanceOutcome:
        """A case whose child was killed by a cancellation did not fail: it was not let finish. It counts
        as failed all the same, as a case never started does ("not run: <reason>")."""
        if not self.cancelled or outcome.ok:
            return outcome
        return failed_outcome(plugin, case, outcome.id, TIMEOUT, f"{NOT_RUN}{self.reason}", outcome.seconds)


def run_share(task: Task, submission: CheckedSubmission, cases: Sequence, indices: Sequence[int],
              outcomes: list, budget: Budget, progress: Callable[[InstanceOutcome], None],
              isolations: list, require_isolation: bool = False, tick: Tick | None = None) -> None:
    """Run the cases at `indices` in one sandboxed child (re-forked after a failure).

    One-call tasks are pipelined: as soon as the child answers case i, case i+1 is sent, and the parent
    validates and scores case i while the child computes. The child sees the same calls in the same
    order, each case's wall-clock limit still runs from the moment it is sent, and scores do not change.
    """
    spec, plugin = task.spec, task.plugin
    limits = spec.limits
    with SandboxSession(submission.code, str(submission.path), plugin.child_adapter,
                        spec.allowed_imports, limits, require_isolation=require_isolation,
                        compat_modules=spec.compat_modules) as session:
        with budget.lock:
            budget.sessions.add(session)
        try:
            run_cases_in(session, task, cases, indices, outcomes, budget, progress, tick)
        finally:
            with budget.lock:
                budget.sessions.discard(session)
            if session.isolation is not None:
                isolations.append(session.isolation)


def run_cases_in(session: SandboxSession, task: Task, cases: Sequence, indices: Sequence[int], outcomes: list,
                 budget: Budget, progress: Callable[[InstanceOutcome], None], tick: Tick | None = None) -> None:
    """The body of `run_share`, with the child's session open: the cases at `indices`, by the task's
    protocol. `tick(case_id, share)` is called while a stateful task's case runs (the share of its
    simulated time done), for progress within long cases."""
    if task.stateful:
        run_stateful_cases(session, task, cases, indices, outcomes, budget, progress, tick)
    else:
        run_one_call_cases(session, task, cases, indices, outcomes, budget, progress)


def run_stateful_cases(session: SandboxSession, task: Task, cases: Sequence, indices: Sequence[int], outcomes: list,
                       budget: Budget, progress: Callable[[InstanceOutcome], None], tick: Tick | None = None) -> None:
    """A stateful task drives the child itself (many calls per case); each case in turn."""
    plugin, limits = task.plugin, task.spec.limits
    for index in indices:
        case = cases[index]
        case_id = plugin.case_id(case)
        outcome = budget.refusal(plugin, case, case_id)
        if outcome is None:
            on_share = (lambda share, case_id=case_id: tick(case_id, share)) if tick else None
            started = time.monotonic()
            result = plugin.run_case(session, case, case_seed(plugin, case), limits, budget.remaining(),
                                     progress=on_share)
            outcome = budget.cut_short(plugin, case, outcome_of(task, case, case_id, result,
                                                                time.monotonic() - started))
        outcomes[index] = outcome
        progress(outcome)


def run_one_call_cases(session: SandboxSession, task: Task, cases: Sequence, indices: Sequence[int], outcomes: list,
                       budget: Budget, progress: Callable[[InstanceOutcome], None]) -> None:
    """One call per case, pipelined: case i+1 is sent as soon as the child answers case i."""
    plugin, limits = task.plugin, task.spec.limits

    def send(index: int):
        """Post case `index`; return what is needed to finish it, or its outcome if it cannot run."""
        case = cases[index]
        case_id = plugin.case_id(case)
        refused = budget.refusal(plugin, case, case_id)
        if refused is not None:
            return refused
        now = time.monotonic()
        deadline = now + min(limits.instance_seconds, budget.remaining())
        failed = session.post(plugin.payload(case), case_seed(plugin, case), deadline)
        return (index, case, case_id, now, deadline, failed)

    def finish(index, case, case_id, sent, deadline, reply) -> None:
        if reply.status == OK:
            outcome = outcome_of(task, case, case_id, plugin.evaluate(case, reply.value), reply.seconds)
        else:
            outcome = budget.cut_short(plugin, case, failed_outcome(
                plugin, case, case_id, reply.status, reply.message, reply.seconds or (time.monotonic() - sent)))
        outcomes[index] = outcome
        progress(outcome)

    queue = list(indices)
    position = 0
    inflight = None
    while position < len(queue) or inflight is not None:
        if inflight is None:
            sent = send(queue[position])
            position += 1
            if isinstance(sent, InstanceOutcome):
                outcomes[queue[position - 1]] = sent
                progress(sent)
                continue
            inflight = sent
        index, case, case_id, sent_at, deadline, failed = inflight
        reply = failed if failed is not None else session.collect(deadline)
        inflight = None
        if reply.status != OK:  # counted before the next case is sent (max_failures); the child restarts anyway
            finish(index, case, case_id, sent_at, deadline, reply)
            continue
        if position < len(queue):  # keep the child busy while this case is scored
            following = send(queue[position])
            position += 1
            if isinstance(following, InstanceOutcome):
                outcomes[queue[position - 1]] = following
                progress(following)
            else:
                inflight = following
        finish(index, case, case_id, sent_at, deadline, reply)


class Cancellation:
    """A handle for ending runs from another thread: every Budget registered with it is cancelled
    (no case starts, every running child is killed) when `cancel` is called, now or later."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.budgets: list[Budget] = []
        self.cancelled = False
        self.reason = CANCELLED

    def register(self, budget: Budget) -> None:
        with self.lock:
            self.budgets.append(budget)
            cancelled, reason = self.cancelled, self.reason
        if cancelled:
            budget.cancel(reason)

    def cancel(self, reason: str = CANCELLED) -> None:
        with self.lock:
            self.cancelled = True
            self.reason = reason
            budgets = list(self.budgets)
        for budget in budgets:
            budget.cancel(reason)

    @property
    def started(self) -> bool:
        """Whether any run has begun its cases under this handle (so cancelling it keeps their outcomes)."""
        with self.lock:
            return bool(self.budgets)


def run_cases(task: Task, submission: CheckedSubmission, cases: Sequence, progress: Progress | None = None,
              workers: int = 1, isolations: list | None = None, require_isolation: bool = False,
              deadline_s: float | None = None, max_failures: int | None = None, elapsed_before: float = 0.0,
              cancellation: Cancellation | None = None, tick: Tick | None = None) -> list[InstanceOutcome]:
    """Every case's outcome, in case order. With workers > 1, each worker thread drives its own
    child over a contiguous share of the cases; scores do not depend on the number of workers.
    `deadline_s` bounds the whole run and `max_failures` stops after that many timeouts, crashes or
    memory kills; the cases not reached are `timeout` outcomes ("not run: ..."), never dropped.
    `elapsed_before` is the time the run had used before these cases (a share of a run spread over
    machines); `cancellation`, if given, can end the run from another thread; `tick(case_id, share)`
    reports progress within a long case of a stateful task."""
    outcomes: list = [None] * len(cases)
    isolations = [] if isolations is None else isolations
    budget = Budget(task.spec.limits.total_seconds, deadline_s, max_failures, elapsed_before)
    if cancellation is not None:
        cancellation.register(budget)
    lock = threading.Lock()
    done = [0]

    def report(outcome: InstanceOutcome) -> None:
        budget.count(outcome)
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], len(cases), outcome)

    workers = max(1, min(workers, len(cases)))
    shares = [range(len(cases) * w // workers, len(cases) * (w + 1) // workers) for w in range(workers)]
    if workers == 1:
        run_share(task, submission, cases, shares[0], outcomes, budget, report, isolations, require_isolation, tick)
    else:
        errors: list[BaseException] = []

        def work(share: range) -> None:
            try:
                run_share(task, submission, cases, share, outcomes, budget, report, isolations, require_isolation,
                          tick)
            except BaseException as exc:  # a harness bug: surface it, never lose cases silently
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(share,), daemon=True) for share in shares]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():  # in slices: an exception raised in this thread lands between them
                    thread.join(0.25)
        except BaseException:  # Ctrl-C, or the caller's thread cancelled: no child outlives it
            budget.cancel()
            raise
        if errors:
            raise errors[0]
    assert all(o is not None for o in outcomes)
    return outcomes


def aggregate(task: Task, instance_set: InstanceSet, cases: Sequence, outcomes: Sequence[InstanceOutcome]) -> dict:
    scores = [o.score for o in outcomes]
    return {
        **aggregate_core(scores, [o.status for o in outcomes]),  # the one rule, checked again on load
        "ci90": bootstrap_ci90(scores),
        "extra": task.plugin.summarize(instance_set.name, cases, outcomes),
    }


def weakest(isolations: Sequence[Isolation]) -> dict | None:
    """The isolation to record for a run: the child that had the least (normally all had the same)."""
    if not isolations:
        return None
    return max(isolations, key=lambda isolation: len(isolation.missing)).as_record()


def build_record(task: Task, instance_set: InstanceSet, submission: CheckedSubmission, label: str,
                 outcomes: Sequence[InstanceOutcome], wall_seconds: float, workers: int = 1,
                 isolations: Sequence[Isolation] = (), executor: str = "local",
                 meta: dict[str, str] | None = None, interrupted: bool = False) -> dict:
    """The result record of `outcomes` (one per case of `instance_set`, in set order). `submission`
    needs only `path` and `sha256`; `executor` names what ran the cases ("local", "ray"): the only
    thing about a record that depends on it. `interrupted`: the user stopped the run, so some cases
    never ran (kept as failed; such a record is never ranked, gated or verified)."""
    import numpy

    spec = task.spec
    return {
        "schema_version": SCHEMA_VERSION,
        "task": {"id": spec.id, "name": spec.name, "version": spec.version},
        "set": {"name": instance_set.name, "sha256": instance_set.sha256, "cases": len(instance_set.cases),
                "fresh_seed": instance_set.fresh_seed, "held_out": instance_set.held_out,
                "kind": "shipped" if instance_set.fresh_seed is None else "fresh"},
        "submission": {"label": label, "path": str(submission.path), "sha256": submission.sha256,
                       "meta": dict(meta or {})},
        "provenance": {
            "harness_version": __version__,
            "evaluator_sha256": evaluator_sha256(spec),
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "platform": platform.platform(),
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(wall_seconds, 3),
            "workers": workers,
            "executor": executor,
            **({"isolation": weakest(isolations)} if isolations else {}),
            **({"interrupted": True} if interrupted else {}),
        },
        "limits": {k: v for k, v in dataclasses.asdict(spec.limits).items() if v is not None},
        "metric": {"name": spec.metric.name, "direction": spec.metric.direction},
        "aggregate": aggregate(task, instance_set, instance_set.cases, outcomes),
        "instances": [o.as_record() for o in outcomes],
    }



if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the adrs-bench command")
