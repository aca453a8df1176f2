"""Everyday use of the CLI (issue 13): Ctrl-C and SIGTERM keep the finished cases, a bad output folder
is refused before the run, an unexpected exception is one line plus a saved traceback, the exit codes
tell a bad program from a wrong call, progress suits where stderr goes, and `gate` names the real
mismatch. Each runs the real `adrs-bench` (a subprocess where signals or terminals are involved)."""
from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adrs_bench import results
from adrs_bench.cli import main
from adrs_bench.console import RunProgress
from adrs_bench.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE
from adrs_bench.task_api import InstanceOutcome

ROOT = Path(__file__).resolve().parents[2]

# A valid placement that takes a while per case, so a signal lands mid-run.
SLOW_ROUND_ROBIN = """
import time


def compute_model_placement(gpu_num, models):
    time.sleep(0.15)
    ordered = sorted(models, key=lambda m: -m.model_size)
    used = [0] * gpu_num
    placement = {g: [] for g in range(gpu_num)}
    for m in ordered:
        g = min(range(gpu_num), key=lambda k: used[k])
        used[g] += m.model_size
        placement[g].append(m)
    return placement
"""


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    env = dict(env or os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "adrs_bench.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` now (read from /proc), so a test can check none outlives the run."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def gone(pids: set[int], within: float = 10.0) -> set[int]:
    """The pids still present (a zombie counts as present) after waiting up to `within` seconds."""
    end = time.monotonic() + within
    while True:
        alive = {pid for pid in pids if Path(f"/proc/{pid}").exists()}
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.1)


def wait_for_lines(process: subprocess.Popen, count: int, timeout: float = 60.0) -> list[str]:
    """Read stderr until `count` progress lines have come (one per finished case off a terminal)."""
    lines: list[str] = []
    end = time.monotonic() + timeout
    while len(lines) < count:
        assert time.monotonic() < end, f"no progress after {timeout} s: {lines}"
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            assert line, f"the run ended early: {lines}"
            lines.append(line)
    return lines


@pytest.fixture()
def slow_program(tmp_path: Path) -> Path:
    path = tmp_path / "slow.py"
    path.write_text(SLOW_ROUND_ROBIN)
    return path


@pytest.mark.parametrize("sig, workers", [(signal.SIGINT, "1"), (signal.SIGTERM, "1"), (signal.SIGINT, "2")],
                         ids=["ctrl-c", "sigterm", "ctrl-c-2-workers"])
def test_a_signal_keeps_the_finished_cases_in_a_record_marked_interrupted(tmp_path, slow_program, sig, workers):
    process = cli("run", "prism_placement", str(slow_program), "--out", "out", "--workers", workers, cwd=tmp_path)
    seen = wait_for_lines(process, 3)
    below = descendants(process.pid)
    assert below, "the run has sandboxed children"
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED == 130
    last = stderr.strip().splitlines()[-1]
    saved = sorted((tmp_path / "out").glob("*.json"))
    assert len(saved) == 1 and saved[0].name.endswith(".interrupted.json")
    assert last.startswith(f"interrupted ({signal.Signals(sig).name}): ") and str(Path("out") / saved[0].name) in last
    record = results.load(saved[0])  # a valid record: schema, aggregate, finite numbers
    assert record["provenance"]["interrupted"] is True
    statuses = [i["status"] for i in record["instances"]]
    not_run = [i for i in record["instances"] if i["message"] == "not run: interrupted"]
    finished = [i for i in record["instances"] if i["status"] == "ok"]
    assert len(record["instances"]) == 120  # every case accounted for, none dropped
    assert len(finished) >= len(seen) - 1 and len(finished) + len(not_run) == 120, statuses
    assert all(i["status"] == "timeout" and i["score"] == 0.0 for i in not_run) and not_run
    assert record["aggregate"]["failed"] == len(not_run)
    assert f"{len(finished)} of 120 cases finished" in last
    assert "result record:" in stdout  # the table and the path were printed too
    assert not gone(below), "a sandboxed process outlived the interrupted run"


def test_an_interrupted_record_is_never_ranked_gated_or_verified(tmp_path, slow_program):
    process = cli("run", "prism_placement", str(slow_program), "--out", "out", cwd=tmp_path)
    wait_for_lines(process, 2)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    cut = next((tmp_path / "out").glob("*.interrupted.json"))
    complete = next((ROOT / "leaderboard" / "results").glob("prism_placement-v2__dev__prism_greedy__*.json"))
    runner = CliRunner()
    gated = runner.invoke(main, ["gate", str(cut), "--against", str(complete)])
    assert gated.exit_code == EXIT_USAGE
    assert gated.output.startswith("error: expected two complete runs, got an interrupted NEW (")
    board = runner.invoke(main, ["leaderboard", "--results", str(tmp_path / "out"), "--out", str(tmp_path / "b.md")])
    assert board.exit_code == EXIT_USAGE and "an interrupted run" in board.output
    verified = runner.invoke(main, ["verify", str(cut)])
    assert verified.exit_code == EXIT_FAILED and "interrupted: " in verified.output


def test_sigkill_leaves_no_process_not_even_a_zombie(tmp_path, slow_program):
    process = cli("run", "prism_placement", str(slow_program), "--no-save", cwd=tmp_path)
    wait_for_lines(process, 2)
    below = descendants(process.pid)
    assert below
    process.kill()
    process.wait(timeout=10)
    assert not gone(below), "a process of the killed run is still there (alive or a zombie)"


def test_a_signal_before_any_case_stops_at_once_saving_nothing(tmp_path):
    """While the set loads (here: a fresh set being built) there is nothing to keep: stop now."""
    process = cli("run", "autoscaling", "--set", "fresh:5", "--out", "out", cwd=tmp_path,
                  env=dict(os.environ, ADRS_BENCH_CACHE=str(tmp_path / "cache")))  # an empty cache: it builds
    time.sleep(3)  # building this set takes minutes: no case can have started
    below = descendants(process.pid)  # the fork server, started first
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert not gone(below)
    assert process.returncode == EXIT_INTERRUPTED
    assert stderr.strip().splitlines()[-1] == ("interrupted: stopped before anything could be kept; "
                                               "nothing was saved")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# ------------------------------------------------------------------ output folders and unexpected errors

@pytest.mark.parametrize("option", ["--out", "--artifacts"])
def test_an_unwritable_output_folder_is_refused_before_the_first_case(tmp_path, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "results"  # cannot be made: its parent is a file (root writes anywhere, so no chmod)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["run", "prism_placement", "--set", "public", option, str(target)])
    assert result.exit_code == EXIT_USAGE
    assert result.output == (f"error: expected {option} to be a folder you can write to, got {target} "
                             f"(Not a directory); pass another {option} or fix its permissions\n")
    assert time.monotonic() - started < 5
    as_file = CliRunner().invoke(main, ["run", "prism_placement", option, str(blocker)])  # click's own check
    assert as_file.exit_code == EXIT_USAGE and f"Invalid value for '{option}'" in as_file.output
    assert "is a file" in as_file.output


def test_an_unexpected_exception_is_one_line_with_a_saved_traceback_and_the_record_kept(tmp_path, monkeypatch):
    from adrs_bench.registry import get_task

    plugin = get_task("prism_placement").plugin

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in writing artifacts")

    monkeypatch.setattr(type(plugin), "write_artifacts", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    result = CliRunner().invoke(main, ["run", "prism_placement", "--set", "public", "--out", str(tmp_path / "out"),
                                       "--artifacts", str(tmp_path / "art"), "--quiet"])
    assert result.exit_code == EXIT_INTERNAL
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: internal error in adrs-bench (RuntimeError: a bug in writing artifacts); "
                           "the traceback is in ") and last.endswith("; please report it")
    saved = Path(last.split("the traceback is in ")[1].split(";")[0])
    assert saved.parent == tmp_path and "Traceback (most recent call last)" in saved.read_text()
    assert "Traceback" not in result.output
    assert "score (mean_optimality_ratio" in result.output  # the table came before the failure
    assert len(list((tmp_path / "out").glob("*.json"))) == 1  # and the scores were saved


# ------------------------------------------------------------------ exit codes

@pytest.mark.parametrize("args, code", [
    (["validate", "prism_placement", "{bad}"], EXIT_FAILED),  # the program is refused
    (["run", "prism_placement", "{bad}", "--no-save"], EXIT_FAILED),
    (["run", "no_such_task", "{good}"], EXIT_USAGE),  # unknown task
    (["run", "prism_placement", "{missing}"], EXIT_USAGE),  # missing file
    (["run", "prism_placement", "{good}", "--set", "nope"], EXIT_USAGE),  # unknown set
    (["run", "prism_placement", "{naive}", "--set", "dev", "--no-save", "--quiet", "--strict"], EXIT_FAILED),
    (["run", "prism_placement", "{good}", "--set", "public", "--no-save", "--quiet", "--strict"], 0),
    (["run", "prism_placement", "{good}", "--bogus-option"], EXIT_USAGE),  # click's own usage error
], ids=["refused-validate", "refused-run", "unknown-task", "missing-file", "unknown-set", "strict-failed",
        "strict-ok", "bad-option"])
def test_exit_codes_tell_a_bad_program_from_a_wrong_call(tmp_path, args, code):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\ndef compute_model_placement(gpu_num, models):\n    return os.getcwd()\n")
    paths = {"bad": str(bad), "good": str(ROOT / "tasks/prism_placement/example.py"),
             "missing": str(tmp_path / "missing.py"),
             "naive": str(ROOT / "tasks/prism_placement/baselines/first_fit.py")}
    result = CliRunner().invoke(main, [a.format(**paths) for a in args])
    assert result.exit_code == code, result.output


def test_help_documents_the_exit_codes():
    for args in (["--help"], ["run", "--help"]):
        text = " ".join(CliRunner().invoke(main, args).output.split())
        assert ("Exit status: 0 ok; 1 the submission was refused, failed cases with --strict, a gate regressed or "
                "a check failed; 2 usage or configuration error; 3 internal error") in text
        assert "130 interrupted (Ctrl-C or SIGTERM)" in text
    reference = (ROOT / "docs" / "cli.md").read_text()
    assert "| 130 | interrupted by Ctrl-C or SIGTERM" in reference and "| 1 | the submission was refused" in reference


# ------------------------------------------------------------------ gate's messages

def committed(task: str, set_name: str, label: str) -> Path:
    return next((ROOT / "leaderboard" / "results").glob(f"{task}-v*__{set_name}__{label}__*.json"))


def test_gate_names_the_real_mismatch(tmp_path):
    runner = CliRunner()
    greedy_dev = committed("prism_placement", "dev", "prism_greedy")
    other_task = runner.invoke(main, ["gate", str(committed("llm_routing", "dev", "hra_spf")), "--against",
                                      str(greedy_dev)])
    assert other_task.exit_code == EXIT_USAGE
    assert other_task.output == ("error: expected results of one task, got llm_routing (NEW) and prism_placement "
                                 "(OLD); gate a submission against a record of the same task\n")
    other_set = runner.invoke(main, ["gate", str(committed("prism_placement", "test", "prism_greedy")), "--against",
                                     str(greedy_dev)])
    assert other_set.output == ("error: expected results on the same instance set, got test (NEW) and dev (OLD); "
                                "run both on one set (--set dev)\n")
    older = json.loads(greedy_dev.read_text())
    older["task"]["id"], older["task"]["version"] = "prism_placement-v1", 1
    (tmp_path / "v1.json").write_text(json.dumps(older))
    other_version = runner.invoke(main, ["gate", str(greedy_dev), "--against", str(tmp_path / "v1.json")])
    assert other_version.output == ("error: expected results of one task version, got prism_placement-v2 (NEW) and "
                                    "prism_placement-v1 (OLD); re-run the OLD submission (prism_greedy) on "
                                    "prism_placement-v2\n")
    folder = runner.invoke(main, ["gate", str(ROOT / "leaderboard" / "results"), "--against", str(greedy_dev)])
    assert folder.exit_code == EXIT_USAGE
    assert folder.output.startswith(f"error: expected a result file, got the directory {ROOT / 'leaderboard'}")
    assert "pass one of its records, e.g. " in folder.output and len(folder.output.splitlines()) == 1


# ------------------------------------------------------------------ progress and units

def test_off_a_terminal_progress_is_one_plain_line_per_finished_case(tmp_path):
    process = cli("run", "prism_placement", "--set", "public", "--no-save", cwd=tmp_path)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0
    assert "\r" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 50 and all(line.startswith(f"[{n}/50] ") for n, line in enumerate(lines, 1))
    assert " ok score " in lines[0]


def test_on_a_terminal_progress_is_redrawn_and_shows_simulated_time_within_a_case(tmp_path):
    """A real pseudo-terminal as stderr: the line is redrawn in place, and a long case reports the
    share of its simulated time as it runs (autoscaling's smoke trace takes a second or two)."""
    master, slave = os.openpty()
    process = subprocess.Popen([sys.executable, "-m", "adrs_bench.cli", "run", "autoscaling", "--set", "smoke",
                                "--no-save"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=60)
    os.close(master)
    text = seen.decode()
    assert "\r[0 done] " in text and "of simulated time" in text and "\r[1/1] " in text
    assert "\n" not in text.rstrip("\r\n").split("\r")[1]  # redrawn, not one line per update


def test_terminal_progress_draws_ticks_and_ends_its_line():
    out = io.StringIO()
    shown = RunProgress(out, tty=True)
    shown.started -= 1.0  # past the first-draw delay
    shown.tick("seed-1", 0.25)
    shown.case_done(2, 2, InstanceOutcome("seed-1", "ok", "", 1.0, 0.5, {}))
    shown.close()
    text = out.getvalue()
    assert text.startswith("\r[0 done] ") and "seed-1: 25% of simulated time" in text
    assert "\r[2/2] " in text and text.endswith("\n")
    plain = io.StringIO()
    RunProgress(plain, tty=False).case_done(3, 5, InstanceOutcome("c", "error", "ValueError: x", 0.0, 0.25, {}))
    assert plain.getvalue() == "[3/5] c error (0.25 s): ValueError: x\n"


def test_every_console_figure_names_its_unit():
    from adrs_bench.registry import get_task, task_names

    unitless = {"ADRS combined"}  # a score, as ADRS defines it
    for name in task_names():
        for key, title in get_task(name).plugin.summary_columns():
            assert title in unitless or any(unit in title for unit in ("(", "s/", "GPU-h")), (name, title)
    routing = dict(get_task("llm_routing").plugin.summary_columns())
    assert routing["restarted_share"] == "restarted requests (share)"
    assert routing["router_share"] == "router time (share of wall)"


def test_the_readme_stands_alone():
    text = (ROOT / "README.md").read_text()
    assert "../" not in text, "the README points outside the repository"
    for target in __import__("re").findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), target


def test_new_writes_a_starter_whose_try_it_line_names_the_file_written(tmp_path):
    runner = CliRunner()
    for task in ("prism_placement", "llm_routing", "autoscaling"):
        target = tmp_path / "sub" / f"{task}_mine.py"
        written = runner.invoke(main, ["new", task, str(target)])
        assert written.exit_code == 0, written.output
        lines = [line.strip() for line in target.read_text().splitlines() if line.strip().startswith("Try it:")]
        assert lines == [f"Try it:  adrs-bench run {task} {target}"]
        assert runner.invoke(main, ["validate", task, str(target)]).exit_code == 0
