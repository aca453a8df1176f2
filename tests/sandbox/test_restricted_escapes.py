"""Known ways out of the restricted compiler's layer, each closed, each with its attacking submission
as a small fixture (DESIGN.md §4, "Two layers": this is the inner one, defence in depth).

Each attack is refused with a one-line message: at check time (check_submission) where the source
shows it, else when it runs. Code runs in-process as the sandboxed child runs it: compiled by
compile_submission, executed in a module named guards.SUBMISSION_MODULE registered in sys.modules,
its namespace restricted_globals(the tasks' allowed imports). The last part checks the other side:
every published program, baseline and example still passes the check and still loads and runs.
"""
from __future__ import annotations

import abc
import collections
import math
import sys
import textwrap
import types
from pathlib import Path

import numpy
import pytest

from adrs_bench.errors import InvalidSubmission
from adrs_bench.registry import get_task
from adrs_bench.sandbox import guards
from adrs_bench.sandbox.checks import check_submission
from adrs_bench.sandbox.child import provided_modules
from adrs_bench.sandbox.modules import ALLOWLISTS, ModuleProxy, module_proxy
from adrs_bench.sandbox.policy import compile_submission

ROOT = Path(__file__).resolve().parents[2]
IMPORTS = get_task("prism_placement").spec.allowed_imports
ENTRY = "\n\ndef compute_model_placement(gpu_num, models):\n    return {}\n"


@pytest.fixture
def load(monkeypatch):
    """Compile `source` and run it as the child does; return the module's namespace."""

    def run(source: str) -> dict:
        code, errors = compile_submission(textwrap.dedent(source), "attack.py")
        assert errors == (), errors
        module = types.ModuleType(guards.SUBMISSION_MODULE)
        module.__dict__.update(guards.restricted_globals(IMPORTS))
        monkeypatch.setitem(sys.modules, guards.SUBMISSION_MODULE, module)
        exec(code, module.__dict__)
        return module.__dict__

    return run


@pytest.fixture
def refused(load):
    """Run `source`; it must raise `kind` with a one-line message containing `words`."""

    def run(source: str, kind: type[BaseException], *words: str) -> str:
        with pytest.raises(kind) as excinfo:
            load(source)
        message = str(excinfo.value)
        assert "\n" not in message
        for word in words:
            assert word in message, message
        return message

    return run


def refused_at_check(checked, source: str, *words: str) -> str:
    with pytest.raises(InvalidSubmission) as excinfo:
        checked(textwrap.dedent(source) + ENTRY)
    message = str(excinfo.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return message


# ------------------------------------------------------------------------------ 1. modules and names

# `from M import X` checked the module, not X: `from dataclasses import sys` handed over the real sys.
FORBIDDEN_FROM_IMPORTS = {
    "dataclasses-sys": ("from dataclasses import sys", "sys", "dataclasses"),
    "typing-sys": ("from typing import sys", "sys", "typing"),
    "collections-sys": ("from collections import sys", "sys", "collections"),
    "dataclasses-inspect": ("from dataclasses import inspect", "inspect", "dataclasses"),
    "copy-dispatch-table": ("from copy import dispatch_table", "dispatch_table", "copy"),
    "functools-namedtuple": ("from functools import namedtuple", "namedtuple", "functools"),
    "numpy-lib": ("from numpy import lib", "lib", "numpy"),
    "numpy-ctypeslib": ("from numpy import ctypeslib", "ctypeslib", "numpy"),
    "random-system": ("from random import SystemRandom", "SystemRandom", "random"),
    "time-localtime": ("from time import localtime", "localtime", "time"),
}


@pytest.mark.parametrize("line, name, module", FORBIDDEN_FROM_IMPORTS.values(), ids=FORBIDDEN_FROM_IMPORTS.keys())
def test_from_import_of_a_name_off_the_allowlist_is_refused(checked, refused, line, name, module):
    message = refused_at_check(checked, line + "\nr = 1\n", f"'{name}' cannot be imported from {module}",
                               "the sandbox allows only")
    assert ".py:1: " in message
    refused(line + "\n", ImportError, f"'{name}' cannot be imported from {module}")


def test_module_attribute_off_the_allowlist_is_refused(refused):
    refused("import dataclasses\nr = dataclasses.inspect\n", AttributeError,
            "dataclasses.inspect is not available in the sandbox")
    refused("import typing\nr = typing.get_type_hints\n", AttributeError,
            "typing.get_type_hints is not available in the sandbox")
    refused("import collections\nr = collections.abc.ABCMeta\n", AttributeError,
            "collections.abc.ABCMeta is not available")


def test_every_allowed_module_is_a_proxy_holding_no_module(load):
    namespace = load("import " + ", ".join(IMPORTS) + "\nimport collections.abc, numpy.random, numpy.linalg\n")
    for name in IMPORTS:
        assert isinstance(namespace[name], ModuleProxy), name
    for name in ALLOWLISTS:
        proxy = module_proxy(name)
        for attr, value in vars(proxy).items():
            assert not isinstance(value, types.ModuleType), f"{name}.{attr}"


def test_every_task_module_has_an_allowlist():
    for name in ("prism_placement", "llm_routing", "autoscaling"):
        assert set(get_task(name).spec.allowed_imports) <= set(ALLOWLISTS), name


def test_submodule_without_an_allowlist_is_refused_at_run_time(refused):
    refused("import numpy.fft\n", ImportError, "import of 'numpy.fft' is not allowed", "numpy.linalg")
    refused("from numpy.lib import format\n", ImportError, "import of 'numpy.lib' is not allowed")


# ------------------------------------------------------------------------------ 2. text run as code

# typing.get_type_hints evaluates a string annotation with the interpreter's own eval, where no
# compiler guard applies: this reached object.__subclasses__().
GET_TYPE_HINTS = """
from typing import get_type_hints

def f(x: "().__class__.__base__.__subclasses__()"):
    pass

r = len(get_type_hints(f)["x"])
"""

# singledispatch's register() without a class calls get_type_hints on the function.
SINGLEDISPATCH = """
from functools import singledispatch

@singledispatch
def f(x):
    return 0

@f.register
def g(x: "().__class__.__base__"):
    return 1
"""


@pytest.mark.parametrize("source, name", [
    (GET_TYPE_HINTS, "get_type_hints"),
    ("from typing import ForwardRef\nr = ForwardRef('().__class__')\n", "ForwardRef"),
    (SINGLEDISPATCH, "singledispatch"),
    ("from functools import singledispatchmethod\n", "singledispatchmethod"),
    ("from dataclasses import make_dataclass\nC = make_dataclass('C', [], namespace={'x': 1})\n", "make_dataclass"),
    ("from functools import update_wrapper\n", "update_wrapper"),
    ("from typing import get_origin\n", "get_origin"),
    ("from collections import UserString\nr = UserString('{0.__class__}').format(1)\n", "UserString"),
], ids=["get_type_hints", "ForwardRef", "singledispatch", "singledispatchmethod", "make_dataclass",
        "update_wrapper", "get_origin", "UserString-format"])
def test_names_that_run_text_or_set_any_attribute_are_not_importable(checked, refused, source, name):
    refused_at_check(checked, source, f"'{name}' cannot be imported")
    refused(source, ImportError, f"'{name}' cannot be imported")


def test_string_annotations_are_never_evaluated(load):
    """NamedTuple, TypedDict, TypeVar, dataclass and List["..."] keep a string annotation as text."""
    namespace = load("""
        from dataclasses import dataclass
        from typing import List, NamedTuple, TypedDict, TypeVar

        leak = []

        class P(NamedTuple):
            x: "leak.append(1)"

        class D(TypedDict):
            y: "leak.append(2)"

        T = TypeVar("T", bound="leak.append(3)")
        A = List["leak.append(4)"]

        @dataclass
        class C:
            z: "leak.append(5)" = 0

        r = (P(1).x, D(y=2)["y"], C().z)
    """)
    assert namespace["r"] == (1, 2, 0)
    assert namespace["leak"] == []


# dataclass() pastes field names into the code it generates with exec: a Field renamed after its class
# was made put text into a subclass's __eq__. This one reached object.__subclasses__() too.
FIELD_RENAME = """
from dataclasses import dataclass, fields
leak = []

@dataclass
class A:
    a: int = 0
    b: int = 0

fields(A)[1].name = "b,leak.append(().__class__.__base__.__subclasses__)"

@dataclass(init=False, repr=False)
class B(A):
    pass

B() == B()
"""


def test_dataclass_fields_are_read_only(refused):
    refused(FIELD_RENAME, TypeError, "Field objects", "cannot be modified")
    refused("from dataclasses import field\nf = field(default=0)\nsetattr(f, 'name', 'x=1')\n", TypeError,
            "Field objects", "cannot be modified")


def test_namedtuple_field_names_and_module_are_not_code(refused, load):
    refused("from collections import namedtuple\nP = namedtuple('P', ['x, y=print(1)'])\n", ValueError,
            "valid identifiers")
    refused("from collections import namedtuple\nP = namedtuple('P', 'x', module='dataclasses')\n", TypeError,
            "module")
    namespace = load("from collections import namedtuple\nP = namedtuple('P', 'x y', defaults=[0])\nP.extra = 1\n"
                     "r = (P(1), P(1, 2).y)\n")
    assert namespace["r"][1] == 2
    assert namespace["P"].__module__ == guards.SUBMISSION_MODULE


# functools.update_wrapper(f, g, assigned=("__code__",)) moved a submission's code into a library
# function, where it ran with the library's globals (dataclasses' `sys`).
UPDATE_WRAPPER_CODE = """
import dataclasses, functools

def evil():
    return sys

functools.update_wrapper(dataclasses.field, evil, assigned=("__code__",), updated=())
"""


def test_wrappers_touch_only_the_submissions_own_functions_and_classes(refused, load):
    refused(UPDATE_WRAPPER_CODE, AttributeError, "functools.update_wrapper is not available")
    refused("import dataclasses, functools\n\ndef f():\n    pass\n\nfunctools.wraps(f)(dataclasses.field)\n",
            TypeError, "wraps() rewrites the function it is given", "your own function")
    refused("import dataclasses, random\ndataclasses.dataclass(random.Random)\n", TypeError,
            "dataclass() rewrites the class it is given")
    refused("import functools, random\nfunctools.total_ordering(random.Random)\n", TypeError,
            "total_ordering() rewrites the class it is given")
    namespace = load("""
        import functools

        def logged(f):
            @functools.wraps(f)
            def inner(*args):
                return f(*args)
            return inner

        @logged
        def double(x):
            \"\"\"Twice x.\"\"\"
            return 2 * x

        r = double(4)
    """)
    assert namespace["r"] == 8
    assert (namespace["double"].__name__, namespace["double"].__doc__) == ("double", "Twice x.")


def test_deepcopy_memo_is_refused(refused):
    # The memo keeps every original object deepcopy walked: another object's private state included.
    refused("import copy\nm = {}\ncopy.deepcopy([1], m)\n", TypeError, "deepcopy takes no memo")


@pytest.mark.parametrize("source", [
    "class S(str):\n    pass\nr = super(S, S('{0.__class__}')).format(1)\n",
    "r = getattr(str, 'format')('{0.__class__}', 1)\n",
    "r = getattr(str, 'format_map')('{x.__class__}', {'x': 1})\n",
    "def f():\n    pass\nr = '{0.__globals__}'.format(f)\n",
    "r = '{0[0].__class__}'.format([1])\n",
    "r = '{:{0.__class__}}'.format(1)\n",  # a nested spec is a field too
    "r = '{x.real}'.format_map({'x': 1})\n",
], ids=["through-super", "str-class", "format_map", "globals", "item-then-attribute", "nested-spec", "map-attr"])
def test_str_format_field_lookups_refused(refused, source):
    refused(source, ValueError, "reads an attribute or item of an argument", "f-string")


def test_str_format_without_field_lookups_works(load):
    namespace = load("""
        a = '{:.3f}'.format(3.14159)
        b = '{name}-{0}'.format(7, name='x')
        c = '{} {!r} {:>4}'.format(1, 'q', 2)
        d = '{x:{w}}'.format_map({'x': 5, 'w': 3})
        e = str.format('{}+{}', 1, 2)
        f = '{{literal}} {0}'.format(1)
    """)
    assert [namespace[k] for k in "abcdef"] == ["3.142", "x-7", "1 'q'    2", "  5", "1+2", "{literal} 1"]


# ------------------------------------------------------------------------------ 3. no real `type`

@pytest.mark.parametrize("source, words", [
    ("t = type(type(0))\n", ("type() of a class",)),
    ("t = type(int)\n", ("type() of a class",)),
    ("C = type('C', (), {'x': 1})\n", ("three arguments", "class statement")),
    ("t = type(lambda: 0)\n", ("type() of a function",)),
    ("import math\nt = type(math.sqrt)\n", ("type() of a builtin_function_or_method",)),
    ("import typing\nt = type(typing.List)\n", ("type() of a _SpecialGenericAlias",)),
    ("t = type(list[int])\n", ("type() of a GenericAlias",)),
    ("import numpy as np\nt = type(np)\n", ("type() of a ModuleProxy",)),
    ("t = type(type)\n", ("type() of a SandboxType",)),
], ids=["type-of-type", "type-of-class", "three-args", "function", "builtin", "typing-alias", "generic-alias",
        "proxy", "itself"])
def test_type_never_hands_out_type_or_an_internal_class(refused, source, words):
    refused(source, TypeError, *words)


@pytest.mark.parametrize("base", ["typing.Type", "typing.Type[int]", "type"])
def test_class_deriving_from_type_is_refused(refused, base):
    # typing.Type's bases resolve to the real type: such a class is a metaclass, and calling it makes
    # a class with any dunder method (`__getattr__`, ...), as 3-argument type() would.
    refused(f"import typing\n\nclass M({base}):\n    pass\n", TypeError, "class M would derive from type")


def test_metaclass_and_mro_not_reachable_by_attribute(refused):
    refused("r = int.mro()\n", AttributeError, '"mro" is not available')
    refused("r = getattr(int, 'm' + 'ro')\n", AttributeError, '"mro" is not available')
    refused("r = getattr(object, '__subclasses__')\n", AttributeError, "starts with")


def test_hidden_values_refused_whatever_the_attribute_name():
    """AttributeError.obj (and any other attribute) never hands out a module, frame, code object, traceback
    or metaclass."""
    def frame():
        return sys._getframe()

    for value, words in [(math, '"obj" is a module'), (frame(), '"obj" is a frame object'),
                         (frame.__code__, '"obj" is a code object'), (type, '"obj" is a metaclass (type)'),
                         (abc.ABCMeta, '"obj" is a metaclass (ABCMeta)')]:
        with pytest.raises(AttributeError, match=words.replace("(", r"\(").replace(")", r"\)")):
            guards.guarded_getattr(AttributeError("x", name="y", obj=value), "obj")


def test_ordinary_uses_of_type_still_work(load):
    namespace = load("""
        class Point:
            def __init__(self, x):
                self.x = x
            def moved(self):
                return type(self)(self.x + 1)

        x = 3
        r = (type(x) is int, type(1.5) == float, type("s") is str, isinstance(int, type),
             isinstance(3, type), issubclass(bool, int), issubclass(Point, type), isinstance(Point, (int, type)),
             type(Point(1)) is Point, Point(1).moved().x, type([]) is list, type({}) is dict, type(None))
    """)
    assert namespace["r"] == (True, True, True, True, False, True, False, True, True, 2, True, True, type(None))


# ------------------------------------------------------------------------------ 4. frames, code, internals

@pytest.mark.parametrize("source, words", [
    ("def g():\n    yield 1\nr = getattr(g(), 'gi_' + 'frame')\n", ('"gi_frame" is not available',)),
    ("def g():\n    yield 1\nr = getattr(g(), 'gi_' + 'code')\n", ('"gi_code" is not available',)),
    ("import numpy as np\nr = np.random.default_rng.func_globals\n", ('"func_globals" is not available',)),
    ("import numpy as np\nr = np.random.default_rng(1).bit_generator.cffi\n", ('"cffi" is not available',)),
    ("import numpy as np\nr = np.random.default_rng(1).bit_generator.ctypes\n", ('"ctypes" is not available',)),
], ids=["gi_frame", "gi_code", "cython-func-globals", "bit-generator-cffi", "bit-generator-ctypes"])
def test_frames_code_and_module_globals_not_reachable(refused, source, words):
    refused(source, AttributeError, *words)


# np.ndarray over a buffer of integers, with dtype=object, makes objects out of raw addresses: this
# handed back `x` itself from id(x), the first step to reading and writing any memory.
FORGE = """
import numpy as np
x = [1, 2, 3]
r = np.ndarray((1,), dtype=object, buffer=np.array([id(x)], dtype=np.int64))[0] is x
"""


def test_numpy_array_over_a_buffer_is_refused(refused, load):
    refused(FORGE, TypeError, "np.ndarray(..., buffer=...) is not available")
    refused(FORGE.replace("np.ndarray(", "type(np.zeros(1))("), TypeError, "np.ndarray(..., buffer=...)")
    namespace = load("""
        import numpy as np
        a = np.zeros(3)
        r = (isinstance(a, np.ndarray), type(a) is np.ndarray, np.ndarray((2,)).shape, issubclass(type(a), np.ndarray),
             isinstance(3, np.ndarray), isinstance(a, (int, np.ndarray)))
    """)
    assert namespace["r"] == (True, True, (2,), True, False, True)
    # an array handed in by the harness, numpy never imported by the submission: the same stand-in
    array_class = load("def class_of(a):\n    return type(a)\n")["class_of"](numpy.zeros(1))
    assert array_class is namespace["np"].ndarray
    with pytest.raises(TypeError, match="buffer="):
        array_class((1,), dtype=object, buffer=numpy.zeros(1, dtype=numpy.int64))


# numpy methods that trusted an argument: resize(refcheck=False) freed memory a view still used (the
# view then read freed memory); RandomState.set_state indexed its key array with the state's position
# unchecked (reading past it, then crashing the interpreter).
RESIZE = "import numpy as np\na = np.zeros(2)\nb = a[:1]\na.resize(1000, refcheck=False)\nr = b[0]\n"
SET_STATE = ("import numpy as np\nrs = np.random.RandomState(1)\ns = rs.get_state()\n"
             "rs.set_state((s[0], s[1], 10**8, s[3], s[4]))\nr = rs.randint(0, 9)\n")


@pytest.mark.parametrize("source, kind, words", [
    (RESIZE, ValueError, ("resize(refcheck=False) is not available",)),
    (SET_STATE, ValueError, ("expected a RandomState state position in 0..624, got 100000000",)),
    # a state whose position reads 0 when checked and 10**8 when numpy reads it again
    ("import numpy as np\nrs = np.random.RandomState(1)\ns = rs.get_state(legacy=False)\nreads = []\n"
     "class Inner(dict):\n    def __getitem__(self, key):\n        if key == 'pos':\n            reads.append(1)\n"
     "            return 0 if len(reads) == 1 else 10**8\n        return s['state'][key]\n"
     "rs.set_state({'bit_generator': 'MT19937', 'state': Inner(), 'has_gauss': 0, 'gauss': 0.0})\n"
     "r = (len(reads), rs.randint(0, 9))\n", None, ()),
    (SET_STATE.replace("rs.set_state(", "np.random.RandomState.set_state(rs, "), AttributeError,
     ("available on an instance only",)),
    ("import numpy as np\nclass S(np.random.RandomState):\n    pass\nrs = S(1)\ns = rs.get_state()\n"
     "super(S, rs).set_state((s[0], s[1], -5, s[3], s[4]))\n", ValueError, ("got -5",)),
], ids=["resize-refcheck", "set_state", "set_state-read-twice", "set_state-unbound", "set_state-super"])
def test_numpy_methods_that_trust_an_argument_check_it(refused, load, source, kind, words):
    if kind is None:  # read once, checked, and that copy is what numpy gets
        assert load(source)["r"][0] == 1
    else:
        refused(source, kind, *words)


def test_checked_numpy_methods_still_work(load):
    namespace = load("""
        import numpy as np
        a = np.zeros(2)
        a.resize((3,))
        rs = np.random.RandomState(1)
        s = rs.get_state()
        x = rs.randint(0, 10**6)
        rs.set_state(s)
        rs.set_state(rs.get_state(legacy=False))
        r = (a.shape, rs.randint(0, 10**6) == x)
    """)
    assert namespace["r"] == ((3,), True)


def test_library_objects_that_forward_writes_are_read_only(refused):
    # typing.Counter.x = ... would set collections.Counter.x (the alias forwards the write).
    refused("import typing\ntyping.Counter.most_common = None\n", TypeError, "_SpecialGenericAlias objects",
            "cannot be modified")
    refused("import typing\nsetattr(typing.List, 'append', None)\n", TypeError, "cannot be modified")
    refused("import collections\ncollections.Counter.most_common = None\n", TypeError, "not the submission's own")
    refused("import numpy as np\nnp.random.seed = None\n", TypeError, "modules cannot be modified")


def test_delattr_is_not_a_builtin(refused):
    refused("class C:\n    pass\nc = C()\nc.x = 1\nd = delattr\n", NameError, "delattr")


# ------------------------------------------------------------------------------ what must keep working

ORDINARY = """
from __future__ import annotations

import bisect, collections, copy, functools, heapq, itertools, math, random, time
from collections import Counter, OrderedDict, defaultdict, deque, namedtuple
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache, cmp_to_key, lru_cache, partial, reduce, total_ordering
from typing import Any, Callable, Dict, Generic, List, NamedTuple, Optional, Protocol, Tuple, TypeVar, Union

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Job:
    size: int
    name: str = "job"
    tags: List[str] = field(default_factory=list, compare=False)


@dataclass
class Holder:
    jobs: List[Job] = field(default_factory=list)
    best: Optional[Job] = None


class Pair(NamedTuple):
    a: int
    b: int = 0


class Box(Generic[T]):
    def __init__(self, item: T):
        self.item = item


class Sized(Protocol):
    def size(self) -> int: ...


@total_ordering
class Rank:
    def __init__(self, n):
        self.n = n
    def __eq__(self, other):
        return self.n == other.n
    def __lt__(self, other):
        return self.n < other.n


@lru_cache(maxsize=None)
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@cache
def square(n):
    return n * n


Point = namedtuple("Point", "x y")
jobs = [Job(3, "c"), Job(1, "a"), Job(2, "b")]
heap = [(j.size, j.name) for j in jobs]
heapq.heapify(heap)
holder = Holder(jobs=sorted(jobs))
rng = random.Random(5)
started = time.perf_counter()
counts = Counter("abracadabra")
queue = deque([1, 2])
queue.appendleft(0)
groups = defaultdict(list)
groups["k"].append(1)
order = OrderedDict(a=1)
positions = [1, 3, 5]
bisect.insort(positions, 4)
values = np.array([3.0, 1.0, 2.0])
r = (
    heapq.heappop(heap), asdict(jobs[0])["size"], replace(jobs[0], size=9).size, len(fields(Job)),
    holder.jobs[0].name, Pair(1).b, Box(4).item, Rank(1) <= Rank(2), fib(30), square(7), Point(1, 2).y,
    reduce(lambda a, b: a + b, range(5)), partial(pow, 2)(10),
    sorted([3, 1, 2], key=cmp_to_key(lambda a, b: b - a)), list(itertools.islice(itertools.count(), 3)),
    math.isqrt(17), rng.randint(0, 0), time.perf_counter() >= started, counts.most_common(1)[0][0], list(queue),
    dict(groups), dict(order), positions, bisect.bisect_left(positions, 4), copy.deepcopy([[1]]), copy.copy({1: 2}),
    int(np.argmax(values)), float(np.linalg.norm([3, 4])), type(jobs[0]) is Job, isinstance(Job, type),
)
"""


def test_ordinary_programs_keep_working(load):
    namespace = load(ORDINARY)
    assert namespace["r"] == (
        (1, "a"), 3, 9, 3, "a", 0, 4, True, 832040, 49, 2, 10, 1024, [3, 2, 1], [0, 1, 2], 4, 0, True, "a",
        [0, 1, 2], {"k": [1]}, {"a": 1}, [1, 3, 4, 5], 2, [[1]], {1: 2}, 0, 5.0, True, True)


def program_files() -> list[tuple[str, Path]]:
    files = [("llm_routing" if path.stem.startswith("vidur_") else "prism_placement", path)
             for path in sorted((ROOT / "tests" / "fixtures").glob("*.py"))]
    files += [(path.stem, path) for path in sorted((ROOT / "submissions").glob("*.py"))]
    for task_dir in sorted((ROOT / "tasks").iterdir()):
        if (task_dir / "spec.json").exists():
            for path in sorted(task_dir.glob("baselines/*.py")) + [task_dir / "example.py"]:
                files.append((task_dir.name, path))
    return files


def drive(task_name: str, namespace: dict):
    """One small call of the program through its task's child adapter, as the child makes it."""
    adapter = get_task(task_name).plugin.child_adapter
    if task_name == "prism_placement":
        rows = [["a", 20, 4, 5], ["b", 30, 2, 8], ["c", 10, 6, 7]]
        answer = adapter(namespace, {"gpu_num": 2, "models": rows})
        assert answer["kind"] == "placement", answer
    elif task_name == "autoscaling":
        adapter(namespace, {"op": "init", "filename": "x.py"})
        metrics = {"time": 60.0, "interval": 15.0, "ready": 2, "starting": 0, "draining": 0, "queued": 40,
                   "arrivals": 50, "min_replicas": 1, "max_replicas": 8,
                   "replicas": [[0, "ready", 10, 20, 0.5, 1000], [1, "ready", 12, 18, 0.6, 900]],
                   "finished": [[0.2, 3.0, 1.5]]}
        answer = adapter(namespace, {"op": "decide", "metrics": metrics})
        assert isinstance(answer, int), answer
    else:
        from adrs_bench.tasks.llm_routing.mirror import JOURNAL_ARRIVAL

        adapter(namespace, {"op": "init", "replicas": [[0, 512, 16], [1, 512, 16]], "filename": "x.py"})
        counters = [[0, 0, 0, 512, 16], [1, 0, 0, 512, 16]]
        call = [1.0, [[JOURNAL_ARRIVAL, 7, 0.5, 100], [JOURNAL_ARRIVAL, 8, 0.9, 200]], counters]
        answer = adapter(namespace, {"op": "schedule", "call": call})
        assert isinstance(answer, list), answer


@pytest.mark.parametrize("task_name, path", program_files(), ids=lambda v: v if isinstance(v, str) else
                         "/".join(v.parts[-2:]))
def test_published_programs_baselines_and_examples_still_pass_and_run(monkeypatch, task_name, path):
    task = get_task(task_name)
    submission = check_submission(path, task.spec)
    module = types.ModuleType(guards.SUBMISSION_MODULE)
    compat = provided_modules(task.spec.compat_modules, task.plugin.child_adapter)
    module.__dict__.update(guards.restricted_globals(task.spec.allowed_imports, compat))
    monkeypatch.setitem(sys.modules, guards.SUBMISSION_MODULE, module)
    exec(submission.code, module.__dict__)
    drive(task_name, module.__dict__)


def routing_views() -> dict:
    """What a vidur-style router holds: the provided modules, its base class, and the mirror's views
    (a replica with a waiting and a running request) after one call."""
    from adrs_bench.tasks.llm_routing.mirror import (JOURNAL_ADMIT, JOURNAL_ARRIVAL, JOURNAL_ENQUEUE,
                                                     JOURNAL_PREFILL_END, Mirror)

    task = get_task("llm_routing")
    provided = provided_modules(task.spec.compat_modules, task.plugin.child_adapter)
    importer = guards.make_importer((), provided)
    mirror = Mirror([[0, 512, 16]])
    mirror.apply(1.0, [[JOURNAL_ARRIVAL, 1, 0.1, 40], [JOURNAL_ARRIVAL, 2, 0.2, 50], [JOURNAL_ENQUEUE, 0, 1],
                       [JOURNAL_ENQUEUE, 0, 2], [JOURNAL_ADMIT, 0, 1], [JOURNAL_PREFILL_END, 0, [[1, 40]]]],
                 [[0, 3, 4, 512, 16]])
    base = importer("vidur.scheduler.global_scheduler.base_global_scheduler", None, None,
                    ("BaseGlobalScheduler",)).BaseGlobalScheduler
    return {"vidur": importer("vidur.entities"), "BaseGlobalScheduler": base,
            "scheduler": base(None, mirror.replica_schedulers()), "replica": mirror.replicas[0],
            "queued": mirror.requests[2], "running": mirror.requests[1]}


def test_no_attribute_or_item_chain_reaches_a_module_frame_or_code():
    """From every builtin and allowlisted name (and a few objects they make), four steps of attribute
    reads (through the guard) or item reads (unguarded, as `_getitem_` is) never reach a module, frame,
    code object, traceback or metaclass. Catches a new allowlist entry like numpy's Cython functions,
    whose .func_globals is their module's globals."""
    hidden = (types.ModuleType, types.FrameType, types.CodeType, types.TracebackType)
    names = guards.restricted_globals(IMPORTS)["__builtins__"]
    importer = names["__import__"]
    start = {name: value for name, value in names.items() if not name.startswith("_")}
    start.update({module: importer(module) for module in IMPORTS})
    start.update({"array": importer("numpy").zeros(3), "rng": importer("numpy").random.default_rng(1),
                  "Random": importer("random").Random(1), "generator": (x for x in [1]), "error": AttributeError("x")})
    start.update(routing_views())
    queue, seen, found = collections.deque((name, value, 0) for name, value in start.items()), {}, []
    while queue:  # breadth first: each object is walked from its shortest path
        path, value, depth = queue.popleft()
        if id(value) in seen:
            continue
        seen[id(value)] = value  # kept alive, so that its id is not reused
        if isinstance(value, hidden) or (isinstance(value, type) and issubclass(value, type)):
            found.append(path)
            continue
        if depth == 4:
            continue
        if isinstance(value, dict):
            queue += [(f"{path}[{key!r}]", item, depth + 1) for key, item in list(value.items())[:200]]
        elif isinstance(value, (list, tuple)):
            queue += [(f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value[:200])]
        for attr in dir(value):
            try:
                queue.append((f"{path}.{attr}", guards.guarded_getattr(value, attr), depth + 1))
            except Exception:
                pass
    assert found == []
    assert len(seen) > 2000  # the walk did walk


# ------------------------------------------------------------------------------ library names on own objects

LIBRARY_NAMED_FIELDS = ("load", "save", "dump", "tofile", "lib", "system", "testing")


def test_the_submissions_own_attributes_may_use_library_names(load):
    # A field called `load` of the submission's own dataclass is a number, not numpy.load.
    fields = "".join(f"    {name}: int = {i}\n" for i, name in enumerate(LIBRARY_NAMED_FIELDS))
    reads = ", ".join(f"s.{name}" for name in LIBRARY_NAMED_FIELDS)
    namespace = load(f"""
        from dataclasses import dataclass

        @dataclass
        class Server:
        {fields}
        class Plain:
            def __init__(self):
                self.load = 7

        s = Server()
        s.load = 40
        values = ({reads})
        plain = Plain().load
        cls_default = Server.system
        computed = getattr(Plain(), "lo" + "ad")
    """.replace("\n        ", "\n").replace(fields.replace("    ", "        ", 1), fields))
    assert namespace["values"] == (40, 1, 2, 3, 4, 5, 6)
    assert (namespace["plain"], namespace["cls_default"], namespace["computed"]) == (7, 5, 7)


@pytest.mark.parametrize("source, words", [
    ("import numpy as np\nx = np.zeros(3).tofile", ('"tofile"',)),
    ("import numpy as np\nx = getattr(np.zeros(3), 'to' + 'file')", ('"tofile"',)),
    ("import numpy as np\nx = getattr(np, 'l' + 'ib')", ('"lib"',)),
    # an own class that inherits from a library class does not make the library's attributes its own
    ("import numpy as np\nclass A(np.ndarray):\n    pass\nx = A.tofile", ('"tofile"',)),
    ("import numpy as np\nclass A(np.ndarray):\n    pass\nx = A.dump", ('"dump"',)),
    # interpreter internals stay refused on the submission's own objects
    ("def g():\n    yield 1\nx = getattr(g(), 'gi_' + 'frame')", ('"gi_frame"',)),
    ("class A:\n    pass\nx = A.mro", ('"mro"',)),
    ("import random\nx = random.Random().load", ('"load"',)),
])
def test_library_names_stay_refused_on_everything_not_wholly_the_submissions(refused, source, words):
    refused(source, AttributeError, "is not available in the sandbox", *words)


# ------------------------------------------------------------------------------ single-underscore names

def test_single_underscore_names_work_for_what_the_submission_defines(load):
    namespace = load("""
        from dataclasses import dataclass
        _LIMIT = 3

        def _kvpr_from(_total, _rate=2):
            return _total / _rate

        class _Helper:
            _SCALE = 10

            def __init__(self):
                self._stats = {}
                self._count = 0

            def _bump(self, _key):
                self._count += 1
                self._stats[_key] = self._count * self._SCALE
                return self

        @dataclass
        class Item:
            _weight: int = 4

        h = _Helper()._bump("a")._bump("b")
        setattr(h, "_extra", 1)
        got = (_kvpr_from(10), h._stats, h._count, _Helper._SCALE, Item()._weight, getattr(h, "_" + "extra"), _LIMIT)
    """)
    assert namespace["got"] == (5.0, {"a": 10, "b": 20}, 2, 10, 4, 1, 3)


@pytest.mark.parametrize("source, kind, words", [
    ("x = ().__class__", None, ('"__class__"',)),
    ("import random\nx = getattr(random.Random(), '_' + 'x')", AttributeError, ("underscore attributes are readable on the submission's own objects only",)),
    ("import numpy as np\nx = getattr(np.zeros(2), '_' + 'x')", AttributeError, ("own objects only",)),
    ("import numpy as np\nx = np.zeros(2)._x", AttributeError, ("own objects only",)),
    ("import random\nr = random.Random()\nr._x = 1", TypeError, ("cannot be set in the sandbox",)),
    ("import random\nsetattr(random.Random(), '_x', 1)", AttributeError, ('"_x" is an invalid attribute name',)),
    # an own class that inherits from a library class does not own the library's underscore attributes
    ("import random\nclass R(random.Random):\n    pass\nx = R()._x", AttributeError, ("own objects only",)),
])
def test_underscore_attributes_of_anything_not_the_submissions_stay_refused(refused, checked, source, kind, words):
    if kind is None:
        refused_at_check(checked, source, *words)
    else:
        refused(source, kind, *words)


@pytest.mark.parametrize("name", ["_getattr_", "_write_", "_write_private_", "_print", "_call_print", "_tmp0",
                                  "__x", "__init__"])
def test_names_the_compiled_code_uses_and_dunders_stay_refused(checked, name):
    refused_at_check(checked, f"{name} = 1\n", name)


def test_a_routing_mirrors_underscore_state_stays_out_of_reach():
    # The router's view objects keep their state in underscore slots; a router reads them only through
    # their public names.
    from adrs_bench.tasks.llm_routing.mirror import Mirror

    mirror = Mirror([[0, 100, 16]])
    mirror.apply(1.0, [(0, 7, 0.5, 33)], [[0, 0, 0, 100, 16]])
    (request,), replica = mirror.request_queue(), mirror.replica_schedulers()[0]
    assert guards.guarded_getattr(request, "id") == 7
    for obj, name in ((request, "_id"), (request, "_replica"), (replica, "_waiting"), (mirror, "_calls")):
        with pytest.raises(AttributeError, match="own objects only"):
            guards.guarded_getattr(obj, name)
