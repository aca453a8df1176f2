"""Finds tasks: every folder holding a spec.json, in the `adrs_bench.tasks` package (the built-in tasks)
or in a directory of ADRS_BENCH_TASK_PATH (tasks added at run time, task_path.py), a name only once.
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

from . import task_path
from .errors import PluginContractError, SpecError, TaskNameClash, TaskNotFound
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
    """The built-in tasks' folder (tasks/ of a checkout, adrs_bench/tasks of an installed package)."""
    return Path(str(resources.files("adrs_bench.tasks")))


def task_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "spec.json").is_file())


def task_directories() -> dict[str, Path]:
    """Every task's folder by name: the built-in ones, then those of ADRS_BENCH_TASK_PATH's directories in
    order. A name found twice is refused (TaskNameClash), a missing directory too (TaskPathNotFound). It
    brings the package's __path__ up to date first, so the modules of every task listed import."""
    import adrs_bench.tasks as package

    added = task_path.extend_package_path(package.__path__)
    found = {p.name: p for p in task_folders(tasks_root())}
    builtin = set(found)
    for directory in added:
        for folder in task_folders(directory):
            if folder.name in found:
                where = ("a built-in task" if folder.name in builtin
                         else f"a task already found in {found[folder.name].parent}")
                raise TaskNameClash(
                    f"expected the tasks in {task_path.VARIABLE} to have names of their own, got '{folder.name}' "
                    f"in {directory}, which is {where}; rename that task (its folder, and its spec's name and id)")
            found[folder.name] = folder
    return dict(sorted(found.items()))


def task_names() -> list[str]:
    return list(task_directories())


def suggestion(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'? " if close else ""


def get_task(name: str) -> Task:
    folders = task_directories()
    match = re.fullmatch(r"([a-z][a-z0-9_]*)-v(\d+)", name)
    base = match.group(1) if match else name
    if base not in folders:
        names = list(folders)
        raise TaskNotFound(
            f"expected a task name, got '{name}'; {suggestion(base, names)}known tasks: {', '.join(names)} "
            "(`adrs-bench list`)"
        )
    task = load_task(base, folders[base])
    if match and int(match.group(2)) != task.spec.version:
        raise TaskNotFound(
            f"expected a version of {base} this harness has, got '{name}'; it has {task.spec.id} "
            "(results of other versions are not comparable); use the plain name for the newest"
        )
    return task


@lru_cache(maxsize=None)
def load_task(name: str, folder: Path) -> Task:
    """The task in `folder`, loaded once per process (by folder: a task path changed later loads anew)."""
    spec = load_spec(folder)
    if spec.name != name:
        raise SpecError(
            f"task spec {folder / 'spec.json'}: expected name '{name}' (its folder's name, which is its module "
            f"adrs_bench.tasks.{name}), got '{spec.name}'; rename the folder or fix the spec's name and id")
    return Task(spec=spec, plugin=load_plugin(f"adrs_bench.tasks.{name}.task", spec.protocol))


def load_plugin(module: str, protocol: str):
    """`module`'s PLUGIN, checked against `protocol`; what is missing is named in one line."""
    plugin = getattr(importlib.import_module(module), "PLUGIN", None)
    if plugin is None:
        raise PluginContractError(f"expected {module} to define PLUGIN, the task's plugin object, got none; add "
                                  "`PLUGIN = MyTask()` at the end of the task's task.py")
    check_plugin(plugin, protocol, f"{module}.PLUGIN")
    return plugin
