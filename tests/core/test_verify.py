"""`adrs-bench verify`: an untouched record verifies; a hand-edited score, a changed program, a stale
evaluator and a forged aggregate are each caught with one line per difference and exit 1."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adrs_bench import evaluate, results
from adrs_bench.cli import main
from adrs_bench.verify import verify

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "leaderboard" / "results"


def committed(pattern: str) -> Path:
    (path,) = RESULTS.glob(pattern)
    return path


def resave(record: dict, path: Path) -> Path:
    """Save a hand-edited record the way a forger would: aggregate recomputed so that it still loads."""
    record["aggregate"].update(results.aggregate_core([i["score"] for i in record["instances"]],
                                                      [i["status"] for i in record["instances"]]))
    return results.save(record, path)


@pytest.fixture(scope="module")
def greedy_public() -> Path:
    return committed("prism_placement-v*__public__prism_greedy__*.json")


def test_an_untouched_committed_record_verifies(greedy_public, monkeypatch):
    monkeypatch.chdir(ROOT)  # records name their program relative to the repository
    verdict = verify(greedy_public)
    assert verdict.ok and verdict.rerun and verdict.differences == ()
    result = CliRunner().invoke(main, ["verify", str(greedy_public)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok  {greedy_public}")


def test_a_hand_edited_score_is_caught(greedy_public, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    record = results.load(greedy_public)
    record["instances"][3]["score"] = 0.999
    forged = resave(record, tmp_path / "forged.json")
    verdict = verify(forged)
    case = record["instances"][3]["id"]
    assert verdict.rerun and len(verdict.differences) == 1
    assert verdict.differences[0].startswith(f"{case}: recorded ok 0.999, re-run ok ")
    result = CliRunner().invoke(main, ["verify", str(forged)])
    assert result.exit_code == 1
    assert f"BAD {forged}" in result.output and f"  {case}: recorded ok 0.999" in result.output


def test_a_forged_aggregate_is_refused_before_anything_runs(greedy_public, tmp_path):
    record = results.load(greedy_public)
    record["aggregate"]["score"] = 9.99
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code != 0 and "aggregate" in result.output and "\n" == result.output[-1]


def test_a_changed_program_is_caught(greedy_public, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    record = results.load(greedy_public)
    program = tmp_path / "greedy.py"
    program.write_text((ROOT / record["submission"]["path"]).read_text() + "\n# tuned\n")
    verdict = verify(greedy_public, program=program)
    assert not verdict.ok and not verdict.rerun
    assert verdict.differences[0].startswith(f"program: {program} has sha256 ")
    assert "changed since it was scored" in verdict.differences[0]


def test_a_stale_evaluator_is_caught(greedy_public, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    record = results.load(greedy_public)
    record["provenance"]["evaluator_sha256"] = "0" * 64
    verdict = verify(resave(record, tmp_path / "old.json"))
    assert not verdict.rerun and verdict.differences[0].startswith("evaluator: sha256 000000000000 in the record")


@pytest.mark.slow  # three sandboxed runs of a 1000 s, 7500-request trace (the default run verifies committed records)
def test_a_fresh_subset_record_is_rebuilt_from_its_seed_and_ids(tmp_path):
    llq = ROOT / "tasks" / "llm_routing" / "baselines" / "llq.py"
    fresh = evaluate("llm_routing", llq, "fresh:7", cases=[_first_fresh_id()])
    path = results.save(dict(fresh.record), tmp_path / "fresh.json")
    assert verify(path, program=llq).ok
    record = copy.deepcopy(dict(fresh.record))
    record["instances"][0]["score"] = 0.5
    assert not verify(resave(record, tmp_path / "edited.json"), program=llq).ok


def _first_fresh_id() -> str:
    from adrs_bench.instances import load_set
    from adrs_bench.registry import get_task

    task = get_task("llm_routing")
    return task.plugin.case_id(load_set(task, "fresh:7").cases[0])
