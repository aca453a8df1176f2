"""A task's contract as a frozen, typed TaskSpec, loaded from tasks/<name>/spec.json and checked
against the spec schema before anything trusts it. Besides the problem (interface, limits, metric,
sets), the spec says how the core drives the task (`protocol`, task_api.py), which statuses its cases
may end with beyond the core's (`statuses`), and which files pin its scoring (`evaluator_files`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import SpecError
from .schemas import load_schema, validate_or_raise
from .statuses import CORE_STATUSES


@dataclass(frozen=True)
class Interface:
    kind: str
    entry_point: str
    parameters: tuple[str, ...]
    signature: str
    # "module.Name" of a class the task provides (compat_modules): a class deriving from it is the entry
    # point whatever its name (vidur's BaseGlobalScheduler); a class named entry_point still is.
    entry_base: str | None = None

    @property
    def entry_base_module(self) -> str:
        return (self.entry_base or "").rpartition(".")[0]

    @property
    def entry_base_name(self) -> str:
        return (self.entry_base or "").rpartition(".")[2]


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

    def worse(self, new: float, old: float, tolerance: float = 0.0) -> bool:
        return new < old - tolerance if self.direction == "maximize" else new > old + tolerance


@dataclass(frozen=True)
class EvaluatorFiles:
    """The files whose bytes pin a task's scoring (their sha256 is a record's evaluator_sha256), as
    globs: `task` relative to the task's directory, `package` relative to the adrs_bench package (the
    shared serving simulator, "serving/**/*.py": a module added there counts without anyone listing it).
    evaluator_hash.py resolves them; a glob that matches nothing is an error, never a silent gap."""

    task: tuple[str, ...]
    package: tuple[str, ...] = ()


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
    protocol: str  # "one_call" | "stateful": the protocol its plugin keeps (task_api.PROTOCOLS)
    evaluator_files: EvaluatorFiles
    root: Path
    parameters: Mapping[str, object] = field(default_factory=dict)  # task-specific (see the task's README)
    # Modules the task provides itself, so published programs import them unchanged (vidur.entities...):
    # module -> the names it offers, each defined in the task's child-adapter module.
    compat_modules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_statuses: tuple[str, ...] = ()  # how its cases may end besides the core's (spec.json `statuses`)

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def statuses(self) -> tuple[str, ...]:
        """Every status a case of this task may end with: the core's, then the task's own."""
        return CORE_STATUSES + self.extra_statuses

    @property
    def stateful(self) -> bool:
        return self.protocol == "stateful"


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
    base = data["interface"].get("entry_base")
    if base is not None and base.rpartition(".")[2] not in data.get("compat_modules", {}).get(base.rpartition(".")[0], ()):
        raise SpecError(
            f"task spec {root / 'spec.json'}: interface.entry_base '{base}' is not a name of compat_modules; "
            "list it there (module -> names) or drop entry_base"
        )
    clash = sorted(set(data.get("statuses", ())) & set(CORE_STATUSES))
    if clash:
        raise SpecError(
            f"task spec {root / 'spec.json'}: expected statuses of the task's own, got the core's '{clash[0]}' "
            f"(the core has {', '.join(CORE_STATUSES)}); list only the statuses the core lacks"
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
            entry_base=data["interface"].get("entry_base"),
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
        protocol=data["protocol"],
        evaluator_files=EvaluatorFiles(task=tuple(data["evaluator_files"]["task"]),
                                       package=tuple(data["evaluator_files"].get("package", ()))),
        root=root,
        parameters=dict(data.get("parameters", {})),
        compat_modules={module: tuple(names) for module, names in data.get("compat_modules", {}).items()},
        extra_statuses=tuple(data.get("statuses", ())),
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
