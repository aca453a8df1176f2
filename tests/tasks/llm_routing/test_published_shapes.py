"""Programs in the shapes the field publishes run unchanged and score what their plain twins score."""
import re
from pathlib import Path

import pytest
from conftest import FIXTURES

from adrs_bench.errors import InvalidSubmission
from adrs_bench.instances import load_set
from adrs_bench.registry import get_task
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission


def test_a_shinkaevolve_style_program_scores_what_its_plain_twin_scores(run_source):
    published = (FIXTURES / "shinka_style_placement.py").read_text()
    twin = re.sub(r"\b_(?=[A-Za-z])", "", published)  # every private name made plain
    assert "_kvpr_from" in published and "_kvpr_from" not in twin and "self._free" not in twin
    plain, as_published = run_source(twin), run_source(published)
    assert {o.status for o in as_published} == {"ok"}
    assert [o.score for o in as_published] == [o.score for o in plain]


# ------------------------------------------------------------------ vidur-style routers (llm_routing)

ROUTING = get_task("llm_routing")
ROUTING_CASES = load_set(ROUTING, "smoke").cases + load_set(ROUTING, "dev").cases[:1]


def routing_outcomes(path: Path, cases=ROUTING_CASES):
    return run_cases(ROUTING, check_submission(path, ROUTING.spec), cases)


def same_runs(published, plain) -> None:
    """Every seed ok, with the same score and the same record for every request, bit for bit."""
    assert [(o.status, o.message) for o in published] == [("ok", "")] * len(plain)
    assert [o.score for o in published] == [o.score for o in plain]
    assert [o.detail["records"] for o in published] == [o.detail["records"] for o in plain]


@pytest.mark.slow  # two sandboxed runs of dev seed 1 (8364 requests), about 9 s
def test_a_vidur_style_router_scores_what_the_plain_hra_spf_baseline_scores():
    """Glia's HRA+SPF as vidur's routers are written (vidur's imports and base class, super().__init__,
    classmethod and staticmethod, underscore constants and state, rs._config and rs._request_queue,
    sort/pop/rebind of self._request_queue, d[k] += 1) against the baseline in the plain form, on smoke
    and on dev seed 1, where the router holds requests (1805 routed late) and rebinds its queue, which the
    60 s smoke trace never makes it do. (The same comparison on smoke alone is in the default run:
    test_vidur_compat_containment.py::test_the_vidur_style_fixture_scores_what_hra_spf_scores_bit_for_bit.)"""
    published = (FIXTURES / "vidur_style_hra.py").read_text()
    for shape in ("from vidur.entities import Request", "(BaseGlobalScheduler)", "super().__init__(*args, **kwargs)",
                  "@classmethod", "@staticmethod", "self._request_queue.sort(", "self._request_queue.pop(0)",
                  "self._request_queue = remaining + self._request_queue", 'self._stats["calls"] += 1',
                  "rs._config.block_size", "rs._request_queue", "rs.num_active_requests"):
        assert shape in published, shape
    plain = ROUTING.spec.path(ROUTING.spec.baselines["hra_spf"])
    same_runs(routing_outcomes(FIXTURES / "vidur_style_hra.py"), routing_outcomes(plain))


def test_the_starter_in_vidur_form_is_llq_bit_for_bit():
    llq = ROUTING.spec.path(ROUTING.spec.baselines["llq"])
    starter = ROUTING.spec.path(ROUTING.spec.example)
    assert "(BaseGlobalScheduler):" in starter.read_text() and "class Router:" not in starter.read_text()
    published = routing_outcomes(starter, ROUTING_CASES[:1])
    same_runs(published, routing_outcomes(llq, ROUTING_CASES[:1]))
    assert [o.score for o in published] == [1.0]


LLQ_WITH_IDS = """
import numpy as np

class Router:
    def schedule(self):
        ids = sorted(self.replica_schedulers)
        loads = np.array([self.replica_schedulers[i].num_requests for i in ids])
        pairs = []
        for request in self.request_queue:
            best = int(np.argmin(loads))
            pairs.append((REPLICA, request))
            loads[best] += 1
        return pairs
"""


@pytest.mark.slow  # three smoke runs; the default run has the same checks on a vidur-style router:
# test_vidur_compat_containment.py::test_numpy_integer_replica_ids_route_exactly_as_plain_ints and
# ::test_bools_and_non_integers_are_not_replica_ids
def test_numpy_integer_replica_ids_are_valid_and_bools_are_not(tmp_path):
    as_int = tmp_path / "as_int.py"
    as_int.write_text(LLQ_WITH_IDS.replace("REPLICA", "ids[best]"))
    as_numpy = tmp_path / "as_numpy.py"
    as_numpy.write_text(LLQ_WITH_IDS.replace("REPLICA", "np.int64(ids[best])"))
    same_runs(routing_outcomes(as_numpy, ROUTING_CASES[:1]), routing_outcomes(as_int, ROUTING_CASES[:1]))
    as_bool = tmp_path / "as_bool.py"
    as_bool.write_text(LLQ_WITH_IDS.replace("REPLICA", "best == 1"))
    (outcome,) = routing_outcomes(as_bool, ROUTING_CASES[:1])
    assert outcome.status == "invalid"
    assert "item 0: unknown replica id False; replicas accepting requests are [0, 1, 2, 3]" in outcome.message


def test_the_router_is_the_one_class_deriving_from_the_base(tmp_path):
    """An own intermediate base is not the router; two leaves are refused statically, naming both."""
    header = "from vidur.scheduler.global_scheduler.base_global_scheduler import BaseGlobalScheduler\n"
    leaf = "    def schedule(self):\n        return []\n"
    chain = tmp_path / "chain.py"
    chain.write_text(header + "class Common(BaseGlobalScheduler):\n    pass\n\nclass Mine(Common):\n" + leaf)
    assert check_submission(chain, ROUTING.spec).entry == "Mine (deriving from BaseGlobalScheduler)"
    two = tmp_path / "two.py"
    two.write_text(header + "class A(BaseGlobalScheduler):\n" + leaf + "\nclass B(BaseGlobalScheduler):\n" + leaf)
    with pytest.raises(InvalidSubmission, match=r"expected one class deriving from BaseGlobalScheduler to be the "
                                                r"Router, got 2 \(A, B\); name the one to use Router"):
        check_submission(two, ROUTING.spec)
    none = tmp_path / "none.py"
    none.write_text(header + "class A:\n" + leaf)
    with pytest.raises(InvalidSubmission, match=r"expected a top-level class Router\(\) or a class deriving from "
                                                r"BaseGlobalScheduler, got none"):
        check_submission(none, ROUTING.spec)
    named = tmp_path / "named.py"
    named.write_text(header + "class A(BaseGlobalScheduler):\n" + leaf + "\nclass Router(A):\n" + leaf)
    assert check_submission(named, ROUTING.spec).entry == "Router()"


def test_vidur_modules_offer_their_names_only(tmp_path):
    path = tmp_path / "replica.py"
    path.write_text("from vidur.entities import Replica\n\nclass Router:\n    def schedule(self):\n"
                    "        return [Replica]\n")
    with pytest.raises(InvalidSubmission, match=r"replica.py:1: expected a name vidur.entities provides \(Request\), "
                                                r"got 'Replica'; the task provides only those"):
        check_submission(path, ROUTING.spec)
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("from vidur.entities import Request\n\ndef compute_model_placement(gpu_num, models):\n"
                         "    return Request\n")
    with pytest.raises(InvalidSubmission, match="import of 'vidur.entities' is not allowed"):
        check_submission(elsewhere, get_task("prism_placement").spec)  # only llm_routing provides vidur
