"""The vidur compatibility layer of llm_routing (spec compat_modules, modules.open_base,
modules.private_aliases, policy's `super().__init__`, BaseGlobalScheduler as the router, numpy replica
ids) relaxes the sandbox in five narrow places. Each test here tries to widen one of them and checks
that the attempt is refused: statically (check_submission raises InvalidSubmission, one line) or when
it runs in the real sandbox (a failed status with a one-line message naming the cause).

Run-time attacks are written so that, if the refused step went through, the router would go on to
route like LLQ and its seed would end `ok`: a guard that stopped refusing fails the test.

Three holes this file found were closed in guards.py: a class-bound super() handing out an unbound
__init__ (super_init now refuses it), a str-subclass attribute name answering startswith as it liked
(names must be plain str), and `+=` on an underscore attribute of a foreign object (now through the
private-write guard).
"""
from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from adrs_bench.cli import main
from adrs_bench.errors import InvalidSubmission
from adrs_bench.instances import load_set
from adrs_bench.registry import get_task
from adrs_bench.runner import run_cases
from adrs_bench.sandbox.checks import check_submission

TASK = get_task("llm_routing")
SMOKE = load_set(TASK, "smoke").cases
HRA_SPF = TASK.spec.path(TASK.spec.baselines["hra_spf"])
VIDUR_HRA = FIXTURES / "vidur_style_hra.py"

HEADER = """\
import collections
import random

import numpy as np
from vidur.entities import Request
from vidur.scheduler.global_scheduler.base_global_scheduler import BaseGlobalScheduler
"""

# The rest of a schedule(self) body: least-loaded routing in vidur's names (scores exactly 1.0).
LLQ_TAIL = """
        loads = [[r.num_requests, i] for i, r in sorted(self._replica_schedulers.items())]
        pairs = []
        for request in self._request_queue:
            best = min(loads)
            pairs.append((best[1], request))
            best[0] += 1
        return pairs
"""

ONE_LINE_REFUSAL = "underscore attributes are readable on the submission's own objects only"


@pytest.fixture
def write(tmp_path):
    counter = itertools.count()

    def write_source(source: str) -> Path:
        path = tmp_path / f"router_{next(counter)}.py"
        path.write_text(HEADER + textwrap.dedent(source))
        return path

    return write_source


@pytest.fixture
def refused_statically(write):
    """`source` must fail check_submission with a one-line message containing every one of `words`."""

    def check(source: str, *words: str) -> str:
        with pytest.raises(InvalidSubmission) as excinfo:
            check_submission(write(source), TASK.spec)
        message = str(excinfo.value)
        assert "\n" not in message, message
        for word in words:
            assert word in message, message
        return message

    return check


@pytest.fixture
def outcome_of(write):
    """Check `source` (it must pass the static check) and run it on `cases` in the real sandbox."""

    def run(source: str, cases=SMOKE):
        outcomes = run_cases(TASK, check_submission(write(source), TASK.spec), cases)
        for outcome in outcomes:
            assert "\n" not in outcome.message, outcome.message
            if not outcome.ok:
                assert outcome.score == 0.0
        return outcomes[0] if len(cases) == 1 else outcomes

    return run


@pytest.fixture
def refused_at_run_time(outcome_of):
    """`source` runs, and its seed ends with `status` and a message containing every one of `words`."""

    def run(source: str, status: str, *words: str):
        outcome = outcome_of(source)
        assert outcome.status == status, (outcome.status, outcome.message)
        for word in words:
            assert word in outcome.message, outcome.message
        return outcome

    return run


def router(body: str, prelude: str = "") -> str:
    """A BaseGlobalScheduler subclass whose schedule(self) runs `body` (8-space indented lines), then LLQ."""
    return prelude + "\nclass Attack(BaseGlobalScheduler):\n    def schedule(self):\n" + body + LLQ_TAIL


# ------------------------------------------------------------------------------------- positive shapes

def test_the_vidur_style_fixture_scores_what_hra_spf_scores_bit_for_bit():
    published = run_cases(TASK, check_submission(VIDUR_HRA, TASK.spec), SMOKE)
    plain = run_cases(TASK, check_submission(HRA_SPF, TASK.spec), SMOKE)
    assert [(o.id, o.status, o.message) for o in published] == [(o.id, "ok", "") for o in plain]
    assert [o.status for o in plain] == ["ok"] * len(SMOKE)
    assert [o.score for o in published] == [o.score for o in plain]
    assert [o.detail["records"] for o in published] == [o.detail["records"] for o in plain]


def test_the_cli_reports_the_same_per_instance_scores_for_the_fixture_and_hra_spf():
    def scores(path: Path) -> list[tuple[str, str, float]]:
        result = CliRunner().invoke(main, ["run", "llm_routing", str(path), "--set", "smoke", "--no-save", "--json"])
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)  # progress goes to stderr
        return [(i["id"], i["status"], i["score"]) for i in record["instances"]]

    published, plain = scores(VIDUR_HRA), scores(HRA_SPF)
    assert published == plain
    assert [status for _, status, _ in published] == ["ok"] * len(SMOKE)


def test_own_state_and_the_offered_aliases_work(outcome_of):
    """What the relaxations are for: self._x on the router, its _config (None: its own, not a replica's),
    and the four underscore names a Replica offers, equal to their public twins."""
    outcome = outcome_of(router("""
        assert self._config is None
        assert self._num_replicas == self.num_replicas == len(self._replica_schedulers)
        self._stats = {"calls": 0}
        self._stats["calls"] += 1
        for replica_id, rs in self._replica_schedulers.items():
            assert rs._replica_id == rs.id == replica_id
            assert rs._num_allocated_blocks == rs.num_allocated_blocks
            assert [r.id for r in rs._request_queue] == [r.id for r in rs.waiting]
            assert (rs._config.block_size, rs._config.num_blocks) == (rs.block_size, rs.num_blocks)
            assert hasattr(rs, "_config") and not hasattr(rs, "_waiting") and not hasattr(rs, "_calls")
    """))
    assert (outcome.status, outcome.message, outcome.score) == ("ok", "", 1.0)


def test_vidur_modules_import_in_every_form(outcome_of):
    outcome = outcome_of(router("""
        assert v.Request is Request and entities.Request is Request and vidur.entities is v
        assert bgs.BaseGlobalScheduler is BaseGlobalScheduler
        assert all(isinstance(r, v.Request) for r in self._request_queue)
    """, prelude="""
import vidur
import vidur.entities as v
import vidur.scheduler.global_scheduler.base_global_scheduler as bgs
from vidur import entities
"""))
    assert (outcome.status, outcome.message, outcome.score) == ("ok", "", 1.0)


# --------------------------------------------------------------------------- super().__init__ (static)

@pytest.mark.parametrize("expression, name", [
    ("super(Attack, self).__init__", "__init__"),
    ("super(BaseGlobalScheduler, self).__init__", "__init__"),
    ("super().__init__.__globals__", "__globals__"),
    ("super().__init__.__func__", "__func__"),
    ("super().__init__.__self__", "__self__"),
    ("BaseGlobalScheduler.__init__", "__init__"),
    ("BaseGlobalScheduler.sort_requests.__code__", "__code__"),
    ("BaseGlobalScheduler.sort_requests.__globals__", "__globals__"),
    ("self._replica_schedulers[0]._config.__class__", "__class__"),
    ("Request.__init__", "__init__"),
])
def test_dunders_around_the_super_init_exception_are_refused_statically(refused_statically, expression, name):
    refused_statically(router(f"        x = {expression}\n"), f'"{name}" is an invalid attribute name')


# ------------------------------------------------------------------------- super().__init__ (run time)

@pytest.mark.parametrize("expression, words", [
    ('getattr(super().__init__, "__globals__")', ['"__globals__" is an invalid attribute name']),
    ('getattr(super().__init__, "__func__")', ['"__func__" is an invalid attribute name']),
    ('getattr(super(), "__init__")', ['"__init__" is an invalid attribute name']),
    ('getattr(BaseGlobalScheduler.sort_requests, "__code__")', ['"__code__" is an invalid attribute name']),
    ('getattr(BaseGlobalScheduler.sort_requests, "func_globals")', ['"func_globals" is not available']),
    ('getattr(self._replica_schedulers[0]._config, "__class__")', ['"__class__" is an invalid attribute name']),
])
def test_dunders_reached_by_getattr_are_refused(refused_at_run_time, expression, words):
    refused_at_run_time(router(f"        x = {expression}\n"), "error", "AttributeError", *words)


def test_a_rebound_super_returning_something_else_gets_no_init(refused_at_run_time):
    source = """
super = lambda *args: 5

class Attack(BaseGlobalScheduler):
    def __init__(self, *args):
        super().__init__(*args)

    def schedule(self):
""" + LLQ_TAIL
    refused_at_run_time(source, "error", "creating Router()",
                        "__init__ is read only from super() in the sandbox, got a int object")


def test_a_locally_rebound_super_cannot_reach_a_replica_configs_init(refused_at_run_time):
    refused_at_run_time(router("""
        rs = self._replica_schedulers[0]
        super = lambda: rs._config
        super().__init__(1, 1)
        assert rs._config.block_size == 1
    """), "error", "__init__ is read only from super() in the sandbox, got a SchedulerConfig object")


def test_a_subclass_of_super_is_not_a_real_super(refused_at_run_time):
    refused_at_run_time(router("""
        super = lambda: MySuper(Attack, self)
        init = super().__init__
    """, prelude="""
_super = super
class MySuper(_super):
    pass
"""), "error", "__init__ is read only from super() in the sandbox, got a MySuper object")


# A super object bound to a class (zero-argument super() in a classmethod, or in a nested function whose
# first argument is a class) hands out the next class's __init__ *unbound*; super_init only checks that
# it got a real super object. Deriving a throwaway class from a harness class then yields that class's
# __init__, which rewrites the private state of the harness's own objects (here the frozen SchedulerConfig
# behind rs._config). Nothing else writes underscore attributes of non-own objects.
CLASS_BOUND_SUPER = {
    "classmethod": ("""
        rs = self._replica_schedulers[0]
        class Grab(type(rs._config)):
            @classmethod
            def init(cls):
                return super().__init__
        Grab.init()(rs._config, 1, 2)
        assert (rs._config.block_size, rs._config.num_blocks) == (1, 2)
    """),
    "nested-function": ("""
        rs = self._replica_schedulers[0]
        class Grab(type(rs._config)):
            def init(self):
                def inner(klass):
                    return super().__init__
                return inner(Grab)
        Grab(0, 0).init()(rs._config, 1, 2)
        assert (rs._config.block_size, rs._config.num_blocks) == (1, 2)
    """),
}


CLASS_BOUND = "super().__init__ is available in instance methods only (here super() is bound to a class)"


@pytest.mark.parametrize("body", CLASS_BOUND_SUPER.values(), ids=CLASS_BOUND_SUPER.keys())
def test_a_class_bound_super_cannot_rewrite_a_harness_object(outcome_of, body):
    outcome = outcome_of(router(body))
    assert outcome.status == "error", (outcome.status, outcome.message)
    assert CLASS_BOUND in outcome.message


def test_a_class_bound_super_cannot_write_the_offered_base_class(outcome_of):
    outcome = outcome_of("""
class Attack(BaseGlobalScheduler):
    @classmethod
    def base_init(cls):
        return super().__init__

    def schedule(self):
        Attack.base_init()(BaseGlobalScheduler, "written by the submission")
        assert getattr(Attack, "_config", None) == "written by the submission"  # inherited, class-level
""" + LLQ_TAIL)
    assert outcome.status == "error", (outcome.status, outcome.message)
    assert CLASS_BOUND in outcome.message


# ----------------------------------------------------------------- underscore reads on the mirror views

FORBIDDEN_READS = {
    "replica-waiting": ("rs._waiting", "_waiting", "Replica"),
    "replica-calls": ("rs._calls", "_calls", "Replica"),
    "replica-steps-computed": ('getattr(rs, "_" + "steps")', "_steps", "Replica"),
    "replica-steps-default": ('getattr(rs, "_steps", 0)', "_steps", "Replica"),
    "replica-scheduler-config": ("rs._scheduler_config", "_scheduler_config", "Replica"),
    "replica-id": ("rs._id", "_id", "Replica"),
    "replica-allocated": ("rs._allocated", "_allocated", "Replica"),
    "replica-total": ("rs._total", "_total", "Replica"),
    "replica-decoding": ("rs._decoding", "_decoding", "Replica"),
    "replica-cache": ("rs._cache_waiting", "_cache_waiting", "Replica"),
    "replica-class-slot": ("type(rs)._waiting", "_waiting", "type"),
    "replica-class-alias": ("type(rs)._request_queue", "_request_queue", "type"),
    "request-replica": ("self._request_queue[0]._replica", "_replica", "Request"),
    "request-id": ("self._request_queue[0]._id", "_id", "Request"),
    "request-state": ('getattr(self._request_queue[0], "_state")', "_state", "Request"),
    "request-arrival": ("self._request_queue[0]._arrival", "_arrival", "Request"),
    "aliased-request-replica": ("[r._replica for r in rs._request_queue] + [self._request_queue[0]._replica]",
                                "_replica", "Request"),
    "proxy-name": ("v._name", "_name", "ModuleProxy"),
}


@pytest.mark.parametrize("expression, name, kind", FORBIDDEN_READS.values(), ids=FORBIDDEN_READS.keys())
def test_no_other_underscore_attribute_of_a_view_is_readable(refused_at_run_time, expression, name, kind):
    source = router(f"        rs = self._replica_schedulers[0]\n        x = {expression}\n",
                    prelude="import vidur.entities as v\n")
    refused_at_run_time(source, "error", f'attribute "{name}" of a {kind} object is not available in the sandbox',
                        ONE_LINE_REFUSAL)


# ------------------------------------------------------------------------ writes: aliases are read-only

GUARDED_WRITES = {
    "assign-request-queue": "rs._request_queue = []",
    "assign-config": "rs._config = None",
    "assign-replica-id": "rs._replica_id = 7",
    "assign-private-slot": "rs._allocated = 0",
    "delete-config": "del rs._config",
    "request-id": "self._request_queue[0]._id = 5",
    "request-replica": "self._request_queue[0]._replica = None",
}


@pytest.mark.parametrize("statement", GUARDED_WRITES.values(), ids=GUARDED_WRITES.keys())
def test_underscore_attributes_of_views_cannot_be_written(refused_at_run_time, statement):
    refused_at_run_time(router(f"        rs = self._replica_schedulers[0]\n        {statement}\n"), "error",
                        "TypeError: underscore attributes of a", "cannot be set in the sandbox")


@pytest.mark.parametrize("name", ["_config", "_request_queue", "_waiting", "_calls"])
def test_setattr_refuses_underscore_names_on_views(refused_at_run_time, name):
    refused_at_run_time(router(f'        setattr(self._replica_schedulers[0], "{name}", [])\n'), "error",
                        f'"{name}" is an invalid attribute name')


@pytest.mark.parametrize("statement, name", [("rs._request_queue += []", "_request_queue"),
                                             ("rs._num_allocated_blocks += 1", "_num_allocated_blocks")])
def test_augmented_writes_to_aliases_are_refused(refused_at_run_time, statement, name):
    """`+=` reads through the alias and writes through _inplace_setattr_, which checks an underscore
    name as a plain write does (own objects only), whatever the attribute is."""
    refused_at_run_time(router(f"        rs = self._replica_schedulers[0]\n        {statement}\n"), "error",
                        "TypeError: underscore attributes of a Replica object cannot be set in the sandbox")


def test_a_replica_config_is_frozen(refused_at_run_time):
    refused_at_run_time(router("        self._replica_schedulers[0]._config.block_size = 1\n"), "error",
                        "FrozenInstanceError: cannot assign to field 'block_size'")


def test_setattr_with_a_str_subclass_name_cannot_write_private_state(outcome_of):
    outcome = outcome_of(router("""
        rs = self._replica_schedulers[0]
        setattr(rs, Name("_total"), 10 ** 9)
        assert rs.num_blocks == 10 ** 9
    """, prelude="""
class Name(str):
    def startswith(self, prefix, *args):
        return False
"""))
    assert outcome.status == "error", (outcome.status, outcome.message)
    assert "TypeError: attribute names are plain str in the sandbox, got Name" in outcome.message


def test_getattr_with_a_str_subclass_name_cannot_read_private_state(refused_at_run_time):
    """A str subclass equal to "format" (hash and ==) would take the formatter's direct getattr."""
    refused_at_run_time(router("""
        assert getattr(self._replica_schedulers[0], Name("_waiting")) is not None
    """, prelude="""
class Name(str):
    def __eq__(self, other):
        return True

    def __hash__(self):
        return hash("format")
"""), "error", "TypeError: attribute names are plain str in the sandbox, got Name")


def test_a_library_function_cannot_carry_attributes_into_the_next_case(refused_at_run_time):
    """Library functions are shared by every case a child runs: an attribute set on one would outlive
    the case (fresh state per case), so they are not the submission's to modify."""
    refused_at_run_time(router("""
        import heapq
        heapq.merge.memo = {}
    """), "error", "function merge belongs to a library and cannot be modified in the sandbox")


# -------------------------------------------------------- writes: the offered classes and their modules

CLASS_WRITES = {
    "base-method": ("BaseGlobalScheduler.sort_requests = lambda self: None", "class BaseGlobalScheduler is not"),
    "base-setattr": ('setattr(BaseGlobalScheduler, "schedule", lambda self: [])', "class BaseGlobalScheduler is not"),
    "base-delete": ("del BaseGlobalScheduler.sort_requests", "class BaseGlobalScheduler is not"),
    "base-augmented": ("BaseGlobalScheduler.count += 1", "class BaseGlobalScheduler is not"),
    "base-private": ("BaseGlobalScheduler._config = 1", "underscore attributes of a type object cannot be set"),
    "request-class": ("Request.id = 1", "class Request is not"),
    "replica-class": ("type(self._replica_schedulers[0]).num_requests = 0", "class Replica is not"),
    "config-class": ("type(self._replica_schedulers[0]._config).block_size = 1", "class SchedulerConfig is not"),
    "proxy-name": ("v.Request = Attack", "modules cannot be modified in the sandbox"),
    "proxy-setattr": ('setattr(v, "Request", Attack)', "modules cannot be modified in the sandbox"),
    "package-proxy": ("vidur.entities = None", "modules cannot be modified in the sandbox"),
    "base-module-proxy": ("bgs.BaseGlobalScheduler = Attack", "modules cannot be modified in the sandbox"),
}


@pytest.mark.parametrize("statement, words", CLASS_WRITES.values(), ids=CLASS_WRITES.keys())
def test_the_offered_classes_and_modules_cannot_be_modified(refused_at_run_time, statement, words):
    prelude = ("import vidur\nimport vidur.entities as v\n"
               "import vidur.scheduler.global_scheduler.base_global_scheduler as bgs\n")
    refused_at_run_time(router(f"        {statement}\n", prelude=prelude), "error", "TypeError", words)


def test_a_subclass_may_rewrite_itself_but_not_its_base(outcome_of):
    """The router's own class is its own (writes allowed); the base it derives from stays as it was."""
    outcome = outcome_of(router("""
        Attack.sort_requests = lambda me: None
        assert self.sort_requests() is None
        assert BaseGlobalScheduler.sort_requests is not Attack.sort_requests
    """))
    assert (outcome.status, outcome.score) == ("ok", 1.0)


# --------------------------------------------------------------------------- imports of vidur modules

@pytest.mark.parametrize("line, module, offered, got", [
    ("from vidur.entities import Replica", "vidur.entities", "Request", "Replica"),
    ("from vidur.entities import _name", "vidur.entities", "Request", "_name"),
    ("from vidur.entities import *", "vidur.entities", "Request", "*"),
    ("from vidur.entities import Request, Replica", "vidur.entities", "Request", "Replica"),
    ("from vidur import Request", "vidur", "entities, scheduler", "Request"),
    ("from vidur.scheduler.global_scheduler.base_global_scheduler import GlobalScheduler",
     "vidur.scheduler.global_scheduler.base_global_scheduler", "BaseGlobalScheduler", "GlobalScheduler"),
])
def test_a_name_a_vidur_module_does_not_offer_is_refused_statically(refused_statically, line, module, offered, got):
    message = refused_statically(router("", prelude=line + "\n"),
                                 f"expected a name {module} provides ({offered}), got '{got}'",
                                 "the task provides only those")
    assert ".py:7: " in message  # the import's own line, right after the 6-line header


def test_a_name_missing_from_a_vidur_proxy_is_refused_at_run_time(refused_at_run_time):
    refused_at_run_time(router("        x = v.Replica\n", prelude="import vidur.entities as v\n"), "error",
                        "vidur.entities.Replica is not available in the sandbox")


def test_the_run_time_importer_offers_the_listed_names_only():
    """The importer's own check, behind the static one (in process: nothing is executed)."""
    from adrs_bench.sandbox.guards import make_importer
    from adrs_bench.sandbox.child import provided_modules
    from adrs_bench.tasks.llm_routing import mirror, vidur_compat

    importer = make_importer(TASK.spec.allowed_imports,
                             provided_modules(TASK.spec.compat_modules, TASK.plugin.child_adapter))
    assert importer("vidur.entities", None, None, ("Request",)).Request is mirror.Request
    base = importer("vidur.scheduler.global_scheduler.base_global_scheduler", None, None, ("BaseGlobalScheduler",))
    assert base.BaseGlobalScheduler is vidur_compat.BaseGlobalScheduler
    assert importer("vidur.entities").entities.Request is mirror.Request  # `import vidur.entities` binds vidur
    for module, name in [("vidur.entities", "Replica"), ("vidur.entities", "_name"), ("vidur.entities", "__dict__"),
                         ("vidur", "Request"), ("vidur.scheduler", "_name")]:
        with pytest.raises(ImportError, match=f"'{name}' cannot be imported from {module}: the task provides only"):
            importer(module, None, None, (name,))


def test_dynamic_import_of_a_vidur_module_is_refused_statically(refused_statically):
    refused_statically(router('        m = __import__("vidur.entities", None, None, ("_name",))\n'),
                       '"__import__" is an invalid variable name')


# -------------------------------------------------------------------- open_base: what counts as own

@pytest.mark.parametrize("base", ["collections.OrderedDict", "collections.UserDict", "collections.Counter",
                                  "random.Random", "np.random.RandomState", "np.random.Generator", "Request"])
@pytest.mark.parametrize("access, words", [
    ("x = self._request_queue", 'attribute "_request_queue" of a Attack object is not available'),
    ("self._stats = 1", "underscore attributes of a Attack object cannot be set"),
])
def test_a_router_also_deriving_from_a_library_class_is_not_wholly_own(refused_at_run_time, base, access, words):
    source = router(f"        {access}\n").replace("class Attack(BaseGlobalScheduler):",
                                                     f"class Attack(BaseGlobalScheduler, {base}):")
    refused_at_run_time(source, "error", words)


# ------------------------------------------------------------------------- which class is the router

def test_two_routers_are_refused_statically_naming_both(refused_statically):
    refused_statically("""
class First(BaseGlobalScheduler):
    def schedule(self):
        return []

class Second(BaseGlobalScheduler):
    def schedule(self):
        return []
""", "expected one class deriving from BaseGlobalScheduler to be the Router, got 2 (First, Second)",
        "name the one to use Router")


def test_two_routers_through_aliases_are_refused_statically_naming_both(refused_statically):
    refused_statically("""
import vidur.scheduler.global_scheduler.base_global_scheduler as bgs
from vidur.scheduler.global_scheduler.base_global_scheduler import BaseGlobalScheduler as Base

class First(Base):
    def schedule(self):
        return []

class Second(bgs.BaseGlobalScheduler):
    def schedule(self):
        return []
""", "got 2 (First, Second)")


def test_a_second_router_made_at_run_time_is_refused_naming_both(refused_at_run_time):
    refused_at_run_time("""
def make():
    class Hidden(BaseGlobalScheduler):
        def schedule(self):
            return []
    return Hidden

Other = make()

class Attack(BaseGlobalScheduler):
    def schedule(self):
""" + LLQ_TAIL, "error", "creating Router()", "expected one class deriving from BaseGlobalScheduler, got 2 "
                         "(Attack, Hidden)")


# ------------------------------------------------------------------------------------- replica ids

def ids_router(replica_id: str) -> str:
    return f"""
class Attack(BaseGlobalScheduler):
    def schedule(self):
        ids = sorted(self._replica_schedulers)
        loads = np.array([self._replica_schedulers[i].num_requests for i in ids])
        pairs = []
        for request in self._request_queue:
            best = int(np.argmin(loads))
            pairs.append(({replica_id}, request))
            loads[best] += 1
        return pairs
"""


def test_numpy_integer_replica_ids_route_exactly_as_plain_ints(outcome_of):
    plain = outcome_of(ids_router("ids[best]"))
    assert (plain.status, plain.score) == ("ok", 1.0)
    for replica_id in ("np.int64(ids[best])", "np.uint8(ids[best])", "np.argmin(loads)"):
        numpy_ids = outcome_of(ids_router(replica_id))
        assert (numpy_ids.status, numpy_ids.message) == ("ok", ""), replica_id
        assert numpy_ids.score == plain.score
        assert numpy_ids.detail["records"] == plain.detail["records"]


@pytest.mark.parametrize("replica_id, shown", [
    ("best == 1", "False"),
    ("np.bool_(best == 1)", "<bool np.False_>"),
    ("np.float64(ids[best])", "0.0"),
    ("np.array(ids[best])", "<ndarray array(0)>"),
])
def test_bools_and_non_integers_are_not_replica_ids(refused_at_run_time, replica_id, shown):
    refused_at_run_time(ids_router(replica_id), "invalid",
                        f"item 0: unknown replica id {shown}; replicas accepting requests are [0, 1, 2, 3]")


def test_a_bool_request_id_is_refused(refused_at_run_time):
    refused_at_run_time("""
class Attack(BaseGlobalScheduler):
    def schedule(self):
        return [(0, r.id == 0) for r in self._request_queue]
""", "invalid", "item 0: request id True is not an int")
