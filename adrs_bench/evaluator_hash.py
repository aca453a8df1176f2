"""A task's evaluator sha256: one digest of every file that pins its scoring, so that a record scored by
other rules is never compared with today's (verify, merge and the executors refuse a mismatch).

The files are the spec's `evaluator_files` globs: the task's own modules, relative to its directory, and
shared code, relative to the adrs_bench package (the serving simulator: "serving/**/*.py"); a glob
starting with "!" takes files out again (a task's example and plots do not score). Globbed, not
listed, so that a module added to the simulator counts the day it is added; a glob that matches nothing
is an error, so that a typo cannot leave a file out.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import EvaluatorFilesMissing
from .spec import TaskSpec

PACKAGE_ROOT = Path(__file__).resolve().parent
PACKAGE_LABEL = "adrs_bench/"  # how a package file is named in the digest (task files: relative to the task)


def evaluator_paths(spec: TaskSpec, package_root: Path = PACKAGE_ROOT) -> list[tuple[str, Path]]:
    """Every file the globs match, less those a "!glob" names, as (label, path) sorted by label: the order
    they are hashed in. A task says "*.py" and excludes what does not score (its example, its plots), so a
    module it adds counts by default."""
    found: dict[str, Path] = {}
    for root, prefix, globs, where in ((spec.root, "", spec.evaluator_files.task, "the task's directory"),
                                       (package_root, PACKAGE_LABEL, spec.evaluator_files.package,
                                        "the adrs_bench package")):
        excluded: set[str] = set()
        for pattern in globs:
            exclude = pattern.startswith("!")
            matches = [path for path in root.glob(pattern.removeprefix("!")) if path.is_file()]
            if not matches and not exclude:  # an exclusion that misses leaves a file in: the safe side
                raise EvaluatorFilesMissing(
                    f"task spec {spec.root / 'spec.json'}: expected evaluator_files glob '{pattern}' to match files "
                    f"in {where} ({root}), got none; fix the glob or restore the files")
            for path in matches:
                label = prefix + path.relative_to(root).as_posix()
                if exclude:
                    excluded.add(label)
                else:
                    found[label] = path
        for label in excluded:
            found.pop(label, None)
    return sorted(found.items())


def evaluator_sha256(spec: TaskSpec, package_root: Path = PACKAGE_ROOT) -> str:
    digest = hashlib.sha256()
    for label, path in evaluator_paths(spec, package_root):
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
