"""The harness's side of one sandboxed child: start it through the fork server, send calls, collect
answers under wall-clock deadlines, kill it and everything it started, say how it died.

The parent treats everything it reads as untrusted data: replies are bounded JSON objects, and a child
that stops answering is classified by what its supervisor saw (wait status, CPU seconds, peak memory),
so a SIGKILL is reported with its real cause: the wall clock (we killed it), the CPU-time limit, or
the memory it had reached.
"""
from __future__ import annotations

import json
import marshal
import os
import select
import signal
import time
from types import CodeType
from typing import Any, Callable

from ..errors import IsolationUnavailable, SandboxUnavailable
from ..spec import Limits
from . import forkserver, reaper, wire
from .isolation import Isolation, IsolationPolicy
from .replies import CRASHED, ERROR, INVALID, MEMORY, OK, TIMEOUT, Reply, one_line

STATUS_WAIT_SECONDS = 2.0  # how long a dead child's supervisor gets to report how it died
START_SECONDS = 10.0  # how long a supervisor gets to confine itself and fork (not the submission's time)
MAX_SECONDS = 1e7  # a call's own timing, as the child reports it, is at most this (or the child lies)


class ChildGone(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


def adapter_reference(adapter: Callable | str) -> str:
    """`module:function`, which the fork server imports; a lambda or a bound method cannot travel."""
    if isinstance(adapter, str):
        return adapter
    module, name = getattr(adapter, "__module__", None), getattr(adapter, "__qualname__", "")
    if not module or not name.isidentifier():
        raise TypeError(f"expected a module-level function as the child adapter, got {adapter!r}")
    return f"{module}:{name}"


CANCEL_SLICE_SECONDS = 0.25


class SandboxSession:
    """One child process hosting one submission; re-started after a timeout or a crash."""

    def __init__(self, code: CodeType, filename: str, adapter: Callable | str, allowed_imports: tuple[str, ...],
                 limits: Limits, policy: IsolationPolicy = IsolationPolicy(), require_isolation: bool = False,
                 compat_modules: dict[str, tuple[str, ...]] | None = None):
        self.code, self.filename, self.adapter = code, filename, adapter_reference(adapter)
        self.compat_modules = {module: list(names) for module, names in (compat_modules or {}).items()}
        self.allowed_imports, self.limits = tuple(allowed_imports), limits
        self.policy, self.require_isolation = policy, require_isolation
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.req_fd = self.rep_fd = self.status_fd = -1
        self.buffer = wire.ReplyBuffer()
        self.status_text = b""
        self.load_failure: Reply | None = None
        self.isolation: Isolation | None = None

    # -- life cycle
    def start(self, deadline: float) -> Reply:
        waited = time.monotonic()
        server = forkserver.server()
        self.req_fd, self.rep_fd, self.status_fd = server.spawn(self.adapter)
        deadline += time.monotonic() - waited  # a fork server still booting is not the submission's time
        self.buffer, self.status_text = wire.ReplyBuffer(), b""
        setup = {"require_isolation": self.require_isolation,"code": marshal.dumps(self.code), "filename": self.filename, "adapter": self.adapter,
                 "allowed_imports": list(self.allowed_imports), "compat_modules": self.compat_modules,
                 "limits": {k: getattr(self.limits, k) for k in self.limits.__dataclass_fields__},
                 "policy": {"namespaces": self.policy.namespaces, "syscall_filter": self.policy.syscall_filter}}
        wire.send_request(self.req_fd, setup)
        started = self.status_message(max(deadline, time.monotonic() + START_SECONDS))
        try:
            isolation = Isolation.from_record(started["isolation"]) if started else None
        except (KeyError, TypeError, ValueError):
            isolation = None
        if isolation is not None and self.require_isolation and isolation.missing:
            self.release()  # the supervisor refused to fork: no submission code ran
            raise IsolationUnavailable(
                f"expected the full sandbox boundary (--require-isolation), got a child without: "
                f"{'; '.join(isolation.missing)}; run where those are available or drop --require-isolation")
        if isolation is None or not isinstance(started.get("pid"), int):
            self.release()
            raise SandboxUnavailable("expected the sandbox's fork server to start a child, got none (out of "
                                     "processes or memory?); free resources and run again")
        self.pid, self.isolation = started["pid"], isolation
        # The pid cannot be reused before this: it is the supervisor's unreaped child until it has been
        # reported, and the kernel cycles through pid_max (millions) before reusing one.
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        try:
            message = self.receive(deadline, what="loading the module")
        except ChildGone as gone:
            return gone.reply
        status = message.get("status")
        if status != OK:
            self.stop()
            if status not in (ERROR, MEMORY):
                return Reply(CRASHED, message=f"the child sent an unknown status {one_line(repr(status), 60)}")
            return Reply(status, message=one_line(message.get("message", "")))
        return Reply(OK)

    def stop(self) -> None:
        """Kill the child and everything it started; wait for its supervisor's report; forget it."""
        if self.pid is not None:
            self.kill()
            self.exit_report()
        self.release()

    close = stop

    def __enter__(self) -> "SandboxSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill(self) -> None:
        namespace_init = self.isolation is not None and "pid" in self.isolation.namespaces
        reaper.kill_tree(self.pid, self.pidfd, namespace_init)

    # -- calls
    def call(self, payload: Any, seed: int | None, timeout: float) -> Reply:
        """Run the adapter on `payload` in the child; never raises for anything the child does.
        A call with a seed starts a new case (fresh submission state, seeded generators)."""
        deadline = time.monotonic() + timeout
        failed = self.post(payload, seed, deadline)
        return failed if failed is not None else self.collect(deadline)

    def post(self, payload: Any, seed: int | None, deadline: float) -> Reply | None:
        """Send one call without waiting for its answer (the child answers calls in order); a failure
        to start the child or to send is returned as the call's reply. `collect` gets the answer."""
        return self.post_many([payload], seed, deadline)

    def post_many(self, payloads: list, seed: int | None, deadline: float) -> Reply | None:
        """Send several calls in one write (`seed`, if any, goes with the first); `collect` each answer."""
        if self.load_failure is not None:
            return self.load_failure
        if self.pid is None:
            loaded = self.start(deadline)
            if loaded.status != OK:
                if loaded.status != TIMEOUT:
                    # Loading is deterministic: it would fail the same way for every instance.
                    self.load_failure = loaded
                return loaded
        try:
            wire.send_requests(self.req_fd, [{"seed": seed if i == 0 else None, "payload": payload}
                                             for i, payload in enumerate(payloads)])
        except OSError:
            return self.gone_reply("before the call")
        return None

    def collect(self, deadline: float) -> Reply:
        """The answer to the oldest call posted and not yet collected."""
        try:
            message = self.receive(deadline, what="the call")
        except ChildGone as gone:
            return gone.reply
        status = message.get("status")
        seconds = message.get("seconds")
        if not (isinstance(seconds, (int, float)) and 0 <= seconds <= MAX_SECONDS):
            self.stop()
            return Reply(CRASHED, message=f"the child sent an impossible duration {one_line(repr(seconds), 60)}")
        seconds = float(seconds)
        if status not in (OK, ERROR, MEMORY):
            self.stop()
            return Reply(CRASHED, message=f"the child sent an unknown status {one_line(repr(status), 60)}")
        return Reply(status, message.get("value"), one_line(message.get("message", "")), seconds)

    def receive(self, deadline: float, what: str) -> dict:
        fds = [self.rep_fd, self.status_fd]
        while True:
            message = self.take_message()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise ChildGone(Reply(TIMEOUT, message=f"no answer within the wall-clock limit during {what}; killed"))
            wire.wait_briefly(*fds)
            # In slices: a caller's thread cancelled by an exception raised in it (as frameworks' thread
            # timeouts do) gets it within a slice, and its `with` block then ends the child.
            ready, _, _ = select.select(fds, [], [], min(remaining, CANCEL_SLICE_SECONDS))
            if self.rep_fd in ready:
                chunk = os.read(self.rep_fd, wire.READ_CHUNK)
                if not chunk:
                    raise ChildGone(self.gone_reply(f"during {what}"))
                try:
                    self.buffer.feed(chunk)
                except wire.Oversized:
                    self.stop()
                    raise ChildGone(Reply(INVALID, message=f"the output exceeds {wire.MAX_REPLY_BYTES >> 20} MiB"))
            elif self.status_fd in ready:  # the child died: take what it wrote before, then say how
                self.drain()
                message = self.take_message()
                if message is not None:
                    return message
                raise ChildGone(self.gone_reply(f"during {what}"))

    def take_message(self) -> dict | None:
        try:
            return self.buffer.take()
        except wire.Oversized:
            self.stop()
            raise ChildGone(Reply(INVALID, message=f"the output exceeds {wire.MAX_REPLY_BYTES >> 20} MiB")) from None
        except wire.Malformed:
            self.stop()
            raise ChildGone(Reply(CRASHED, message="the child sent a malformed reply")) from None

    def drain(self) -> None:
        while select.select([self.rep_fd], [], [], 0)[0]:
            chunk = os.read(self.rep_fd, wire.READ_CHUNK)
            if not chunk:
                return
            try:
                self.buffer.feed(chunk)
            except wire.Oversized:
                return

    # -- the supervisor's reports
    def status_message(self, deadline: float) -> dict | None:
        """The next line the supervisor wrote, or None if it closed the pipe or the deadline passed."""
        while b"\n" not in self.status_text:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.status_fd], [], [], remaining)[0]:
                return None
            chunk = os.read(self.status_fd, 4096)
            if not chunk:
                return None
            self.status_text += chunk
            if len(self.status_text) > 65536:
                return None
        line, self.status_text = self.status_text.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def exit_report(self) -> dict | None:
        return self.status_message(time.monotonic() + STATUS_WAIT_SECONDS)

    def gone_reply(self, when: str) -> Reply:
        """Classify a child that stopped answering, from its supervisor's report; then forget it."""
        report = self.exit_report()
        if report is None:
            self.kill()
            self.release()
            return Reply(CRASHED, message=f"the child stopped answering {when}; killed")
        self.release()
        return self.classify(report, when)

    def classify(self, report: dict, when: str) -> Reply:
        status = report.get("wait_status")
        cpu = float(report.get("cpu_seconds") or 0.0)
        peak = float(report.get("peak_memory_mb") or 0.0)
        usage = f"(CPU {cpu:.1f} s, peak memory {peak:.0f} MB)"
        if not isinstance(status, int):
            return Reply(CRASHED, message=f"the child ended {when} {usage}")
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= self.limits.cpu_seconds - 0.5):
                return Reply(TIMEOUT, message=f"killed by {name} {when}: CPU-time limit of "
                                              f"{self.limits.cpu_seconds} s reached {usage}")
            if sig == signal.SIGKILL and peak >= 0.5 * self.limits.memory_mb:
                return Reply(MEMORY, message=f"killed by SIGKILL {when} at peak memory {peak:.0f} MB "
                                             f"(limit {self.limits.memory_mb} MB) {usage}")
            return Reply(CRASHED, message=f"the child process died with {name} {when} {usage}")
        return Reply(CRASHED, message=f"the child process exited with code {os.WEXITSTATUS(status)} {when} "
                                      f"without answering {usage}")

    def release(self) -> None:
        """Close our ends of a child that is gone."""
        for fd in (self.req_fd, self.rep_fd, self.status_fd, self.pidfd):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.pid, self.pidfd, self.req_fd, self.rep_fd, self.status_fd = None, None, -1, -1, -1
