"""`adrs-bench export`: the evaluators for OpenEvolve (through OpenEvolve's own Evaluator class, from
PyPI), ShinkaEvolve (run as its scheduler runs it) and SkyDiscover (evaluator.py and evaluate.sh)."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adrs_bench import evaluate
from adrs_bench.cli import main
from adrs_bench.registry import get_task
from adrs_bench.sandbox import forkserver

from test_api import LOOP, descendants, wait_gone

PRISM = get_task("prism_placement")
EXAMPLE = PRISM.spec.path(PRISM.spec.example)
BROKEN = "def compute_model_placement(gpu_num, models:\n    return {}\n"
CHATTY = ("def compute_model_placement(gpu_num, models):\n    print('hello from the candidate')\n"
          "    placement = {g: [] for g in range(gpu_num)}\n    for i, m in enumerate(models):\n"
          "        placement[i % gpu_num].append(m)\n    return placement\n")


def export(framework: str, directory: Path, task: str = "prism_placement", deadline: str = "4") -> Path:
    result = CliRunner().invoke(main, ["export", framework, task, str(directory), "--deadline", deadline])
    assert result.exit_code == 0, result.output
    assert (directory / "README.md").exists()
    return directory


@pytest.fixture(scope="module")
def example_on_dev():
    """`evaluate("prism_placement", EXAMPLE, "dev")`, once for the tests that compare an export with it."""
    return evaluate("prism_placement", EXAMPLE, "dev")


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------ openevolve

@pytest.fixture(scope="module")
def openevolve_evaluator(tmp_path_factory):
    from openevolve.config import load_config
    from openevolve.evaluator import Evaluator

    directory = export("openevolve", tmp_path_factory.mktemp("openevolve"))
    config = load_config(str(directory / "config.yaml"))  # the exported config loads as OpenEvolve's
    assert config.evaluator.timeout > 4 and config.evaluator.cascade_evaluation
    return directory, Evaluator(config.evaluator, str(directory / "evaluator.py"))


def run_openevolve(evaluator, code: str, program_id: str):
    metrics = asyncio.run(evaluator.evaluate_program(code, program_id))
    return metrics, evaluator.get_pending_artifacts(program_id) or {}


def test_openevolve_scores_the_example_as_adrs_bench_does(openevolve_evaluator, example_on_dev):
    directory, evaluator = openevolve_evaluator
    initial = (directory / "initial_program.py").read_text()
    assert initial.startswith("# EVOLVE-BLOCK-START\n") and initial.endswith("# EVOLVE-BLOCK-END\n")
    metrics, artifacts = run_openevolve(evaluator, initial, "example")
    direct = evaluate("prism_placement", code=initial, set="dev")
    assert direct.score == example_on_dev.score  # the markers change nothing
    assert metrics["combined_score"] == direct.score  # the whole of dev (stage 2), bit for bit
    assert metrics["cases_failed"] == direct.failed == 0
    # all ok, so the task's ADRS combined score exists; it never takes combined_score's place
    assert metrics["task_combined_score"] == direct.record["aggregate"]["extra"]["combined_score"] != direct.score
    assert artifacts["feedback"] == direct.feedback()


@pytest.mark.slow  # waits out the exported 4 s deadline in real OpenEvolve (a kill test with real processes)
def test_openevolve_cuts_a_looping_program_at_the_deadline_and_leaves_no_process(openevolve_evaluator):
    _, evaluator = openevolve_evaluator
    server = forkserver.server()
    started = time.monotonic()
    metrics, artifacts = run_openevolve(evaluator, LOOP, "loop")
    assert time.monotonic() - started < 4 + 10
    assert metrics["combined_score"] == 0.0 and metrics["cases_ok"] == 0.0
    assert "not run: deadline (4 s) reached" in artifacts["feedback"]
    assert wait_gone(descendants(server.process.pid), 5) == []


def test_openevolve_gets_a_clear_error_for_a_broken_program(openevolve_evaluator):
    _, evaluator = openevolve_evaluator
    metrics, artifacts = run_openevolve(evaluator, BROKEN, "broken")
    assert metrics["combined_score"] == 0.0
    assert artifacts["feedback"].startswith("error: ") and "expected valid Python, got a syntax error" in artifacts["feedback"]


def test_no_search_entry_point_reaches_the_held_out_set(tmp_path, monkeypatch):
    """Every function a search calls asks adrs_bench for dev only (evaluate.sh's `test` mode aside)."""
    import adrs_bench

    asked: list[str] = []
    real = adrs_bench.evaluate

    def spy(task, program=None, set="dev", **kwargs):
        asked.append(set)
        return real(task, program, set, **kwargs)

    monkeypatch.setattr(adrs_bench, "evaluate", spy, raising=False)
    oe = load_module(export("openevolve", tmp_path / "oe") / "evaluator.py", "oe_evaluator")
    sky = load_module(export("skydiscover", tmp_path / "sd") / "evaluator.py", "sd_evaluator")
    shinka = load_module(export("shinka", tmp_path / "sh") / "evaluate.py", "sh_evaluate")
    for function in (oe.evaluate, oe.evaluate_stage1, oe.evaluate_stage2, sky.evaluate):
        function(str(EXAMPLE))
    shinka.main(["--program_path", str(EXAMPLE), "--results_dir", str(tmp_path / "out")])
    assert asked and set(asked) == {"dev"}
    with pytest.raises(SystemExit):
        shinka.main(["--program_path", str(EXAMPLE), "--results_dir", str(tmp_path / "out"), "--set", "test"])


# ------------------------------------------------------------------------------------ shinka

def run_shinka(directory: Path, program: Path, results: Path) -> subprocess.CompletedProcess:
    """As ShinkaEvolve's scheduler runs an evaluator: a subprocess with --program_path and --results_dir."""
    return subprocess.run([sys.executable, str(directory / "evaluate.py"), "--program_path", str(program),
                           "--results_dir", str(results)], capture_output=True, text=True, timeout=300)


def test_shinka_writes_its_files_and_exits_zero(tmp_path, example_on_dev):
    directory = export("shinka", tmp_path / "shinka")
    done = run_shinka(directory, EXAMPLE, tmp_path / "good")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "good" / "metrics.json").read_text())
    assert set(metrics) == {"combined_score", "public", "private", "text_feedback"}
    direct = example_on_dev
    assert metrics["combined_score"] == direct.score
    assert all(isinstance(v, float) for v in metrics["public"].values()) and metrics["public"]["cases_failed"] == 0
    assert metrics["private"]["set_sha256"] == PRISM.spec.sets["dev"].sha256
    assert metrics["private"]["evaluator_sha256"] == direct.record["provenance"]["evaluator_sha256"]
    assert json.loads((tmp_path / "good" / "correct.json").read_text()) == {"correct": True, "error": None}
    record = json.loads((tmp_path / "good" / "record.json").read_text())
    assert record["aggregate"]["score"] == direct.score

    naive = PRISM.spec.path(PRISM.spec.baselines["first_fit"])  # fails some dev cases
    done = run_shinka(directory, naive, tmp_path / "naive")
    assert done.returncode == 0, done.stderr
    correct = json.loads((tmp_path / "naive" / "correct.json").read_text())
    assert correct["correct"] is False  # correct means every case ok
    assert correct["error"].startswith("dev-") and "fits on no GPU" in correct["error"]
    failed = evaluate("prism_placement", naive, "dev").failed
    assert json.loads((tmp_path / "naive" / "metrics.json").read_text())["public"]["cases_failed"] == failed > 0

    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    done = run_shinka(directory, broken, tmp_path / "bad")
    assert done.returncode == 0, done.stderr
    correct = json.loads((tmp_path / "bad" / "correct.json").read_text())
    assert correct == {"correct": False, "error": correct["error"]} and "syntax error" in correct["error"]
    assert json.loads((tmp_path / "bad" / "metrics.json").read_text())["combined_score"] == 0.0


@pytest.mark.slow  # since the example places every model, test_shinka_writes_its_files_and_exits_zero checks this
def test_shinka_correct_is_true_when_every_case_is_ok(tmp_path):
    directory = export("shinka", tmp_path / "shinka")
    exact = PRISM.spec.path(PRISM.spec.baselines["lookahead_local_search"])
    done = subprocess.run([sys.executable, str(directory / "evaluate.py"), "--program_path", str(exact),
                           "--results_dir", str(tmp_path / "r"), "--set", "smoke" if "smoke" in PRISM.spec.sets else "dev"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r" / "correct.json").read_text()) == {"correct": True, "error": None}


# ------------------------------------------------------------------------------------ skydiscover

def test_skydiscover_evaluator_returns_a_dict_and_never_raises(tmp_path, example_on_dev):
    module = load_module(export("skydiscover", tmp_path / "sd") / "evaluator.py", "sd_evaluator_2")
    good = module.evaluate(str(EXAMPLE))
    assert good["combined_score"] == example_on_dev.score
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    bad = module.evaluate(str(broken))
    assert bad["combined_score"] == 0.0 and "syntax error" in bad["error"]
    assert module.evaluate(str(tmp_path / "missing.py"))["combined_score"] == 0.0


@pytest.mark.parametrize("mode, set_name", [("train", "dev"), ("test", "test")])
def test_evaluate_sh_prints_exactly_one_json_object(tmp_path, mode, set_name):
    directory = export("skydiscover", tmp_path / "sd")
    chatty = tmp_path / "chatty.py"
    chatty.write_text(CHATTY)
    done = subprocess.run(["bash", str(directory / "evaluate.sh"), str(chatty), mode], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.endswith("\n")
    answer = json.loads(done.stdout)
    assert set(answer) == {"status", "combined_score", "metrics", "artifacts"}
    assert answer["combined_score"] == evaluate("prism_placement", code=CHATTY, set=set_name).score
    assert answer["status"] in ("ok", "partial")
    wrong = subprocess.run(["bash", str(directory / "evaluate.sh"), str(chatty), "nope"], capture_output=True, text=True)
    assert wrong.returncode == 2 and json.loads(wrong.stdout)["status"] == "error"
