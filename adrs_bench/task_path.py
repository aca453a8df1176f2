"""Tasks added at run time: `ADRS_BENCH_TASK_PATH` lists directories (separated by os.pathsep), each
holding task folders `<name>/spec.json` beside the built-in ones, and no core file changes.

How: the `adrs_bench.tasks` package's `__path__` is the built-in folder followed by those directories,
so an added task's modules are `adrs_bench.tasks.<name>` like any other's: its spec's names, its
generator's `python -m adrs_bench.tasks.<name>.generate`, and the child adapter the sandbox's fork server
imports by name. The package extends its own `__path__` when it is imported (tasks/__init__.py), so
every process that imports it agrees: the harness, the fork server (which gets the variable, made
absolute, in its environment: sandbox/forkserver.py) and a generator run by hand. The registry extends
it again whenever it lists the tasks, so a variable set after the first import counts too.

Stdlib only: the fork server imports this module, and it holds nothing but numpy, the guards and the
task adapters.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, MutableSequence

from .errors import TaskPathNotFound

VARIABLE = "ADRS_BENCH_TASK_PATH"

# The entries this module put in the package's __path__, so that a later call replaces them (and only them).
ADDED: list[str] = []


def listed(environ: Mapping[str, str] | None = None) -> list[tuple[str, Path]]:
    """(entry as written, absolute path) for each non-empty entry of the variable, in order; relative
    entries are taken from the working directory."""
    text = (os.environ if environ is None else environ).get(VARIABLE, "")
    return [(entry, Path(os.path.abspath(os.path.expanduser(entry)))) for entry in text.split(os.pathsep)
            if entry.strip()]


def entries(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The variable's directories, absolute, in order, repeats left out; no check that they exist."""
    return tuple(dict.fromkeys(path for _, path in listed(environ)))


def value(environ: Mapping[str, str] | None = None) -> str:
    """The variable as a child process should get it: absolute entries (the fork server runs in `/`), or ''."""
    return os.pathsep.join(str(path) for path in entries(environ))


def directories(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The variable's directories; TaskPathNotFound names the first that is not an existing directory."""
    for entry, path in listed(environ):
        if not path.is_dir():
            what = "a file, not a directory" if path.exists() else "missing"
            raise TaskPathNotFound(
                f"expected {VARIABLE} to list directories of task folders, got '{entry}' ({path} is {what}); "
                f"fix or drop that entry (entries are separated by '{os.pathsep}')")
    return entries(environ)


def extend_package_path(package_path: MutableSequence[str], environ: Mapping[str, str] | None = None
                        ) -> tuple[Path, ...]:
    """Make `package_path` (adrs_bench.tasks.__path__) its own folders followed by the variable's
    directories, replacing those a previous call added, and return the directories added (a directory
    that is the package's own folder is not added twice). Raises TaskPathNotFound as `directories`."""
    own = [entry for entry in package_path if entry not in ADDED]
    own_resolved = {Path(entry).resolve() for entry in own}
    added = tuple(path for path in directories(environ) if path.resolve() not in own_resolved)
    package_path[:] = own + [str(path) for path in added]
    ADDED[:] = [str(path) for path in added]
    return added
