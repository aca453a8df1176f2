"""The `adrs-bench` command through click's CliRunner: help everywhere, one-line errors, exit codes."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from adrs_bench import results
from adrs_bench.cli import main
from adrs_bench.registry import get_task

from test_results_gate import make_record, with_score


def all_commands(group: click.Group, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


COMMANDS = list(all_commands(main))
PRISM_ID = get_task("prism_placement").spec.id  # the current version, e.g. prism_placement-v2


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def error_line(result) -> str:
    """The one-line `error: ...` a failing command prints on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# ------------------------------------------------------------------------------ help

def test_expected_commands_exist():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"list", "show", "new", "validate", "run", "gate", "leaderboard", "instances", "instances verify"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(runner, path):
    result = invoke(runner, *path, "--help")
    assert result.exit_code == 0
    assert f"Usage: main {' '.join(path)}" in result.output or f"{' '.join(path)} [OPTIONS]" in result.output
    command = dict(COMMANDS)[path]
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"
    assert command.help.strip().splitlines()[0] in " ".join(result.output.split())


def test_top_level_help_lists_commands(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for name in main.commands:
        assert name in result.output


def test_version(runner):
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert "adrs-bench" in result.output and "0." in result.output


# ------------------------------------------------------------------------------ list / show

def test_list(runner):
    result = invoke(runner, "list")
    assert result.exit_code == 0
    assert PRISM_ID in result.output
    assert "KV-cache" in result.output


@pytest.mark.parametrize("name", ["prism_placement", PRISM_ID])
def test_show(runner, name):
    result = invoke(runner, "show", name)
    assert result.exit_code == 0
    out = result.output
    assert out.startswith(f"{PRISM_ID}:")
    assert "compute_model_placement(gpu_num: int, models: list[Model])" in out
    assert "limits" in out and "s per instance" in out and "MB address space" in out
    assert "mean_optimality_ratio (maximize)" in out
    for set_name in ("public", "dev", "test", "scale"):
        assert set_name in out
    assert "[held out]" in out
    assert "round_robin" in out


def test_unknown_task_suggests(runner):
    result = invoke(runner, "show", "prism_placment")
    assert result.exit_code == 2
    line = error_line(result)
    assert "did you mean 'prism_placement'?" in line
    assert "adrs-bench list" in line
    assert result.stdout == ""


def test_unknown_task_without_a_close_match(runner):
    result = invoke(runner, "show", "zzzz")
    assert result.exit_code == 2
    line = error_line(result)
    assert "got 'zzzz'" in line and "did you mean" not in line and "known tasks: autoscaling, llm_routing, prism_placement" in line


def test_unknown_task_version(runner):
    result = invoke(runner, "show", "prism_placement-v9")
    assert result.exit_code == 2
    line = error_line(result)
    assert "prism_placement-v9" in line and f"it has {PRISM_ID}" in line and "not comparable" in line


# ------------------------------------------------------------------------------ new / validate

def test_new_writes_a_valid_starter(runner, tmp_path):
    out = tmp_path / "nested" / "mine.py"
    result = invoke(runner, "new", "prism_placement", out)
    assert result.exit_code == 0
    assert out.exists() and "def compute_model_placement" in out.read_text()
    assert f"adrs-bench run prism_placement {out}" in result.output

    result = invoke(runner, "validate", "prism_placement", out)
    assert result.exit_code == 0
    assert result.output.startswith(f"ok: {out} defines compute_model_placement(gpu_num, models)")


def test_new_refuses_to_overwrite(runner, tmp_path):
    out = tmp_path / "mine.py"
    out.write_text("# my work\n")
    result = invoke(runner, "new", "prism_placement", out)
    assert result.exit_code == 2
    line = error_line(result)
    assert "existing" in line and "--force" in line
    assert out.read_text() == "# my work\n"

    result = invoke(runner, "new", "prism_placement", out, "--force")
    assert result.exit_code == 0
    assert "def compute_model_placement" in out.read_text()


@pytest.mark.parametrize("source, words", [
    ("import os\n\ndef compute_model_placement(gpu_num, models):\n    return os.getcwd()\n",
     ("import of 'os'", "the code uses 'os'")),
    ("def compute_model_placement(gpu_num, models):\n    return {\n", ("syntax error",)),
    ("def place(gpu_num, models):\n    return {}\n", ("got none",)),
    ("def compute_model_placement(gpu_num, models):\n    return models.__class__\n", ('"__class__"',)),
])
def test_validate_bad_file(runner, tmp_path, source, words):
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    result = invoke(runner, "validate", "prism_placement", bad)
    assert result.exit_code == 1  # the program is bad (2 is for a wrong call: unknown task, missing file)
    line = error_line(result)
    assert str(bad) in line
    for word in words:
        assert word in line
    assert result.stdout == ""


def test_validate_warns_about_an_unused_import_outside_the_allowlist(runner, tmp_path):
    path = tmp_path / "wrapped.py"
    path.write_text("def compute_model_placement(gpu_num, models):\n    return {}\nfrom pathlib import Path\n")
    result = invoke(runner, "validate", "prism_placement", path)
    assert result.exit_code == 0
    first, second = result.output.splitlines()
    assert first.startswith("warning: ") and "wrapped.py:3: import of 'pathlib' is not on the allowlist" in first
    assert second.startswith("ok: ")


def test_validate_missing_file(runner, tmp_path):
    result = invoke(runner, "validate", "prism_placement", tmp_path / "nope.py")
    assert result.exit_code == 2
    assert "no file" in error_line(result)


# ------------------------------------------------------------------------------ gate

@pytest.fixture(scope="module")
def base_record(tmp_path_factory):
    from conftest import ROUND_ROBIN

    return make_record(tmp_path_factory.mktemp("cli-records"), ROUND_ROBIN, "base")


def test_gate_exit_codes(runner, tmp_path, base_record):
    score = base_record["aggregate"]["score"]
    old = results.save(base_record, tmp_path / "old.json")
    same = results.save(copy.deepcopy(base_record), tmp_path / "same.json")
    worse = results.save(with_score(base_record, score - 0.01), tmp_path / "worse.json")
    other = copy.deepcopy(base_record)
    other["set"]["sha256"] = "ab" * 32
    other = results.save(other, tmp_path / "other.json")

    result = invoke(runner, "gate", same, "--against", old)
    assert result.exit_code == 0 and result.output.startswith("ok:")

    result = invoke(runner, "gate", worse, "--against", old)
    assert result.exit_code == 1 and result.output.startswith("REGRESSION")

    result = invoke(runner, "gate", worse, "--against", old, "--tolerance", "0.02")
    assert result.exit_code == 0 and "tolerance 0.02" in result.output

    result = invoke(runner, "gate", other, "--against", old)
    assert result.exit_code == 2
    assert "same instance set" in error_line(result)

    result = invoke(runner, "gate", tmp_path / "missing.json", "--against", old)
    assert result.exit_code == 2
    assert "found none" in error_line(result)

    result = invoke(runner, "gate", worse, "--against", old, "--tolerance", "-1")
    assert result.exit_code == 2
    assert "tolerance >= 0" in error_line(result)


def test_gate_refuses_newer_schema(runner, tmp_path, base_record):
    old = results.save(base_record, tmp_path / "old.json")
    future = dict(json.loads(old.read_text()), schema_version=99)
    path = tmp_path / "future.json"
    path.write_text(json.dumps(future))
    result = invoke(runner, "gate", path, "--against", old)
    assert result.exit_code == 2
    assert "upgrade adrs-bench" in error_line(result)


def test_leaderboard_check(runner, tmp_path, base_record):
    results_dir = tmp_path / "results"
    record = with_score(base_record, 0.5, "cli-entry")
    results.save(record, results_dir / results.default_filename(record))
    out = tmp_path / "README.md"
    result = invoke(runner, "leaderboard", "--results", results_dir, "--out", out, "--check")
    assert result.exit_code == 1
    assert "stale" in result.stderr and str(out) in result.stderr
    result = invoke(runner, "leaderboard", "--results", results_dir, "--out", out)
    assert result.exit_code == 0 and "wrote" in result.output and "cli-entry" in out.read_text()
    result = invoke(runner, "leaderboard", "--results", results_dir, "--out", out, "--check")
    assert result.exit_code == 0 and "up to date" in result.output


def test_run_unknown_set(runner, tmp_path):
    result = invoke(runner, "run", "prism_placement", "--set", "nope", "--no-save", "--out", tmp_path)
    assert result.exit_code == 2
    line = error_line(result)
    assert "'nope'" in line and "fresh:SEED" in line


def test_run_bad_fresh_seed(runner, tmp_path):
    result = invoke(runner, "run", "prism_placement", "--set", "fresh:abc", "--no-save", "--out", tmp_path)
    assert result.exit_code == 2
    assert "fresh:SEED" in error_line(result)


# ------------------------------------------------------------------------------ import cost

def test_help_imports_no_heavy_modules(tmp_path):
    script = (
        "import sys\n"
        "import adrs_bench.cli\n"
        "try:\n"
        "    adrs_bench.cli.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'scipy', 'numpy', 'tabulate'})\n"
        "print('HEAVY', ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    heavy = result.stdout.strip().splitlines()[-1]
    assert heavy.startswith("HEAVY")
    assert "pandas" not in heavy and "scipy" not in heavy
    assert "numpy" not in heavy  # adrs_bench/__init__: --help must not pay for numpy either


@pytest.mark.parametrize("args", [["list"], ["show", "llm_routing"], ["show", "autoscaling"], ["show", "prism_placement"]])
def test_listing_and_showing_tasks_import_no_scipy_pandas_or_matplotlib(tmp_path, args):
    script = (
        "import sys\n"
        "import adrs_bench.cli\n"
        "try:\n"
        f"    adrs_bench.cli.main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'scipy', 'matplotlib'})\n"
        "print('HEAVY', ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY"


def test_console_entry_point_help(tmp_path):
    result = subprocess.run([sys.executable, "-m", "adrs_bench.cli", "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "Score AI-written systems algorithms" in result.stdout
