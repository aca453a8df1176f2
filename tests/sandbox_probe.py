"""Child adapters for the OS-boundary tests: they run *unrestricted* Python inside a sandboxed child,
as if the restricted compiler had been escaped, so each test proves what the process boundary alone
holds. The fork server imports this module by name (tests/ is on its path under pytest)."""
from __future__ import annotations

import builtins


def call_f(namespace: dict, payload):
    """The submission's `f(payload)`: plain compile()d code, called as it is."""
    return namespace["f"](payload)


def run_plain(namespace: dict, payload: dict):
    """Execute `payload["source"]` with the real builtins; its variable `result` is the answer."""
    scope = {"__builtins__": builtins, "arg": payload.get("arg"), "__name__": "probe"}
    exec(payload["source"], scope)
    return scope.get("result")
