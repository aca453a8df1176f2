"""adrs_bench.evaluate, the library entry point for evolution loops: a typed frozen Result, nothing
written or printed, fail-fast that never drops a case, and no sandbox child outliving its caller."""
from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adrs_bench import Result, evaluate
from adrs_bench.errors import InvalidSubmission, UsageError
from adrs_bench.registry import get_task

PRISM = get_task("prism_placement")
EXAMPLE = PRISM.spec.path(PRISM.spec.example)
LOOP = "def compute_model_placement(gpu_num, models):\n    while True:\n        pass\n"
RAISES_ON_BIG = """
def compute_model_placement(gpu_num, models):
    if len(models) > 60:
        raise ValueError("too many models for me")
    placement = {g: [] for g in range(gpu_num)}
    for i, m in enumerate(sorted(models, key=lambda m: -m.model_size)):
        placement[i % gpu_num].append(m)
    return placement
"""


def test_evaluate_returns_a_frozen_result_and_prints_nothing(capfd):
    result = evaluate("prism_placement", EXAMPLE, "public")
    assert isinstance(result, Result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1.0  # type: ignore[misc]
    assert (result.task, result.set, result.ok, result.failed) == (PRISM.spec.id, "public", 50, 0)
    assert result.score == result.record["aggregate"]["score"] == 0.8354294044828547
    assert dict(result.statuses) == {"ok": 50} and result.all_ok
    assert [o.id for o in result.outcomes] == [i["id"] for i in result.record["instances"]]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_evaluate_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evaluate("prism_placement", code=LOOP.replace("while True:\n        pass", "return {}"), set="public",
             cases=["public-000"])
    assert list(tmp_path.iterdir()) == []


def test_code_and_path_give_bit_identical_scores(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(RAISES_ON_BIG)
    by_path = evaluate("prism_placement", path, "dev", cases=DEV_SAMPLE)
    by_code = evaluate("prism_placement", code=RAISES_ON_BIG, set="dev", cases=DEV_SAMPLE)
    assert [(o.id, o.status, o.score) for o in by_path.outcomes] == [(o.id, o.status, o.score) for o in by_code.outcomes]
    assert by_code.record["submission"]["sha256"] == by_path.record["submission"]["sha256"]


DEV_SAMPLE = ["dev-uniform-000", "dev-longtail-000", "dev-tight-000", "dev-mixed-000"]


def test_cases_pick_a_subset_by_id_and_its_record_is_its_own_set():
    result = evaluate("prism_placement", EXAMPLE, "dev", cases=list(reversed(DEV_SAMPLE)))
    assert [o.id for o in result.outcomes] == DEV_SAMPLE  # set order, whatever order was asked
    assert result.set == "dev[4 of 120]" and result.record["set"]["cases"] == 4
    full_sha = PRISM.spec.sets["dev"].sha256
    assert result.record["set"]["sha256"] != full_sha  # never compared with a record of the whole set
    with pytest.raises(UsageError, match=r"expected case ids of the set, got unknown 'dev-nope'; ids look like "
                                         r"dev-uniform-000"):
        evaluate("prism_placement", EXAMPLE, "dev", cases=["dev-nope"])


def test_feedback_names_failures_families_and_the_task_diagnostics():
    result = evaluate("prism_placement", code=RAISES_ON_BIG, set="dev", cases=DEV_SAMPLE)
    text = result.feedback()
    lines = text.splitlines()
    assert lines[0].startswith(f"{PRISM.spec.id} on dev[4 of 120]: score ")
    failed = [o for o in result.outcomes if not o.ok]
    assert failed, "the sample must hold a case with more than 60 models"
    assert f"{failed[0].id}: error: " in text and "ValueError: too many models for me" in text
    assert "score by family: " in text
    assert any(line.startswith("worst gap: ") for line in lines)
    assert len(result.feedback(max_lines=2).splitlines()) == 2


def test_a_refused_program_raises_one_line():
    with pytest.raises(InvalidSubmission, match=r"expected a top-level function compute_model_placement"):
        evaluate("prism_placement", code="x = 1\n", set="public")
    with pytest.raises(UsageError, match="expected a program path or code="):
        evaluate("prism_placement")
    with pytest.raises(UsageError, match="expected deadline_s > 0, got 0"):
        evaluate("prism_placement", EXAMPLE, deadline_s=0)


def test_a_deadline_ends_the_evaluation_and_every_case_not_reached_counts_as_failed():
    started = time.monotonic()
    result = evaluate("prism_placement", code=LOOP, set="dev", deadline_s=3)
    assert time.monotonic() - started < 3 + 10  # the case in flight is cut at the deadline
    assert result.score == 0.0 and result.failed == 120 and dict(result.statuses) == {"timeout": 120}
    messages = [o.message for o in result.outcomes]
    assert "not run" not in messages[0]  # the one that ran until the deadline
    assert messages[1:] == ["not run: deadline (3 s) reached"] * 119
    assert result.record["aggregate"]["instances"] == 120  # nothing dropped from the mean


def test_max_failures_stops_after_that_many_costly_failures():
    task = dataclasses.replace(PRISM, spec=dataclasses.replace(
        PRISM.spec, limits=dataclasses.replace(PRISM.spec.limits, instance_seconds=0.5)))
    result = evaluate(task, code=LOOP, set="dev", max_failures=2)
    ran = [o for o in result.outcomes if not o.message.startswith("not run")]
    assert len(ran) == 2 and all(o.status == "timeout" for o in ran)
    assert {o.message for o in result.outcomes[2:]} == {"not run: 2 failures (max_failures 2)"}
    assert result.failed == 120


def test_children_run_single_threaded_blas_whoever_calls(monkeypatch):
    """The caller's own BLAS settings never reach the children (the fork server's environment is its own)."""
    from adrs_bench.blas import BLAS_THREAD_VARIABLES
    from adrs_bench.sandbox import forkserver

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "8")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    server = forkserver.ForkServer()
    try:
        server.wait_ready()  # after its exec: /proc shows the environment it runs with
        env = open(f"/proc/{server.process.pid}/environ", "rb").read().split(b"\0")
    finally:
        server.close()
    for name in BLAS_THREAD_VARIABLES:
        assert f"{name}=1".encode() in env


# ------------------------------------------------------------------ no child outlives its caller

def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


CALLER = ("import adrs_bench; adrs_bench.evaluate('prism_placement', code={code!r}, set='dev', workers=2)")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["SIGKILL", "Ctrl-C", "SIGTERM"])
def test_no_child_survives_its_caller_process(how):
    """The caller's process ends however it ends (a framework killing its worker process, Ctrl-C): each
    supervisor sees the child's request pipe hang up and kills the child at once."""
    caller = subprocess.Popen([sys.executable, "-c", CALLER.format(code=LOOP)], stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and len(descendants(caller.pid)) < 5:  # fork server, 2 x (supervisor, child)
            time.sleep(0.1)
        below = descendants(caller.pid)
        assert len(below) >= 5, below
        time.sleep(0.5)  # the children are busy in `while True`
        caller.send_signal(how)
        caller.wait(timeout=30)
    finally:
        caller.kill()
    assert wait_gone(below) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_no_child_survives_a_cancelled_caller_thread(workers):
    """A framework cancelling the thread that called evaluate (an exception raised in it, as thread
    timeouts do): every worker's child is killed, and the cases not run are accounted for."""
    from adrs_bench.sandbox import forkserver

    server = forkserver.server()
    raised: list[BaseException] = []

    def call() -> None:
        try:
            evaluate("prism_placement", code=LOOP, set="dev", workers=workers)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    end = time.monotonic() + 60
    while time.monotonic() < end and len(descendants(server.process.pid)) < 2 * workers:  # (supervisor, child) each
        time.sleep(0.1)
    below = descendants(server.process.pid)
    assert len(below) >= 2 * workers, below
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(TimeoutError))
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert raised and isinstance(raised[0], TimeoutError)
    assert wait_gone(below) == []
