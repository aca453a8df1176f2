"""Executors (issue 12): a run spread as Ray tasks scores exactly what a local run scores; a generation
of candidates through `evaluate_many`; `merge` of parts of one run; cancellation that leaves no
sandboxed process behind on a Ray worker; ray as an optional extra the core never imports.

A local Ray cluster (2 CPUs) is started once for the module. Ray is in the `test` extra: without it
these tests fail with one line, never skip."""
from __future__ import annotations

import ctypes
import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adrs_bench import CandidateError, Result, evaluate, evaluate_many, merge
from adrs_bench import results as records
from adrs_bench.errors import UsageError
from adrs_bench.executors import Job, LocalExecutor, Part, check_part
from adrs_bench.registry import get_task
from adrs_bench.sandbox.checks import check_submission

from test_api import descendants, wait_gone

PRISM = get_task("prism_placement")
EXAMPLE = PRISM.spec.path(PRISM.spec.example)
EXAMPLE_SOURCE = EXAMPLE.read_text()
LOOP = "def compute_model_placement(gpu_num, models):\n    while True:\n        pass\n"
DEV_CASES = ["dev-uniform-000", "dev-longtail-000", "dev-tight-000", "dev-mixed-000", "dev-uniform-001",
             "dev-longtail-001"]
FORKSERVER = "adrs_bench.sandbox.forkserver"
NO_RAY = 'ray is not installed; the executor tests need it: pip install "adrs-bench[ray]" (CI: pip install -e ".[test]")'


def variant(k: float) -> str:
    """The example with a varied constant in its choice of GPU (a candidate of a search, as it were)."""
    old = "pressure = load[gpu_id] / free[gpu_id]"
    assert old in EXAMPLE_SOURCE
    return EXAMPLE_SOURCE.replace(
        old, f"pressure = (load[gpu_id] + {k} * model.req_rate / model.slo) / (free[gpu_id] - {k} * model.model_size)")


# Every test on a real local Ray cluster is marked slow (starting the cluster alone takes 4-6 s, stopping it
# 1-2): CI runs them with `-m slow`. The default run keeps the Ray executor's checks that need no cluster.
@pytest.fixture(scope="module")
def cluster():
    try:
        import ray
    except ImportError:
        pytest.fail(NO_RAY, pytrace=False)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def timing_free(value):
    """A record part without what measures time (seconds, shares of time): those differ run to run."""
    if isinstance(value, dict):
        return {k: timing_free(v) for k, v in value.items() if not k.endswith("seconds") and k != "router_share"}
    return value


def same_scores(a: Result, b: Result) -> None:
    assert [(o.id, o.status, o.message, o.score) for o in a.outcomes] == \
           [(o.id, o.status, o.message, o.score) for o in b.outcomes]
    assert [timing_free(o.metrics) for o in a.outcomes] == [timing_free(o.metrics) for o in b.outcomes]
    assert timing_free(a.record["aggregate"]) == timing_free(b.record["aggregate"])
    assert (a.score, a.ok, a.failed, dict(a.statuses)) == (b.score, b.ok, b.failed, dict(b.statuses))
    assert a.record["set"] == b.record["set"] and a.record["submission"] == b.record["submission"]


# ------------------------------------------------------------------ one run spread as Ray tasks

@pytest.mark.slow
@pytest.mark.parametrize("task, program, set_name, cases", [
    ("prism_placement", "prism_greedy", "dev", DEV_CASES),  # 4 ok, 2 error (the example now places every model)
    ("llm_routing", None, "smoke", None),
    ("autoscaling", None, "smoke", None),
], ids=["prism_placement-dev6", "llm_routing-smoke", "autoscaling-smoke"])
def test_a_ray_run_scores_exactly_what_a_local_run_scores(cluster, task, program, set_name, cases):
    loaded = get_task(task)
    program = loaded.spec.path(loaded.spec.baselines[program] if program else loaded.spec.example)
    local = evaluate(task, program, set_name, cases=cases, workers=2)
    spread = evaluate(task, program, set_name, cases=cases, executor="ray")
    same_scores(local, spread)
    assert local.record["provenance"]["executor"] == "local" and spread.record["provenance"]["executor"] == "ray"
    records.validate(dict(spread.record))
    if task == "prism_placement":
        assert spread.record["provenance"]["workers"] == 2  # contiguous shares, one per CPU
        assert spread.failed and spread.ok  # the sample holds both: both merge back in case order


@pytest.mark.slow
def test_the_cli_runs_on_ray_and_writes_the_local_record(cluster, tmp_path):
    from adrs_bench.cli import main

    runner = CliRunner()
    got = runner.invoke(main, ["run", "prism_placement", "--set", "public", "--executor", "ray", "--json", "--no-save",
                               "--quiet"])
    assert got.exit_code == 0, got.output
    record = json.loads(got.stdout)
    local = evaluate("prism_placement", EXAMPLE, "public")
    assert record["provenance"]["executor"] == "ray"
    assert timing_free(record["aggregate"]) == timing_free(local.record["aggregate"])
    assert [(i["id"], i["status"], i["score"]) for i in record["instances"]] == \
           [(i["id"], i["status"], i["score"]) for i in local.record["instances"]]


def test_a_part_from_another_installation_is_refused():
    part = Part((), (), "0.0.1", "0" * 64, "1" * 64, 0.1, "worker-7")
    with pytest.raises(UsageError, match=r"expected every worker to score with adrs-bench .* got adrs-bench 0.0.1 "
                                         r"\(evaluator 000000000000\) on worker-7; install the same adrs-bench version"):
        check_part(part, PRISM, "1" * 64)


# ------------------------------------------------------------------ a generation of candidates

@pytest.mark.slow
def test_evaluate_many_on_ray_scores_each_candidate_and_cuts_the_looping_one(cluster):
    codes = [variant(k / 10) for k in range(9)] + [LOOP]
    seen: list[tuple[int, int]] = []
    started = time.monotonic()
    entries = evaluate_many("prism_placement", codes=codes, set="dev", cases=DEV_CASES[:4], deadline_s=4,
                            executor="ray", progress=lambda done, total, entry: seen.append((done, total)))
    assert time.monotonic() - started < 60
    assert seen == [(done, 10) for done in range(1, 11)]
    assert all(isinstance(entry, Result) for entry in entries)
    for entry in entries[:9]:
        assert entry.record["provenance"]["executor"] == "ray" and entry.record["set"]["cases"] == 4
        assert "timeout" not in entry.statuses
    assert len({entry.score for entry in entries[:9]}) > 1  # the candidates differ, and are told apart
    assert all(o.detail is None for entry in entries for o in entry.outcomes)  # a generation's stays small
    looping = entries[9]
    assert looping.score == 0.0 and dict(looping.statuses) == {"timeout": 4}
    messages = [o.message for o in looping.outcomes]
    assert "not run" not in messages[0]  # the one cut at the deadline
    assert messages[1:] == ["not run: deadline (4 s) reached"] * 3
    # bit for bit what evaluate gives, candidate by candidate
    same_scores(entries[3], evaluate("prism_placement", code=codes[3], set="dev", cases=DEV_CASES[:4],
                                     label="candidate-3"))


def test_evaluate_many_locally_reports_a_refused_candidate_and_runs_the_others(tmp_path):
    good, missing = tmp_path / "good.py", tmp_path / "missing.py"
    good.write_text(variant(0.5))
    refused = tmp_path / "refused.py"
    refused.write_text("x = 1\n")
    entries = evaluate_many("prism_placement", [good, refused, missing, good], "dev", cases=DEV_CASES[:2], workers=2)
    assert isinstance(entries[0], Result) and entries[0].score == entries[3].score
    assert entries[0].outcomes[0].detail is None
    kept = evaluate_many("prism_placement", [good], "dev", cases=DEV_CASES[:2], details=True)
    assert kept[0].outcomes[0].detail is not None and kept[0].score == entries[0].score
    assert isinstance(entries[1], CandidateError) and entries[1].kind == "InvalidSubmission"
    assert isinstance(entries[2], CandidateError) and entries[2].kind == "SubmissionNotFound"
    assert entries[1].score == PRISM.plugin.failed_score and entries[1].failed == 2 and not entries[1].all_ok
    assert "expected a top-level function compute_model_placement" in entries[1].feedback()
    assert entries[1].feedback().count("\n") == 0
    with pytest.raises(UsageError, match="expected programs \\(paths\\) or codes="):
        evaluate_many("prism_placement", [good], codes=["x"])


def test_run_many_prints_a_line_per_candidate_and_a_table(tmp_path):
    from adrs_bench.cli import main

    files = []
    for name, source in [("a.py", variant(0.2)), ("b.py", "x = 1\n"), ("c.py", variant(0.7))]:
        (tmp_path / name).write_text(source)
        files.append(str(tmp_path / name))
    got = CliRunner().invoke(main, ["run-many", "prism_placement", *files, "--set", "public", "--workers", "2",
                                    "--out", str(tmp_path / "results")])
    assert got.exit_code == 0, got.output
    lines = got.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"[{n}/3] ") for n, line in enumerate(lines, 1))
    assert any("b: not run (InvalidSubmission): " in line for line in lines)
    assert "not run (InvalidSubmission)" in got.stdout and got.stdout.count(".json") == 2
    assert len(list((tmp_path / "results").glob("*.json"))) == 2


# ------------------------------------------------------------------ merging parts of one run

def test_two_halves_merge_into_exactly_the_full_run():
    ids = [PRISM.plugin.case_id(case) for case in __import__("adrs_bench.instances", fromlist=["load_set"])
           .load_set(PRISM, "dev").cases]
    first = evaluate("prism_placement", EXAMPLE, "dev", cases=ids[:50])
    second = evaluate("prism_placement", EXAMPLE, "dev", cases=ids[50:])
    full = evaluate("prism_placement", EXAMPLE, "dev")
    merged = merge([second, first])
    assert merged.record["set"] == full.record["set"]  # the whole set again: name dev, the set's own sha256
    assert timing_free(merged.record["aggregate"]) == timing_free(full.record["aggregate"])
    assert merged.record["aggregate"]["ci90"] == full.record["aggregate"]["ci90"]
    assert [o.id for o in merged.outcomes] == ids
    records.validate(dict(merged.record))
    records.check_aggregate(dict(merged.record), "merged")
    # a part of a part stays a subset of its own
    partial = merge([evaluate("prism_placement", EXAMPLE, "dev", cases=ids[:2]),
                     evaluate("prism_placement", EXAMPLE, "dev", cases=ids[5:6])])
    again = evaluate("prism_placement", EXAMPLE, "dev", cases=ids[:2] + ids[5:6])
    assert partial.set == again.set == "dev[3 of 120]" and partial.record["set"] == again.record["set"]


def test_merge_refuses_parts_that_are_not_of_one_run():
    dev = evaluate("prism_placement", EXAMPLE, "dev", cases=DEV_CASES[:2])
    dev_rest = evaluate("prism_placement", EXAMPLE, "dev", cases=DEV_CASES[2:4])
    test = evaluate("prism_placement", EXAMPLE, "test", cases=["test-uniform-000"])
    with pytest.raises(UsageError, match=r"^expected parts of one instance set, got dev\[2 of 120\] and "
                                         r"test\[1 of 120\] \(part 1\); merge parts of one set$"):
        merge([dev, test])
    edited = json.loads(json.dumps(dict(dev_rest.record)))
    edited["provenance"]["evaluator_sha256"] = "f" * 64
    with pytest.raises(UsageError, match=r"^expected parts scored by one evaluator, got [0-9a-f]{12} and ffffffffffff "
                                         r"\(part 1\); re-run the part with this adrs-bench$"):
        merge([dev, dataclasses.replace(dev_rest, record=edited)])
    with pytest.raises(UsageError, match=r"expected each case in one part only, got 'dev-uniform-000'"):
        merge([dev, evaluate("prism_placement", EXAMPLE, "dev", cases=DEV_CASES[:1])])
    with pytest.raises(UsageError, match=r"expected parts of one program"):
        merge([dev, evaluate("prism_placement", code=variant(0.3), set="dev", cases=DEV_CASES[2:4])])
    with pytest.raises(UsageError, match="expected at least one Result"):
        merge([])


# ------------------------------------------------------------------ ending: nothing left behind

def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def busy_sandboxes(count: int, seconds: float = 60.0) -> list[int]:
    """Wait until `count` fork servers on this test's Ray workers each have a supervisor and a child;
    return every process with the fork server's command line below those workers. (The local cluster's
    raylet and its workers descend from this process; other runs on the machine are not looked at.)"""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ours = descendants(os.getpid())
        servers = [p for p in ours if FORKSERVER in cmdline(p) and parent_of(p) != os.getpid()
                   and FORKSERVER not in cmdline(parent_of(p))]  # a Ray worker's fork server, not ours
        busy = [s for s in servers if len(descendants(s)) >= 2]
        if len(busy) >= count:
            workers = {parent_of(s) for s in busy}
            return [p for w in workers for p in descendants(w) if FORKSERVER in cmdline(p)]
        time.sleep(0.1)
    raise AssertionError(f"expected {count} busy sandboxes on Ray workers within {seconds:g} s, got fewer")


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


@pytest.mark.slow
def test_ray_cancel_force_leaves_no_sandboxed_process(cluster):
    from adrs_bench.ray_executor import RayExecutor

    executor = RayExecutor()
    submission = check_submission(Path("loop.py"), PRISM.spec, source=LOOP)
    from adrs_bench.instances import load_set

    cases = load_set(PRISM, "dev").cases[:3]
    ref = executor.submit(Job(PRISM, submission), cases)
    below = busy_sandboxes(1)
    assert len(below) >= 3, below  # fork server, supervisor, child
    time.sleep(0.5)  # the child is busy in `while True`
    cluster.cancel(ref, force=True)
    assert wait_gone(below, 10.0) == []
    with pytest.raises((cluster.exceptions.TaskCancelledError, cluster.exceptions.WorkerCrashedError)):
        cluster.get(ref, timeout=30)


@pytest.mark.slow
def test_a_cancelled_caller_ends_every_candidate_on_ray(cluster):
    """An exception raised in the thread waiting on evaluate_many (as Ctrl-C or a framework's timeout
    raises it): every job still running is cancelled with force, and its sandboxed processes are gone."""
    raised: list[BaseException] = []

    def call() -> None:
        try:
            evaluate_many("prism_placement", codes=[LOOP, LOOP], set="dev", cases=DEV_CASES[:3], executor="ray")
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    below = busy_sandboxes(2)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt))
    thread.join(timeout=30)
    assert not thread.is_alive() and raised and isinstance(raised[0], KeyboardInterrupt)
    assert wait_gone(below, 10.0) == []


def test_a_cancelled_caller_ends_every_local_candidate():
    from adrs_bench.sandbox import forkserver

    server = forkserver.server()
    raised: list[BaseException] = []

    def call() -> None:
        try:
            evaluate_many("prism_placement", codes=[LOOP] * 3, set="dev", cases=DEV_CASES[:3],
                          executor=LocalExecutor(2))
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    end = time.monotonic() + 60
    while time.monotonic() < end and len(descendants(server.process.pid)) < 4:
        time.sleep(0.1)
    below = descendants(server.process.pid)
    assert len(below) >= 4, below
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(TimeoutError))
    thread.join(timeout=30)
    assert not thread.is_alive() and raised and isinstance(raised[0], TimeoutError)
    assert wait_gone(below) == []


# ------------------------------------------------------------------ ray is optional

HIDE_RAY = "import sys; sys.modules['ray'] = None\n"


def test_without_ray_the_ray_executor_is_one_line_naming_the_extra(tmp_path):
    script = HIDE_RAY + ("from adrs_bench.cli import main\n"
                         "main(['run', 'prism_placement', '--executor', 'ray', '--no-save'], prog_name='adrs-bench')\n")
    got = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert got.returncode == 2
    assert got.stderr.splitlines() == ['error: expected the ray package for the Ray executor, got none installed; '
                                       'pip install "adrs-bench[ray]"']
    script = HIDE_RAY + ("import adrs_bench\n"
                         "from adrs_bench.errors import MissingExtra, UsageError\n"
                         "try:\n    adrs_bench.evaluate('prism_placement', code='x', executor='ray')\n"
                         "except MissingExtra as exc:\n    assert isinstance(exc, UsageError); print('refused:', exc)\n")
    got = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith('refused: expected the ray package') and 'pip install "adrs-bench[ray]"' in got.stdout


def test_the_core_never_imports_ray(tmp_path):
    script = ("import sys\nimport adrs_bench, adrs_bench.cli, adrs_bench.api, adrs_bench.executors, adrs_bench.runner\n"
              "r = adrs_bench.evaluate('prism_placement', code=open(sys.argv[1]).read(), set='public', cases=['public-000'])\n"
              "assert r.record['provenance']['executor'] == 'local'\n"
              "print('ray' in sys.modules)\n")
    got = subprocess.run([sys.executable, "-c", script, str(EXAMPLE)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "False"
