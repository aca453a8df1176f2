"""`--set fresh` draws a 128-bit seed at run time, names the set `fresh:<seed>` and records the seed,
so the set can be rebuilt with `--set fresh:<seed>`; every task's generator takes such a seed, and
the sets of existing (small) seeds do not change."""
from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

import adrs_bench.registry as registry
from adrs_bench import results
from adrs_bench.cli import main
from adrs_bench.errors import InstanceSetNotFound
from adrs_bench.fresh_names import FRESH_SEED_BITS, parse_fresh, resolve_fresh
from adrs_bench.instances import load_set
from adrs_bench.registry import Task
from adrs_bench.tasks.autoscaling import generate as autoscaling_generate
from adrs_bench.tasks.autoscaling import instance as autoscaling_instance
from adrs_bench.tasks.llm_routing import generate as routing_generate
from adrs_bench.tasks.llm_routing import instance as routing_instance
from adrs_bench.tasks.prism_placement import generate as prism_generate

from conftest import ROUND_ROBIN, small_cases
from test_fresh_cache import isolated_cache  # noqa: F401  (autouse: these sets go to a temporary cache)
from test_spec_instances import case_json

RESULTS = Path(__file__).resolve().parents[2] / "leaderboard" / "results"
BIG = 2 ** 128 - 1  # the largest drawn seed: 39 digits
TINY_SET = json.dumps({"format": "prism_placement-instances/1",
                       "cases": [case_json(c) for c in small_cases(2)]}).encode()


class FreshTiny:
    """The prism plugin, except that every fresh set is the same two tiny cases (no solver run)."""

    def __init__(self, plugin):
        self.plugin, self.seeds = plugin, []

    def __getattr__(self, name):
        return getattr(self.plugin, name)

    def fresh_set_bytes(self, seed: int) -> bytes:
        self.seeds.append(seed)
        return TINY_SET


@pytest.fixture
def fresh_task(task) -> Task:
    return Task(spec=task.spec, plugin=FreshTiny(task.plugin))


# ------------------------------------------------------------------------------ names and seeds

def test_plain_fresh_draws_128_bits(monkeypatch):
    asked = []
    monkeypatch.setattr(secrets, "randbits", lambda bits: asked.append(bits) or 12345678901234567890123456789)
    assert resolve_fresh("fresh") == "fresh:12345678901234567890123456789"
    assert asked == [128] and FRESH_SEED_BITS == 128


def test_drawn_seeds_differ():
    names = {resolve_fresh("fresh") for _ in range(8)}
    assert len(names) == 8
    assert all(0 <= parse_fresh(name) < 2 ** 128 for name in names)


@pytest.mark.parametrize("name", ["dev", "fresh:7", "fresh:x"])
def test_other_names_pass_through(name):
    assert resolve_fresh(name) == name


def test_seeds_of_39_digits_replay():
    assert parse_fresh(f"fresh:{BIG}") == BIG
    assert parse_fresh("fresh:" + "9" * 39) == 10 ** 39 - 1
    assert parse_fresh("fresh:20261123") == 20261123


@pytest.mark.parametrize("name", ["fresh:" + "1" * 40, "fresh:", "fresh:-1", "fresh:1e5", "freshly"])
def test_malformed_fresh_names(fresh_task, name):
    with pytest.raises(InstanceSetNotFound) as excinfo:
        load_set(fresh_task, name)
    assert str(excinfo.value) == (
        f"expected fresh (a seed drawn now) or fresh:SEED with SEED a non-negative integer of at most 39 digits, "
        f"got '{name}'; e.g. --set fresh or --set fresh:20261123")


def test_load_plain_fresh_names_the_replayable_set(fresh_task):
    drawn = load_set(fresh_task, "fresh")
    seed = fresh_task.plugin.seeds[-1]
    assert drawn.name == f"fresh:{seed}" and drawn.fresh_seed == seed and drawn.held_out
    replayed = load_set(fresh_task, drawn.name)
    assert fresh_task.plugin.seeds == [seed] and replayed.cache.hit  # the replay reads the cache
    assert (replayed.name, replayed.sha256, replayed.fresh_seed) == (drawn.name, drawn.sha256, seed)


def test_a_big_seed_survives_the_record(tmp_path):
    """JSON integers are unbounded: the schema takes a 128-bit seed and it loads back exactly."""
    record = json.loads(next(RESULTS.glob(f"{registry.get_task('prism_placement').spec.id}__dev__first_fit__*.json")).read_text())
    record["set"].update(name=f"fresh:{BIG}", fresh_seed=BIG, held_out=True)
    saved = results.save(record, tmp_path / results.default_filename(record))
    assert saved.name.startswith(f"{record['task']['id']}__fresh-{BIG}__")
    assert f'"fresh_seed": {BIG}' in saved.read_text()
    assert results.load(saved)["set"]["fresh_seed"] == BIG


# ------------------------------------------------------------------------------ the command

def test_cli_plain_fresh_records_its_seed(fresh_task, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "get_task", lambda name: fresh_task)
    path = tmp_path / "rr.py"
    path.write_text(ROUND_ROBIN)
    result = CliRunner().invoke(main, ["run", "prism_placement", str(path), "--set", "fresh", "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    seed = fresh_task.plugin.seeds[-1]
    assert f"fresh:{seed}" in result.stdout  # the table names the set drawn, so it can be rebuilt
    (saved,) = (tmp_path / "out").glob(f"{fresh_task.spec.id}__fresh-{seed}__rr__*.json")
    record = results.load(saved)
    assert record["set"]["name"] == f"fresh:{seed}" and record["set"]["fresh_seed"] == seed
    assert record["set"]["held_out"] is True


def test_cli_refuses_a_bad_seed_before_the_note(fresh_task, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "get_task", lambda name: fresh_task)
    result = CliRunner().invoke(main, ["run", "prism_placement", "--set", "fresh:" + "1" * 40, "--no-save"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: expected fresh (a seed drawn now) or fresh:SEED")
    assert result.stderr.count("\n") == 1 and fresh_task.plugin.seeds == []


# ------------------------------------------------------------------------------ the generators

def test_prism_generator_takes_a_128_bit_seed():
    cases = prism_generate.build_cases(f"fresh:{BIG}", references=False)
    again = prism_generate.build_cases(f"fresh:{BIG}", references=False)
    other = prism_generate.build_cases(f"fresh:{BIG - 1}", references=False)
    assert len(cases) == 120 and cases[0]["seed"] == [3, BIG, 0, 0]
    assert [prism_generate.case_data_digest(c) for c in cases] == [prism_generate.case_data_digest(c) for c in again]
    assert [prism_generate.case_data_digest(c) for c in cases] != [prism_generate.case_data_digest(c) for c in other]


def test_routing_generator_takes_a_128_bit_seed():
    seeds = routing_generate.fresh_seeds(BIG)
    assert seeds == routing_generate.fresh_seeds(BIG) != routing_generate.fresh_seeds(BIG - 1)
    assert all(2 ** 32 <= s < 2 ** 62 for s in seeds)
    trace = routing_generate.generate_trace(seeds[0], 60.0)
    data = routing_instance.to_csv_gz([trace])
    assert routing_instance.parse_csv_gz(data) == [trace]


def test_autoscaling_generator_takes_a_128_bit_seed(monkeypatch):
    seeds = autoscaling_generate.fresh_seeds(BIG)
    assert seeds == autoscaling_generate.fresh_seeds(BIG) != autoscaling_generate.fresh_seeds(BIG - 1)
    assert all(2 ** 32 <= s < 2 ** 62 for s in seeds)
    # Short traces stand in for the 2-hour ones (their reference search takes a minute).
    short = [autoscaling_generate.generate_trace(shape, s, 300.0)
             for shape, s in zip(autoscaling_generate.SHAPES, seeds)]
    monkeypatch.setattr(autoscaling_generate, "fresh_traces", lambda seed: short if seed == BIG else None)
    data = autoscaling_generate.fresh_set_bytes(BIG)
    document = json.loads(data)
    assert document["set"] == f"fresh-{BIG}" and document["generator"]["fresh_seed"] == BIG
    cases = autoscaling_instance.parse_set(data)
    assert [c.id for c in cases] == [f"{shape}-{s}" for shape, s in zip(autoscaling_generate.SHAPES, seeds)]


def test_small_seeds_give_the_sets_they_always_gave():
    """Pinned before 128-bit seeds were allowed: an existing fresh:SEED result still replays."""
    assert routing_generate.fresh_seeds(20261123) == [2399458760436009920, 3673848171217095580,
                                                      4041908499281260835, 2190099222192578182,
                                                      1914696445282390997]
    assert autoscaling_generate.fresh_seeds(20261123) == [3479111180505076223, 1627280875913768500,
                                                          963901804442894609]
    digests = [prism_generate.case_data_digest(c)
               for c in prism_generate.build_cases("fresh:20261123", references=False)]
    assert hashlib.sha256(json.dumps(digests).encode()).hexdigest() == \
        "55f640c041967584b322e4d4274fd764316f167143068464ac874b32412faa27"
