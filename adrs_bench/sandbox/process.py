"""A forked child that hosts one submission and answers the parent's calls, under hard limits.

The parent has already imported numpy and compiled the submission, so a fork costs no interpreter
start-up (the main cost of a short run). Protocol: length-prefixed JSON on two pipes; the child
owns no other descriptor. The parent enforces a wall-clock deadline per call, kills the child and
every process it made on breach, and treats anything it reads as untrusted data.
"""
from __future__ import annotations

import ctypes
import json
import marshal
import os
import random
import resource
import select
import signal
import struct
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from types import CodeType
from typing import Any, Callable

from ..spec import Limits
from .guards import SUBMISSION_MODULE, restricted_globals

HEADER = struct.Struct(">I")
FORK_LOCK = threading.Lock()  # one fork at a time when several workers start children
MAX_REPLY_BYTES = 64 * 1024 * 1024
SPIN_SECONDS = 0.0005  # how long each side polls before it sleeps (see wait_briefly)
READ_CHUNK = 65536  # below malloc's mmap threshold: a 1 MiB read buffer costs page faults on every call
NOBODY = 65534
MAX_PROCESSES = 128  # per real user `nobody`; a child never needs to fork, this caps a fork bomb
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_SYS_ADMIN, CAP_SYS_RESOURCE = 21, 24
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

# Status strings, shared with the evaluators: a call either returns ok or one of the failures.
OK, ERROR, MEMORY, TIMEOUT, CRASHED, INVALID = "ok", "error", "memory", "timeout", "crashed", "invalid"

Adapter = Callable[[dict, Any], Any]


@dataclass(frozen=True)
class Reply:
    status: str
    value: Any = None
    message: str = ""
    seconds: float = 0.0


class ChildGone(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException, filename: str) -> str:
    """`Type: message (line N)` naming the submission's deepest line; never raises itself."""
    line = None
    try:
        for frame in traceback.extract_tb(exc.__traceback__):
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


# ----------------------------------------------------------------------------- child side

def write_message(fd: int, message: dict) -> None:
    data = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    payload = HEADER.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def wait_briefly(*fds: int) -> None:
    """Poll `fds` for up to SPIN_SECONDS before the caller blocks on them. A stateful task calls the
    child thousands of times per case; on a virtual machine, waking a sleeping CPU for each of those
    round trips costs more than the call itself, so both sides stay awake for a moment first."""
    deadline = time.perf_counter() + SPIN_SECONDS
    while time.perf_counter() < deadline:
        if select.select(fds, [], [], 0)[0]:
            return


def read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, decode: Callable[[bytes], Any] = json.loads) -> dict | None:
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    body = read_exact(fd, HEADER.unpack(header)[0])
    return None if body is None else decode(body)


def write_request(fd: int, message: dict) -> None:
    """Parent to child: marshal, which is faster than JSON and safe in this direction only (the child
    trusts the parent; the parent never unmarshals anything the child wrote)."""
    data = marshal.dumps(message)
    payload = HEADER.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def address_space_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_process_limit_exemption(libc) -> None:
    """Make RLIMIT_NPROC bind when the harness runs as root.

    The kernel exempts the root user and holders of CAP_SYS_RESOURCE / CAP_SYS_ADMIN from the
    process cap. The child takes `nobody` as its *real* uid (the cap counts per real user) but keeps
    effective uid 0, so it can still read a Python installed under /root, and drops those two
    capabilities — which also stops it from raising its own resource limits again.
    Without this, a fork bomb (possible only if the restricted compiler were bypassed) could fill
    the process table.
    """
    if os.geteuid() != 0:
        return
    os.setresuid(NOBODY, 0, 0)
    header = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        return
    for bit in (CAP_SYS_ADMIN, CAP_SYS_RESOURCE):
        data[bit // 32].effective &= ~(1 << (bit % 32))
        data[bit // 32].permitted &= ~(1 << (bit % 32))
    libc.capset(ctypes.byref(header), data)


def isolate_child(keep: tuple[int, ...], limits: Limits) -> None:
    """Everything the child does to itself before any submission code runs."""
    os.setsid()
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
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the 0-byte limit fails, not kills
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # our (adopted) children are reaped: no zombies left
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        drop_process_limit_exemption(libc)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphaned grandchildren stay ours, so we can kill them
    except OSError:
        pass
    cap = address_space_bytes() + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))


def seed_generators(seed: int) -> None:
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)


def child_main(req_fd: int, rep_fd: int, code: CodeType, filename: str, adapter: Adapter,
               allowed_imports: tuple[str, ...], limits: Limits) -> None:
    isolate_child((req_fd, rep_fd), limits)
    try:
        # A real module in sys.modules: dataclasses (and typing) look the class's module up there.
        module = types.ModuleType(SUBMISSION_MODULE)
        module.__dict__.update(restricted_globals(allowed_imports))
        sys.modules[SUBMISSION_MODULE] = module
        namespace = module.__dict__
        exec(code, namespace)
    except MemoryError:
        write_message(rep_fd, {"type": "loaded", "status": MEMORY,
                               "message": "ran out of memory while loading the module"})
        return
    except BaseException as exc:  # the submission's exception, whatever it is
        write_message(rep_fd, {"type": "loaded", "status": ERROR,
                               "message": "loading the module raised " + describe_exception(exc, filename)})
        return
    write_message(rep_fd, {"type": "loaded", "status": OK})
    while True:
        wait_briefly(req_fd)
        request = read_message(req_fd, marshal.loads)
        if request is None:
            return
        if request.get("seed") is not None:  # a stateful task seeds once per run, not per call
            seed_generators(request["seed"])
        started = time.perf_counter()
        try:
            value = adapter(namespace, request["payload"])
            reply = {"status": OK, "value": value}
        except MemoryError:
            reply = {"status": MEMORY, "message": "ran out of memory (MemoryError) under the "
                                                  f"{limits.memory_mb} MB address-space limit"}
        except RecursionError as exc:
            reply = {"status": ERROR, "message": describe_exception(exc, filename)}
        except BaseException as exc:
            reply = {"status": ERROR, "message": describe_exception(exc, filename)}
        reply["seconds"] = time.perf_counter() - started
        try:
            write_message(rep_fd, reply)
        except (TypeError, ValueError) as exc:
            write_message(rep_fd, {"status": ERROR, "seconds": reply["seconds"],
                                   "message": one_line(f"the output could not be serialised: {exc}")})


# ----------------------------------------------------------------------------- parent side

def children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def children_files(pid: int) -> list[int] | None:
    """`pid`'s children from /proc/PID/task/*/children (one small read per thread), or None where the
    kernel does not provide those files. The sandbox child is a subreaper, so orphans stay below it."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone
    found: list[int] = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid`. Walks the children files (cheap: the common case is none); falls back
    to scanning all of /proc where they are missing."""
    found, stack = [], [pid]
    while stack:
        children = children_files(stack.pop())
        if children is None:
            return descendants_by_scan(pid)
        found.extend(children)
        stack.extend(children)
    return found


def descendants_by_scan(pid: int) -> list[int]:
    tree = children_of()
    found, stack = [], list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL the child and every process below it, including ones that called setsid."""
    for _ in range(50):
        below = descendants(pid)
        if not below:
            break
        for other in below:
            try:
                os.kill(other, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class SandboxSession:
    """One child process hosting one submission; re-forked after a timeout or a crash."""

    def __init__(self, code: CodeType, filename: str, adapter: Adapter, allowed_imports: tuple[str, ...],
                 limits: Limits):
        self.code, self.filename, self.adapter = code, filename, adapter
        self.allowed_imports, self.limits = allowed_imports, limits
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.req_fd = self.rep_fd = -1
        self.buffer = b""
        self.load_failure: Reply | None = None
        self.reaped_status: int | None = None
        self.starts = 0

    # -- life cycle
    def start(self, deadline: float) -> Reply:
        with FORK_LOCK:
            req_r, req_w = os.pipe()
            rep_r, rep_w = os.pipe()
            for fd in (req_w, rep_r):
                os.set_inheritable(fd, False)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        if pid == 0:  # child
            status = 0
            try:
                os.close(req_w)
                os.close(rep_r)
                child_main(req_r, rep_w, self.code, self.filename, self.adapter, self.allowed_imports, self.limits)
            except BaseException:
                status = 70
            finally:
                os._exit(status)
        os.close(req_r)
        os.close(rep_w)
        self.pid, self.req_fd, self.rep_fd, self.buffer = pid, req_w, rep_r, b""
        self.reaped_status = None
        self.starts += 1
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None
        try:
            message = self.receive(deadline, what="loading the module")
        except ChildGone as gone:
            return gone.reply
        if message.get("status") != OK:
            self.stop()
            return Reply(str(message.get("status", ERROR)), message=one_line(message.get("message", "")))
        return Reply(OK)

    def stop(self) -> None:
        """Kill the child and everything it started; reap it."""
        if self.pid is None:
            return
        kill_tree(self.pid)
        if self.reaped_status is None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        self.reaped_status = None
        self.release()

    close = stop

    def __enter__(self) -> "SandboxSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- calls
    def call(self, payload: Any, seed: int | None, timeout: float) -> Reply:
        """Run the adapter on `payload` in the child; never raises for anything the child does."""
        deadline = time.monotonic() + timeout
        failed = self.post(payload, seed, deadline)
        return failed if failed is not None else self.collect(deadline)

    def post(self, payload: Any, seed: int | None, deadline: float) -> Reply | None:
        """Send one call without waiting for its answer (the child answers calls in order); a failure
        to start the child or to send is returned as the call's reply. `collect` gets the answer."""
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
            write_request(self.req_fd, {"seed": seed, "payload": payload})
        except (BrokenPipeError, OSError):
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
        seconds = float(seconds) if isinstance(seconds, (int, float)) else 0.0
        if status not in (OK, ERROR, MEMORY):
            self.stop()
            return Reply(CRASHED, message=f"the child sent an unknown status {one_line(repr(status), 60)}")
        return Reply(status, message.get("value"), one_line(message.get("message", "")), seconds)

    def receive(self, deadline: float, what: str) -> dict:
        fds = [self.rep_fd] + ([self.pidfd] if self.pidfd is not None else [])
        while True:
            message = self.take_message()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise ChildGone(Reply(TIMEOUT, message=f"no answer within the wall-clock limit during {what}; killed"))
            wait_briefly(*fds)
            ready, _, _ = select.select(fds, [], [], min(remaining, 0.25 if self.pidfd is None else remaining))
            if self.rep_fd in ready:
                chunk = os.read(self.rep_fd, READ_CHUNK)
                if not chunk:
                    raise ChildGone(self.gone_reply(f"during {what}"))
                self.buffer += chunk
                if len(self.buffer) > MAX_REPLY_BYTES + HEADER.size:
                    self.stop()
                    raise ChildGone(Reply(INVALID, message=f"the output exceeds {MAX_REPLY_BYTES >> 20} MiB"))
            elif (self.pidfd is not None and self.pidfd in ready) or (self.pidfd is None and self.exited()):
                self.drain()
                message = self.take_message()
                if message is not None:
                    return message
                raise ChildGone(self.gone_reply(f"during {what}"))

    def take_message(self) -> dict | None:
        if len(self.buffer) < HEADER.size:
            return None
        size = HEADER.unpack_from(self.buffer)[0]
        if size > MAX_REPLY_BYTES:
            self.stop()
            raise ChildGone(Reply(INVALID, message=f"the output exceeds {MAX_REPLY_BYTES >> 20} MiB"))
        if len(self.buffer) < HEADER.size + size:
            return None
        body, self.buffer = self.buffer[HEADER.size:HEADER.size + size], self.buffer[HEADER.size + size:]
        try:
            message = json.loads(body)
        except ValueError:
            self.stop()
            raise ChildGone(Reply(CRASHED, message="the child sent a malformed reply")) from None
        if not isinstance(message, dict):
            self.stop()
            raise ChildGone(Reply(CRASHED, message="the child sent a malformed reply"))
        return message

    def drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.rep_fd], [], [], 0)
            if not ready:
                return
            chunk = os.read(self.rep_fd, READ_CHUNK)
            if not chunk:
                return
            self.buffer += chunk

    def exited(self) -> bool:
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.reaped_status = status
        return bool(pid)

    def gone_reply(self, when: str) -> Reply:
        """Classify a child that stopped answering: read its exit status and release it."""
        status = getattr(self, "reaped_status", None)
        closed_channel = False
        if status is None:
            for _ in range(100):  # it normally is dead already; give it 0.1 s to be
                if self.exited():
                    status = self.reaped_status
                    break
                time.sleep(0.001)
            else:
                closed_channel = True
        self.reaped_status = None
        if closed_channel:
            self.stop()
            return Reply(CRASHED, message=f"the child closed its reply channel {when}; killed")
        self.release()
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig in (signal.SIGXCPU, signal.SIGKILL):
                return Reply(TIMEOUT, message=f"killed by {signal.Signals(sig).name} {when}: CPU-time limit of "
                                              f"{self.limits.cpu_seconds} s reached")
            return Reply(CRASHED, message=f"the child process died with {signal.Signals(sig).name} {when}")
        return Reply(CRASHED, message=f"the child process exited with code {os.WEXITSTATUS(status)} {when} "
                                      "without answering")

    def release(self) -> None:
        """Forget a child that has already been reaped (its orphans, if any, went to init)."""
        for fd in (self.req_fd, self.rep_fd, self.pidfd):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.pid, self.pidfd, self.req_fd, self.rep_fd = None, None, -1, -1
