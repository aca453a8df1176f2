"""A run cannot be steered by what a submission foresees or keeps, and its record is exactly what it
printed (DESIGN.md §4; issue 7: seeds from content, fresh state, real kill causes, nothing outlives)."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from adrs_bench.registry import get_task
from adrs_bench.runner import case_seed
from adrs_bench.sandbox import forkserver
from adrs_bench.sandbox.forkserver import HARNESS_VARIABLE
from adrs_bench.sandbox.replies import CRASHED, MEMORY, TIMEOUT
from adrs_bench.sandbox.session import SandboxSession
from adrs_bench.spec import Limits

from conftest import small_cases

DRAW = """
import random


def compute_model_placement(gpu_num, models):
    if random.random() < 0.0:
        raise ValueError('never')
    raise ValueError('draw ' + repr(random.random()))
"""


def draws(run_source, cases):
    return [o.message for o in run_source(DRAW, cases)]


def test_the_seed_comes_from_the_content_not_the_id(run_source):
    cases = small_cases(3)
    renamed = [dataclasses.replace(case, id=f"other-{i}") for i, case in enumerate(cases)]
    first, again = draws(run_source, cases), draws(run_source, renamed)
    assert all(m.startswith("ValueError: draw 0.") for m in first)
    assert first == again  # same content, other ids: the same draws
    assert len(set(first)) == 3  # other content: other draws


def test_the_seed_is_a_hash_of_the_content():
    task = get_task("prism_placement")
    case = small_cases(1)[0]
    assert case_seed(task.plugin, case) == case_seed(task.plugin, dataclasses.replace(case, id="renamed"))
    heavier = dataclasses.replace(case, models=(dataclasses.replace(case.models[0], req_rate=9),) + case.models[1:])
    assert case_seed(task.plugin, case) != case_seed(task.plugin, heavier)


def test_the_child_never_learns_its_case_id():
    task = get_task("prism_placement")
    case = small_cases(1)[0]
    assert case.id not in json.dumps(task.plugin.payload(case))


def test_scores_do_not_depend_on_order_or_workers(run_source, checked, task):
    from adrs_bench.runner import run_cases

    source = DRAW.replace("raise ValueError('draw ' + repr(random.random()))",
                          "return {g: [m for i, m in enumerate(models) if (i + int(random.random() * 2)) % 2 == g % 2]"
                          " for g in range(gpu_num)}")
    cases = small_cases(6)
    submission = checked(source)
    forward = {o.id: (o.status, o.score) for o in run_cases(task, submission, cases)}
    backward = {o.id: (o.status, o.score) for o in run_cases(task, submission, cases[::-1])}
    parallel = {o.id: (o.status, o.score) for o in run_cases(task, submission, cases, workers=3)}
    assert forward == backward == parallel


LIMITS = Limits(instance_seconds=1.0, total_seconds=10.0, memory_mb=256, cpu_seconds=5)


def classify(report: dict):
    session = SandboxSession(compile("", "x.py", "exec"), "x.py", "sandbox_probe:call_f", (), LIMITS)
    return session.classify(report, "during the call")


def test_a_kill_is_reported_with_its_real_cause():
    cpu = classify({"wait_status": signal.SIGKILL, "cpu_seconds": 5.0, "peak_memory_mb": 20})
    assert cpu.status == TIMEOUT and "CPU-time limit of 5 s reached" in cpu.message
    memory = classify({"wait_status": signal.SIGKILL, "cpu_seconds": 0.3, "peak_memory_mb": 250})
    assert memory.status == MEMORY and "peak memory 250 MB (limit 256 MB)" in memory.message
    other = classify({"wait_status": signal.SIGKILL, "cpu_seconds": 0.3, "peak_memory_mb": 20})
    assert other.status == CRASHED and "SIGKILL" in other.message and "CPU-time" not in other.message
    segv = classify({"wait_status": signal.SIGSEGV, "cpu_seconds": 0.1, "peak_memory_mb": 20})
    assert segv.status == CRASHED and "SIGSEGV" in segv.message
    exited = classify({"wait_status": 3 << 8, "cpu_seconds": 0.1, "peak_memory_mb": 20})
    assert exited.status == CRASHED and "exited with code 3" in exited.message


MIXED = """
import time


def compute_model_placement(gpu_num, models):
    first = (gpu_num, models[0].model_size, models[0].req_rate)
    if first == (8, 24, 8):  # public-000
        while True:
            pass
    if first == (9, 17, 3):  # public-001
        return 'x' * 5_000_000
    if first == (7, 21, 8):  # public-002
        block = [0] * (10 ** 9)
    if first == (7, 19, 8):  # public-003
        raise ValueError('y' * 100_000)
    placement = {g: [] for g in range(gpu_num)}
    for i, m in enumerate(models):
        placement[i % gpu_num].append(m)
    return placement
"""


def serving(harness: int) -> set[int]:
    """Every process of the sandbox (fork server, supervisors, children) started for the harness process
    `harness`, found by the variable the fork server's environment carries, whoever else runs here."""
    marker = f"{HARNESS_VARIABLE}={harness}".encode()
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.add(int(name))
            except OSError:
                pass
    return found


@pytest.mark.slow  # the loop runs into public's 10 s wall-clock limit: a whole set through a real CLI process
def test_bad_answers_end_to_end_record_equals_json_and_nothing_outlives_the_run(tmp_path):
    """A run through the CLI with a loop, a huge answer, a memory bomb and a huge exception: every case
    gets a status and a short one-line message, the table prints, the saved record equals what --json
    printed, and no process of the run is left afterwards. (Each failure on its own, with short limits, is
    in the default run: test_bad_submissions.py, tests/core/test_message_caps.py; no process outliving its
    caller: tests/core/test_api.py.)"""
    source = tmp_path / "mixed.py"
    source.write_text(MIXED)
    env = dict(os.environ)
    harness = subprocess.Popen([sys.executable, "-m", "adrs_bench.cli", "run", "prism_placement", str(source),
                                "--set", "public", "--out", str(tmp_path / "out"), "--json", "--quiet"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout, stderr = harness.communicate(timeout=300)
    result = subprocess.CompletedProcess(harness.args, harness.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr[-2000:]
    printed = json.loads(result.stdout)
    (saved,) = (tmp_path / "out").glob("*.json")
    assert json.loads(saved.read_text()) == printed
    assert saved.stat().st_size < 200_000
    statuses = [i["status"] for i in printed["instances"]]
    assert len(statuses) == 50 and printed["aggregate"]["instances"] == 50
    assert statuses[:4] == ["timeout", "invalid", "memory", "error"], [i["message"] for i in printed["instances"][:4]]
    assert statuses[4:] == ["ok"] * 46
    assert "wall-clock" in printed["instances"][0]["message"]
    for record in printed["instances"]:
        assert "\n" not in record["message"] and len(record["message"]) <= 500
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and serving(harness.pid):
        time.sleep(0.05)
    assert serving(harness.pid) == set()  # not its fork server, a supervisor or a child
    forkserver.server()  # the positive control: this process's own fork server carries the marker
    assert serving(os.getpid())


UNSEEDED = """
import random
import numpy as np


def compute_model_placement(gpu_num, models):
    random.seed()
    values = [random.random(), random.Random().random(), float(np.random.default_rng().random())]
    np.random.seed()
    values.append(float(np.random.random()))
    raise ValueError('draws ' + repr(values))
"""


def test_generators_asked_for_without_a_seed_still_repeat(run_source):
    """random.seed(), random.Random(), np.random.default_rng(), np.random.seed() without a seed take it
    from the per-case streams, not from the OS: a rerun gives the same draws."""
    cases = small_cases(2)
    first = [o.message for o in run_source(UNSEEDED, cases)]
    again = [o.message for o in run_source(UNSEEDED, cases)]
    assert all(m.startswith("ValueError: draws [") for m in first), first
    assert first == again
    assert first[0] != first[1]


FORGE = """
import fcntl, os, struct, time
for fd in range(3, 32):
    try:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
            body = arg.encode()
            os.write(fd, struct.pack(">I", len(body)) + body)
    except OSError:
        pass
time.sleep(0.2)
result = "after the forged frame"
"""


@pytest.mark.parametrize("frame", [
    '{"status": "ok", "value": 1, "seconds": NaN}',
    '{"status": "ok", "value": 1, "seconds": 1' + "0" * 400 + "}",
    '{"status": "ok", "value": ' + "[" * 100_000 + "]" * 100_000 + ', "seconds": 0.1}',
    '{"status": ["ok"], "value": 1, "seconds": 0.1}',
    '{"status": "ok", "value": 1, "seconds": -1}',
    '[1, 2, 3]',
    'not json at all',
])
def test_a_forged_reply_is_a_failed_call_never_a_harness_crash(frame):
    """Unrestricted code in the child writes its own frame on the reply pipe: the harness reports the
    call as crashed with one short line, and the next call gets a working child."""
    session = SandboxSession(compile("", "x.py", "exec"), "x.py", "sandbox_probe:run_plain",
                             ("os", "fcntl", "struct", "time"), LIMITS)
    try:
        reply = session.call({"source": FORGE, "arg": frame}, seed=1, timeout=5.0)
        assert reply.status == CRASHED, reply
        assert "\n" not in reply.message and len(reply.message) <= 300
        again = session.call({"source": "result = 42", "arg": None}, seed=1, timeout=5.0)
        assert (again.status, again.value) == ("ok", 42)
    finally:
        session.stop()
