"""A message that quotes a submission's answer describes it in at most 200 characters (quote.py), in the
record, `--json` and the terminal alike; and InstanceOutcome caps every message as a last safety net, so a
record never grows with the size of a bad answer (a 20 MB `decide` answer once made a 60 MB record)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adrs_bench.cli import main
from adrs_bench.quote import MESSAGE_LIMIT, QUOTE_LIMIT, clip, quote
from adrs_bench.registry import get_task
from adrs_bench.serving import RouterError
from adrs_bench.task_api import InstanceOutcome
from adrs_bench.tasks.autoscaling import evaluator as autoscaling_evaluator
from adrs_bench.tasks.autoscaling.control import Controller, PolicyAbort
from adrs_bench.tasks.autoscaling.settings import settings
from adrs_bench.tasks.prism_placement import evaluator as prism_evaluator

from conftest import small_cases
from serving.helpers import ONE_SECOND, run, specs

HUGE = 20_000_000  # characters: the size of the answer that once went verbatim into a record
XS = f"<str of {HUGE} characters: '{'x' * 27}...{'x' * 28}'>"


# ------------------------------------------------------------------------------ the one helper

@pytest.mark.parametrize("value, shown", [
    ("4", "'4'"), (3.0, "3.0"), (None, "None"), (True, "True"), (-1, "-1"), ([1, 2], "[1, 2]"),
    ({"a": 1}, "{'a': 1}"), ("a\nb", "'a\\nb'"),
])
def test_short_values_show_as_their_repr(value, shown):
    assert quote(value) == shown == repr(value)


@pytest.mark.parametrize("value, shown", [
    ("x" * HUGE, XS),
    (10 ** 5000, "<int of 16610 bits>"),  # repr itself would raise (over 4300 digits)
    (2 ** 200, "<int of 201 bits>"),
    (list(range(10 ** 6)), "<list of 1000000 items: [0, 1, 2, 3, 4, 5, 6, 7, ...]>"),
    (b"\0" * 1000, "<bytes of 1000 bytes: b'" + "\\x00" * 13 + "\\x0...>"),
], ids=["str", "int-unprintable", "int", "list", "bytes"])
def test_large_values_are_described(value, shown):
    assert quote(value) == shown


class LoudRepr:
    def __repr__(self):
        return "r" * 10 ** 6


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no")


@pytest.mark.parametrize("value", [
    "x" * HUGE, ["y" * 1000] * 50, [["a" * 1000] * 3] * 20, {"k" * 500: ["v" * 500] * 20}, ("q" * 30,) * 9,
    LoudRepr(), [LoudRepr()] * 3, "é\n" * 10 ** 5, 10 ** 5000,
], ids=["str", "list-of-str", "nested", "dict", "tuple", "loud-repr", "list-of-loud", "lines", "big-int"])
def test_any_value_is_described_in_200_characters_on_one_line(value):
    text = quote(value)
    assert len(text) <= QUOTE_LIMIT == 200
    assert "\n" not in text and "\r" not in text


def test_a_repr_that_raises_is_named_without_an_address():
    assert quote(BrokenRepr()) == "<BrokenRepr that cannot be shown>"
    assert quote([BrokenRepr()]) == "[<BrokenRepr that cannot be shown>]"


def test_clip_keeps_short_text_and_says_how_long_a_cut_one_was():
    assert clip("ValueError: no (line 3)") == "ValueError: no (line 3)"
    assert clip("two\nlines") == "two lines"
    cut = clip("y" * HUGE)
    assert cut == "y" * (200 - len(f"… ({HUGE} characters)")) + f"… ({HUGE} characters)"
    assert len(cut) == 200 and len(clip("z" * 300, 40)) == 40


# ------------------------------------------------------------------------------ where answers are quoted

def test_autoscaling_decide_returning_a_huge_string():
    controller = Controller(settings(), lambda metrics: "x" * HUGE, ONE_SECOND)
    sim = autoscaling_evaluator.Simulator(autoscaling_evaluator.cluster_config(settings(), 4), specs((0, 16, 40)),
                                          autoscaling_evaluator.least_loaded, ONE_SECOND, on_tick=controller.on_tick)
    controller.simulator = sim
    with pytest.raises(PolicyAbort) as caught:
        sim.run()
    assert caught.value.message == f"decide call 1 at t=15.000 s: decide returned {XS}; expected an int from 1 to 32"


def test_autoscaling_decide_returning_an_unprintable_int():
    """`repr` of an int over 4300 digits raises; the description does not."""
    controller = Controller(settings(), lambda metrics: 10 ** 5000, ONE_SECOND)
    sim = autoscaling_evaluator.Simulator(autoscaling_evaluator.cluster_config(settings(), 4), specs((0, 16, 40)),
                                          autoscaling_evaluator.least_loaded, ONE_SECOND, on_tick=controller.on_tick)
    controller.simulator = sim
    with pytest.raises(PolicyAbort) as caught:
        sim.run()
    assert caught.value.message == ("decide call 1 at t=15.000 s: decide returned <int of 16610 bits>; expected an "
                                    "int from 1 to 32")


@pytest.mark.parametrize("answer, message", [
    (lambda s: [("z" * HUGE, 0)],
     f"item 0: unknown replica id <str of {HUGE} characters: '{'z' * 27}...{'z' * 28}'>; replicas accepting "
     "requests are [0]"),
    (lambda s: [(0, "w" * HUGE)],
     f"item 0: request id <str of {HUGE} characters: '{'w' * 27}...{'w' * 28}'> is not an int"),
    (lambda s: ["v" * HUGE],
     f"item 0 is <str of {HUGE} characters: '{'v' * 27}...{'v' * 28}'>; expected a (replica_id, request_id) "
     "pair"),
], ids=["replica-id", "request-id", "item"])
def test_router_answers_are_quoted_briefly(answer, message):
    with pytest.raises(RouterError) as caught:
        run([(0.25, 16, 3)], True, router=answer)
    assert str(caught.value) == f"router call 1 at t=0.250000 s: {message}"


def test_a_router_raising_a_huge_message_is_clipped():
    def loud(snapshot):
        raise ValueError("u" * HUGE)

    with pytest.raises(RouterError) as caught:
        run([(0.25, 16, 3)], True, router=loud)
    suffix = f"… ({HUGE + len('ValueError: ')} characters)"
    assert str(caught.value) == ("router call 1 at t=0.250000 s: raised ValueError: "
                                 + "u" * (200 - len("ValueError: ") - len(suffix)) + suffix)


@pytest.mark.parametrize("raw, message", [
    ({"kind": "not_a_dict", "type": "T" * HUGE},
     f"expected a dict mapping GPU id to a list of models, got {'T' * 17}… ({HUGE} characters)"),
    ({"kind": "placement", "gpus": [{"key": {"type": "str", "repr": "K" * HUGE}, "models": []}]},
     f"GPU id {'K' * 17}… ({HUGE} characters) is a str, expected an int in 0..1"),
    ({"kind": "placement", "gpus": [{"key": {"int": 0}, "value_type": "V" * HUGE}]},
     f"GPU 0: expected a list of models, got {'V' * 17}… ({HUGE} characters)"),
    ({"kind": "placement", "gpus": [{"key": {"int": 0}, "models": [{"foreign": "F" * HUGE}]}]},
     f"GPU 0: holds a {'F' * 17}… ({HUGE} characters) that is not one of the input models"),
], ids=["not-a-dict", "key", "value", "foreign"])
def test_prism_reports_are_clipped_in_the_parent(raw, message):
    """The child cuts these already; the parent does not rely on it (the child is untrusted)."""
    status, text, score, _, _ = prism_evaluator.evaluate(small_cases(1)[0], raw)
    assert (status, text, score) == ("invalid", message, 0.0)


# ------------------------------------------------------------------------------ the safety net

def test_instance_outcome_caps_any_message():
    outcome = InstanceOutcome("c", "error", "m" * HUGE, 0.0, 0.0)
    suffix = f"… ({HUGE} characters)"
    assert outcome.message == "m" * (MESSAGE_LIMIT - len(suffix)) + suffix
    assert outcome.as_record()["message"] == outcome.message and len(outcome.message) == MESSAGE_LIMIT == 500
    assert InstanceOutcome("c", "error", "line one\nline two", 0.0, 0.0).message == "line one line two"
    assert InstanceOutcome("c", "ok", "", 1.0, 0.0).message == ""


# ------------------------------------------------------------------------------ end to end

HUGE_POLICY = """
class Autoscaler:
    def decide(self, metrics):
        return "x" * 20_000_000
"""


def test_a_huge_decide_answer_makes_a_small_record(tmp_path):
    """`adrs-bench run autoscaling --set smoke`: record, `--json` and terminal all stay small."""
    path = tmp_path / "huge.py"
    path.write_text(HUGE_POLICY)
    expected = f"decide call 1 at t=15.000 s: decide returned {XS}; expected an int from 1 to 32"
    result = CliRunner().invoke(main, ["run", "autoscaling", str(path), "--set", "smoke", "--out", str(tmp_path),
                                       "--quiet", "--json"])
    assert result.exit_code == 0, result.output[:2000]
    printed = json.loads(result.stdout)
    assert printed["instances"][0]["status"] == "invalid" and printed["instances"][0]["message"] == expected
    assert len(result.output) < 10_000
    (record_path,) = tmp_path.glob(f"{get_task('autoscaling').spec.id}__smoke__huge__*.json")
    assert json.loads(record_path.read_text())["instances"][0]["message"] == expected
    assert record_path.stat().st_size < 10_000
    terminal = CliRunner().invoke(main, ["run", "autoscaling", str(path), "--set", "smoke", "--no-save", "--quiet"])
    assert terminal.exit_code == 0 and "decide returned <str of 20000000 characters:" in terminal.output
    assert len(terminal.output) < 5_000
