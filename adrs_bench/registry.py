"""Finds tasks: every directory of the `adrs_bench.tasks` package that holds a spec.json.
`get_task("prism_placement")` or `get_task("prism_placement-v2")`; unknown names get a did-you-mean.
A task's plugin is checked against the protocol its spec names as it loads (task_api.check_plugin)."""
from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Union

from .errors import PluginContractError, TaskNotFound
from .spec import TaskSpec, load_spec
from .task_api import OneCallTask, StatefulTask, check_plugin


@dataclass(frozen=True)
class Task:
    spec: TaskSpec
    plugin: Union[OneCallTask, StatefulTask]  # the one spec.protocol names, checked on load

    @property
    def stateful(self) -> bool:
        return self.spec.stateful


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
    return Task(spec=spec, plugin=load_plugin(f"adrs_bench.tasks.{base}.task", spec.protocol))


def load_plugin(module: str, protocol: str):
    """`module`'s PLUGIN, checked against `protocol`; what is missing is named in one line."""
    plugin = getattr(importlib.import_module(module), "PLUGIN", None)
    if plugin is None:
        raise PluginContractError(f"expected {module} to define PLUGIN, the task's plugin object, got none; add "
                                  "`PLUGIN = MyTask()` at the end of the task's task.py")
    check_plugin(plugin, protocol, f"{module}.PLUGIN")
    return plugin
