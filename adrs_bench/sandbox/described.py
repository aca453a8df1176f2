"""Values from the child that are not plain data (JSON) travel as `{"type": ..., "repr": ...}` and come
back in the parent as `Described`, whose repr is what an error message shows ("returned <str '3'>").
The child describes; the parent never trusts or rebuilds the value itself."""
from __future__ import annotations

from typing import Any


def describe(value: Any) -> dict:
    """Child side: a short description of a value that cannot cross the pipe as it is."""
    return {"type": type(value).__name__, "repr": repr(value)[:60]}


class Described:
    """Parent side: a described value, shown as the child described it."""

    def __init__(self, description: dict):
        self.text = f"<{description.get('type', '?')} {description.get('repr', '')}>"

    def __repr__(self) -> str:
        return self.text


def restore(value: Any) -> Any:
    return Described(value) if isinstance(value, dict) else value
