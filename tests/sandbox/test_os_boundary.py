"""The OS boundary around a sandboxed child, proven with *unrestricted* code inside it (DESIGN.md §4).

Every probe runs through `sandbox_probe.run_plain`: plain Python with the real builtins and any module
the supervisor imported before confinement, as if the restricted compiler had been escaped, so what
holds here holds for every submission. Each attack class runs with the full boundary and, where one
layer is claimed to hold on its own, with the other layer switched off (`IsolationPolicy`):

* ``full``: namespaces, empty root, `nobody` without capabilities, no_new_privs, rlimits, seccomp;
* ``namespaces-alone``: the system-call filter off (the PID/network/mount namespaces and empty root hold);
* ``seccomp-alone``: the namespaces off (the filter holds);
* ``no-boundary`` (a control, never a claim): both off; the child is still `nobody` under rlimits. It
  shows that an attack would succeed without the boundary, so that the checks above can fail.

The expected errno says which layer refused: EPERM is the filter, ESRCH/ENOENT/ENETUNREACH the
namespaces (a pid or path that does not exist for the child). Tests run as root (as in CI): the child
becomes `nobody`, and the harness's own processes are root.
"""
from __future__ import annotations

import dataclasses
import errno
import glob
import gzip
import json
import os
import platform
import secrets
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import pytest

import sandbox_probe
from adrs_bench.instances import load_set
from adrs_bench.registry import get_task
from adrs_bench.sandbox import forkserver
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.sandbox.isolation import MAX_PROCESSES, NOBODY, IsolationPolicy
from adrs_bench.sandbox.reaper import descendants
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.spec import Limits
from adrs_bench.tasks.llm_routing import bridge as routing_bridge, evaluator as routing_evaluator
from adrs_bench.tasks.llm_routing.instance import Trace
from conftest import ROUND_ROBIN, make_case

REPO = Path(__file__).resolve().parents[2]
FULL = IsolationPolicy()
NAMESPACES_ALONE = IsolationPolicy(syscall_filter=False)
SECCOMP_ALONE = IsolationPolicy(namespaces=False)
NO_BOUNDARY = IsolationPolicy(namespaces=False, syscall_filter=False)  # controls only
LAYERS = {"full": FULL, "namespaces-alone": NAMESPACES_ALONE, "seccomp-alone": SECCOMP_ALONE}
LIMITS = Limits(instance_seconds=2.0, total_seconds=30.0, memory_mb=256, cpu_seconds=5)
PROBE_IMPORTS = ("os", "socket", "ctypes", "signal", "gc", "mmap", "resource", "fcntl", "io", "select",
                 "threading", "time", "errno")
X86_64 = platform.machine() == "x86_64"
SYS_CLONE = {"x86_64": 56, "aarch64": 220}[platform.machine()]
SYS_CLONE3 = 435
CLONE_PARENT, CLONE_NEWUSER, CLONE_NEWNS = 0x00008000, 0x10000000, 0x00020000
# i386 fork (eax=2) through int 0x80, from 64-bit code: the seccomp filter is per-architecture.
I386_FORK = b"\xb8\x02\x00\x00\x00\xcd\x80\xc3"  # mov eax, 2; int 0x80; ret
X32_FORK = 0x40000000 | 57  # fork in the x32 ABI's numbering
I386_GETPID = "import ctypes, mmap, os\n" \
    "code = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=7)\n" \
    "code.write(bytes.fromhex('b814000000cd80c3'))\n" \
    "print(ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))() == os.getpid())"


def i386_abi() -> bool:
    """Whether this kernel runs i386 system calls from 64-bit code (IA32 emulation; some kernels turn it
    off, and int 0x80 is then a plain SIGSEGV that no filter sees). Asked of a throwaway interpreter."""
    if not X86_64:
        return False
    done = subprocess.run([sys.executable, "-c", I386_GETPID], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() == "True"


I386 = i386_abi()

# Shared by every probe: `attempt(name, fn)` records ["ok", repr] or [exception type, errno].
PRELUDE = """
import ctypes, os
results = {}
def attempt(name, fn):
    try:
        value = fn()
    except OSError as exc:
        results[name] = ["OSError", exc.errno]
    except BaseException as exc:
        results[name] = [type(exc).__name__, None]
    else:
        results[name] = ["ok", repr(value)[:200]]
libc = ctypes.CDLL(None, use_errno=True)
def checked(result):
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result
def syscall(number, *args):
    return checked(libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args)))
def set_name(name):  # PR_SET_NAME: the harness finds the process by /proc/PID/comm
    libc.prctl(15, ctypes.c_char_p(name.encode()), 0, 0, 0)
"""


# ----------------------------------------------------------------------------- helpers

@pytest.fixture
def sandbox():
    """Make sessions running `sandbox_probe.run_plain`; every one is stopped at the end."""
    sessions: list[SandboxSession] = []

    def make(policy: IsolationPolicy = FULL, limits: Limits = LIMITS) -> SandboxSession:
        session = SandboxSession(code=compile("", "probe.py", "exec"), filename="probe.py",
                                 adapter="sandbox_probe:run_plain", allowed_imports=PROBE_IMPORTS, limits=limits,
                                 policy=policy)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.stop()


def payload(source: str, arg=None) -> dict:
    return {"source": PRELUDE + textwrap.dedent(source), "arg": arg}


def probe(session: SandboxSession, source: str, arg=None, timeout: float = 5.0):
    """Run a probe; it must answer (status ok); return its `result`."""
    reply = session.call(payload(source, arg), seed=1, timeout=timeout)
    assert reply.status == "ok", reply
    assert_layers(session)
    return reply.value


def assert_layers(session: SandboxSession) -> None:
    """The child got exactly the layers its policy asked for (so a test proves the layer it names)."""
    got, policy = session.isolation, session.policy
    assert got is not None
    assert got.user == "nobody" and got.capabilities == "none" and got.no_new_privs
    assert got.syscall_filter == policy.syscall_filter
    if policy.namespaces:
        assert {"pid", "network", "mount", "ipc", "uts"} <= set(got.namespaces) and got.empty_root
    else:
        assert got.namespaces == () and not got.empty_root


def start(session: SandboxSession) -> int:
    """Start the child (one empty call) and return its pid as the harness sees it."""
    reply = session.call(payload("result = os.getpid()"), seed=1, timeout=5.0)
    assert reply.status == "ok", reply
    assert_layers(session)
    assert session.pid is not None and alive(session.pid)
    return session.pid


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] not in "ZXx"


def running(pid: int) -> bool:
    """Alive and not stopped (SIGSTOP) or traced."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] not in "ZXxTt"


def parent_of(pid: int) -> int:
    fields = proc_stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[1])


def marked(marker: str) -> dict[int, str]:
    """Live processes whose name (comm) starts with `marker`, by pid as the harness sees it."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith(marker) and alive(int(name)):
            found[int(name)] = comm
    return found


def wait_until(condition, seconds: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def new_marker() -> str:
    return "osb" + secrets.token_hex(4)  # + a one-letter suffix: within comm's 15 characters


@pytest.fixture
def bystander():
    """A process outside the sandbox, running as `nobody` (the child's own user) in the harness's
    process group, as every sandboxed child and supervisor is: the weakest target there is."""
    proc = subprocess.Popen(["sleep", "30"], user=NOBODY, group=NOBODY, extra_groups=[],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: Path(f"/proc/{proc.pid}/comm").read_text().strip() == "sleep", 5.0)
    assert os.getpgid(proc.pid) == os.getpgrp() and os.stat(f"/proc/{proc.pid}").st_uid == NOBODY
    yield proc
    proc.kill()
    proc.wait()


def expect_errno(results: dict, expected: dict) -> None:
    """Every named attempt failed with an OSError whose errno is in `expected[name]` (or the default)."""
    default = expected.get("*")
    failures = {name: got for name, got in results.items()
                if got[0] != "OSError" or got[1] not in expected.get(name, default)}
    assert failures == {}, f"attempts that did not fail as expected: {failures}"


# ----------------------------------------------------------------------------- 1. signals

SIGNAL_EVERYONE = """
import signal
for name, pid in arg["targets"].items():
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        attempt(f"kill {name} {sig.name}", lambda pid=pid, sig=sig: os.kill(pid, sig))
    attempt(f"pidfd_open {name}", lambda pid=pid: os.pidfd_open(pid))
for sig in (signal.SIGSTOP, signal.SIGKILL):
    attempt(f"killpg harness group {sig.name}", lambda sig=sig: os.killpg(arg["group"], sig))
    attempt(f"kill -1 {sig.name}", lambda sig=sig: os.kill(-1, sig))
result = results
"""


@pytest.mark.parametrize("layer, refused", [("full", errno.EPERM), ("namespaces-alone", errno.ESRCH),
                                            ("seccomp-alone", errno.EPERM)])
def test_cannot_signal_the_harness_or_any_process_outside(sandbox, bystander, layer, refused):
    """kill/killpg/pidfd_open by the pids the harness passes in (the harness, the fork server, the
    child's own supervisor, a `nobody` bystander) and kill(-1): each refused, every target alive and
    not stopped. The filter refuses the calls (EPERM); without it the PID namespace has no such pids
    (ESRCH), and kill(-1) from the namespace's init reaches nobody."""
    session = sandbox(LAYERS[layer])
    child = start(session)
    targets = {"harness": os.getpid(), "fork server": forkserver.server().process.pid,
               "supervisor": parent_of(child), "bystander": bystander.pid}
    results = probe(session, SIGNAL_EVERYONE, {"targets": targets, "group": os.getpgrp()})
    assert len(results) == 3 * len(targets) + 4
    expect_errno(results, {"*": {refused}})
    for name, pid in targets.items():
        assert running(pid), f"the {name} ({pid}) was stopped or killed"


def test_control_a_bystander_can_be_killed_without_the_boundary(sandbox, bystander):
    """Control: with both layers off, the same `nobody` child kills the bystander by pid."""
    results = probe(sandbox(NO_BOUNDARY), "import signal\nattempt('kill', lambda: os.kill(arg, signal.SIGKILL))\n"
                                          "result = results", bystander.pid)
    assert results["kill"][0] == "ok"
    assert wait_until(lambda: bystander.poll() is not None, 2.0)


FRESH_HARNESS = r"""
import json, os, signal, subprocess, sys, time
from adrs_bench.sandbox.isolation import IsolationPolicy
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.spec import Limits
bystander = subprocess.Popen(["sleep", "30"], user=65534, group=65534, extra_groups=[])
deadline = time.monotonic() + 5
while time.monotonic() < deadline and open(f"/proc/{bystander.pid}/comm").read().strip() != "sleep":
    time.sleep(0.01)
same_group = os.getpgid(bystander.pid) == os.getpgrp()
session = SandboxSession(compile("", "probe.py", "exec"), "probe.py", "sandbox_probe:run_plain", ("os", "signal"),
                         Limits(instance_seconds=5, total_seconds=10, memory_mb=256, cpu_seconds=5),
                         IsolationPolicy(**json.loads(sys.argv[1])))
reply = session.call({"source": sys.argv[2], "arg": None}, seed=1, timeout=5.0)
time.sleep(0.2)
bystander_alive = bystander.poll() is None
session.stop()
bystander.kill()
print(json.dumps({"status": reply.status, "value": reply.value, "message": reply.message,
                  "bystander_alive": bystander_alive, "same_group": same_group}))
"""
OWN_GROUP = """
import os, signal
try:
    os.kill(0, signal.SIGKILL)
    result = "sent"
except OSError as exc:
    result = exc.errno
"""


@pytest.mark.parametrize("layer", [
    "full",
    "namespaces-alone",  # the child's own session: its group holds only itself
])
def test_cannot_signal_its_own_process_group(layer):
    """kill(0, SIGKILL): the child's process group must hold nothing outside its own namespace. Run in
    a fresh harness in a new session, so that a hole kills nothing of this test run."""
    policy = dataclasses.asdict(LAYERS[layer])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]))
    done = subprocess.run([sys.executable, "-c", FRESH_HARNESS, json.dumps(policy), OWN_GROUP], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=60, start_new_session=True)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["same_group"]  # the bystander shares the harness's process group, like every child
    assert outcome["bystander_alive"], f"kill(0, SIGKILL) from the child killed a bystander: {outcome}"
    assert outcome["status"] == "ok", outcome  # the child (and its supervisor) lived to answer
    if layer == "full":
        assert outcome["value"] == errno.EPERM, outcome  # the filter refuses kill()


SIGIO_ATTACK = """
import fcntl, signal
F_SETSIG = 10
read_end, write_end = os.pipe()
fcntl.fcntl(read_end, fcntl.F_SETOWN, arg)  # the owner gets a signal when the pipe becomes readable
fcntl.fcntl(read_end, F_SETSIG, signal.SIGKILL)  # ... and that signal is SIGKILL
fcntl.fcntl(read_end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
os.write(write_end, b"x")
result = "armed and fired"
"""


@pytest.mark.parametrize("layer", [
    "full", "namespaces-alone",
    "seccomp-alone",  # the filter refuses F_SETOWN, F_SETSIG, F_SETOWN_EX
])
def test_cannot_signal_through_sigio(sandbox, bystander, layer):
    """The kernel's own signal (F_SETOWN on a pipe) cannot be aimed at a process outside the child."""
    reply = sandbox(LAYERS[layer]).call(payload(SIGIO_ATTACK, bystander.pid), seed=1, timeout=5.0)
    time.sleep(0.05)
    assert running(bystander.pid), f"the bystander was killed through SIGIO: {reply}"
    assert reply.status == "error", reply  # F_SETOWN refused
    if LAYERS[layer].syscall_filter:
        assert "PermissionError" in reply.message, reply  # the filter refuses F_SETOWN
    else:
        assert "ProcessLookupError" in reply.message, reply  # no such pid in the child's namespace


RENICE = """
attempt("setpriority own process group", lambda: os.setpriority(os.PRIO_PGRP, 0, 19))
attempt("setpriority own user", lambda: os.setpriority(os.PRIO_USER, 0, 19))
for name, pid in arg.items():
    attempt("setpriority " + name, lambda pid=pid: os.setpriority(os.PRIO_PROCESS, pid, 19))
result = results
"""


def nice(pid: int) -> int:
    fields = proc_stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[16])


@pytest.mark.parametrize("layer", [
    "full",
    "namespaces-alone",  # the child's own session: PRIO_PGRP 0 is its own group
])
def test_cannot_deprioritise_other_processes(sandbox, bystander, layer):
    """setpriority on its own process group, its own user and pids the harness passes in (another
    session's child and supervisor, as a concurrent worker has, a bystander, the harness, the fork
    server): no process outside the child changes priority."""
    other = sandbox(FULL)
    other_child = start(other)
    targets = {"harness": os.getpid(), "fork server": forkserver.server().process.pid,
               "other child": other_child, "other supervisor": parent_of(other_child), "bystander": bystander.pid}
    before = {name: nice(pid) for name, pid in targets.items()}
    assert max(before.values()) < 19  # so that a change to 19 shows
    results = probe(sandbox(LAYERS[layer]), RENICE, targets)
    assert len(results) == 2 + len(targets)
    assert {name: nice(pid) for name, pid in targets.items()} == before, results


# ----------------------------------------------------------------------------- 2. ptrace, memory

TRACE_HARNESS = """
pid = arg["harness"]
PTRACE_ATTACH, PTRACE_SEIZE = 16, 0x4206
ptrace = libc.ptrace
ptrace.restype = ctypes.c_long
attempt("ptrace attach", lambda: checked(ptrace(ctypes.c_long(PTRACE_ATTACH), ctypes.c_long(pid), None, None)))
attempt("ptrace seize", lambda: checked(ptrace(ctypes.c_long(PTRACE_SEIZE), ctypes.c_long(pid), None, None)))
class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buffer = ctypes.create_string_buffer(64)
local, remote = IoVec(ctypes.addressof(buffer), 64), IoVec(arg["address"], 64)
readv = libc.process_vm_readv
readv.restype = ctypes.c_ssize_t
attempt("process_vm_readv", lambda: checked(readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)))
attempt("open /proc/PID/mem", lambda: open(f"/proc/{pid}/mem", "rb").read(1))
attempt("open /proc/PID/environ", lambda: open(f"/proc/{pid}/environ", "rb").read())
result = {"attempts": results, "proc exists": os.path.exists("/proc"), "buffer": buffer.raw.hex()}
"""


@pytest.mark.parametrize("layer, refused", [
    ("full", {"*": {errno.EPERM}, "open /proc/PID/mem": {errno.ENOENT}, "open /proc/PID/environ": {errno.ENOENT}}),
    ("namespaces-alone", {"*": {errno.ESRCH}, "open /proc/PID/mem": {errno.ENOENT},
                          "open /proc/PID/environ": {errno.ENOENT}}),
    ("seccomp-alone", {"*": {errno.EPERM}, "open /proc/PID/mem": {errno.EACCES},
                       "open /proc/PID/environ": {errno.EACCES}}),
])
def test_cannot_trace_or_read_the_harness(sandbox, layer, refused):
    """ptrace(ATTACH/SEIZE), process_vm_readv on a harness address holding a secret, /proc/<harness>/mem:
    the filter refuses the calls, the PID namespace has no such pid, and with namespaces there is no
    /proc at all (without them, /proc/<root process>/mem is refused to `nobody`)."""
    secret = ("osb-secret-" + secrets.token_hex(16)).encode()
    got = probe(sandbox(LAYERS[layer]), TRACE_HARNESS, {"harness": os.getpid(), "address": id(secret)})
    expect_errno(got["attempts"], refused)
    assert got["proc exists"] is (layer == "seccomp-alone")
    assert bytes.fromhex(got["buffer"]) == bytes(64)
    assert Path(f"/proc/{os.getpid()}/status").read_text().count("TracerPid:\t0") == 1


# ----------------------------------------------------------------------------- 3. processes

MAKE_PROCESSES = """
import signal, threading, time
marker = arg["marker"]
def linger(suffix):
    set_name(marker + suffix)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(0)
def fork():
    pid = os.fork()
    if pid == 0:
        linger("f")
    return pid
def clone():
    pid = syscall(arg["clone"], signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        linger("c")
    return pid
def vfork():
    return checked(libc.vfork())
def thread():
    worker = threading.Thread(target=time.sleep, args=(0.01,))
    worker.start()
    worker.join()
attempt("fork", fork)
attempt("clone", clone)
attempt("clone3", lambda: syscall(arg["clone3"], 0, 0))
attempt("vfork", vfork)
attempt("thread", thread)
result = results
"""


@pytest.mark.parametrize("layer", ["full", "seccomp-alone"])
def test_fork_and_threads_are_refused(sandbox, layer):
    """With the filter on, no process or thread can be made: fork/clone/vfork EPERM, clone3 ENOSYS
    (so that libc falls back to clone, refused), and a thread cannot start."""
    marker = new_marker()
    session = sandbox(LAYERS[layer])
    child = start(session)
    results = probe(session, MAKE_PROCESSES, {"marker": marker, "clone": SYS_CLONE, "clone3": SYS_CLONE3})
    thread = results.pop("thread")
    assert thread[0] == "RuntimeError"  # "can't start new thread"
    expect_errno(results, {"*": {errno.EPERM}, "clone3": {errno.ENOSYS}})
    assert marked(marker) == {} and descendants(child) == []


FOREIGN_ABI_FORK = """
import mmap
route = arg["route"]
if route == "x32":
    result = syscall(arg["x32"])
else:
    code = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(bytes.fromhex(arg["i386"]))
    result = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))()
    if result == 0:
        os._exit(0)
"""


@pytest.mark.skipif(not X86_64, reason="x86-64 only: the i386 and x32 system-call ABIs")
@pytest.mark.parametrize("route", [
    pytest.param("i386", marks=pytest.mark.skipif(not I386, reason="the kernel has no IA32 emulation")), "x32"])
@pytest.mark.parametrize("layer", ["full", "seccomp-alone"])
def test_fork_through_a_foreign_abi_kills_the_child(sandbox, layer, route):
    """fork through int 0x80 (i386) or the x32 numbering: the filter kills the child with SIGSYS
    rather than letting an architecture it does not judge through."""
    session = sandbox(LAYERS[layer])
    child = start(session)
    reply = session.call(payload(FOREIGN_ABI_FORK, {"route": route, "x32": X32_FORK, "i386": I386_FORK.hex()}),
                         seed=1, timeout=5.0)
    assert reply.status == "crashed" and "SIGSYS" in reply.message, reply
    assert descendants(child) == []


ESCAPE_THE_CASE = """
import mmap, select, signal, time
marker = arg["marker"]
def linger(suffix, ready):
    set_name(marker + suffix)
    os.write(ready, suffix.encode())
    deadline = time.monotonic() + 20  # bounded, for the machine's sake: an escapee dies in 20 s anyway
    while time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(0)
def i386_fork():
    code = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(bytes.fromhex(arg["i386"]))
    result = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))()
    if result < 0:
        raise OSError(-result, os.strerror(-result))
    return result
def retry(make):  # RLIMIT_NPROC is per user: another sandbox's processes may hold every slot a moment
    deadline = time.monotonic() + 5
    while True:
        try:
            return make()
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
ready_r, ready_w = os.pipe()
middle = retry(os.fork)
if middle == 0:
    try:
        if retry(os.fork) == 0:
            os.setsid()  # a new session: out of reach of the child's process group
            linger("s", ready_w)
        if retry(lambda: syscall(arg["clone"], arg["clone_parent"] | signal.SIGCHLD, 0, 0, 0, 0)) == 0:
            linger("p", ready_w)  # a sibling of `middle`: a direct child of the sandboxed child
        if arg["i386"] and retry(i386_fork) == 0:
            linger("i", ready_w)
    finally:
        os._exit(0)
os.waitpid(middle, 0)
got = b""
deadline = time.monotonic() + 5
while len(got) < arg["expect"] and time.monotonic() < deadline:
    if select.select([ready_r], [], [], 0.1)[0]:
        got += os.read(ready_r, 8)
signal.sigtimedwait({signal.SIGUSR1}, 10)  # the harness has looked at them; end the call
result = {"ready": sorted(got.decode()), "pid": os.getpid()}
"""


def test_no_process_outlives_its_case_with_the_filter_off(sandbox):
    """Without the filter, a grandchild that calls setsid, a process made by clone(CLONE_PARENT) and (on
    x86-64) one forked through the i386 ABI are alive during the call and dead right after it ends
    (the namespace's init kills what the call left) and after session.stop(); their supervisor too."""
    marker = new_marker()
    session = sandbox(NAMESPACES_ALONE)
    child = start(session)
    supervisor = parent_of(child)
    suffixes = {"s", "p"} | ({"i"} if I386 else set())
    arg = {"marker": marker, "clone": SYS_CLONE, "clone_parent": CLONE_PARENT, "expect": len(suffixes),
           "i386": I386_FORK.hex() if I386 else ""}
    assert session.post(payload(ESCAPE_THE_CASE, arg), seed=1, deadline=time.monotonic() + 15) is None
    try:
        assert wait_until(lambda: {c[-1] for c in marked(marker).values()} == suffixes, 5.0), marked(marker)
        found = {comm[-1]: pid for pid, comm in marked(marker).items()}
        assert set(found.values()) <= set(descendants(child))  # the harness sees them below the child
        assert proc_stat(found["s"])[3] == str(found["s"])  # setsid: it leads its own session
        assert parent_of(found["p"]) == child  # CLONE_PARENT: a child of the sandboxed child itself
    finally:
        os.kill(child, signal.SIGUSR1)
    reply = session.collect(time.monotonic() + 10)
    assert reply.status == "ok" and reply.value == {"ready": sorted(suffixes), "pid": 1}, reply
    assert wait_until(lambda: marked(marker) == {}, 2.0), f"still alive after the call: {marked(marker)}"
    assert wait_until(lambda: descendants(child) == [], 2.0)  # reaped, not merely killed
    assert alive(child)  # the child itself lives on, to serve the next case
    session.stop()
    assert marked(marker) == {} and not alive(child)
    assert wait_until(lambda: not alive(supervisor), 2.0)


FORK_BOMB = """
import time
set_name(arg)
# Five generations of fork: 32 processes, each forking again as soon as it exists. Bounded (for the
# machine, and so that concurrent runs do not share out RLIMIT_NPROC, which is per user): every copy
# sleeps 20 s and exits.
stop = time.monotonic() + 3.0
for generation in range(5):
    while time.monotonic() < stop:
        try:
            os.fork()
            break
        except BlockingIOError:
            time.sleep(0.01)
time.sleep(20)
os._exit(0)
"""


def test_fork_bomb_with_the_filter_off_is_killed_whole(sandbox):
    """A (bounded) fork bomb is killed at the wall-clock deadline, all 32 copies with it."""
    marker = new_marker()
    session = sandbox(NAMESPACES_ALONE)
    child = start(session)
    started = time.monotonic()
    assert session.post(payload(FORK_BOMB, marker), seed=1, deadline=started + 2.0) is None
    assert wait_until(lambda: len(marked(marker)) == 32, 1.8), len(marked(marker))  # it really forks
    reply = session.collect(started + 2.0)
    assert reply.status == "timeout" and "wall-clock" in reply.message, reply
    assert time.monotonic() - started < 5.0
    assert wait_until(lambda: marked(marker) == {}, 2.0), f"{len(marked(marker))} copies outlived the case"
    assert not alive(child)


# ----------------------------------------------------------------------------- 4. network

CONNECT = """
import socket
def tcp():  # not create_connection: its getaddrinfo needs the idna codec, which the child cannot import
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(("127.0.0.1", arg["tcp"]))
        return "connected"
def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return s.sendto(b"osb", ("127.0.0.1", arg["udp"]))
def unix():
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect("\\0" + arg["unix"])
        return "connected"
attempt("tcp 127.0.0.1", tcp)
attempt("udp 127.0.0.1", udp)
attempt("abstract unix socket", unix)
attempt("socketpair", lambda: socket.socketpair())
result = results
"""


@pytest.fixture
def listeners():
    """A TCP listener and a UDP socket on 127.0.0.1 and an abstract unix socket, in the harness."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    name = "osb-" + secrets.token_hex(8)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind("\0" + name)
    unix.listen()
    yield {"tcp": tcp.getsockname()[1], "udp": udp.getsockname()[1], "unix": name}, (tcp, udp, unix)
    for s in (tcp, udp, unix):
        s.close()


@pytest.mark.parametrize("layer, refused", [
    ("full", {"*": {errno.EPERM}}),
    ("namespaces-alone", {"*": {errno.ENETUNREACH}, "abstract unix socket": {errno.ECONNREFUSED}}),
    ("seccomp-alone", {"*": {errno.EPERM}}),
])
def test_cannot_reach_the_network(sandbox, listeners, layer, refused):
    """TCP and UDP to a harness listener on 127.0.0.1 and an abstract unix socket: the filter refuses
    socket() itself; the network namespace alone has only a loopback that is down (ENETUNREACH) and its
    own abstract socket names (ECONNREFUSED). The harness's sockets receive nothing."""
    ports, sockets = listeners
    results = probe(sandbox(LAYERS[layer]), CONNECT, ports)
    if layer == "namespaces-alone":
        assert results.pop("socketpair")[0] == "ok"  # a private pair is harmless; the filter refuses it
    expect_errno(results, refused)
    assert select.select(list(sockets), [], [], 0.05)[0] == []


def test_control_the_network_is_reachable_without_the_boundary(sandbox, listeners):
    """Control: with both layers off, the same probe reaches all three harness sockets."""
    ports, (tcp, udp, unix) = listeners
    results = probe(sandbox(NO_BOUNDARY), CONNECT, ports)
    assert [results[k][0] for k in ("tcp 127.0.0.1", "udp 127.0.0.1", "abstract unix socket")] == ["ok"] * 3
    assert set(select.select([tcp, udp, unix], [], [], 1.0)[0]) == {tcp, udp, unix}


# ----------------------------------------------------------------------------- 5. writing files

WRITE_FILES = """
import io, mmap
d, existing = arg["dir"], arg["existing"]
def new(name):
    return d + "/" + name
flags = {"O_WRONLY": os.O_WRONLY, "O_RDWR": os.O_RDWR, "O_WRONLY|O_APPEND": os.O_WRONLY | os.O_APPEND,
         "O_RDONLY|O_TRUNC": os.O_RDONLY | os.O_TRUNC, "O_RDONLY|O_APPEND": os.O_RDONLY | os.O_APPEND}
for name, flag in flags.items():
    attempt("open existing " + name, lambda flag=flag: os.write(os.open(existing, flag), b"X"))
attempt("open new O_WRONLY|O_CREAT", lambda: os.open(new("created"), os.O_WRONLY | os.O_CREAT, 0o666))
attempt("open new O_RDONLY|O_CREAT", lambda: os.open(new("created"), os.O_RDONLY | os.O_CREAT, 0o666))
attempt("open new O_CREAT|O_EXCL", lambda: os.open(new("created"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666))
attempt("open O_TMPFILE", lambda: os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o666))
attempt("open root O_CREAT", lambda: os.open(arg["root_file"], os.O_WRONLY | os.O_CREAT, 0o666))
attempt("io.open new w", lambda: io.open(new("io-created"), "w").write("X"))
attempt("io.open existing a", lambda: io.open(existing, "a").write("X"))
attempt("io.open existing r+", lambda: io.open(existing, "r+").write("X"))
def map_read_write():
    fd = os.open(existing, os.O_RDWR)
    view = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    view[0:1] = b"X"
def map_read_only_fd_for_write():
    fd = os.open(existing, os.O_RDONLY)
    view = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    view[0:1] = b"X"
def map_then_mprotect():
    fd = os.open(existing, os.O_RDONLY)
    address = libc.mmap(None, ctypes.c_size_t(4096), 1, 1, fd, ctypes.c_long(0))  # PROT_READ, MAP_SHARED
    checked(libc.mprotect(ctypes.c_void_p(address), ctypes.c_size_t(4096), 3))  # + PROT_WRITE
    ctypes.memmove(address, b"X", 1)
libc.mmap.restype = ctypes.c_void_p
attempt("mmap shared writable (fd O_RDWR)", map_read_write)
attempt("mmap shared writable (fd O_RDONLY)", map_read_only_fd_for_write)
attempt("mmap shared read-only, mprotect writable", map_then_mprotect)
attempt("truncate", lambda: os.truncate(existing, 0))
attempt("unlink", lambda: os.unlink(existing))
attempt("rename", lambda: os.rename(existing, new("renamed")))
attempt("link", lambda: os.link(existing, new("hardlink")))
attempt("symlink", lambda: os.symlink(existing, new("symlink")))
attempt("mkdir", lambda: os.mkdir(new("subdir")))
attempt("mkdir in root", lambda: os.mkdir(arg["root_file"] + ".d"))
attempt("mkfifo", lambda: os.mkfifo(new("fifo")))
attempt("chmod", lambda: os.chmod(existing, 0o777))
attempt("utime", lambda: os.utime(existing, (0, 0)))
result = results
"""


@pytest.fixture
def world_dir():
    """A fresh directory that `nobody` can reach (pytest's tmp_path is in a directory only root can)."""
    path = Path(tempfile.mkdtemp(prefix="osb-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def writable_dir(world_dir):
    """A world-writable directory holding a world-writable file: only the boundary can refuse."""
    directory = world_dir / "open"
    directory.mkdir()
    directory.chmod(0o777)
    existing = directory / "existing.txt"
    existing.write_bytes(b"original contents\n")
    existing.chmod(0o666)
    return directory, existing


def snapshot(directory: Path) -> dict:
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
            for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("layer, refused", [
    # the filter judges the open flags first; opening read-only then finds no such file in the empty root
    ("full", {"*": {errno.EPERM}, "mmap shared writable (fd O_RDONLY)": {errno.ENOENT},
              "mmap shared read-only, mprotect writable": {errno.ENOENT}}),
    # the empty, read-only root alone: the path does not exist (or the root is read-only)
    ("namespaces-alone", {"*": {errno.ENOENT}, "open root O_CREAT": {errno.EROFS},
                          "mkdir in root": {errno.EROFS}}),
    # the filter alone: the real file is there, the calls are refused (mprotect: by the kernel, the fd
    # being read-only)
    ("seccomp-alone", {"*": {errno.EPERM}, "mmap shared read-only, mprotect writable": {errno.EACCES}}),
])
def test_cannot_write_create_or_map_a_file_for_writing(sandbox, writable_dir, layer, refused):
    """A world-writable file in a world-writable directory: opening it for writing (every write flag,
    io.open), creating files (O_CREAT, O_TMPFILE, mkdir, mkfifo, link, symlink, in the directory and at
    the root), mapping it shared and writable (directly, or read-only then mprotect), truncating,
    renaming, unlinking, chmod, utime: all refused; the directory is unchanged, byte for byte."""
    directory, existing = writable_dir
    before = snapshot(directory)
    root_file = f"/osb-{secrets.token_hex(8)}"
    results = probe(sandbox(LAYERS[layer]), WRITE_FILES,
                    {"dir": str(directory), "existing": str(existing), "root_file": root_file})
    assert len(results) == 26
    expect_errno(results, refused)
    assert snapshot(directory) == before
    assert not os.path.exists(root_file) and not os.path.exists(root_file + ".d")


def test_control_the_directory_is_writable_without_the_boundary(sandbox, writable_dir):
    """Control: the `nobody` child creates a file there when both layers are off (RLIMIT_FSIZE=0 still
    refuses data: File too large)."""
    directory, _ = writable_dir
    results = probe(sandbox(NO_BOUNDARY), "attempt('create', lambda: os.open(arg + '/created', os.O_WRONLY | "
                                          "os.O_CREAT, 0o666))\nresult = results", str(directory))
    assert results["create"][0] == "ok" and (directory / "created").exists()


# ----------------------------------------------------------------------------- 6. reading files

READ_FILES = """
def read(path):
    with open(path, "rb") as f:
        return len(f.read())
for path in arg["files"]:
    attempt(path, lambda path=path: read(path))
for path in arg["dirs"]:
    attempt(path, lambda path=path: os.listdir(path))
result = {"attempts": results, "root": os.listdir("/"), "cwd": os.getcwd()}
"""


def secret_paths(world_dir: Path) -> tuple[list[str], list[str]]:
    """Files and directories the child must not read: system secrets, the repository's instance sets
    and results, and a world-readable file of this test's."""
    mine = world_dir / "mine.txt"
    mine.write_text("osb readable by anyone\n")
    mine.chmod(0o644)
    instances = sorted(glob.glob(str(REPO / "tasks" / "*" / "instances" / "*")))
    results = sorted(glob.glob(str(REPO / "leaderboard" / "results" / "*.json")))  # where a run wrote some
    assert len(instances) >= 10
    files = ["/etc/shadow", "/etc/passwd", "/proc/self/status", "/proc/1/environ", str(mine)] + instances + results
    dirs = ["/root", "/etc", "/tmp", str(REPO), str(REPO / "tasks"), str(world_dir)]
    return files, dirs


@pytest.mark.parametrize("layer", ["full", "namespaces-alone"])
def test_cannot_read_files(sandbox, world_dir, layer):
    """With the namespaces (the filter on or off) the root is empty: nothing exists to read."""
    files, dirs = secret_paths(world_dir)
    got = probe(sandbox(LAYERS[layer]), READ_FILES, {"files": files, "dirs": dirs})
    assert len(got["attempts"]) == len(files) + len(dirs)
    expect_errno(got["attempts"], {"*": {errno.ENOENT}})
    assert got["root"] == [] and got["cwd"] == "/"


def world_readable(path: str) -> bool:
    """By mode bits: every directory above it searchable by others, and it readable (and, for a
    directory, searchable) by others."""
    target = Path(path)
    if not target.exists():
        return False
    for parent in target.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    mode = target.stat().st_mode
    return bool(mode & stat.S_IROTH) and (not target.is_dir() or bool(mode & stat.S_IXOTH))


def test_control_those_files_are_readable_without_the_boundary(sandbox, world_dir):
    """Control: as `nobody` without the boundary, the same child reads exactly what the mode bits let
    others read (here the instance sets, the results, /etc/passwd and this test's file): the filter
    alone does not restrict reading; the namespaces do."""
    files, dirs = secret_paths(world_dir)
    got = probe(sandbox(NO_BOUNDARY), READ_FILES, {"files": files, "dirs": dirs})
    readable = {path for path, outcome in got["attempts"].items() if outcome[0] == "ok"}
    on_disk = [p for p in files + dirs if not p.startswith("/proc/")]
    assert {p for p in readable if not p.startswith("/proc/")} == {p for p in on_disk if world_readable(p)}
    assert {"/etc/passwd", files[4]} <= readable
    assert got["attempts"]["/etc/shadow"] == ["OSError", errno.EACCES]
    assert got["attempts"]["/proc/1/environ"] == ["OSError", errno.EACCES]


# ----------------------------------------------------------------------------- 7. limits, privileges

RAISE_PRIVILEGES = """
import resource
class RLimit(ctypes.Structure):
    _fields_ = [("soft", ctypes.c_uint64), ("hard", ctypes.c_uint64)]
class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
NAMES = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CORE")
before = {name: resource.getrlimit(getattr(resource, name)) for name in NAMES}
unlimited = RLimit(resource.RLIM_INFINITY, resource.RLIM_INFINITY)
for name in NAMES:
    which = getattr(resource, name)
    attempt("setrlimit " + name,
            lambda which=which: resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)))
    attempt("prlimit " + name, lambda which=which: checked(libc.prlimit(0, which, ctypes.byref(unlimited), None)))
attempt("setuid 0", lambda: os.setuid(0))
attempt("setgid 0", lambda: os.setgid(0))
attempt("setresuid 0", lambda: os.setresuid(0, 0, 0))
attempt("setgroups 0", lambda: os.setgroups([0]))
everything = (CapData * 2)(CapData(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), CapData(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
attempt("capset all", lambda: checked(libc.capset(ctypes.byref(CapHeader(0x20080522, 0)), everything)))
attempt("unshare user namespace", lambda: checked(libc.unshare(arg["newuser"])))
attempt("unshare mount namespace", lambda: checked(libc.unshare(arg["newns"])))
attempt("chroot", lambda: os.chroot("/"))
caps = (CapData * 2)()
checked(libc.capget(ctypes.byref(CapHeader(0x20080522, 0)), caps))
result = {"attempts": results, "before": before,
          "after": {name: resource.getrlimit(getattr(resource, name)) for name in NAMES},
          "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
          "capabilities": [caps[0].effective, caps[1].effective, caps[0].permitted, caps[1].permitted],
          "no_new_privs": libc.prctl(39, 0, 0, 0, 0), "seccomp_mode": libc.prctl(21, 0, 0, 0, 0),
          "proc_status_readable": os.access("/proc/self/status", os.R_OK)}
"""


@pytest.mark.parametrize("layer", ["full", "namespaces-alone", "seccomp-alone"])
def test_cannot_raise_limits_or_regain_privileges(sandbox, layer):
    """Raising any limit (setrlimit, prlimit), setuid/setgid/setresuid/setgroups to 0, capset, unshare
    (user or mount namespace) and chroot all fail; the child stays `nobody` with no capability, under
    no_new_privs, its limits as set. The filter refuses with EPERM; without it the kernel does (no
    capability; unshare(CLONE_NEWUSER) from a chrooted process)."""
    policy = LAYERS[layer]
    got = probe(sandbox(policy), RAISE_PRIVILEGES, {"newuser": CLONE_NEWUSER, "newns": CLONE_NEWNS})
    attempts = got["attempts"]
    setrlimit = {name: attempts.pop(name) for name in list(attempts) if name.startswith("setrlimit ")}
    assert set(map(tuple, setrlimit.values())) == {("ValueError", None)}  # CPython's word for EPERM here
    assert len(setrlimit) == 6 and len(attempts) == 14
    expect_errno(attempts, {"*": {errno.EPERM}})
    assert got["after"] == got["before"]
    assert got["after"]["RLIMIT_CPU"] == [LIMITS.cpu_seconds] * 2
    assert got["after"]["RLIMIT_FSIZE"] == [0, 0] and got["after"]["RLIMIT_CORE"] == [0, 0]
    assert got["after"]["RLIMIT_NPROC"] == [MAX_PROCESSES] * 2
    assert got["ids"] == [[NOBODY] * 3, [NOBODY] * 3, []]
    assert got["capabilities"] == [0, 0, 0, 0]
    assert got["no_new_privs"] == 1
    assert got["seccomp_mode"] == (2 if policy.syscall_filter else 0)  # SECCOMP_MODE_FILTER or none
    assert got["proc_status_readable"] is (not policy.namespaces)


# ----------------------------------------------------------------------------- 8. nothing hidden

def marked_cases(count: int) -> list:
    """Small prism cases whose ids, model names and reference (method and exact optimum) carry
    per-case random markers: osbI (id), osbM (model names, sent to the child), osbR (reference)."""
    cases = []
    for k in range(count):
        token = secrets.token_hex(16)
        rows = [(f"osbM{token}" if i == 0 else f"m{k}_{i}", 10 + 3 * i + k, 1 + (i * 3 + k) % 7, 5 + (i + k) % 4)
                for i in range(4)]
        case = make_case(f"osbI{secrets.token_hex(16)}", 2, rows)
        while True:  # an exact optimum that no other number in the process will spell by chance
            value = Fraction(secrets.randbelow(10 ** 31) + 10 ** 31, secrets.randbelow(10 ** 30) + 10 ** 30)
            if min(len(str(value.numerator)), len(str(value.denominator))) >= 28:
                break
        reference = dataclasses.replace(case.reference, value=value, method=f"osbR{secrets.token_hex(16)}")
        cases.append(dataclasses.replace(case, reference=reference))
    return cases


def secrets_of(case) -> list[str]:
    ref = case.reference
    return [case.id, ref.method, str(ref.value), str(ref.value.numerator), str(ref.value.denominator)]


def model_marker(case) -> str:
    return case.models[0].model_name


def memory_regions(pid: int, containing: int | None = None) -> list[tuple[int, bytes]]:
    """Every readable mapping of `pid` (or only the one holding the address `containing`) with its
    start address, read by the harness (root) through /proc/PID/mem."""
    chunks = []
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if "r" not in perms:
                continue
            begin, end = (int(x, 16) for x in span.split("-"))
            if containing is not None and not begin <= containing < end:
                continue
            try:
                mem.seek(begin)
                chunks.append((begin, mem.read(end - begin)))
            except (OSError, OverflowError, ValueError):
                continue  # [vvar], [vsyscall]: not readable this way
    return chunks


def child_memory(pid: int) -> bytes:
    """Every readable mapping of `pid`, read by the harness (root) through /proc/PID/mem."""
    return b"\0".join(data for _, data in memory_regions(pid))


def test_the_child_holds_only_its_own_case(task, checked):
    """The harness holds four prism cases (ids, model names, references with unique markers) and sends
    one case's payload. In the child, after the task's own adapter has run, no object reachable from
    the garbage collector mentions another case, any case id, or any reference (method, exact optimum);
    the sent case's model marker is there (the scan works). The harness then reads the child's whole
    memory through /proc: the same holds for the raw bytes."""
    assert task.plugin.child_adapter is sandbox_probe.prism_adapter  # the probe runs the task's adapter
    cases = marked_cases(4)
    payloads = [task.plugin.payload(case) for case in cases]  # the harness has all of them in hand
    sent = 2
    control = {"text": f"{secrets.randbelow(10 ** 30) + 10 ** 30}/{secrets.randbelow(10 ** 30) + 10 ** 30}",
               "number": secrets.randbelow(2 ** 120) + 2 ** 120}
    submission = checked(ROUND_ROBIN)
    with SandboxSession(submission.code, str(submission.path), "sandbox_probe:prism_then_scan",
                        task.spec.allowed_imports, LIMITS) as session:
        reply = session.call({"case": payloads[sent], "control": control}, seed=1, timeout=20.0)
        assert reply.status == "ok", reply
        assert session.isolation.missing == ()
        value = reply.value
        assert value["placement"]["kind"] == "placement"
        scan = value["scan"]
        assert scan["complete"] and scan["objects"] > 10_000
        # positive controls: what the child was sent is found, by each kind of scan
        assert model_marker(cases[sent]) in scan["markers"]
        assert control["text"].split("/")[0] in scan["digit_runs"] and str(control["number"]) in scan["big_ints"]
        others = [model_marker(c) for i, c in enumerate(cases) if i != sent]
        hidden = others + [s for case in cases for s in secrets_of(case)]
        seen = set(scan["markers"]) | set(scan["digit_runs"]) | set(scan["big_ints"])
        assert [s for s in hidden if any(s in x for x in seen)] == []
        assert set(scan["markers"]) == {model_marker(cases[sent])}

        memory = child_memory(session.pid)
        assert len(memory) > 10 * 2 ** 20
        assert model_marker(cases[sent]).encode() in memory  # positive control
        assert [s for s in hidden if s.encode() in memory] == []


# The LLQ baseline (tasks/llm_routing/example.py) with two positive controls for the memory scan: a
# class attribute holding a random marker (in the code the child is sent), and a string the router
# builds at run time from the prompt lengths of requests 0..23 as it sees them.
MARKED_LLQ = """
class Router:
    MARKER = "{marker}"

    def __init__(self):
        self.prompts = {{}}
        self.trail = None

    def schedule(self):
        for request in self.request_queue:
            if request.id < 24 and request.id not in self.prompts:
                self.prompts[request.id] = str(request.prompt_tokens)
        if self.trail is None and len(self.prompts) == 24:
            self.trail = self.MARKER + ":" + ",".join([self.prompts[i] for i in range(24)])
        if not self.request_queue or not self.replica_schedulers:
            return []
        loads = [[replica.num_requests, replica_id] for replica_id, replica in sorted(self.replica_schedulers.items())]
        pairs = []
        for request in self.request_queue:
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += 1
        return pairs
"""
ROUTED_REQUESTS = 300  # of dev seed 1: a few seconds through the sandboxed router


def csv_window(csv_text: bytes, trace: Trace, start: int, count: int = 4) -> bytes:
    """Lines start..start+count-1 of `trace` exactly as the decompressed instance file holds them
    (seed, duration, arrival, prompt, decode), found in the parent's copy of that text."""
    lines = [f"{trace.seed},{trace.duration!r},{trace.arrival_times[i]:.6f},{trace.prompt_tokens[i]},"
             f"{trace.decode_tokens[i]}\n" for i in range(start, start + count)]
    window = "".join(lines).encode("ascii")
    assert window in csv_text
    return window


def test_a_routing_child_holds_no_decode_length(write_submission):
    """The harness loads llm_routing's dev set (every trace, decode lengths included) and keeps its
    decompressed CSV text alive; then the LLQ router routes the first 300 requests of dev seed 1 through
    the real path (bridge.simulate_sandboxed, the task's child adapter and mirror). With the child still
    alive, the harness reads its whole memory through /proc/PID/mem. The child was forked from the clean
    fork server and shown only arrivals with their prompt lengths, so none of these is there:
    (a) runs of 4 CSV lines (decode lengths included) of the other dev traces; (b) runs of 4 CSV lines
    of the routed requests themselves, and the routed (and every other) trace's first 24 decode lengths
    comma-joined. Positive controls: the router's marker (sent code) and the string it built at run time
    from the prompt lengths of requests 0..23, which are found in the child; and each CSV run is found
    in the harness's own memory, inside the parent's copy of the CSV text. (With the fork server made
    a fork of the harness instead, every CSV run is found in the child and this test fails.)"""
    routing = get_task("llm_routing")
    spec = routing.spec
    dev = load_set(routing, "dev")  # the parent holds every trace ...
    csv_text = gzip.decompress(spec.path(spec.sets["dev"].file).read_bytes())  # ... and the file's text
    traces = {trace.seed: trace for trace in dev.cases}
    assert sorted(traces) == [1, 2, 3, 4, 5] and all(len(t) > 7000 for t in traces.values())
    full = traces[1]
    routed = Trace(full.seed, full.duration, full.arrival_times[:ROUTED_REQUESTS],
                   full.prompt_tokens[:ROUTED_REQUESTS], full.decode_tokens[:ROUTED_REQUESTS])

    marker = "osbL" + secrets.token_hex(16)
    submission = check_submission(write_submission(MARKED_LLQ.format(marker=marker), "marked_llq.py"), spec)
    limits = dataclasses.replace(spec.limits, instance_seconds=60.0, total_seconds=120.0)
    with SandboxSession(submission.code, str(submission.path), routing.plugin.child_adapter, spec.allowed_imports,
                        limits) as session:
        run = routing_bridge.simulate_sandboxed(session, routed, routing_evaluator.CLUSTER, seed=1,
                                                call_seconds=5.0, seed_budget=60.0)
        assert run.status == "ok", run.message
        assert len(run.result.records) == ROUTED_REQUESTS and run.stats.calls > ROUTED_REQUESTS
        assert session.isolation.missing == ()
        assert session.pid is not None and alive(session.pid)  # scanned alive, mid-session

        # The search strings are made only now, after the child was forked: a child forked from the
        # harness (a broken sandbox) would then hold the CSV text and the traces, not these strings.
        other_lines = [csv_window(csv_text, traces[seed], start) for seed in (2, 3, 4, 5)
                       for start in (0, 100, 5000)]
        own_lines = [csv_window(csv_text, full, start) for start in (0, 20, 150, ROUTED_REQUESTS - 4)]
        decode_runs = [",".join(map(str, t.decode_tokens[:24])).encode() for t in dev.cases]
        hidden = other_lines + own_lines + decode_runs
        trail = (marker + ":" + ",".join(map(str, routed.prompt_tokens[:24]))).encode()
        memory = child_memory(session.pid)
        assert len(memory) > 10 * 2 ** 20
        assert marker.encode() in memory and trail in memory  # positive controls: the scan sees the child
        assert [s for s in hidden if s in memory] == []

    # Second positive control: the same runs are in the harness's memory, inside its copy of the CSV
    # text (where a child forked from the harness would have them), not only in the search strings.
    text_start = id(csv_text) + sys.getsizeof(b"") - 1  # CPython: a bytes object's data follows its header
    for window in other_lines + own_lines:
        address = text_start + csv_text.index(window)
        [(begin, region)] = memory_regions(os.getpid(), containing=address)
        assert region[address - begin:address - begin + len(window)] == window
    assert len(dev.cases) == 5  # the set stayed loaded until here


def test_the_child_holds_no_descriptor_but_its_pipes(sandbox):
    """The child's descriptors: /dev/null on 0-2 and its two pipes; no socket (the fork server's),
    file or directory."""
    got = probe(sandbox(FULL), """
        import stat
        kinds = {}
        for fd in range(1024):
            try:
                mode = os.fstat(fd).st_mode
            except OSError:
                continue
            kinds[fd] = ("fifo" if stat.S_ISFIFO(mode) else "char" if stat.S_ISCHR(mode) else
                         "socket" if stat.S_ISSOCK(mode) else "file" if stat.S_ISREG(mode) else
                         "dir" if stat.S_ISDIR(mode) else oct(mode))
        result = sorted(kinds.items())
    """)
    kinds = dict(got)
    assert [kinds.pop(fd) for fd in (0, 1, 2)] == ["char"] * 3
    assert sorted(kinds.values()) == ["fifo", "fifo"]


# ----------------------------------------------------------------------------- 9. bad input, end to end

BAD = [
    ("cpu", "while True:\n    pass\n", {"cpu_seconds": 1}, 10.0, "timeout", "CPU-time limit"),
    ("wall-clock", "import time\ntime.sleep(5)\n", {}, 0.5, "timeout", "wall-clock"),
    ("memory", "hog = bytearray(512 * 2 ** 20)\n", {"memory_mb": 128}, 5.0, "memory", "memory"),
    ("exit", "os._exit(3)\n", {}, 5.0, "crashed", "exited with code 3"),
    ("segfault", "ctypes.string_at(0)\n", {}, 5.0, "crashed", "SIGSEGV"),
    ("raise", "raise ValueError('bad\\ninput ' * 100)\n", {}, 5.0, "error", "ValueError: bad"),
    ("nan", "result = float('nan')\n", {}, 5.0, "error", "could not be serialised"),
    ("object", "result = object()\n", {}, 5.0, "error", "not JSON serializable"),
    ("noise on stdout", "os.write(1, b'\\x00\\x00\\x00\\x05junk!')\nos.write(2, b'NOISE')\nresult = 'fine'\n",
     {}, 5.0, "ok", ""),
]


@pytest.mark.parametrize("name, source, limits, timeout, status, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_status_and_a_one_line_message(sandbox, capfd, name, source, limits, timeout,
                                                         status, words):
    """Unrestricted bad code, full boundary: the call gets its status with a one-line message naming the
    cause; nothing reaches the harness's output; the next call gets a working child."""
    session = sandbox(FULL, dataclasses.replace(LIMITS, **limits))
    start(session)
    started = time.monotonic()
    reply = session.call(payload(source), seed=1, timeout=timeout)
    assert reply.status == status and words in reply.message, reply
    assert "\n" not in reply.message and len(reply.message) <= 300
    assert time.monotonic() - started < timeout + 3.0
    if status == "ok":
        assert reply.value == "fine"
    out, err = capfd.readouterr()
    assert "junk" not in out and "NOISE" not in err
    again = session.call(payload("result = 'alive'"), seed=1, timeout=5.0)
    assert again.status == "ok" and again.value == "alive"
