"""The harness as root and as an ordinary user, and on a platform that lacks a mechanism: the isolation
each child really had is recorded, a missing layer is named in one warning line, and
`--require-isolation` refuses to run without the full boundary (docs/sandbox.md)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ORDINARY_UID = 1000
CLI = [sys.executable, "-m", "adrs_bench.cli"]
# Runs the CLI with `unshare` denied to the whole process tree (a seccomp filter the fork server and
# every child inherit), as in a container without namespace support.
NO_NAMESPACES = textwrap.dedent("""
    import errno, sys, pyseccomp
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "unshare")
    rules.load()
    from adrs_bench.cli import main
    sys.argv = ["adrs-bench"] + sys.argv[1:]
    main()
""")


def run_cli(args, cwd: Path, prefix=()):
    return subprocess.run([*prefix, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def record_in(directory: Path) -> dict:
    (path,) = directory.glob("*.json")
    return json.loads(path.read_text())


@pytest.fixture
def open_dir():
    """A directory any user may write (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="adrs-bench-isolation-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_root_harness_gets_the_full_boundary(open_dir):
    if os.geteuid() != 0:
        pytest.fail("this suite runs as root in CI; run it as root to prove the root path")
    result = run_cli(CLI + ["run", "prism_placement", "--set", "public", "--out", str(open_dir), "--quiet"], open_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning" not in result.stderr
    isolation = record_in(open_dir)["provenance"]["isolation"]
    assert isolation["level"] == "full" and isolation["missing"] == []
    assert isolation["user"] == "nobody" and isolation["capabilities"] == "none"
    assert set(isolation["namespaces"]) == {"pid", "network", "mount", "ipc", "uts"}
    assert isolation["empty_root"] and isolation["syscall_filter"] and isolation["no_new_privs"]


def test_ordinary_user_harness_gets_the_full_boundary_through_a_user_namespace(open_dir):
    """uid 1000 with one capability only, to read the interpreter under /root (CAP_DAC_READ_SEARCH):
    it cannot make namespaces without a user namespace, and cannot signal root's processes."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run the harness as an ordinary user"
    prefix = [setpriv, f"--reuid={ORDINARY_UID}", f"--regid={ORDINARY_UID}", "--clear-groups",
              "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    result = run_cli(CLI + ["run", "prism_placement", "--set", "public", "--out", str(open_dir), "--quiet"],
                     open_dir, prefix)
    assert result.returncode == 0, result.stderr[-2000:]
    record = record_in(open_dir)
    isolation = record["provenance"]["isolation"]
    assert isolation["level"] == "full", isolation
    assert isolation["namespaces"][0] == "user" and isolation["user"].startswith(f"uid {ORDINARY_UID}")
    assert record["aggregate"]["ok"] == 50


def test_a_missing_mechanism_is_named_once_and_recorded(open_dir):
    result = run_cli([sys.executable, "-c", NO_NAMESPACES, "run", "prism_placement", "--set", "public",
                      "--out", str(open_dir), "--quiet", "--workers", "2"], open_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert "namespaces (unshare: Operation not permitted" in warnings[0] and "docs/sandbox.md" in warnings[0]
    record = record_in(open_dir)
    isolation = record["provenance"]["isolation"]
    assert isolation["level"] == "partial" and isolation["namespaces"] == [] and not isolation["empty_root"]
    assert isolation["syscall_filter"] and isolation["user"] == "nobody"  # the other layers still hold
    assert record["aggregate"]["ok"] == 50


def test_require_isolation_refuses_a_partial_boundary(open_dir):
    result = run_cli([sys.executable, "-c", NO_NAMESPACES, "run", "prism_placement", "--set", "public",
                      "--out", str(open_dir), "--require-isolation"], open_dir)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "expected the full sandbox boundary (--require-isolation)" in lines[0]
    assert "namespaces" in lines[0] and "drop --require-isolation" in lines[0]
    assert list(open_dir.glob("*.json")) == []  # no record of a run that did not happen
