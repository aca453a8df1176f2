"""What a task provides to the core, and the per-instance outcome every evaluator returns.

A task is data (spec.json, instance files, baselines) plus a plugin module `task.py` exposing
`PLUGIN`, an object with the methods of `TaskPlugin`. The core never imports a task's internals.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from .quote import MESSAGE_LIMIT, clip

STATUSES = ("ok", "invalid", "timeout", "memory", "crashed", "error", "stalled", "slo_violated")


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
        return self.status == "ok"

    def as_record(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "message": self.message, "score": self.score,
                "seconds": self.seconds, "metrics": self.metrics}


def content_bytes(value: Any) -> bytes:
    """A case's content as canonical bytes (sorted-key JSON; floats by their shortest repr), from which the
    runner derives the case's seed. The one rule, so that every task seeds the same way."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


class TaskPlugin(Protocol):
    evaluator_files: tuple[str, ...]  # files (relative to the task dir) whose sha256 pins the scoring

    def parse_cases(self, data: bytes) -> list[Any]: ...

    def fresh_set_bytes(self, seed: int) -> bytes: ...

    def case_id(self, case: Any) -> str: ...

    def payload(self, case: Any) -> Any: ...

    def seed_material(self, case: Any) -> bytes: ...  # the case's whole content (content_bytes), never its id

    def child_adapter(self, namespace: dict, payload: Any) -> Any: ...

    def evaluate(self, case: Any, raw: Any) -> tuple[str, str, float, dict, Any]: ...

    def failed_metrics(self, case: Any) -> dict: ...

    def summarize(self, set_name: str, cases: Sequence[Any], outcomes: Sequence[InstanceOutcome]) -> dict: ...

    def write_artifacts(self, cases: Sequence[Any], outcomes: Sequence[InstanceOutcome], directory: Path) -> list[Path]: ...

    def verify_instances(self, spec: Any) -> list[str]: ...

    def summary_columns(self) -> list[tuple[str, str]]: ...
