"""What a task provides to the core, and what the core makes of it.

A task is data (spec.json, instance files, baselines) plus a plugin: its `task.py` exposes `PLUGIN`, an
object keeping one of two protocols, the one its spec names (`protocol`):

- `OneCallTask` ("one_call"): one call of the submission per case. The runner sends `payload(case)` to
  the sandboxed child and hands the answer to `evaluate(case, raw)`; it pipelines the cases.
- `StatefulTask` ("stateful"): many calls per case (a router, an autoscaling policy). `run_case` drives
  the child through the session while the trusted simulator runs here.

Either way the plugin says what happened on a case (a `CaseResult`) and the runner alone builds the
`InstanceOutcome`: its timing, the failed score and metrics of a failed case, and the cases cut short or
never run. The registry checks every plugin against its protocol when it loads the task
(`check_plugin`), so a missing method is named at once, not in the middle of a run.

Optional hooks, used when a plugin has them: `diagnostics(record) -> list[str]` (the task's lines in
`Result.feedback`) and `comparison_plots(records, out_dir) -> list[Path]` (`adrs-bench compare`).
The core never imports a task's internals.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from .errors import PluginContractError
from .quote import MESSAGE_LIMIT, clip
from .statuses import OK


@dataclass(frozen=True)
class InstanceOutcome:
    """One instance's result. A failed instance scores `failed_score` and stays in every mean; its
    message is one line of at most quote.MESSAGE_LIMIT characters, whoever built it."""

    id: str
    status: str
    message: str
    score: float
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    detail: Any = field(default=None, compare=False, repr=False)  # for artifacts; not in the record

    def __post_init__(self) -> None:
        # The last safety net (see quote.py): a message never grows with the size of a bad answer.
        object.__setattr__(self, "message", clip(self.message, MESSAGE_LIMIT))

    @property
    def ok(self) -> bool:
        return self.status == OK

    def as_record(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "message": self.message, "score": self.score,
                "seconds": self.seconds, "metrics": self.metrics}


@dataclass(frozen=True)
class CaseResult:
    """What happened on one case, as the task judged it; the runner makes the InstanceOutcome of it.

    A success carries its score. A failure (any status but ok: one of the core's, or one the task's
    spec declares) carries no score: every failed case scores the task's `failed_score`, and its
    metrics are the task's `failed_metrics(case)` with `metrics` added (what the case measured before
    it failed: calls made, time in the child, or a whole run that broke an SLO)."""

    status: str
    message: str = ""
    score: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    detail: Any = field(default=None, compare=False, repr=False)  # for artifacts; never in a record

    def __post_init__(self) -> None:
        if (self.status == OK) != (self.score is not None):
            raise PluginContractError(
                f"expected a CaseResult with a score exactly when its status is ok, got status '{self.status}' "
                f"and score {self.score!r}; build it with CaseResult.success or CaseResult.failure")

    @classmethod
    def success(cls, score: float, metrics: dict[str, Any], detail: Any = None) -> "CaseResult":
        return cls(OK, "", score, metrics, detail)

    @classmethod
    def failure(cls, status: str, message: str, metrics: dict[str, Any] | None = None,
                detail: Any = None) -> "CaseResult":
        return cls(status, message, None, dict(metrics or {}), detail)


def content_bytes(value: Any) -> bytes:
    """A case's content as canonical bytes (sorted-key JSON; floats by their shortest repr), from which the
    runner derives the case's seed. The one rule, so that every task seeds the same way."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


# A stateful case's progress: the share of its simulated time done, 0..1, at each call.
ShareProgress = Callable[[float], None]


class TaskPlugin(Protocol):
    """What every task's plugin provides, whatever its protocol."""

    failed_score: float  # what a failed case scores (and a candidate that could not run at all)
    child_adapter: Callable[..., Any]  # runs in the child; the fork server imports it by name

    def parse_cases(self, data: bytes) -> list[Any]: ...  # a set file's bytes -> its cases, in order

    def build_set_bytes(self, set_name: str) -> bytes: ...  # a shipped set's file, regenerated from its seeds

    def fresh_set_bytes(self, seed: int) -> bytes: ...  # the set `fresh:SEED`, built now

    def case_id(self, case: Any) -> str: ...

    def seed_material(self, case: Any) -> bytes: ...  # the case's whole content (content_bytes), never its id

    def failed_metrics(self, case: Any) -> dict: ...  # a failed case's metrics (its reference figures)

    def summarize(self, set_name: str, cases: Sequence[Any], outcomes: Sequence[InstanceOutcome]) -> dict: ...

    def summary_columns(self) -> list[tuple[str, str]]: ...  # (aggregate/extra key, title) for tables

    def write_artifacts(self, cases: Sequence[Any], outcomes: Sequence[InstanceOutcome],
                        directory: Path) -> list[Path]: ...


class OneCallTask(TaskPlugin, Protocol):
    """One call of the submission per case: the runner sends the payload, the task scores the answer."""

    def payload(self, case: Any) -> Any: ...  # what the child's adapter gets (the case's visible part)

    def evaluate(self, case: Any, raw: Any) -> CaseResult: ...  # the child's untrusted answer, judged


class StatefulTask(TaskPlugin, Protocol):
    """Many calls per case: the task drives the child through `session` while its simulator runs here."""

    def run_case(self, session: Any, case: Any, seed: int, limits: Any, remaining: float,
                 progress: ShareProgress | None = None) -> CaseResult: ...
    # `remaining`: seconds left of the run's total limit (the case may use min(instance_seconds, remaining));
    # `progress(share)`: the share of the case's simulated time done, called at each call of the child


PROTOCOLS: Mapping[str, type] = {"one_call": OneCallTask, "stateful": StatefulTask}


def protocol_members(protocol: type) -> tuple[tuple[str, bool], ...]:
    """(name, is a method) for every member of `protocol`, its bases' first, in the order written."""
    members: dict[str, bool] = {}
    for base in reversed(protocol.__mro__):
        if TaskPlugin not in base.__mro__:
            continue
        for name in getattr(base, "__annotations__", {}):
            members.setdefault(name, False)
        for name, value in vars(base).items():
            if not name.startswith("_") and callable(value):
                members.setdefault(name, True)
    return tuple(members.items())


def check_plugin(plugin: Any, protocol: str, where: str) -> None:
    """Refuse a plugin that lacks a member of its protocol, naming the first one missing, in one line.
    `where` names the plugin (e.g. `adrs_bench.tasks.llm_routing.task.PLUGIN`)."""
    kind = PROTOCOLS[protocol]
    for name, is_method in protocol_members(kind):
        value = getattr(plugin, name, None)
        if value is None or (is_method and not callable(value)):
            got = "none" if value is None else f"a {type(value).__name__}, not a method"
            raise PluginContractError(
                f"expected {where} to define {name}, as every {protocol} task's plugin must "
                f"(task_api.{kind.__name__}), got {got}; add it to the task's task.py")
