"""The OS boundary around a sandboxed child, proven with *unrestricted* code inside it (DESIGN.md §4).

The sessions here run plain `compile()`d Python or `sandbox_probe.run_plain` (real builtins, any
preimported module), as if the restricted compiler had been escaped: whatever holds here holds for
every submission. Layers are switched off one at a time (IsolationPolicy) to prove each on its own.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from adrs_bench.sandbox.isolation import IsolationPolicy
from adrs_bench.sandbox.reaper import descendants
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.spec import Limits

from test_bad_submissions import alive, live_in_session

NO_FILTER = IsolationPolicy(syscall_filter=False)  # the PID namespace alone must end every process
BYPASS_LIMITS = Limits(instance_seconds=1.0, total_seconds=10.0, memory_mb=256, cpu_seconds=5)


@pytest.fixture
def bypass():
    sessions = []

    def make(source: str, imports=("os", "time", "sys"), policy=IsolationPolicy()) -> SandboxSession:
        session = SandboxSession(code=compile(textwrap.dedent(source), "x.py", "exec"), filename="x.py",
                                 adapter="sandbox_probe:call_f", allowed_imports=imports,
                                 limits=BYPASS_LIMITS, policy=policy)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.stop()


def test_bypass_normal_call(bypass):
    session = bypass("def f(payload):\n    return {'twice': payload * 2}\n")
    reply = session.call(21, seed=1, timeout=1.0)
    assert reply.status == "ok" and reply.value == {"twice": 42}


def test_os_exit_is_crashed(bypass):
    session = bypass("import os\ndef f(payload):\n    if payload == 'die':\n        os._exit(3)\n    return 'alive'\n")
    reply = session.call("die", seed=1, timeout=1.0)
    assert reply.status == "crashed"
    assert "exited with code 3" in reply.message
    # the next call gets a fresh child
    again = session.call("live", seed=1, timeout=1.0)
    assert again.status == "ok" and again.value == "alive"


def test_segfault_is_crashed(bypass):
    session = bypass("import ctypes\ndef f(payload):\n    ctypes.string_at(0)\n", imports=("ctypes",))
    reply = session.call(1, seed=1, timeout=1.0)
    assert reply.status == "crashed"
    assert "SIGSEGV" in reply.message


def test_writes_to_stdout_do_not_corrupt_the_channel(bypass, capfd):
    session = bypass("import os\ndef f(payload):\n    os.write(1, b'\\x00\\x00\\x00\\x05junk!')\n"
                     "    os.write(2, b'NOISE')\n    return 'fine'\n")
    reply = session.call(1, seed=1, timeout=1.0)
    assert reply.status == "ok" and reply.value == "fine"
    out, err = capfd.readouterr()
    assert "junk" not in out and "NOISE" not in err


def test_fork_bomb_is_killed(bypass):
    # Bounded for the sake of the machine: it stops forking after 3 s and every copy exits after
    # 20 s whatever happens. The harness must kill it at the 1 s deadline.
    session = bypass("""
        import os, time
        def f(payload):
            if payload == 'ping':
                return os.getpid()
            stop = time.monotonic() + 3.0
            while time.monotonic() < stop:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.01)
            time.sleep(20)
            os._exit(0)
    """, policy=NO_FILTER)
    before = set(descendants(os.getpid()))
    child = session.call("ping", seed=1, timeout=1.0).value
    assert isinstance(child, int) and alive(child)
    started = time.monotonic()
    reply = session.call("bomb", seed=1, timeout=1.0)
    elapsed = time.monotonic() - started
    session.stop()
    assert reply.status == "timeout"
    assert "wall-clock limit" in reply.message
    assert elapsed < 8.0
    assert set(descendants(os.getpid())) - before == set()
    # SIGKILLed processes may take a moment to die; one that escaped would sleep on for 20 s.
    deadline = time.monotonic() + 2.0
    while live_in_session(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live_in_session(child) == []


def test_setsid_grandchild_is_killed(bypass):
    session = bypass("""
        import os, time
        def f(payload):
            read, write = os.pipe()
            middle = os.fork()
            if middle == 0:
                grandchild = os.fork()
                if grandchild == 0:
                    os.setsid()
                    time.sleep(60)
                    os._exit(0)
                os.write(write, str(grandchild).encode())
                os._exit(0)
            return int(os.read(read, 32))
    """, policy=NO_FILTER)
    before = set(descendants(os.getpid()))
    started = time.monotonic()
    reply = session.call(1, seed=1, timeout=5.0)
    assert time.monotonic() - started < 1.0
    assert reply.status == "ok"
    grandchild = reply.value
    assert isinstance(grandchild, int) and alive(grandchild)
    assert grandchild in descendants(os.getpid())  # re-parented to the sandbox child (subreaper)
    session.stop()
    deadline = time.monotonic() + 1.0
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(grandchild)
    assert set(descendants(os.getpid())) - before == set()


@pytest.fixture
def open_dir():
    """A world-writable directory, so that only RLIMIT_FSIZE (not file permissions) can refuse a
    write, whichever user the sandboxed child runs as."""
    path = Path(tempfile.mkdtemp(prefix="adrs-bench-test-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


WRITE_WITH_OS = """
    import os
    def f(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
        os.write(fd, b'x')
        return 'wrote'
"""


def test_file_writes_are_refused(bypass, tmp_path):
    target = tmp_path / "written.txt"
    reply = bypass(WRITE_WITH_OS).call(str(target), seed=1, timeout=1.0)
    assert reply.status == "error"
    assert "File too large" in reply.message or "Permission denied" in reply.message
    assert not target.exists() or target.read_bytes() == b""


def test_file_size_limit_is_zero(bypass, open_dir):
    target = open_dir / "written.txt"
    reply = bypass(WRITE_WITH_OS).call(str(target), seed=1, timeout=1.0)
    assert reply.status == "error"
    assert "OSError" in reply.message and "File too large" in reply.message
    assert not target.exists() or target.read_bytes() == b""


def test_file_writes_through_io_are_refused(bypass, open_dir):
    target = open_dir / "written.txt"
    session = bypass("""
        import io
        def f(path):
            with io.open(path, 'w') as handle:
                handle.write('x')
            return 'wrote'
    """, imports=("io",))
    reply = session.call(str(target), seed=1, timeout=1.0)
    assert reply.status == "error"
    assert "OSError" in reply.message and "File too large" in reply.message
    assert not target.exists() or target.read_bytes() == b""


def test_unserialisable_output_is_an_error(bypass):
    session = bypass("def f(payload):\n    return float('nan') if payload else object()\n")
    nan = session.call(1, seed=1, timeout=1.0)
    assert nan.status == "error" and "could not be serialised" in nan.message
    obj = session.call(0, seed=1, timeout=1.0)
    assert obj.status == "error" and "not JSON serializable" in obj.message


