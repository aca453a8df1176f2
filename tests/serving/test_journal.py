"""The journal's codes: one list, importing nothing, and every entry a run writes uses one of them."""
import ast
from pathlib import Path

from adrs_bench.serving import ClusterConfig, ReplicaConfig, Simulator, journal, least_loaded

from .helpers import ONE_SECOND, specs


def test_codes_are_distinct_and_the_module_imports_nothing():
    assert sorted(journal.JOURNAL_CODES) == list(range(len(journal.JOURNAL_CODES)))
    tree = ast.parse(Path(journal.__file__).read_text())
    imports = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == ["from __future__ import annotations"]


def test_a_run_writes_every_kind_of_entry_in_order():
    entries = []
    config = ClusterConfig(num_replicas=1, replica=ReplicaConfig(num_blocks=5, watermark_fraction=0.0))
    # r0 and r1 fill the cache and r1 is preempted (DESIGN.md §5), r2 completes at its prefill's end.
    Simulator(config, specs((0, 40, 6), (0.5, 24, 6), (20, 8, 1)), least_loaded, ONE_SECOND, journal=entries).run()
    kinds = [entry[0] for entry in entries]
    assert set(kinds) == set(journal.JOURNAL_CODES)
    assert kinds[:4] == [journal.JOURNAL_ARRIVAL, journal.JOURNAL_ENQUEUE, journal.JOURNAL_ADMIT,
                         journal.JOURNAL_ARRIVAL]
    assert entries[-1] == (journal.JOURNAL_PREFILL_END, 0, [(2, None)])
