"""Loads a task's instance set: a frozen file checked against the sha256 its spec pins, or a
fresh set built from the task's generator at run time (`fresh:SEED`, or `fresh` for a seed drawn now)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .errors import InstanceHashMismatch, InstanceSetNotFound
from .registry import Task, suggestion


@dataclass(frozen=True)
class InstanceSet:
    name: str
    sha256: str
    cases: list[Any]
    fresh_seed: int | None
    held_out: bool


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


def load_set(task: Task, name: str) -> InstanceSet:
    spec = task.spec
    name = resolve_fresh(name)
    seed = parse_fresh(name)
    if seed is not None:
        if not spec.fresh_allowed:
            raise InstanceSetNotFound(f"task {spec.id} has no fresh sets; use one of {', '.join(spec.sets)}")
        data = task.plugin.fresh_set_bytes(seed)
        return InstanceSet(name, sha256_bytes(data), task.plugin.parse_cases(data), seed, held_out=True)
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
