"""A cache of built fresh sets (`fresh:SEED`) in the user's cache directory, so that replaying a seed
(a second run, `adrs-bench verify`) reads the set instead of rebuilding it for minutes.

An entry is one file: a header line naming its key and the sha256 and length of the set's bytes, then
the bytes. It is written to a temporary file and renamed over the entry (os.replace), so a concurrent
run or a Ctrl-C never leaves half an entry; a read that finds anything but a whole, matching entry
rebuilds the set and overwrites it. The cache never fails a run: a directory that cannot be written
costs the reuse only, reported as one warning line in the returned `CacheOutcome` (this module prints
nothing).
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Mapping

ENV_VAR = "ADRS_BENCH_CACHE"  # the override: the cache root, wherever the platform would put it
APP = "adrs-bench"
FORMAT = b"adrs-bench-fresh-set/1"
MAX_ENTRIES_PER_TASK = 16  # least recently used go first; an autoscaling set is about 6 MB


def cache_root(env: Mapping[str, str] | None = None, system: str | None = None) -> Path:
    """Where adrs-bench caches, by each platform's convention: $ADRS_BENCH_CACHE if set, else Linux
    $XDG_CACHE_HOME/adrs-bench (only an absolute one, as the XDG spec says) or ~/.cache/adrs-bench,
    macOS ~/Library/Caches/adrs-bench, Windows %LOCALAPPDATA%\\adrs-bench\\Cache."""
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    if system == "darwin":
        return Path.home() / "Library" / "Caches" / APP
    if system.startswith("win"):
        local = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / APP / "Cache"
    xdg = env.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / APP


def code_sha256() -> str:
    """sha256 of everything a fresh set's bytes could depend on: every .py file of adrs_bench and of
    every task (those added through ADRS_BENCH_TASK_PATH too), every task's spec.json (autoscaling's
    generator reads its settings there), and the Python, numpy and scipy versions and the machine.

    All of it, not a task's generator files, because a stale set must be impossible and a hand-kept
    list goes stale the day someone adds an import: generators import shared modules (both serving
    tasks draw request lengths from adrs_bench.serving.workload) and the core (the serving simulator
    searches autoscaling's references), and prism's generator and solver (generate.py, exact.py) are not in
    its evaluator sha256 at all. (A task's import closure is no narrower: the package's lazy
    `evaluate` reaches nearly every module.) A stale set would give a record whose set sha256 no
    rebuild reproduces. An installed release never changes, so its entries keep hitting; in a
    checkout, any edit to a .py file costs one rebuild per seed."""
    from .registry import tasks_root
    from .task_path import entries

    package, tasks = Path(__file__).resolve().parent, tasks_root().resolve()
    files = {f"tasks/{p.relative_to(tasks).as_posix()}": p
             for p in [*tasks.rglob("*.py"), *tasks.glob("*/spec.json")]}
    for index, added in enumerate(entries()):  # the tasks added at run time (ADRS_BENCH_TASK_PATH)
        files.update({f"added/{index}/{p.relative_to(added).as_posix()}": p
                      for p in [*added.rglob("*.py"), *added.glob("*/spec.json")]})
    files.update({f"adrs_bench/{p.relative_to(package).as_posix()}": p for p in package.rglob("*.py")
                  if not p.resolve().is_relative_to(tasks)})  # an installed package holds its tasks
    digest = hashlib.sha256()
    for label in sorted(files):
        digest.update(label.encode() + b"\0" + files[label].read_bytes() + b"\0")
    for name in ("numpy", "scipy"):
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "none"
        digest.update(f"{name}={version}\0".encode())
    digest.update(f"python={sys.version_info[0]}.{sys.version_info[1]}\0{platform.machine()}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """What one entry holds: the set of `seed` for task `task_id` (name and version), built by the code
    whose code_sha256 this is. Any part differing is another entry."""

    task_id: str
    seed: int
    code: str

    @property
    def filename(self) -> str:
        return f"fresh-{self.seed}-{self.code}.set"

    def header(self, data: bytes) -> bytes:
        sha = hashlib.sha256(data).hexdigest()
        return b" ".join([FORMAT, f"task={self.task_id} seed={self.seed} code={self.code} sha256={sha} "
                                  f"bytes={len(data)}".encode()]) + b"\n"


@dataclass(frozen=True)
class CacheOutcome:
    """Where a fresh set's bytes came from. `warning` is one line for the user, or None."""

    hit: bool  # read from the cache: nothing was built
    path: Path | None  # the entry read, written, or that could not be written (None: no cache directory)
    warning: str | None = None


def entry_path(key: CacheKey, root: Path | None = None) -> Path:
    return (cache_root() if root is None else root) / "fresh" / key.task_id / key.filename


def read_entry(key: CacheKey, path: Path) -> tuple[bytes | None, bool]:
    """(the set's bytes, True) if `path` is a whole entry for `key` whose bytes match their sha256;
    (None, False) if there is no entry; (None, True) if there is one but it is unreadable, truncated,
    edited, or another key's."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, False
    except OSError:
        return None, True
    header, newline, data = blob.partition(b"\n")
    if not newline or header + newline != key.header(data):
        return None, True
    return data, True


def write_entry(key: CacheKey, path: Path, data: bytes) -> None:
    """Write atomically: a temporary file in the same directory, flushed to disk, renamed over the
    entry. Raises OSError if the directory cannot be written; leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(key.header(data))
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:  # Ctrl-C included: the entry is either the old one or the whole new one
        Path(temporary).unlink(missing_ok=True)
        raise


def prune(directory: Path, keep: int = MAX_ENTRIES_PER_TASK) -> None:
    """Remove all but the `keep` most recently used entries of one task (a hit refreshes an entry's
    time), so drawing seed after seed with `--set fresh` does not fill the disk. Best effort."""
    try:
        entries = sorted(directory.glob("fresh-*.set"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[keep:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def fetch(key: CacheKey, build: Callable[[], bytes], root: Path | None = None) -> tuple[bytes, CacheOutcome]:
    """The set's bytes for `key`: from its entry if whole, else from `build()`, then stored. The bytes
    are the same either way (an entry is used only if its sha256 matches), so are the scores."""
    try:
        path = entry_path(key, root)
    except RuntimeError as exc:  # Path.home(): no home directory to keep a cache in
        return build(), CacheOutcome(False, None, f"fresh-set cache: no cache directory ({exc}); the set was "
                                                  f"built and used but not cached; set {ENV_VAR} to a directory")
    data, found = read_entry(key, path)
    if data is not None:
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return data, CacheOutcome(hit=True, path=path)
    data = build()
    try:
        write_entry(key, path, data)
    except OSError as exc:
        return data, CacheOutcome(False, path, (
            f"fresh-set cache: cannot write {path.parent} ({exc.strerror or exc}); the set was built and used "
            f"but not cached, so the next run builds it again; set {ENV_VAR} to a writable directory"))
    prune(path.parent)
    warning = (f"fresh-set cache: the entry {path} was corrupt or truncated; rebuilt and replaced"
               if found else None)
    return data, CacheOutcome(False, path, warning)
