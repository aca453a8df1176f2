"""Figures: llm_routing's artifacts (latency CDF, KV use) and the `e2e_quantiles` its records keep,
`adrs_bench.compare` (scores chart for any task, routing's overlaid CDFs, refusal of records that are
not comparable) and autoscaling's slowdown panel (the SLO line, legends outside the data)."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from adrs_bench import evaluate, results
from adrs_bench.compare import compare, comparison_png, load_records, submission_labels
from adrs_bench.errors import UsageError
from adrs_bench.registry import get_task
from adrs_bench.serving.metrics import PROFILE_LEVELS, quantile_profile, significant

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path_or_bytes) -> tuple[int, int]:
    """A valid PNG of a sensible size: its (height, width) in pixels."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    image = mpimg.imread(io.BytesIO(data), format="png")
    height, width = image.shape[:2]
    assert 200 <= height <= 5_000 and 300 <= width <= 5_000
    return height, width


@pytest.fixture(scope="module")
def llq():
    return evaluate("llm_routing", ROOT / "tasks/llm_routing/baselines/llq.py", "smoke")


@pytest.fixture(scope="module")
def round_robin():
    return evaluate("llm_routing", ROOT / "tasks/llm_routing/baselines/round_robin.py", "smoke")


@pytest.fixture(scope="module")
def hpa():
    return evaluate("autoscaling", ROOT / "tasks/autoscaling/baselines/hpa.py", "smoke")


@pytest.fixture
def routing_records(tmp_path, llq, round_robin) -> list[Path]:
    return [results.save(dict(r.record), tmp_path / f"{r.record['submission']['label']}.json")
            for r in (llq, round_robin)]


# ------------------------------------------------------------------------------ llm_routing

def test_routing_artifacts_include_the_two_pngs(llq, tmp_path):
    written = get_task("llm_routing").plugin.write_artifacts(llq.cases, llq.outcomes, tmp_path / "art")
    assert [p.name for p in written][-2:] == ["latency_cdf.png", "kv_use.png"]
    for path in written[-2:]:
        assert path.parent == tmp_path / "art"
        check_png(path)


def test_e2e_quantiles_profile_the_seed_latencies(llq):
    (outcome,) = llq.outcomes
    assert outcome.ok
    quantiles = outcome.metrics["e2e_quantiles"]
    assert len(PROFILE_LEVELS) == 51 and PROFILE_LEVELS[0] == 0 and PROFILE_LEVELS[-1] == 100
    assert len(quantiles) == len(PROFILE_LEVELS)
    assert all(a <= b for a, b in zip(quantiles, quantiles[1:]))
    e2e = [r.e2e for r in outcome.detail["records"]]
    assert quantiles[0] == significant(min(e2e)) == pytest.approx(min(e2e), rel=1e-5)
    assert quantiles[-1] == significant(max(e2e)) == pytest.approx(max(e2e), rel=1e-5)
    assert quantiles == quantile_profile(e2e)  # the one rule, deterministic
    stored = llq.record["instances"][0]["metrics"]["e2e_quantiles"]
    assert stored == quantiles
    assert quantile_profile([]) == []


# ------------------------------------------------------------------------------ compare

def test_compare_writes_scores_and_latency_cdfs(routing_records, tmp_path):
    written = compare(routing_records, tmp_path / "cmp")
    assert [p.name for p in written] == ["scores.png", "latency_cdf.png"]
    for path in written:
        assert path.parent == tmp_path / "cmp"
        check_png(path)
    png = comparison_png(routing_records)
    check_png(png)
    assert comparison_png([results.load(p) for p in routing_records]) == png  # loaded records work too


def test_compare_refuses_records_of_other_tasks_or_sets(routing_records, hpa, tmp_path):
    other_task = results.save(dict(hpa.record), tmp_path / "hpa.json")
    with pytest.raises(UsageError) as caught:
        compare([routing_records[0], other_task], tmp_path / "cmp")
    message = str(caught.value)
    assert message.startswith("expected records of one task, got llm_routing-v") and "autoscaling-v" in message
    assert "\n" not in message
    assert not (tmp_path / "cmp").exists()

    other_set = copy.deepcopy(results.load(routing_records[1]))
    other_set["set"]["sha256"] = "ab" * 32
    with pytest.raises(UsageError, match="^expected records of one instance set") as caught:
        load_records([routing_records[0], other_set])
    assert "\n" not in str(caught.value)
    with pytest.raises(UsageError, match="^expected at least one result record"):
        compare([], tmp_path / "cmp")


def test_compare_leaves_failed_seeds_out_of_the_cdfs(routing_records, tmp_path):
    failed = [copy.deepcopy(results.load(p)) for p in routing_records]
    for record in failed:
        for instance in record["instances"]:
            instance["status"], instance["score"] = "crashed", 0.0
            instance["metrics"].pop("e2e_quantiles")
        record["aggregate"].update(results.aggregate_core([0.0] * len(record["instances"]),
                                                          ["crashed"] * len(record["instances"])))
    written = compare(failed, tmp_path / "cmp")
    assert [p.name for p in written] == ["scores.png"]  # no seed has quantiles: no CDF figure
    check_png(written[0])


def test_submission_labels_tell_records_apart(routing_records):
    a, b = (results.load(p) for p in routing_records)
    assert submission_labels([a, b]) == ["llq", "round_robin"]
    assert submission_labels([a, a]) == ["llq #1", "llq #2"]
    renamed = copy.deepcopy(b)
    renamed["submission"]["label"] = "llq"
    assert submission_labels([a, renamed]) == [f"llq ({a['submission']['sha256'][:8]})",
                                               f"llq ({b['submission']['sha256'][:8]})"]


# ------------------------------------------------------------------------------ autoscaling

def test_autoscaling_png_has_the_slo_line_and_legends_outside(hpa, tmp_path):
    from adrs_bench.tasks.autoscaling import plots
    from adrs_bench.tasks.autoscaling.settings import settings

    task = get_task("autoscaling")
    (case,), (outcome,) = hpa.cases, hpa.outcomes
    assert outcome.detail["finished"].shape == (len(case.trace), 2)
    written = task.plugin.write_artifacts(hpa.cases, hpa.outcomes, tmp_path / "art")
    assert written[-1] == tmp_path / "art" / f"{case.id}.png"
    check_png(written[-1])

    slo = settings().slo_max_slowdown
    fig = plots.figure(case, outcome, settings())
    (slowdown,) = [ax for ax in fig.axes if ax.get_ylabel() == f"p{settings().slo_percentile:g} slowdown"]
    flat = [line for line in slowdown.get_lines() if len(set(line.get_ydata())) == 1]
    assert any(line.get_ydata()[0] == slo and tuple(line.get_xdata()) == (0, 1) for line in flat)  # axhline
    fig.draw_without_rendering()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 2  # replicas and load; slowdown
    for legend in legends:
        box = legend.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent()), f"a legend covers the axes '{ax.get_ylabel()}'"


def test_windowed_percentile():
    """Per window, the percentile of the requests finished in it (nan if none) and of all so far."""
    from adrs_bench.tasks.autoscaling.plots import windowed_percentile

    finished = [(10.0, 1.0), (20.0, 3.0), (61.0, 8.0), (179.0, 2.0), (250.0, 4.0)]
    ends, inside, so_far = windowed_percentile(finished, 60.0, 50)
    assert list(ends) == [60.0, 120.0, 180.0, 240.0, 300.0]
    assert list(inside[:3]) == [2.0, 8.0, 2.0] and np.isnan(inside[3]) and inside[4] == 4.0
    assert list(so_far) == [2.0, 3.0, 2.5, 2.5, 3.0]


def test_the_compare_command_writes_the_plots_and_refuses_in_one_line(routing_records, hpa, tmp_path):
    from click.testing import CliRunner

    from adrs_bench.cli import main

    result = CliRunner().invoke(main, ["compare", *map(str, routing_records), "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"wrote {tmp_path / 'plots' / 'scores.png'}",
                                          f"wrote {tmp_path / 'plots' / 'latency_cdf.png'}"]
    other = results.save(dict(hpa.record), tmp_path / "hpa.json")
    mixed = CliRunner().invoke(main, ["compare", str(routing_records[0]), str(other), "--out", str(tmp_path / "x")])
    assert mixed.exit_code == 2 and mixed.output.startswith("error: expected records of one task")
    assert mixed.output.count("\n") == 1
