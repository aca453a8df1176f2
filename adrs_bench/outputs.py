"""Where a run writes, checked before it runs, and what is saved when adrs-bench itself fails.

A folder that cannot be written used to cost the whole run (a traceback after the last case, no score
table). `writable_folder` refuses it in one line before the first case; `save_traceback` keeps an
unexpected exception's traceback in a file, so the console gets one line and the bug report has it all.
"""
from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

from .errors import OutputNotWritable


def writable_folder(path: Path, option: str) -> Path:
    """Create `path` if needed and prove a file can be written in it (then remove that file); raise
    OutputNotWritable naming the option, the folder and why."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputNotWritable(f"expected {option} to be a folder, got the file {path}; pass a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".adrs-bench-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputNotWritable(f"expected {option} to be a folder you can write to, got {path} ({reason}); "
                                f"pass another {option} or fix its permissions") from None
    return path


def save_traceback(exc: BaseException) -> Path | None:
    """Write `exc`'s traceback to a new file in the temporary folder; its path, or None if even that fails."""
    name = f"adrs-bench-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path = Path(tempfile.gettempdir()) / name
    try:
        path.write_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    except OSError:
        return None
    return path
