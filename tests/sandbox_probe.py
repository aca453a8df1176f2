"""Child adapters for the OS-boundary tests: they run *unrestricted* Python inside a sandboxed child,
as if the restricted compiler had been escaped, so each test proves what the process boundary alone
holds. The fork server imports this module by name (tests/ is on its path under pytest); whatever it
imports at the top is what a probe may use (a child cannot import anything new: its root is empty)."""
from __future__ import annotations

import builtins
import gc
import re

from adrs_bench.tasks.prism_placement.adapter import run_placement as prism_adapter

MARKER = re.compile(r"osb[MIR][0-9a-f]{32}")
MARKER_BYTES = re.compile(rb"osb[MIR][0-9a-f]{32}")
DIGITS = re.compile(r"[0-9]{25,}")
DIGITS_BYTES = re.compile(rb"[0-9]{25,}")
BIG_INT_BITS = 80
SCAN_LIMIT = 5_000_000  # objects; a bound, never reached in practice (the probe reports it if it is)


def call_f(namespace: dict, payload):
    """The submission's `f(payload)`: plain compile()d code, called as it is."""
    return namespace["f"](payload)


def run_plain(namespace: dict, payload: dict):
    """Execute `payload["source"]` with the real builtins; its variable `result` is the answer."""
    scope = {"__builtins__": builtins, "arg": payload.get("arg"), "__name__": "probe"}
    exec(payload["source"], scope)
    return scope.get("result")


def scan_objects() -> dict:
    """Every object reachable from what the garbage collector tracks (untracked strings, bytes, ints and
    tuples are reached as referents of tracked containers): the markers (`osb` + M/I/R + 32 hex digits)
    and runs of 25+ digits in any str or bytes, and the decimal text of every int of 80+ bits."""
    markers: set[str] = set()
    digits: set[str] = set()
    big_ints: set[str] = set()
    seen: set[int] = set()
    stack = gc.get_objects()
    while stack and len(seen) < SCAN_LIMIT:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            markers.update(MARKER.findall(obj))
            digits.update(DIGITS.findall(obj))
        elif isinstance(obj, (bytes, bytearray)):
            markers.update(m.decode() for m in MARKER_BYTES.findall(obj))
            digits.update(m.decode() for m in DIGITS_BYTES.findall(obj))
        elif isinstance(obj, int):
            if obj.bit_length() >= BIG_INT_BITS:
                big_ints.add(str(obj))
        elif not isinstance(obj, (float, complex, type(None))):
            stack.extend(gc.get_referents(obj))
    return {"markers": sorted(markers), "digit_runs": sorted(digits), "big_ints": sorted(big_ints),
            "objects": len(seen), "complete": not stack}


def prism_then_scan(namespace: dict, payload: dict):
    """The prism_placement task's own child adapter on `payload["case"]`, then `scan_objects()`."""
    placement = prism_adapter(namespace, payload["case"])
    return {"placement": placement, "scan": scan_objects()}
