"""A task's contract as a frozen, typed TaskSpec, loaded from tasks/<name>/spec.json and checked
against the spec schema before anything trusts it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import SpecError
from .schemas import load_schema, validate_or_raise


@dataclass(frozen=True)
class Interface:
    kind: str
    entry_point: str
    parameters: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits of the sandboxed child (one place: the spec)."""

    instance_seconds: float
    total_seconds: float
    memory_mb: int
    cpu_seconds: int
    call_seconds: float | None = None  # per call of a stateful submission (a router's schedule)


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str  # "maximize" | "minimize"
    description: str

    def better(self, new: float, old: float, tolerance: float = 0.0) -> bool:
        return new > old + tolerance if self.direction == "maximize" else new < old - tolerance

    def worse(self, new: float, old: float, tolerance: float = 0.0) -> bool:
        return new < old - tolerance if self.direction == "maximize" else new > old + tolerance


@dataclass(frozen=True)
class InstanceSetSpec:
    name: str
    file: str
    sha256: str
    cases: int
    purpose: str
    reference: str
    held_out: bool = False


@dataclass(frozen=True)
class TaskSpec:
    id: str
    name: str
    version: int
    title: str
    summary: str
    interface: Interface
    allowed_imports: tuple[str, ...]
    limits: Limits
    metric: Metric
    default_set: str
    sets: Mapping[str, InstanceSetSpec]
    fresh_allowed: bool
    fresh_description: str
    baselines: Mapping[str, str]
    example: str
    root: Path
    parameters: Mapping[str, object] = field(default_factory=dict)  # task-specific (see the task's README)

    def path(self, relative: str) -> Path:
        return self.root / relative


def spec_from_dict(data: dict, root: Path) -> TaskSpec:
    validate_or_raise(data, load_schema("task_spec"), SpecError, f"task spec {root / 'spec.json'}")
    if data["id"] != f"{data['name']}-v{data['version']}":
        raise SpecError(
            f"task spec {root / 'spec.json'}: expected id '{data['name']}-v{data['version']}' "
            f"(name-vVERSION), got '{data['id']}'; fix the id or the version"
        )
    if data["default_set"] not in data["sets"]:
        raise SpecError(
            f"task spec {root / 'spec.json'}: default_set '{data['default_set']}' is not one of "
            f"the sets {sorted(data['sets'])}; name an existing set"
        )
    return TaskSpec(
        id=data["id"],
        name=data["name"],
        version=data["version"],
        title=data["title"],
        summary=data["summary"],
        interface=Interface(
            kind=data["interface"]["kind"],
            entry_point=data["interface"]["entry_point"],
            parameters=tuple(data["interface"]["parameters"]),
            signature=data["interface"]["signature"],
        ),
        allowed_imports=tuple(data["allowed_imports"]),
        limits=Limits(**data["limits"]),
        metric=Metric(**data["metric"]),
        default_set=data["default_set"],
        sets={
            name: InstanceSetSpec(name=name, held_out=s.get("held_out", False),
                                  **{k: v for k, v in s.items() if k != "held_out"})
            for name, s in data["sets"].items()
        },
        fresh_allowed=data["fresh"]["allowed"],
        fresh_description=data["fresh"]["description"],
        baselines=dict(data["baselines"]),
        example=data["example"],
        root=root,
        parameters=dict(data.get("parameters", {})),
    )


def load_spec(root: Path) -> TaskSpec:
    path = root / "spec.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"expected a task spec at {path}, found none; every task directory needs spec.json") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"task spec {path} is not valid JSON ({exc}); fix the file") from None
    return spec_from_dict(data, root)
