"""Finds tasks: every directory of the `adrs_bench.tasks` package that holds a spec.json.
`get_task("prism_placement")` or `get_task("prism_placement-v2")`; unknown names get a did-you-mean."""
from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .errors import TaskNotFound
from .spec import TaskSpec, load_spec


@dataclass(frozen=True)
class Task:
    spec: TaskSpec
    plugin: object  # a TaskPlugin (see task_api.py)


def tasks_root() -> Path:
    return Path(str(resources.files("adrs_bench.tasks")))


def task_names() -> list[str]:
    root = tasks_root()
    return sorted(p.name for p in root.iterdir() if (p / "spec.json").is_file())


def suggestion(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'? " if close else ""


@lru_cache(maxsize=None)
def get_task(name: str) -> Task:
    names = task_names()
    match = re.fullmatch(r"([a-z][a-z0-9_]*)-v(\d+)", name)
    base = match.group(1) if match else name
    if base not in names:
        raise TaskNotFound(
            f"expected a task name, got '{name}'; {suggestion(base, names)}known tasks: {', '.join(names)} "
            "(`adrs-bench list`)"
        )
    spec = load_spec(tasks_root() / base)
    if match and int(match.group(2)) != spec.version:
        raise TaskNotFound(
            f"expected a version of {base} this harness has, got '{name}'; it has {spec.id} "
            "(results of other versions are not comparable); use the plain name for the newest"
        )
    plugin = importlib.import_module(f"adrs_bench.tasks.{base}.task").PLUGIN
    return Task(spec=spec, plugin=plugin)
