"""The one rule for putting a submission's answer (or any text derived from it) into a message: a short
description, never the answer itself. A policy that returns a 20 MB string must not make a 60 MB record,
a 60 MB `--json` or a terminal full of it, so every message that quotes untrusted data goes through
`quote` (values) or `clip` (text), and `InstanceOutcome` clips whole messages as a last safety net."""
from __future__ import annotations

import reprlib
from typing import Any

QUOTE_LIMIT = 200  # a quoted value or text in a message, at most
MESSAGE_LIMIT = 500  # a whole per-instance message: fixed text around one or two quotes


class _ShortRepr(reprlib.Repr):
    def repr_instance(self, value: Any, level: int) -> str:
        """reprlib's fallback, without the memory address it shows for a repr that raises (a message
        must be the same on every run)."""
        try:
            text = repr(value)
        except Exception:
            return f"<{type(value).__name__} that cannot be shown>"
        return text if len(text) <= self.maxother else text[: self.maxother - 3] + "..."


_SHORT = _ShortRepr()
_SHORT.maxlevel = 3
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlong = 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = _SHORT.maxfrozenset = _SHORT.maxdeque = 8
_SHORT.maxdict = 6


def clip(text: Any, limit: int = QUOTE_LIMIT) -> str:
    """`text` on one line and at most `limit` characters; a cut one says how long it was."""
    text = str(text)
    if len(text) <= limit and "\n" not in text and "\r" not in text:
        return text
    shown = " ".join(text[: 4 * limit].split())  # bounded work; line breaks become spaces
    if len(text) <= 4 * limit and len(shown) <= limit:
        return shown
    suffix = f"… ({len(text)} characters)"
    return (shown[: max(0, limit - len(suffix))] + suffix)[:limit]


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A description of `value` in at most `limit` characters: its repr when short, else its type and
    size and the start of its repr. Costs little however large the value (no full repr is built)."""
    name = type(value).__name__
    if isinstance(value, int) and value.bit_length() > 128:  # repr would be long, or raise (> 4300 digits)
        return clip(f"<int of {value.bit_length()} bits>", limit)
    try:
        text = _SHORT.repr(value)
    except Exception:  # a container whose repr raises
        return clip(f"<{name} that cannot be shown>", limit)
    size = _size(value)
    if size is not None:
        unit = "characters" if isinstance(value, str) else "bytes" if isinstance(value, (bytes, bytearray)) else "items"
        text = f"<{name} of {size} {unit}: {text}>"
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    if len(text) > limit:
        closing = ">" if text.startswith("<") else ""
        text = text[: limit - 1 - len(closing)] + "…" + closing
    return text


def _size(value: Any) -> int | None:
    """The length of a built-in sequence or mapping too long to be shown whole, else None."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value) if len(value) > _SHORT.maxstring - 2 else None
    if isinstance(value, dict):
        return len(value) if len(value) > _SHORT.maxdict else None
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value) if len(value) > _SHORT.maxlist else None
    return None
