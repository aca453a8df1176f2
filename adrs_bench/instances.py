"""Loads a task's instance set: a frozen file checked against the sha256 its spec pins, or a
fresh set built from the task's generator at run time (`fresh:SEED`, or `fresh` for a seed drawn now)
and kept in the user's cache for the next replay of its seed (fresh_cache.py)."""
from __future__ import annotations

import hashlib
import math
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import InstanceHashMismatch, InstanceSetNotFound
from .fresh_cache import CacheKey, CacheOutcome, code_sha256, fetch
from .registry import Task, suggestion

BuildProgress = Callable[[int, int], None]  # (cases built so far, cases in the set)


@dataclass(frozen=True)
class InstanceSet:
    name: str
    sha256: str
    cases: list[Any]
    fresh_seed: int | None
    held_out: bool
    cache: CacheOutcome | None = field(default=None, compare=False)  # a fresh set's: hit or built, a warning


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_pinned(path, data: bytes, expected: str, pinned_in: str) -> str:
    """Refuse an instance file whose bytes are not the ones pinned for it; return their sha256.
    The one check (and message) for every pinned file: a set file pinned in spec.json, and any file a
    set file pins in turn (autoscaling's request traces), so an edit anywhere is refused alike."""
    digest = sha256_bytes(data)
    if digest != expected:
        raise InstanceHashMismatch(
            f"instance file {path} has sha256 {digest[:12]}…, expected {str(expected)[:12]}… (pinned in "
            f"{pinned_in}); it was corrupted or edited: restore it (git checkout) or regenerate it and "
            f"bump the task version")
    return digest


FRESH_SEED_BITS = 128  # a drawn seed no one can guess before the run
FRESH_SEED_DIGITS = 39  # enough to replay any drawn seed (2**128 - 1 has 39 digits)


def is_fresh(name: str) -> bool:
    return name == "fresh" or name.startswith("fresh:")


def resolve_fresh(name: str) -> str:
    """`fresh` becomes `fresh:<a 128-bit seed drawn now>`, so the set is the one nobody could see
    before the run, and its name (kept in the record) says how to rebuild it; other names pass."""
    if name == "fresh":
        import secrets

        return f"fresh:{secrets.randbits(FRESH_SEED_BITS)}"
    return name


def parse_fresh(name: str) -> int | None:
    if not name.startswith("fresh"):
        return None
    match = re.fullmatch(rf"fresh:(\d{{1,{FRESH_SEED_DIGITS}}})", name)
    if not match:
        raise InstanceSetNotFound(
            f"expected fresh (a seed drawn now) or fresh:SEED with SEED a non-negative integer of at most "
            f"{FRESH_SEED_DIGITS} digits, got '{name}'; e.g. --set fresh or --set fresh:20261123")
    return int(match.group(1))


_BUILD_PROGRESS: ContextVar[BuildProgress | None] = ContextVar("adrs_bench_build_progress", default=None)


def case_built(done: int, total: int) -> None:
    """Called by a task's generator after each case of a fresh set it builds; passed on to the
    `progress` of the load_set that asked for the set, if any (else nothing). A context variable
    rather than a parameter of the plugins' fresh_set_bytes(seed): a generator reports on its own,
    and the plugin interface and prism's task.py, whose sha256 its records name, stay as they were."""
    progress = _BUILD_PROGRESS.get()
    if progress is not None:
        progress(done, total)


def build_fresh_bytes(task: Task, seed: int, progress: BuildProgress | None = None) -> bytes:
    """The fresh set of `seed`, built now by the task's generator (no cache), reporting each case."""
    token = _BUILD_PROGRESS.set(progress)
    try:
        return task.plugin.fresh_set_bytes(seed)
    finally:
        _BUILD_PROGRESS.reset(token)


def clock(seconds: float) -> str:
    """Seconds as M:SS, or H:MM:SS from an hour."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def build_progress_line(name: str, done: int, total: int, elapsed_s: float) -> str:
    """One line on building a fresh set, with the time left estimated from the mean time per case so
    far, e.g. `building fresh:123: 12/120 cases, 0:41 elapsed, about 6:09 left`. Pure: the caller
    owns the clock and the printing."""
    line = f"building {name}: {done}/{total} cases, {clock(elapsed_s)} elapsed"
    if done >= total:
        return line + ", done"
    if done <= 0:
        return line
    return line + f", about {clock(math.ceil(elapsed_s / done * (total - done)))} left"


def load_set(task: Task, name: str, *, progress: BuildProgress | None = None) -> InstanceSet:
    """The instance set `name` of `task`. A fresh set comes from the user's cache when it holds this
    seed built by this code (fresh_cache.py), else it is built, calling `progress(done, total)` as
    each case is built, and cached; its `cache` says which, with a warning line when it could not be
    cached. Its bytes, and so its sha256 and every score, are the same either way."""
    spec = task.spec
    name = resolve_fresh(name)
    seed = parse_fresh(name)
    if seed is not None:
        if not spec.fresh_allowed:
            raise InstanceSetNotFound(f"task {spec.id} has no fresh sets; use one of {', '.join(spec.sets)}")
        key = CacheKey(spec.id, seed, code_sha256())
        data, cached = fetch(key, lambda: build_fresh_bytes(task, seed, progress))
        return InstanceSet(name, sha256_bytes(data), task.plugin.parse_cases(data), seed, held_out=True,
                           cache=cached)
    if name not in spec.sets:
        known = list(spec.sets) + (["fresh:SEED"] if spec.fresh_allowed else [])
        raise InstanceSetNotFound(
            f"expected an instance set of {spec.id}, got '{name}'; {suggestion(name, list(spec.sets))}"
            f"sets: {', '.join(known)}")
    entry = spec.sets[name]
    path = spec.path(entry.file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InstanceSetNotFound(
            f"expected the instance file {path} for set '{name}', found none; reinstall adrs-bench or "
            f"regenerate it (python -m adrs_bench.tasks.{spec.name}.generate)") from None
    digest = check_pinned(path, data, entry.sha256, "spec.json")
    cases = task.plugin.parse_cases(data)
    if len(cases) != entry.cases:
        raise InstanceHashMismatch(f"set '{name}' holds {len(cases)} cases, expected {entry.cases}; fix spec.json")
    return InstanceSet(name, digest, cases, None, entry.held_out)


def canonical_gzip(data: bytes) -> bytes:
    """Gzip with no timestamp, no file name and a fixed level, so the same content always gives the
    same bytes (and so the same sha256 pinned in a spec). The one rule for every gzipped instance file."""
    import gzip
    import io

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()
