"""autoscaling's request traces (instances/<set>.csv.gz) are pinned by the sha256 their set file
records, and the set file by spec.json: an edit to either is refused with the same one-line message
as any task's instance file (it used to be a ValueError traceback). Always on a copy in tmp_path."""
from __future__ import annotations

import gzip
import json
import shutil

import pytest
from click.testing import CliRunner

import adrs_bench.registry as registry
import adrs_bench.tasks.autoscaling.task as autoscaling_task
from adrs_bench.cli import main
from adrs_bench.errors import InstanceHashMismatch, InstanceSetNotFound
from adrs_bench.instances import load_set, sha256_bytes
from adrs_bench.registry import Task, get_task
from adrs_bench.spec import load_spec

REAL = get_task("autoscaling")


@pytest.fixture
def copy_root(tmp_path, monkeypatch):
    """A copy of the task's spec and instances; the plugin reads its traces from the copy."""
    root = tmp_path / "autoscaling"
    (root / "instances").mkdir(parents=True)
    shutil.copy(REAL.spec.path("spec.json"), root / "spec.json")
    for name in ("smoke.json", "smoke.csv.gz"):
        shutil.copy(REAL.spec.path(f"instances/{name}"), root / "instances" / name)
    monkeypatch.setattr(autoscaling_task, "INSTANCES_DIR", root / "instances")
    return root


@pytest.fixture
def copied_task(copy_root) -> Task:
    return Task(spec=load_spec(copy_root), plugin=REAL.plugin)


def edit_one_row(path) -> None:
    """Change one request's decode length by one token, keeping the CSV well formed."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    trace, time, prompt, decode = lines[5].strip().split(",")
    lines[5] = f"{trace},{time},{prompt},{int(decode) + 1}\n"
    path.write_bytes(gzip.compress("".join(lines).encode(), mtime=0))


def test_the_copy_loads(copied_task):
    assert [c.id for c in load_set(copied_task, "smoke").cases] == ["sinusoid-0"]


def test_edited_trace_file_is_refused(copied_task, copy_root):
    path = copy_root / "instances" / "smoke.csv.gz"
    pinned = json.loads((copy_root / "instances" / "smoke.json").read_text())["requests_sha256"]
    edit_one_row(path)
    with pytest.raises(InstanceHashMismatch) as excinfo:
        load_set(copied_task, "smoke")
    assert str(excinfo.value) == (
        f"instance file {path} has sha256 {sha256_bytes(path.read_bytes())[:12]}…, expected {pinned[:12]}… "
        "(pinned in smoke.json); it was corrupted or edited: restore it (git checkout) or regenerate it and "
        "bump the task version")


def test_edited_set_file_is_refused_alike(copied_task, copy_root):
    """Re-pinning the edited trace in the set file only moves the mismatch to spec.json's pin."""
    csv_path, set_path = copy_root / "instances" / "smoke.csv.gz", copy_root / "instances" / "smoke.json"
    edit_one_row(csv_path)
    document = json.loads(set_path.read_text())
    document["requests_sha256"] = sha256_bytes(csv_path.read_bytes())
    set_path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    with pytest.raises(InstanceHashMismatch) as excinfo:
        load_set(copied_task, "smoke")
    assert str(excinfo.value) == (
        f"instance file {set_path} has sha256 {sha256_bytes(set_path.read_bytes())[:12]}…, expected "
        f"{REAL.spec.sets['smoke'].sha256[:12]}… (pinned in spec.json); it was corrupted or edited: restore it "
        "(git checkout) or regenerate it and bump the task version")


def test_missing_trace_file_is_named(copied_task, copy_root):
    path = copy_root / "instances" / "smoke.csv.gz"
    path.unlink()
    with pytest.raises(InstanceSetNotFound) as excinfo:
        load_set(copied_task, "smoke")
    assert str(excinfo.value) == (
        f"expected the instance file {path} (the requests of set 'smoke'), found none; reinstall adrs-bench or "
        "regenerate with python -m adrs_bench.tasks.autoscaling.generate")


def test_cli_prints_one_line(copied_task, copy_root, monkeypatch):
    """`adrs-bench run autoscaling --set smoke` on an edited trace: one line, exit 2, no traceback."""
    monkeypatch.setattr(registry, "get_task", lambda name: copied_task)
    path = copy_root / "instances" / "smoke.csv.gz"
    edit_one_row(path)
    result = CliRunner().invoke(main, ["run", "autoscaling", "--set", "smoke", "--no-save", "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: instance file {path} has sha256 ")
    assert result.output.count("\n") == 1 and "(pinned in smoke.json)" in result.output
