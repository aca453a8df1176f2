"""Ctrl-C and SIGTERM during a run: stop the sandboxed children and keep every case that finished.

Without this, Ctrl-C raised KeyboardInterrupt through the run and every finished case was lost. With
`StopOnSignals(cancellation)` around `evaluate(..., cancellation=cancellation)`:
- before any case has started (the set still loading or a fresh set building), nothing is worth
  keeping, so the signal stops the run at once (KeyboardInterrupt);
- once cases run, the signal cancels the run: no case starts, every running child is killed, the cases
  cut short and those never started become failed `timeout`s "not run: interrupted", and `evaluate`
  returns a Result whose record says `provenance.interrupted`;
- a second Ctrl-C or SIGTERM stops at once (KeyboardInterrupt); the children die with the harness
  (their lifeline, sandbox/forkserver.py).

Signal handlers run on the main thread between bytecodes, possibly while it holds a lock of the run,
so the handler only records the signal and hands the cancellation (which takes those locks and kills
children) to a thread of its own.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType

from .runner import INTERRUPTED, Cancellation

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
    """A context manager (main thread only) turning SIGINT and SIGTERM into a cancellation of the run."""

    def __init__(self, cancellation: Cancellation):
        self.cancellation = cancellation
        self.received: int | None = None  # the first signal's number, if any came
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "StopOnSignals":
        self.previous = {number: signal.signal(number, self.handle) for number in SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def handle(self, number: int, frame: FrameType | None) -> None:
        first = self.received is None
        self.received = self.received or number
        if not first or not self.cancellation.started:
            raise KeyboardInterrupt  # a second signal, or nothing finished yet to keep: stop now
        for each in SIGNALS:
            signal.signal(each, self.stop_now)
        threading.Thread(target=self.cancellation.cancel, args=(INTERRUPTED,), name="adrs-bench-interrupt",
                         daemon=True).start()

    @staticmethod
    def stop_now(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ""
