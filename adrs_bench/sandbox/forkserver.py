"""The fork server: a clean interpreter from which every sandboxed child is made.

The harness starts it once (`python -c ...`, a fresh interpreter that has imported numpy, the guards
and the task adapters, and nothing else), before it loads any instance set, reference or result. So a
child, forked from here, holds in its memory only what its own pipe brings it: the visible part of
the cases it is asked about. Each request makes a *supervisor* that reads the child's setup, confines
itself (isolation.py), forks the child (PID 1 of fresh namespaces) and reports the child's pid, the
isolation it got and, at the end, how it died (wait status, CPU seconds, peak memory).

One request = one SOCK_SEQPACKET message naming the task adapter, carrying three descriptors: the
child's request pipe (read end), its reply pipe (write end) and the supervisor's status pipe (write
end). The harness keeps the other ends.
"""
from __future__ import annotations

import atexit
import importlib
import json
import marshal
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from .. import task_path
from ..blas import single_threaded
from . import reaper, wire

READY = b"ready"
# Imported once in the server so that a child never reads a file to import them (it cannot: its root
# is empty). A submission may import only what its task allows; these cover every shipped task.
PREIMPORTED = ("numpy", "numpy.random", "numpy.linalg", "dataclasses", "typing", "math", "random", "copy",
               "collections", "functools", "itertools", "heapq", "bisect", "time", "statistics", "string",
               "operator", "adrs_bench.sandbox.child")
START_SECONDS = 120.0
HARNESS_VARIABLE = "ADRS_BENCH_HARNESS_PID"


# ----------------------------------------------------------------------------- server side

def resolve(reference: str):
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def close_other_descriptors(keep: tuple[int, ...]) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def supervise(req_fd: int, rep_fd: int, status_fd: int) -> None:
    """The supervisor: read the setup, confine, fork the child, report its pid, wait, report its end."""
    from . import isolation

    close_other_descriptors((req_fd, rep_fd, status_fd))
    os.setsid()  # out of the harness's process group: group-wide calls from below cannot reach it
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    setup = wire.read_frame(req_fd)
    if setup is None:
        return
    for name in setup["allowed_imports"]:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the submission's import will fail with the sandbox's own message
    adapter = resolve(setup["adapter"])
    address_space = isolation.address_space_bytes()
    policy = isolation.IsolationPolicy(**setup["policy"])
    got = isolation.confine_supervisor(policy)
    if setup.get("require_isolation") and got.missing:
        report(status_fd, {"pid": None, "isolation": got.as_record()})  # refused before any submission code
        return
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.close(status_fd)
            from .child import serve

            serve(req_fd, rep_fd, setup, adapter, got, address_space)
        except BaseException:
            status = 70
        finally:
            os._exit(status)
    os.close(rep_fd)
    report(status_fd, {"pid": pid, "isolation": got.as_record()})
    _, status, usage = wait_or_end(pid, req_fd, "pid" in got.namespaces)
    report(status_fd, {"wait_status": status, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                       "peak_memory_mb": usage.ru_maxrss / 1024})


def wait_or_end(pid: int, lifeline: int, namespace_init: bool) -> tuple[int, int, Any]:
    """Wait for the child; end it at once if the harness lets go of it first. `lifeline` is the read end
    of the child's request pipe: when every write end is closed (the harness stopped the session, or
    died however it died: Ctrl-C, SIGKILL, a framework killing its worker) it reports a hang-up, and the
    child, busy or not, is killed with everything it started. (Everything it uses is imported before
    the supervisor confines itself: its root is empty then.)"""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    poller = select.poll()
    poller.register(lifeline, 0)  # hang-up and errors only: the child's requests stay unread here
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    while True:
        done = os.wait4(pid, os.WNOHANG)
        if done[0] == pid:
            return done
        events = dict(poller.poll(None if pidfd is not None else 200))
        if events.get(lifeline, 0) & (select.POLLHUP | select.POLLERR):
            reaper.kill_tree(pid, pidfd, namespace_init)
            return os.wait4(pid, 0)


def report(fd: int, message: dict) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")


def serve_forever(sock: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    for name in PREIMPORTED:
        importlib.import_module(name)
    from . import syscalls

    syscalls.load_module()
    adapters: dict[str, Any] = {}
    sock.send(READY)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 65536, 3)
        except OSError:
            return
        if not message:
            return  # the harness is gone
        reference = marshal.loads(message)
        if reference not in adapters:
            try:
                adapters[reference] = resolve(reference)
            except Exception:
                pass  # the supervisor will fail on it and the child's absence says so
        try:
            pid = os.fork()
        except OSError:  # no process to spare: the harness sees the status pipe close with no pid
            pid = -1
        if pid == 0:
            code = 0
            try:
                sock.close()
                supervise(*fds)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    serve_forever(sock)


# ----------------------------------------------------------------------------- harness side

class ForkServerError(RuntimeError):
    pass


class ForkServer:
    """The harness's handle on its fork server; one per harness process, started on first use."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # A minimal environment: children inherit it, and nothing of the harness's (tokens, home) belongs
        # there. Hash seed fixed so that set and dict orders, and so scores, repeat bit for bit.
        env: dict[str, str] = {}
        single_threaded(env, force=True)  # before numpy loads there: single-threaded BLAS, whoever calls
        env.update(PYTHONPATH=os.pathsep.join(p for p in sys.path if p), PYTHONHASHSEED="0",
                   PATH=os.defpath)
        env[HARNESS_VARIABLE] = str(os.getpid())  # which harness a process serves (tests find a run's own)
        # The tasks added at run time, so that their adapters import here as in the harness (task_path.py).
        self.task_path = task_path.value()
        if self.task_path:
            env[task_path.VARIABLE] = self.task_path
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from adrs_bench.sandbox.forkserver import main; main()", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, close_fds=True,
            cwd="/")  # `-c` puts the working directory first on sys.path: a source checkout there would
        # shadow the installed package the harness uses (its tasks live elsewhere in a checkout)
        theirs.close()
        self.sock = ours
        self.ready = False
        self.lock = threading.Lock()

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not select.select([self.sock], [], [], START_SECONDS)[0]:
            raise ForkServerError(f"the sandbox's fork server did not start within {START_SECONDS:g} s")
        if self.sock.recv(16) != READY:
            error = self.process.stderr.read().decode(errors="replace").strip().splitlines()
            raise ForkServerError("the sandbox's fork server failed to start: " + (error[-1] if error else "no message"))
        self.ready = True
        self.process.stderr.close()

    def spawn(self, adapter: str) -> tuple[int, int, int]:
        """A new supervised child: (request pipe write end, reply pipe read end, status pipe read end)."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            with self.lock:
                self.wait_ready()
                socket.send_fds(self.sock, [marshal.dumps(adapter)], [req_r, rep_w, status_w])
        finally:
            for fd in (req_r, rep_w, status_w):
                os.close(fd)
        return req_w, rep_r, status_r

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if not self.ready:
            self.process.kill()  # still booting: nothing of ours runs there yet
        try:
            self.sock.close()
        finally:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


SERVER: ForkServer | None = None
SERVER_LOCK = threading.Lock()


def server() -> ForkServer:
    """This process's fork server, started now if it is not running (or anew if ADRS_BENCH_TASK_PATH
    changed since it started: it could not import the adapters of the tasks added since)."""
    global SERVER
    with SERVER_LOCK:
        if SERVER is None or not SERVER.alive() or SERVER.task_path != task_path.value():
            if SERVER is not None:
                SERVER.close()
            SERVER = ForkServer()
        return SERVER


def prestart() -> None:
    """Start the fork server early (before any instance set is loaded), so that it boots while the
    harness loads the set and checks the submission."""
    server()


@atexit.register
def shutdown() -> None:
    global SERVER
    if SERVER is not None:
        SERVER.close()
        SERVER = None
