"""The names of fresh sets, one place for the pattern: `fresh` (a seed drawn when the run starts) and
`fresh:SEED` (the set drawn from SEED, as records keep it and `--set` takes it). Import-light: the CLI's
help texts use it before anything heavy loads."""
from __future__ import annotations

import re

from .errors import InstanceSetNotFound

FRESH = "fresh"  # the set drawn at run time; `fresh:SEED` names one drawn from SEED (the one place of the pattern)
FRESH_PATTERN = f"{FRESH}:SEED"  # how help texts name it
FRESH_SEED_BITS = 128  # a drawn seed no one can guess before the run
FRESH_SEED_DIGITS = 39  # enough to replay any drawn seed (2**128 - 1 has 39 digits)


def fresh_name(seed: int) -> str:
    """The name of the fresh set of `seed`, as records keep it and `--set` takes it."""
    return f"{FRESH}:{seed}"


def is_fresh(name: str) -> bool:
    return name == FRESH or name.startswith(f"{FRESH}:")


def resolve_fresh(name: str) -> str:
    """`fresh` becomes `fresh:<a 128-bit seed drawn now>`, so the set is the one nobody could see
    before the run, and its name (kept in the record) says how to rebuild it; other names pass."""
    if name == FRESH:
        import secrets

        return fresh_name(secrets.randbits(FRESH_SEED_BITS))
    return name


def parse_fresh(name: str) -> int | None:
    if not name.startswith(FRESH):
        return None
    match = re.fullmatch(rf"{FRESH}:(\d{{1,{FRESH_SEED_DIGITS}}})", name)
    if not match:
        raise InstanceSetNotFound(
            f"expected {FRESH} (a seed drawn now) or {FRESH_PATTERN} with SEED a non-negative integer of at most "
            f"{FRESH_SEED_DIGITS} digits, got '{name}'; e.g. --set {FRESH} or --set {fresh_name(20261123)}")
    return int(match.group(1))
