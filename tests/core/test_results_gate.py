"""Result records (build, save atomically, load, schema versions), the CI gate and the leaderboard."""
from __future__ import annotations

import copy
import hashlib
import json
import random
import re

import pytest

from adrs_bench import results
from adrs_bench.errors import AdrsError, NotComparable, ResultFileError, SchemaVersionError, UsageError
from adrs_bench.gate import compare, compare_records
from adrs_bench.instances import InstanceSet
from adrs_bench.leaderboard import render, render_all, render_json
from adrs_bench.registry import get_task
from adrs_bench.evaluator_hash import evaluator_sha256
from adrs_bench.runner import build_record, run_cases
from adrs_bench.sandbox.checks import check_submission

from conftest import ROUND_ROBIN, small_cases

PRISM_ID = get_task("prism_placement").spec.id  # the current version, e.g. prism_placement-v2

FAIL_ON_SECOND = """
def compute_model_placement(gpu_num, models):
    if models[0].model_name == "m1_0":
        raise ValueError("no")
    placement = {g: [] for g in range(gpu_num)}
    for i, m in enumerate(models):
        placement[i % gpu_num].append(m)
    return placement
"""


def make_record(tmp_dir, source: str, label: str, cases=None) -> dict:
    task = get_task("prism_placement")
    cases = small_cases(3) if cases is None else cases
    path = tmp_dir / f"{label}.py"
    path.write_text(source)
    submission = check_submission(path, task.spec)
    outcomes = run_cases(task, submission, cases)
    instance_set = InstanceSet(name="tiny", sha256=hashlib.sha256(b"tiny set").hexdigest(), cases=cases,
                               fresh_seed=None, held_out=False)
    return build_record(task, instance_set, submission, label, outcomes, 0.25)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Two real records on one set: a clean run and one with a failed instance."""
    tmp = tmp_path_factory.mktemp("records")
    return {"good": make_record(tmp, ROUND_ROBIN, "good"), "failing": make_record(tmp, FAIL_ON_SECOND, "failing")}


@pytest.fixture
def good(records):
    return copy.deepcopy(records["good"])


@pytest.fixture
def failing(records):
    return copy.deepcopy(records["failing"])


def with_score(record: dict, score: float, label: str | None = None) -> dict:
    """A copy scoring `score` (to rounding): every instance gets it, and the aggregate follows, so
    the record still loads (a record whose aggregate disagrees with its instances is refused)."""
    new = copy.deepcopy(record)
    for instance in new["instances"]:
        instance["score"] = score
    new["aggregate"].update(results.aggregate_core([score] * len(new["instances"]),
                                                   [i["status"] for i in new["instances"]]))
    if label:
        new["submission"]["label"] = label
    return new


def temp_files(directory) -> list:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]


# ------------------------------------------------------------------------------ records

def test_record_has_provenance_and_validates(good):
    results.validate(good)
    task = get_task("prism_placement")
    assert good["schema_version"] == results.SCHEMA_VERSION == 2 and good["submission"]["meta"] == {}
    assert good["task"] == {"id": PRISM_ID, "name": "prism_placement", "version": task.spec.version}
    assert good["set"]["sha256"] == hashlib.sha256(b"tiny set").hexdigest()
    assert good["set"]["cases"] == 3
    assert re.fullmatch(r"[0-9a-f]{64}", good["submission"]["sha256"])
    assert good["provenance"]["evaluator_sha256"] == evaluator_sha256(task.spec)
    for key in ("harness_version", "python", "numpy", "platform", "timestamp"):
        assert good["provenance"][key]
    assert good["limits"]["instance_seconds"] == task.spec.limits.instance_seconds
    assert good["metric"] == {"name": "mean_optimality_ratio", "direction": "maximize"}
    assert [i["id"] for i in good["instances"]] == ["case-0", "case-1", "case-2"]
    assert good["aggregate"]["statuses"] == {"ok": 3}


def test_failed_instance_stays_in_the_mean(failing, good):
    statuses = [i["status"] for i in failing["instances"]]
    assert statuses == ["ok", "error", "ok"]
    assert failing["instances"][1]["score"] == 0.0
    assert "ValueError: no" in failing["instances"][1]["message"]
    scores = [i["score"] for i in failing["instances"]]
    assert failing["aggregate"]["score"] == pytest.approx(sum(scores) / 3)
    assert failing["aggregate"]["instances"] == 3 and failing["aggregate"]["ok"] == 2
    assert failing["aggregate"]["failed"] == 1 and failing["aggregate"]["statuses"] == {"ok": 2, "error": 1}
    assert failing["aggregate"]["score"] < good["aggregate"]["score"]


def test_save_and_load_round_trip(good, tmp_path):
    path = results.save(good, tmp_path / "sub" / "record.json")
    assert path.exists()
    assert results.load(path) == json.loads(json.dumps(good))
    assert temp_files(path.parent) == []
    assert path.read_text() == results.dumps(good)  # sorted keys, deterministic


def test_failing_save_leaves_the_old_file_intact(good, tmp_path, monkeypatch):
    path = results.save(good, tmp_path / "record.json")
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        results.save(with_score(good, 0.1), path)
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_invalid_record_is_not_saved(good, tmp_path):
    path = results.save(good, tmp_path / "record.json")
    before = path.read_bytes()
    broken = copy.deepcopy(good)
    del broken["task"]
    with pytest.raises(ResultFileError) as excinfo:
        results.save(broken, path)
    assert "does not match its schema" in str(excinfo.value) and "task" in str(excinfo.value)
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_load_validates_against_the_schema(good, tmp_path):
    broken = copy.deepcopy(good)
    broken["instances"][0]["status"] = "splendid"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ResultFileError) as excinfo:
        results.load(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert "instances/0/status" in message and "splendid" in message


def test_newer_schema_is_refused(good, tmp_path):
    good["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(good))
    with pytest.raises(SchemaVersionError) as excinfo:
        results.load(path)
    message = str(excinfo.value)
    assert "schema 99" in message
    assert "upgrade adrs-bench" in message
    assert isinstance(excinfo.value, ResultFileError) and excinfo.value.exit_code == 2


def test_older_schema_is_refused(good, tmp_path):
    good["schema_version"] = 0
    path = tmp_path / "ancient.json"
    path.write_text(json.dumps(good))
    with pytest.raises(SchemaVersionError) as excinfo:
        results.load(path)
    message = str(excinfo.value)
    assert "schema 0" in message and "older" in message and "re-run" in message


@pytest.mark.parametrize("value", ["1", None, 1.5])
def test_schema_version_must_be_an_integer(good, tmp_path, value):
    good["schema_version"] = value
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(good))
    with pytest.raises(ResultFileError, match="integer schema_version"):
        results.load(path)


@pytest.mark.parametrize("content, words", [
    (b'{"schema_version": 1, "task": ', "unparsable"),
    (b"\xff\xfe\x00garbage", "unparsable"),
    (b"", "unparsable"),
    (b"[1, 2, 3]", "expected a JSON object, got list"),
], ids=["truncated", "binary", "empty", "array"])
def test_corrupted_file(tmp_path, content, words):
    path = tmp_path / "corrupt.json"
    path.write_bytes(content)
    with pytest.raises(ResultFileError) as excinfo:
        results.load(path)
    assert words in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_truncated_real_record(good, tmp_path):
    path = results.save(good, tmp_path / "record.json")
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.raises(ResultFileError, match="re-run the submission"):
        results.load(path)


def test_missing_result_file(tmp_path):
    with pytest.raises(ResultFileError, match="found none"):
        results.load(tmp_path / "nothing.json")


def test_default_filename_carries_the_submission_hash(good):
    good["submission"]["label"] = "my prog/v2"
    sha = good["submission"]["sha256"]
    assert results.default_filename(good) == f"{PRISM_ID}__tiny__my_prog_v2__{sha[:8]}.json"
    other = copy.deepcopy(good)
    other["submission"]["sha256"] = "f" * 64  # another program with the same label: another file
    assert results.default_filename(other) != results.default_filename(good)
    other["set"]["name"] = "dev[4 of 120]"
    assert results.default_filename(other) == f"{PRISM_ID}__dev-4-of-120__my_prog_v2__ffffffff.json"


# ------------------------------------------------------------------------------ gate

def test_gate_equal_passes(good):
    verdict = compare_records(good, copy.deepcopy(good))
    assert verdict.exit_code == 0
    assert verdict.message.startswith("ok:")
    assert f"{PRISM_ID} on tiny" in verdict.message


def test_gate_better_passes(good):
    verdict = compare_records(with_score(good, good["aggregate"]["score"] + 0.1), good)
    assert verdict.exit_code == 0


def test_gate_worse_beyond_tolerance_fails(good):
    old_score = good["aggregate"]["score"]
    verdict = compare_records(with_score(good, old_score - 0.01), good, tolerance=0.001)
    assert verdict.exit_code == 1
    assert verdict.message.startswith("REGRESSION")
    assert "tolerance 0.001" in verdict.message


def test_gate_worse_within_tolerance_passes(good):
    old_score = good["aggregate"]["score"]
    verdict = compare_records(with_score(good, old_score - 0.0005), good, tolerance=0.001)
    assert verdict.exit_code == 0 and verdict.message.startswith("ok:")


def test_gate_newly_failing_instances_fail(good, failing):
    # Same score, but an instance that passed before now fails: still a regression.
    same_score = with_score(failing, good["aggregate"]["score"])
    verdict = compare_records(same_score, good)
    assert verdict.exit_code == 1
    assert "REGRESSION" in verdict.message and "1 instance(s) now fail: case-1" in verdict.message


def test_gate_minimize_direction(good):
    good["metric"]["direction"] = "minimize"
    lower = with_score(good, good["aggregate"]["score"] - 0.1)
    higher = with_score(good, good["aggregate"]["score"] + 0.1)
    assert compare_records(lower, good).exit_code == 0
    assert compare_records(higher, good).exit_code == 1


@pytest.mark.parametrize("field, value, words", [
    (("task", "id"), "prism_placement-v1", ("one task version", "prism_placement-v1", PRISM_ID)),  # an old version
    (("set", "sha256"), "ab" * 32, ("same instance set", "abababababab")),
    (("provenance", "evaluator_sha256"), "cd" * 32, ("same evaluator", "cdcdcdcdcdcd")),
])
def test_gate_not_comparable(good, field, value, words):
    other = copy.deepcopy(good)
    other[field[0]][field[1]] = value
    for new, old in ((other, good), (good, other)):
        with pytest.raises(NotComparable) as excinfo:
            compare_records(new, old)
        assert excinfo.value.exit_code == 2
        for word in words:
            assert word in str(excinfo.value)
        assert "\n" not in str(excinfo.value)


def test_gate_from_files(good, tmp_path):
    old = results.save(good, tmp_path / "old.json")
    new = results.save(with_score(good, good["aggregate"]["score"] - 0.5), tmp_path / "new.json")
    assert compare(new, old).exit_code == 1
    assert compare(old, old).exit_code == 0
    with pytest.raises(UsageError, match="tolerance >= 0"):
        compare(new, old, tolerance=-1)
    with pytest.raises(ResultFileError):
        compare(tmp_path / "missing.json", old)


# ------------------------------------------------------------------------------ leaderboard

def table_labels(text: str) -> list[str]:
    """Submission labels in table order (rank column first, label second)."""
    rows = [line for line in text.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    return [row.split("|")[2].strip() for row in rows]


def test_leaderboard_ranks_by_score_and_is_deterministic(good):
    board = [with_score(good, 0.5, "middle"), with_score(good, 0.9, "best"), with_score(good, 0.1, "worst"),
             with_score(good, 0.5, "also-middle")]
    text = render(board)
    assert table_labels(text) == ["best", "also-middle", "middle", "worst"]
    shuffled = board[:]
    random.Random(3).shuffle(shuffled)
    assert render(shuffled) == text
    assert render(copy.deepcopy(board)) == text
    assert f"## {PRISM_ID} · set `tiny` (3 cases" in text
    assert "mean_optimality_ratio (maximize)" in text
    assert "| rank" in text and "0.9000" in text


def test_leaderboard_minimize_ranks_ascending(good):
    board = [with_score(good, s, label) for s, label in ((3.0, "c"), (1.0, "a"), (2.0, "b"))]
    for record in board:
        record["metric"]["direction"] = "minimize"
    assert table_labels(render(board)) == ["a", "b", "c"]


def test_leaderboard_separates_sets(good):
    other_set = with_score(good, 0.7, "elsewhere")
    other_set["set"]["name"] = "other"
    other_set["set"]["sha256"] = "ef" * 32
    text = render([good, other_set])
    assert text.count(f"## {PRISM_ID}") == 2
    assert "set `other`" in text and "set `tiny`" in text


def test_leaderboard_separates_evaluators(good):
    other = with_score(good, 0.7, "old-evaluator")
    other["provenance"]["evaluator_sha256"] = "cd" * 32
    text = render([good, other])
    assert text.count(f"## {PRISM_ID}") == 2


def test_leaderboard_marks_records_of_an_older_task_version_not_comparable(good):
    old = copy.deepcopy(good)
    old["task"]["id"] = "prism_placement-v1"
    text = render([good, old])
    sections = text.split("\n## ")[1:]
    (old_section,) = [s for s in sections if s.startswith("prism_placement-v1 ")]
    (current_section,) = [s for s in sections if s.startswith(f"{PRISM_ID} ")]
    assert f"**Not comparable** with {PRISM_ID}" in old_section and "from prism_placement-v1" in old_section
    assert "Not comparable" not in current_section


def test_render_all_check_reports_stale(good, tmp_path):
    results_dir = tmp_path / "results"
    for label, score in (("alpha", 0.8), ("beta", 0.6)):  # not baseline names: no scores.json is touched
        record = with_score(good, score, label)
        results.save(record, results_dir / results.default_filename(record))
    out = tmp_path / "board" / "README.md"

    assert render_all(results_dir, out, check=True) == [out]
    assert not out.exists()  # check mode writes nothing

    assert render_all(results_dir, out) == [out]
    assert out.exists() and table_labels(out.read_text()) == ["alpha", "beta"]
    assert render_all(results_dir, out, check=True) == []

    out.write_text(out.read_text() + "hand edit\n")
    assert render_all(results_dir, out, check=True) == [out]

    out.write_text(render([results.load(p) for p in sorted(results_dir.glob("*.json"))], f"{results_dir}/"))
    assert render_all(results_dir, out, check=True) == []
    record = with_score(good, 0.99, "gamma")
    results.save(record, results_dir / results.default_filename(record))
    assert render_all(results_dir, out, check=True) == [out]


def test_render_all_refuses_a_corrupted_record(good, tmp_path):
    results_dir = tmp_path / "results"
    results.save(good, results_dir / "a.json")
    (results_dir / "b.json").write_text("{not json")
    with pytest.raises(AdrsError, match="b.json"):
        render_all(results_dir, tmp_path / "README.md", check=True)


def test_adrs_combined_is_shown_only_when_every_case_is_ok(good, failing):
    """ADRS's formula averages max-KVPR over successful cases only: with a failed case the record
    withholds it (None, with the count), and the run's table and the leaderboard show "- (1 failed)"."""
    from adrs_bench.report import summary_table

    columns = get_task("prism_placement").plugin.summary_columns()
    kept, withheld = good["aggregate"]["extra"], failing["aggregate"]["extra"]
    assert kept["combined_score"] > 1.0 and kept["combined_score_withheld"] is None
    assert withheld["combined_score"] is None and withheld["combined_score_withheld"] == "1 failed"
    assert re.search(r"ADRS combined\s+- \(1 failed\)", summary_table(failing, columns))
    assert re.search(rf"ADRS combined\s+{kept['combined_score']:.4f}", summary_table(good, columns))
    board = render([good, with_score(failing, failing["aggregate"]["score"], "failing")])
    rows = {line.split("|")[2].strip(): line.split("|")[-2].strip() for line in board.splitlines()
            if line.startswith("| ") and "rank" not in line}
    assert rows == {"good": f"{kept['combined_score']:.4f}", "failing": "- (1 failed)"}


def test_rendering_writes_only_its_out_file_and_names_its_source(good, tmp_path):
    """Rendering from another folder never touches a task's baselines/scores.json (the `baselines`
    command writes those, from the committed records only); the header names the folder used."""
    results_dir = tmp_path / "elsewhere"
    record = with_score(good, 0.5, "prism_greedy")  # a baseline's label, on purpose
    results.save(record, results_dir / results.default_filename(record))
    scores = get_task("prism_placement").spec.path("baselines/scores.json")
    before = scores.read_bytes()
    for fmt in ("md", "json"):
        out = tmp_path / f"board.{fmt}"
        render_all(results_dir, out, fmt=fmt)
        assert out.exists()
    assert scores.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.json", "board.md", "elsewhere"]
    assert f"from the result records in `{results_dir}/`" in (tmp_path / "board.md").read_text()
    assert json.loads((tmp_path / "board.json").read_text())["source"] == f"{results_dir}/"


def test_missing_or_empty_results_are_one_line_errors(tmp_path):
    with pytest.raises(UsageError, match=r"expected a folder of result records, got no folder at .*; pass --results"):
        render_all(tmp_path / "nope", tmp_path / "x.md")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"expected result records \(\*\.json\) in .*, found none"):
        render_all(tmp_path / "empty", tmp_path / "x.md")
    assert not (tmp_path / "x.md").exists()


def test_ties_share_a_rank(good):
    board = [with_score(good, 0.5, "b"), with_score(good, 0.9, "a"), with_score(good, 0.5, "c"),
             with_score(good, 0.1, "d")]
    ranks = [line.split("|")[1].strip() for line in render(board).splitlines()
             if line.startswith("| ") and "rank" not in line]
    assert ranks == ["1", "2", "2", "4"]
    table = json.loads(render_json(board))["tables"][0]["rows"]
    assert [(row["rank"], row["submission"]) for row in table] == [(1, "a"), (2, "b"), (2, "c"), (4, "d")]


def test_metadata_is_stored_and_shown(good, tmp_path):
    record = copy.deepcopy(good)
    record["submission"]["meta"] = {"framework": "openevolve", "model": "some-llm"}
    text = render([record])
    assert "| by" in text.splitlines()[[i for i, l in enumerate(text.splitlines()) if l.startswith("| rank")][0]]
    assert "framework: openevolve, model: some-llm" in text
    with pytest.raises(UsageError, match="expected a metadata key among framework, model, budget, generations, "
                                         "author, url, got 'colour'"):
        results.parse_meta(["colour=red"])
    with pytest.raises(UsageError, match="expected --meta KEY=VALUE, got 'framework'"):
        results.parse_meta(["framework"])


def test_a_v1_record_is_migrated_and_still_readable(good, tmp_path):
    old = copy.deepcopy(good)
    old["schema_version"] = 1
    del old["submission"]["meta"]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(old))
    loaded = results.load(path)
    assert loaded["schema_version"] == 2 and loaded["submission"]["meta"] == {}
