"""What a run shows on stderr while it works.

On a terminal: one line redrawn in place, with the cases done and, for a long case of a serving task,
the share of its simulated time done (a 40 s autoscaling trace is no longer silent). Anywhere else (a
log file, CI, a pipe): no carriage returns, one plain line per finished case, so a log reads top to
bottom. The library calls the two hooks (`case_done`, `tick`); only the CLI makes one of these.
"""
from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

REDRAW_SECONDS = 0.2  # at most this often on a terminal (a simulation ticks thousands of times a second)
FIRST_DRAW_SECONDS = 0.3  # a run done sooner than this draws nothing (no flash before the table)


class RunProgress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.drawn = False
        self.done = 0
        self.total = 0
        self.running: dict[str, float] = {}  # case id -> share of its simulated time done

    def case_done(self, done: int, total: int, outcome) -> None:
        """evaluate's `progress` hook: a case finished (or was refused)."""
        with self.lock:
            self.done, self.total = done, total
            self.running.pop(outcome.id, None)
            if self.tty:
                self.draw(force=done == total)
                return
            score = f" score {outcome.score:.4f}" if outcome.ok else ""
            why = f": {outcome.message}" if outcome.message else ""
            self.write(f"[{done}/{total}] {outcome.id} {outcome.status}{score} ({outcome.seconds:.2f} s){why}\n")

    def tick(self, case_id: str, share: float) -> None:
        """evaluate's `tick` hook: a long case has done `share` of its simulated time (terminal only)."""
        if not self.tty:
            return
        with self.lock:
            self.running[case_id] = share
            self.draw()

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if now - self.started < FIRST_DRAW_SECONDS and not self.drawn:
            return
        if not force and now - self.drawn_at < REDRAW_SECONDS:
            return
        counted = f"{self.done}/{self.total}" if self.total else f"{self.done} done"  # the total comes with a case
        parts = [f"[{counted}] {now - self.started:.0f} s"]
        parts += [f"{case_id}: {share:.0%} of simulated time" for case_id, share in sorted(self.running.items())]
        width = max(40, shutil.get_terminal_size((100, 20)).columns - 1)
        self.write("\r" + "; ".join(parts)[:width].ljust(width))
        self.drawn, self.drawn_at = True, now

    def building(self, line: str) -> None:
        """A line about building the instance set (a fresh set takes minutes): redrawn on a terminal."""
        with self.lock:
            self.write(f"\r{line}".ljust(80) if self.tty else f"{line}\n")
            self.drawn = self.drawn or self.tty

    def close(self) -> None:
        """End the redrawn line, so what follows starts on a line of its own."""
        with self.lock:
            if self.tty and self.drawn:
                self.write("\n")
                self.drawn = False

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
