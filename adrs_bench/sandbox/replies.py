"""What a call into the sandbox gives back: a status and a value or a one-line message.

The status strings are the core's (statuses.py): a call either returns `ok` or one of the failures.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from ..statuses import CRASHED, ERROR, INVALID, MEMORY, OK, TIMEOUT  # noqa: F401  (named here for the sandbox)

MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Reply:
    status: str
    value: Any = None
    message: str = ""
    seconds: float = 0.0


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException, filename: str) -> str:
    """`Type: message (line N)` naming the submission's deepest line; never raises itself."""
    line = None
    try:
        for frame in traceback.extract_tb(exc.__traceback__, limit=None):
            if frame.filename == filename:
                line = frame.lineno
    except Exception:
        pass
    try:
        text = str(exc)
    except Exception:
        text = "<the exception's message could not be printed>"
    try:
        name = type(exc).__name__
    except Exception:
        name = "Exception"
    where = f" (line {line})" if line else ""
    return one_line(f"{name}: {text}{where}")
