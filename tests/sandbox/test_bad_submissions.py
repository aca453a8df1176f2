"""Every kind of bad submission gets a tiny fixture and a precise verdict (DESIGN.md §3, §4).

Static failures raise a one-line InvalidSubmission / SubmissionNotFound. Runtime failures are per
instance (`ok | invalid | timeout | memory | crashed | error`, each with a message): the bad
behaviour is triggered on one case only, and the cases around it are still run and scored — no
case is ever dropped (len(outcomes) == len(cases)).

The OS boundary, tested with unrestricted code in the child, is in test_os_boundary.py.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

from adrs_bench.errors import AdrsError, InvalidSubmission, SubmissionNotFound
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.tasks.prism_placement.kvpr import max_kvpr_exact

from conftest import FIXTURES, ROUND_ROBIN, make_case, small_cases, task_with_limits

# --------------------------------------------------------------------------------------------
# helpers

# The trigger case: 2 GPUs, 4 models named t_0..t_3 (110 GB in all: never fits on one GPU).
TRIGGER_ROWS = [("t_0", 30, 4, 5), ("t_1", 30, 2, 8), ("t_2", 25, 6, 7), ("t_3", 25, 1, 9)]


def trigger_cases():
    """case-0, trigger, case-1: the bad behaviour fires on the middle case only."""
    first, last = small_cases(2)
    return [first, make_case("trigger", 2, TRIGGER_ROWS), last]


def bad_submission(body: str, header: str = "") -> str:
    """A submission that runs `body` (the body of `bad(gpu_num, models)`) on the trigger case and
    places the other cases round robin."""
    return (textwrap.dedent(header).strip() + "\n\n\n"
            "def bad(gpu_num, models):\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n\n\n"
            "def compute_model_placement(gpu_num, models):\n"
            "    if models[0].model_name == 't_0':\n"
            "        return bad(gpu_num, models)\n"
            "    placement = {g: [] for g in range(gpu_num)}\n"
            "    for i, m in enumerate(models):\n"
            "        placement[i % gpu_num].append(m)\n"
            "    return placement\n")


def line_of(source: str, fragment: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if fragment in line)


def assert_neighbours_ok(outcomes, cases):
    """The cases around the trigger were run and scored as usual."""
    assert len(outcomes) == len(cases)
    assert [o.id for o in outcomes] == [c.id for c in cases]
    for index in (0, 2):
        assert outcomes[index].status == "ok", outcomes[index]
        assert outcomes[index].score > 0
        assert outcomes[index].message == ""


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert isinstance(excinfo.value, AdrsError)
    return message


def alive(pid: int) -> bool:
    """True while `pid` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZXx"


def live_in_session(sid: int) -> list[int]:
    """Live processes whose session id is `sid` (the sandbox child calls setsid)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] not in "ZXx":
            found.append(int(name))
    return found


# --------------------------------------------------------------------------------------------
# static: check_submission refuses with one line


def test_missing_file(tmp_path, task):
    with pytest.raises(SubmissionNotFound) as excinfo:
        check_submission(tmp_path / "nope.py", task.spec)
    message = one_line_error(excinfo)
    assert "no file" in message and "nope.py" in message and "check the path" in message


def test_directory(tmp_path, task):
    (tmp_path / "adir").mkdir()
    with pytest.raises(SubmissionNotFound) as excinfo:
        check_submission(tmp_path / "adir", task.spec)
    message = one_line_error(excinfo)
    assert "directory" in message and "adir" in message


@pytest.mark.parametrize("data, words", [
    (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", ("binary", "Python source")),
    (b"\xff\xfe\xfa def f(): pass\n", ("UTF-8", "offset 0")),
])
def test_not_python(tmp_path, task, data, words):
    path = tmp_path / "blob.py"
    path.write_bytes(data)
    with pytest.raises(InvalidSubmission) as excinfo:
        check_submission(path, task.spec)
    message = one_line_error(excinfo)
    for word in words:
        assert word in message


def test_syntax_error_names_the_line(checked):
    source = "def compute_model_placement(gpu_num, models):\n    x = 1\n    return {\n\ndef (:\n"
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(source)
    message = one_line_error(excinfo)
    assert "syntax error" in message
    assert ".py:5:" in message  # file:line of the offending line
    assert "fix that line" in message


def test_missing_entry_point(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("def place(gpu_num, models):\n    return {}\n")
    message = one_line_error(excinfo)
    assert "expected a top-level function compute_model_placement(gpu_num, models), got none" in message
    assert "adrs-bench new prism_placement" in message


def test_entry_point_only_under_main_guard_is_missing(checked):
    source = ('if __name__ == "__main__":\n'
              "    def compute_model_placement(gpu_num, models):\n"
              "        return {}\n")
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(source)
    assert "got none" in one_line_error(excinfo)


def test_wrong_signature(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("def compute_model_placement(models):\n    return {}\n")
    message = one_line_error(excinfo)
    assert ".py:1:" in message
    assert "taking 2 positional arguments" in message
    assert "got compute_model_placement(models)" in message


def test_entry_point_is_a_class(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("class compute_model_placement:\n    pass\n")
    assert "plain function" in one_line_error(excinfo)


@pytest.mark.parametrize("source, line, used", [
    ("import os\n\ndef compute_model_placement(gpu_num, models):\n    return os.getcwd()\n", 1, "os"),
    ("def compute_model_placement(gpu_num, models):\n    import os\n    return os.environ\n", 2, "os"),
    ("def compute_model_placement(gpu_num, models):\n    from os import path\n    return path\n", 2, "path"),
    ("def helper():\n    if True:\n        import subprocess\n        subprocess.run('x')\n\n"
     "def compute_model_placement(gpu_num, models):\n    return {}\n", 3, "subprocess"),
    ("import os as system\n\ndef compute_model_placement(gpu_num, models):\n    return system\n", 1, "system"),
], ids=["top-level", "in-function", "from-import", "nested", "aliased"])
def test_a_forbidden_import_the_code_uses_is_refused(checked, source, line, used):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(source)
    message = one_line_error(excinfo)
    assert f".py:{line}:" in message
    assert "is not allowed" in message and f"the code uses '{used}'" in message
    assert "expected only dataclasses" in message and "numpy" in message


@pytest.mark.parametrize("source", [
    "from os import *\n\ndef compute_model_placement(gpu_num, models):\n    return {}\n",
    "from . import helpers\n\ndef compute_model_placement(gpu_num, models):\n    return {}\n",
], ids=["star", "relative"])
def test_star_and_relative_imports_outside_the_allowlist_are_refused(checked, source):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(source)
    message = one_line_error(excinfo)
    assert "a star import" in message or "relative import" in message


def test_an_unused_forbidden_import_is_a_warning_and_runs(checked, run_source):
    # The ADRS leaderboard's wrapper leaves `from pathlib import Path` (and friends) at the end of a file.
    source = textwrap.dedent(ROUND_ROBIN) + "from pathlib import Path\nimport os, sys\n"
    line = source.count("\n") - 1
    submission = checked(source)
    assert len(submission.warnings) == 3  # pathlib, os, sys
    assert "import of 'pathlib' is not on the allowlist" in submission.warnings[0]
    assert "stand-in" in submission.warnings[0] and f".py:{line}:" in submission.warnings[0]
    assert {o.status for o in run_source(source)} == {"ok"}


def test_a_stand_in_reached_indirectly_fails_with_one_line_naming_the_module(run_source):
    # A class attribute escapes the static "is the name read?" check; the stand-in fails when touched.
    source = ("class Holder:\n    import pathlib\n\n"
              "def compute_model_placement(gpu_num, models):\n    return Holder.pathlib.Path('/').read_text()\n")
    outcomes = run_source(source)
    assert {o.status for o in outcomes} == {"error"}
    message = outcomes[0].message
    assert "pathlib.Path is a stand-in: import of 'pathlib' is not allowed in the sandbox" in message
    assert "numpy" in message and "\n" not in message


def test_required_keyword_only_parameter_rejected(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("def compute_model_placement(gpu_num, models, *, strategy):\n    return {}\n")
    assert "strategy" in one_line_error(excinfo)


@pytest.mark.parametrize("signature", ["gpu_num, models=None, extra=None", "*args", "gpu_num, /, models",
                                       "gpu_num, models, *rest, **options"])
def test_compatible_signatures_accepted(checked, signature):
    submission = checked(f"def compute_model_placement({signature}):\n    return {{}}\n")
    assert submission.code is not None


def test_async_entry_point_rejected(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("async def compute_model_placement(gpu_num, models):\n    return {}\n")
    assert "make it a def" in one_line_error(excinfo)


def test_sys_exit_rejected_statically(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("import sys\n\ndef compute_model_placement(gpu_num, models):\n    sys.exit()\n")
    message = one_line_error(excinfo)
    assert "import of 'sys' is not allowed" in message


@pytest.mark.parametrize("expression, words", [
    ("__import__('os')", ('"__import__"', "starts with")),
    ("models.__class__", ('"__class__"', "starts with")),
    ("exec('x = 1')", ("'exec' is not available in the sandbox",)),
    ("eval('1')", ("'eval' is not available in the sandbox",)),
])
def test_forbidden_names(checked, expression, words):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(f"def compute_model_placement(gpu_num, models):\n    x = {expression}\n    return {{}}\n")
    message = one_line_error(excinfo)
    assert "expected code the sandbox accepts" in message
    assert "Line 2" in message
    for word in words:
        assert word in message


def test_several_policy_errors_are_counted(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("def compute_model_placement(gpu_num, models):\n    a = models.__class__\n"
                "    b = models.__dict__\n    return {}\n")
    assert "(and 1 more)" in one_line_error(excinfo)


def test_open_rejected_statically(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("def compute_model_placement(gpu_num, models):\n    f = open('/tmp/x', 'w')\n    return {}\n")
    assert "open" in one_line_error(excinfo)


def test_open_is_refused_statically_or_at_run_time(checked, task):
    source = bad_submission("f = open('/tmp/adrs_bench_test_open', 'w')\nreturn {}")
    try:
        submission = checked(source)
    except InvalidSubmission as exc:
        assert "open" in str(exc)
        return
    cases = trigger_cases()
    outcomes = run_cases(task, submission, cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "error"
    assert "NameError" in outcomes[1].message and "'open'" in outcomes[1].message


# --------------------------------------------------------------------------------------------
# runtime: per-instance verdicts, the run goes on


def test_good_submission_scores_every_case(run_source):
    cases = trigger_cases()
    outcomes = run_source(ROUND_ROBIN, cases)
    assert all(o.status == "ok" for o in outcomes)
    for case, outcome in zip(cases, outcomes):
        assignment = [i % case.gpu_num for i in range(len(case.models))]
        expected = case.reference.value / max_kvpr_exact(case.gpu_num, case.models, assignment)
        assert outcome.score == pytest.approx(float(expected))
        assert 0 < outcome.score <= 1.0


def test_exception_names_type_and_line(run_source):
    source = bad_submission("x = {}\nreturn x['no such key']")
    cases = trigger_cases()
    outcomes = run_source(source, cases)
    assert_neighbours_ok(outcomes, cases)
    bad = outcomes[1]
    assert bad.status == "error" and bad.score == 0.0
    assert bad.message.startswith("KeyError")
    assert f"(line {line_of(source, 'no such key')})" in bad.message


def test_infinite_loop_times_out(run_source, task):
    short = task_with_limits(task, instance_seconds=0.5, total_seconds=20.0)
    cases = trigger_cases()
    started = time.monotonic()
    outcomes = run_source(bad_submission("while True:\n    pass"), cases, on_task=short)
    assert time.monotonic() - started < 4.0
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "timeout"
    assert "wall-clock limit" in outcomes[1].message and "killed" in outcomes[1].message
    assert outcomes[1].score == 0.0


def test_sleep_times_out(run_source, task):
    short = task_with_limits(task, instance_seconds=0.5, total_seconds=20.0)
    cases = trigger_cases()
    started = time.monotonic()
    outcomes = run_source(bad_submission("time.sleep(100)", header="import time"), cases, on_task=short)
    assert time.monotonic() - started < 4.0
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "timeout"
    assert "wall-clock limit" in outcomes[1].message


@pytest.mark.parametrize("body", [
    "return [0] * 10**10",
    "grow = []\nwhile True:\n    grow.append([0] * 10**6)",
], ids=["one-allocation", "growing-list"])
def test_memory_bomb(run_source, task, body):
    small = task_with_limits(task, instance_seconds=3.0, memory_mb=256)
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body), cases, on_task=small)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "memory", outcomes[1]
    assert "out of memory" in outcomes[1].message and "256 MB" in outcomes[1].message


def test_huge_print_is_captured_not_written(run_source, capfd):
    body = "for i in range(50000):\n    print('SPAM' * 50, i)\nreturn {0: models[:2], 1: models[2:]}"
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body), cases)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    out, err = capfd.readouterr()
    assert "SPAM" not in out and "SPAM" not in err


def test_system_exit_is_an_error(run_source):
    source = bad_submission("raise SystemExit(3)")
    cases = trigger_cases()
    outcomes = run_source(source, cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "error"
    assert "SystemExit: 3" in outcomes[1].message
    assert f"line {line_of(source, 'SystemExit')}" in outcomes[1].message


@pytest.mark.parametrize("body", ["raise KeyboardInterrupt", "raise GeneratorExit"])
def test_base_exceptions_are_errors(run_source, body):
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body), cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "error"
    assert body.split()[1] in outcomes[1].message


def test_huge_exception_message_is_cut_to_one_short_line(run_source):
    cases = trigger_cases()
    outcomes = run_source(bad_submission("raise ValueError('x' * 10**6)"), cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "error"
    assert outcomes[1].message.startswith("ValueError: xxx")
    assert len(outcomes[1].message) <= 300 and "\n" not in outcomes[1].message


def test_exception_with_broken_str_is_an_error(run_source):
    header = "class Odd(Exception):\n    def __str__(self):\n        raise ValueError('no text')"
    cases = trigger_cases()
    outcomes = run_source(bad_submission("raise Odd()", header=header), cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "error", outcomes[1].message
    assert "Odd" in outcomes[1].message


@pytest.mark.parametrize("body, words", [
    ("return [models]", ("expected a dict", "got list")),
    ("return None", ("expected a dict", "got NoneType")),
    ("return {float('nan'): models}", ("GPU id nan", "float", "expected an int in 0..1")),
    ("return {float('inf'): models}", ("GPU id inf", "float", "expected an int in 0..1")),
    ("return {0.0: models[:2], 1: models[2:]}", ("GPU id 0.0", "float")),
    ("return {'0': models[:2], '1': models[2:]}", ("GPU id '0'", "str", "expected an int")),
    ("return {False: models[:2], True: models[2:]}", ("bool",)),
    ("return {0: models[:2], 2: models[2:]}", ("GPU id 2 is out of range", "0..1")),
    ("return {-1: models[:2], 1: models[2:]}", ("GPU id -1 is out of range",)),
    ("return {0: tuple(models[:2]), 1: models[2:]}", ("GPU 0", "expected a list of models", "tuple")),
    ("return {0: models[:2], 1: models[2:3]}", ("not placed: t_3", "exactly one GPU")),
    ("return {0: [], 1: []}", ("not placed: t_0, t_1, t_2 and 1 more",)),
    ("return {0: models[:3], 1: models[2:]}", ("t_2 is placed twice", "GPUs 0 and 1")),
    ("return {0: models + [models[0]], 1: []}", ("t_0 is placed twice",)),
    ("return {0: models, 1: []}", ("GPU 0 holds 110 GB", "under 80 GB")),
    ("return {i: [] for i in range(100000)}", ("far more entries",)),
], ids=["list", "none", "nan-key", "inf-key", "float-key", "str-key", "bool-key", "out-of-range", "negative",
        "tuple-value", "missing-model", "nothing-placed", "duplicated", "duplicated-same-gpu", "over-full",
        "too-large"])
def test_invalid_placements(run_source, body, words):
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body), cases)
    assert_neighbours_ok(outcomes, cases)
    bad = outcomes[1]
    assert bad.status == "invalid", bad
    assert bad.score == 0.0
    for word in words:
        assert word in bad.message, bad.message


def test_numpy_integer_keys_are_ints(run_source):
    body = "return {np.int64(0): models[:2], np.int32(1): models[2:]}"
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body, header="import numpy as np"), cases)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]


FOREIGN_PLAIN = """
class Impostor:
    def __init__(self, model_name, model_size, req_rate, slo, cur_gpu_id):
        self.model_name = model_name
        self.model_size = model_size
        self.req_rate = req_rate
        self.slo = slo
        self.cur_gpu_id = cur_gpu_id
"""

FOREIGN_DATACLASS = """
from dataclasses import dataclass


@dataclass
class Impostor:
    model_name: str
    model_size: int
    req_rate: int
    slo: int
    cur_gpu_id: int
"""


@pytest.mark.parametrize("header", [
    FOREIGN_PLAIN,
    FOREIGN_DATACLASS,
], ids=["plain-class", "dataclass"])
def test_foreign_object(run_source, header):
    body = "return {0: models[:2] + [Impostor('zz', 1, 1, 1, 0)], 1: models[2:]}"
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body, header=header), cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "invalid", outcomes[1]
    assert "GPU 0: holds a Impostor that is not one of the input models" in outcomes[1].message


def test_copy_with_altered_size(run_source):
    body = "fake = copy.copy(models[0])\nfake.model_size = 1\nreturn {0: [fake, models[1]], 1: models[2:]}"
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body, header="import copy"), cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "invalid"
    assert "a copy of t_0 has other size, rate or slo than the input model" in outcomes[1].message


def test_deep_copy_is_matched_by_name(run_source):
    same = "return {0: [models[0], models[2]], 1: [models[1], models[3]]}"
    copied = ("twins = copy.deepcopy(models)\n"
              "return {0: [twins[0], twins[2]], 1: [twins[1], twins[3]]}")
    cases = trigger_cases()
    plain = run_source(bad_submission(same), cases)
    deep = run_source(bad_submission(copied, header="import copy"), cases)
    assert [o.status for o in deep] == ["ok", "ok", "ok"]
    assert [o.score for o in deep] == [o.score for o in plain]
    trigger = cases[1]
    expected = trigger.reference.value / max_kvpr_exact(2, trigger.models, [0, 1, 0, 1])
    assert deep[1].score == float(expected)


def test_mutating_inputs_does_not_change_the_score(run_source):
    placement = "return {0: [models[0], models[2]], 1: [models[1], models[3]]}"
    mutate = "for m in models:\n    m.model_size = 0\n    m.req_rate = 0\n    m.slo = 1\n"
    cases = trigger_cases()
    honest = run_source(bad_submission(placement), cases)
    cheating = run_source(bad_submission(mutate + placement), cases)
    assert [o.status for o in cheating] == ["ok", "ok", "ok"]
    assert cheating[1].score == honest[1].score
    trigger = cases[1]
    worst = max_kvpr_exact(2, trigger.models, [0, 1, 0, 1])
    assert cheating[1].metrics["max_kvpr"] == float(worst)
    # The submission now believes everything fits on one GPU; the parent knows better.
    crammed = run_source(bad_submission(mutate + "return {0: models, 1: []}"), cases)
    assert crammed[1].status == "invalid" and "holds 110 GB" in crammed[1].message


def test_numpy_works(run_source):
    body = ("order = np.argsort(np.array([m.model_size for m in models]))\n"
            "placement = {0: [], 1: []}\n"
            "for k, i in enumerate(order):\n"
            "    placement[k % 2].append(models[int(i)])\n"
            "return placement")
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body, header="import numpy as np"), cases)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    trigger = cases[1]
    # sizes 30, 30, 25, 25: argsort gives t_2, t_3, t_0, t_1 -> GPUs 0, 1, 0, 1 by position
    expected = trigger.reference.value / max_kvpr_exact(2, trigger.models, [0, 1, 0, 1])
    assert outcomes[1].score == float(expected)


# Spelled `np.save` these are refused before running (check_module_attributes); a computed name reaches
# the run-time guard, which must refuse them too.
@pytest.mark.parametrize("body, attribute", [
    ("getattr(np, 'sa' + 've')('x.npy', np.zeros(3))", "save"),
    ("np.zeros(3).tofile('x.bin')", "tofile"),
    ("np.zeros(3).dump('x.pkl')", "dump"),
    ("getattr(np, 'load' + 'txt')('/etc/passwd')", "loadtxt"),
    ("x = getattr(np, 'ctypes' + 'lib')", "ctypeslib"),
    ("x = getattr(np, 'l' + 'ib')", "lib"),
])
def test_numpy_file_access_not_available(run_source, body, attribute, tmp_path):
    cases = trigger_cases()
    outcomes = run_source(bad_submission(body + "\nreturn {}", header="import numpy as np"), cases)
    assert_neighbours_ok(outcomes, cases)
    assert outcomes[1].status == "error"
    assert "not available" in outcomes[1].message and attribute in outcomes[1].message
    assert not list(Path.cwd().glob("x.*"))


def test_numpy_submodule_import_refused(run_source):
    cases = trigger_cases()
    outcomes = run_source(bad_submission("return {}", header="import numpy.ctypeslib"), cases)
    assert [o.status for o in outcomes] == ["error"] * 3
    assert all("numpy.ctypeslib" in o.message and "not allowed" in o.message for o in outcomes)


@pytest.mark.parametrize("header", ["from numpy.random import default_rng", "from collections.abc import Sequence"])
def test_submodule_import_consistent(checked, task, header):
    try:
        submission = checked(bad_submission("return {}", header=header))
    except InvalidSubmission:
        return  # refused statically: consistent
    outcomes = run_cases(task, submission, small_cases(1))
    assert outcomes[0].status == "ok", outcomes[0].message


def published_source(with_dataclass: bool) -> str:
    source = (FIXTURES / "published_program.py").read_text()
    if not with_dataclass:
        source = source.replace("@dataclass\n", "")
    return source


def run_published(run_source, with_dataclass):
    cases = trigger_cases()
    outcomes = run_source(published_source(with_dataclass), cases)
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"], [o.message for o in outcomes]
    for outcome in outcomes:
        assert 0 < outcome.score <= 1.0


def test_published_program_shape(run_source):
    run_published(run_source, with_dataclass=True)


def test_published_program_shape_without_the_decorator(run_source, task):
    """Everything else of the published shape: typing imports, module constants, annotated class
    fields, `weighted[best] += x`, and a main block importing os, sys and `evaluator`."""
    check_submission(FIXTURES / "published_program.py", task.spec)  # statically fine as it is
    run_published(run_source, with_dataclass=False)


RANDOM_PLACEMENT = """
import random
import numpy as np


def compute_model_placement(gpu_num, models):
    placement = {g: [] for g in range(gpu_num)}
    for m in models:
        if np.random.random() < 0.5:
            placement[random.randrange(gpu_num)].append(m)
        else:
            placement[int(np.random.randint(gpu_num))].append(m)
    return placement
"""


def test_random_is_seeded_per_instance(run_source):
    cases = small_cases(6)  # at most 70 GB per case: any placement fits
    first = run_source(RANDOM_PLACEMENT, cases)
    second = run_source(RANDOM_PLACEMENT, cases)
    assert [o.status for o in first] == ["ok"] * 6
    assert [(o.score, o.metrics) for o in first] == [(o.score, o.metrics) for o in second]
    # the seed belongs to the case, not to its position in the run
    backwards = run_source(RANDOM_PLACEMENT, cases[::-1])
    assert {o.id: o.score for o in backwards} == {o.id: o.score for o in first}


def test_module_load_failure_fails_every_instance(run_source):
    source = "raise ValueError('boom at load')\n\n" + ROUND_ROBIN
    cases = trigger_cases()
    outcomes = run_source(source, cases)
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert outcome.status == "error"
        assert outcome.score == 0.0
        assert "loading the module raised ValueError: boom at load (line 1)" in outcome.message


def stdlib_hidden_from_others() -> bool:
    """True if a user other than the owner cannot reach the standard library (pyenv under /root)."""
    path = Path(sysconfig.get_paths()["stdlib"]).resolve()
    return any(not p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


FRESH_HARNESS = """
import sys
from fractions import Fraction
from adrs_bench.registry import get_task
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.tasks.prism_placement.instance import Case, Reference
from adrs_bench.tasks.prism_placement.kvpr import ModelSpec

assert "numpy" not in sys.modules
task = get_task("prism_placement")
models = (ModelSpec("a", 10, 1, 5), ModelSpec("b", 20, 2, 5))
case = Case("c0", "tiny", 2, models, Reference("optimal", Fraction(1, 300), Fraction(0), (0, 1), "test"))
outcome = run_cases(task, check_submission(task.spec.path(task.spec.example), task.spec), [case])[0]
print(outcome.status, outcome.message)
"""


def test_fresh_harness_scores_the_example(tmp_path):
    """A harness process that has not imported numpy (as `adrs-bench run`) runs the example."""
    result = subprocess.run([sys.executable, "-c", FRESH_HARNESS], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok"), result.stdout[:500]


def test_cpu_time_limit(run_source, task):
    cpu = task_with_limits(task, instance_seconds=5.0, cpu_seconds=1)
    cases = small_cases(1)
    started = time.monotonic()
    outcomes = run_source("def compute_model_placement(gpu_num, models):\n    while True:\n        pass\n", cases,
                          on_task=cpu)
    assert time.monotonic() - started < 4.8  # the CPU limit, not the wall clock, stopped it
    assert outcomes[0].status == "timeout"
    assert "CPU-time limit of 1 s" in outcomes[0].message


def test_module_load_timeout_fails_every_instance(run_source, task):
    short = task_with_limits(task, instance_seconds=0.3)
    outcomes = run_source("while True:\n    pass\n" + ROUND_ROBIN, small_cases(3), on_task=short)
    assert [o.status for o in outcomes] == ["timeout"] * 3
    assert all("during loading the module" in o.message for o in outcomes)


def test_module_load_memory_fails_every_instance(run_source, task):
    small = task_with_limits(task, memory_mb=256)
    outcomes = run_source("hog = [0] * 10**10\n" + ROUND_ROBIN, small_cases(3), on_task=small)
    assert [o.status for o in outcomes] == ["memory"] * 3
    assert all("out of memory while loading the module" in o.message for o in outcomes)


def test_gpu_filled_to_exactly_80_gb_is_invalid(run_source):
    case = make_case("edge", 2, [("a", 40, 1, 5), ("b", 40, 1, 5), ("c", 10, 1, 5), ("d", 9, 1, 5)])
    full = run_source("def compute_model_placement(gpu_num, models):\n    return {0: models[:2], 1: models[2:]}\n",
                      [case])
    assert full[0].status == "invalid" and "GPU 0 holds 80 GB" in full[0].message
    fits = run_source("def compute_model_placement(gpu_num, models):\n"
                      "    return {0: [models[0], models[3]], 1: [models[1], models[2]]}\n", [case])
    assert fits[0].status == "ok" and fits[0].score == 1.0  # 49 GB and 50 GB: the optimum


def test_workers_do_not_change_scores(checked, task):
    source = "import random\n" + ROUND_ROBIN.replace("placement[i % gpu_num]", "placement[random.randrange(gpu_num)]")
    submission = checked(source)
    cases = small_cases(5)
    one = run_cases(task, submission, cases, workers=1)
    three = run_cases(task, submission, cases, workers=3)
    assert [o.id for o in three] == [c.id for c in cases]
    assert [(o.status, o.score, o.metrics) for o in one] == [(o.status, o.score, o.metrics) for o in three]


def test_progress_is_reported_for_every_case(checked, task):
    calls = []
    run_cases(task, checked(ROUND_ROBIN), small_cases(3), progress=lambda done, total, o: calls.append((done, total, o.id)))
    assert calls == [(1, 3, "case-0"), (2, 3, "case-1"), (3, 3, "case-2")]


def test_total_time_limit_marks_the_rest_not_run(run_source, task):
    tight = task_with_limits(task, instance_seconds=0.4, total_seconds=0.6)
    cases = small_cases(4)
    started = time.monotonic()
    outcomes = run_source("import time\n\ndef compute_model_placement(gpu_num, models):\n"
                          "    time.sleep(100)\n", cases, on_task=tight)
    assert time.monotonic() - started < 3.0
    assert [o.status for o in outcomes] == ["timeout"] * 4
    assert "wall-clock" in outcomes[0].message
    assert "not run" in outcomes[-1].message and "total time limit of 0.6 s" in outcomes[-1].message
    assert all(o.score == 0.0 for o in outcomes)


def test_pipelined_cases_reach_the_child_in_order_and_a_failure_stays_with_its_case(checked, task):
    # case-2 raises (decided by its own content). Cases are sent while the previous one is still being
    # scored, so this pins that each answer stays with its case.
    source = ROUND_ROBIN.replace(
        "def compute_model_placement(gpu_num, models):\n",
        "def compute_model_placement(gpu_num, models):\n"
        "    if models[0].model_name == 'm2_0':\n"
        "        raise ValueError('third call')\n")
    outcomes = run_cases(task, checked(source), small_cases(5))
    assert [o.id for o in outcomes] == [f"case-{i}" for i in range(5)]
    assert [o.status for o in outcomes] == ["ok", "ok", "error", "ok", "ok"]
    assert outcomes[2].message.startswith("ValueError: third call")


def test_every_case_starts_from_fresh_submission_state(checked, task):
    # Module globals and class attributes set in one case are gone in the next, with one worker or two.
    source = ("CALLS = []\n\n\nclass Memory:\n    seen = 0\n\n\n" + ROUND_ROBIN.replace(
        "def compute_model_placement(gpu_num, models):\n",
        "def compute_model_placement(gpu_num, models):\n"
        "    CALLS.append(1)\n"
        "    Memory.seen += 1\n"
        "    if len(CALLS) != 1 or Memory.seen != 1:\n"
        "        raise ValueError('state carried over from another case')\n"))
    for workers in (1, 2):
        outcomes = run_cases(task, checked(source), small_cases(5), workers=workers)
        assert [o.status for o in outcomes] == ["ok"] * 5, [o.message for o in outcomes]


def test_a_program_ending_in_the_adrs_wrappers_imports_scores_what_its_twin_scores(run_source, task):
    # ADRS-Leaderboard solutions end with the leaderboard wrapper's unused imports; they must run as
    # published and score exactly what the same program without them scores.
    twin = task.spec.path("baselines/prism_greedy.py").read_text()
    wrapped = twin + "\n\nimport json\nimport os\nfrom pathlib import Path\n"
    plain, published = run_source(twin), run_source(wrapped)
    assert {o.status for o in published} == {"ok"}
    assert [o.score for o in published] == [o.score for o in plain]


@pytest.mark.parametrize("source, words", [
    ("import numpy as np\n\ndef compute_model_placement(gpu_num, models):\n    np.lib\n    return {}\n",
     (".py:4:", "expected a name on numpy's allowlist, got 'np.lib'")),
    ("import math\n\ndef compute_model_placement(gpu_num, models):\n    return math.sqroot(2)\n",
     (".py:4:", "got 'math.sqroot'", "did you mean 'sqrt'?")),
])
def test_an_attribute_missing_from_an_allowlisted_module_is_refused_before_running(checked, source, words):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(source)
    message = one_line_error(excinfo)
    for word in words:
        assert word in message


def test_allowlisted_module_attributes_and_rebound_names_pass_the_check(checked):
    checked("import numpy as np\nimport math\n\ndef compute_model_placement(gpu_num, models):\n"
            "    x = np.random.default_rng(1).random() + math.sqrt(2) + np.linalg.norm(np.zeros(2))\n"
            "    return {}\n")
    checked("import math\nmath = {'a': 1}\n\ndef compute_model_placement(gpu_num, models):\n"
            "    return math.get('a') and {}\n")
