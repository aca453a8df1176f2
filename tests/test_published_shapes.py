"""Programs in the shapes the field publishes run unchanged and score what their plain twins score."""
import re

from conftest import FIXTURES


def test_a_shinkaevolve_style_program_scores_what_its_plain_twin_scores(run_source):
    published = (FIXTURES / "shinka_style_placement.py").read_text()
    twin = re.sub(r"\b_(?=[A-Za-z])", "", published)  # every private name made plain
    assert "_kvpr_from" in published and "_kvpr_from" not in twin and "self._free" not in twin
    plain, as_published = run_source(twin), run_source(published)
    assert {o.status for o in as_published} == {"ok"}
    assert [o.score for o in as_published] == [o.score for o in plain]
