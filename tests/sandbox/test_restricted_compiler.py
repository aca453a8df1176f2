"""The restricted compiler (sandbox/policy.py) and the names a submission can reach (sandbox/guards.py).

Code is compiled with `compile_submission` and executed in-process in `restricted_globals`, which is
what the sandboxed child does (without the process around it)."""
from __future__ import annotations

import textwrap

import numpy
import pytest

from adrs_bench.errors import InvalidSubmission
from adrs_bench.sandbox.guards import guarded_getattr, restricted_globals
from adrs_bench.sandbox.modules import ModuleProxy, numpy_proxy
from adrs_bench.sandbox.policy import ALLOWED_DUNDER_METHODS, compile_submission, is_main_guard

IMPORTS = ("numpy", "math", "copy", "random", "dataclasses", "typing")


def compile_ok(source: str):
    code, errors = compile_submission(textwrap.dedent(source), "policy_test.py")
    assert errors == (), errors
    assert code is not None
    return code


def compile_errors(source: str) -> tuple[str, ...]:
    code, errors = compile_submission(textwrap.dedent(source), "policy_test.py")
    assert code is None
    assert errors
    return errors


def run_restricted(source: str) -> dict:
    namespace = restricted_globals(IMPORTS)
    exec(compile_ok(source), namespace)
    return namespace


def run_plain(source: str) -> dict:
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), "plain.py", "exec"), namespace)
    return namespace


# ------------------------------------------------------------------------------ augmented assignment

SAME_AS_PYTHON = {
    "list-item": "a = [1, 2, 3]\na[1] += 10\na[-1] *= 4\nr = a",
    "nested-item": "m = [[1, 2], [3, 4]]\nm[0][1] -= 1\nm[1][0] //= 2\nr = m",
    "dict-item": "d = {'k': 1}\nd['k'] += 5\nd['k'] **= 2\nr = d",
    "tuple-key": "t = {(1, 2): 1}\nt[1, 2] += 1\nr = t",
    "slice": "a = [1, 2, 3, 4]\na[1:3] += [7]\nr = a",
    "open-slice": "a = [1, 2, 3, 4]\na[:2] *= 2\nr = a",
    "attribute": "class C:\n    def __init__(self):\n        self.n = 2\nc = C()\nc.n += 5\nc.n **= 2\nr = c.n",
    "method-attribute": ("class C:\n    def __init__(self):\n        self.total = 0\n"
                         "    def add(self, x):\n        self.total += x\n        return self\n"
                         "r = C().add(3).add(4).total"),
    "names": "n = 1\nn += 2\nn <<= 2\ns = 'a'\ns += 'b'\nr = (n, s)",
    "bit-ops": "a = [6, 6, 6]\na[0] |= 1\na[1] &= 3\na[2] ^= 5\nr = a",
    "evaluated-once": ("calls = []\n"
                       "def key():\n    calls.append('key')\n    return 0\n"
                       "def val():\n    calls.append('val')\n    return 5\n"
                       "def obj():\n    calls.append('obj')\n    return box\n"
                       "box = [1]\nobj()[key()] += val()\nr = (box, calls)"),
}


@pytest.mark.parametrize("source", SAME_AS_PYTHON.values(), ids=SAME_AS_PYTHON.keys())
def test_augmented_assignment_behaves_as_python(source):
    assert run_restricted(source)["r"] == run_plain(source)["r"]


def test_augmented_assignment_on_numpy_slices():
    source = """
        import numpy as np
        x = np.zeros(5)
        x[1:3] += 1
        x[::2] *= 3
        x[np.array([4])] += 9
        g = np.zeros((2, 3))
        g[0, :] += 2
        g[:, 1:] -= 1
        g[..., 0] += 10
        r = (x.tolist(), g.tolist())
    """
    assert run_restricted(source)["r"] == run_plain(source)["r"]
    assert run_restricted(source)["r"][0] == [0.0, 1.0, 3.0, 0.0, 9.0]


@pytest.mark.parametrize("target", ["c.__class__", "c._hidden_", "c.__dict__"])
def test_augmented_assignment_to_private_attributes_rejected(target):
    errors = compile_errors(f"class C:\n    pass\nc = C()\n{target} += 1\n")
    name = target.split(".")[1]
    assert any(f'"{name}" is an invalid attribute name' in e and "Line 4" in e for e in errors), errors


def test_augmented_assignment_to_an_own_underscore_attribute_works_and_a_foreign_one_is_refused():
    assert run_restricted("class C:\n    _n = 1\nc = C()\nc._n += 2\nr = c._n\n")["r"] == 3
    with pytest.raises(TypeError, match="underscore attributes of a Random object cannot be set in the sandbox"):
        run_restricted("import random\nr = random.Random()\nr._n += 1\n")


def test_augmented_assignment_on_private_item_target_still_checked():
    errors = compile_errors("x = {}\nx.__dict__['a'] += 1\n")
    assert any('"__dict__"' in e for e in errors)


def test_augmented_assignment_to_a_module_is_refused_at_run_time():
    with pytest.raises(TypeError, match="modules cannot be modified"):
        run_restricted("import math\nmath.pi += 1\n")


def test_augmented_assignment_to_a_foreign_class_is_refused_at_run_time():
    # The Model class of the harness (or any class not defined by the submission) is read-only.
    with pytest.raises(TypeError, match="not the submission's own"):
        run_restricted("from random import Random\nRandom.x = 1\n")
    with pytest.raises(TypeError, match="not the submission's own"):
        run_restricted("import copy\nt = type(copy.Error('x'))\nt.count += 1\n")


def test_writes_to_modules_and_proxies_refused():
    with pytest.raises(TypeError, match="modules cannot be modified"):
        run_restricted("import math\nmath.pi = 3\n")
    with pytest.raises(TypeError, match="modules cannot be modified"):
        run_restricted("import numpy as np\nnp.random.seed = None\n")
    with pytest.raises(TypeError, match="modules cannot be modified"):
        run_restricted("import math\nsetattr(math, 'pi', 3)\n")


def test_submission_may_modify_its_own_classes():
    namespace = run_restricted("class C:\n    count = 0\nC.count += 2\nsetattr(C, 'extra', 1)\nr = (C.count, C.extra)\n")
    assert namespace["r"] == (2, 1)


# ------------------------------------------------------------------------------ main guard

def test_main_guard_is_dropped_with_imports_and_underscores():
    namespace = run_restricted("""
        r = 'module ran'
        if __name__ == "__main__":
            import os
            import sys
            _private = os.getcwd()
            print(__file__, sys.argv)
            raise SystemExit("the main block must not run")
    """)
    assert namespace["r"] == "module ran"
    assert "os" not in namespace and "_private" not in namespace


def test_main_guard_reversed_operands():
    namespace = run_restricted('if "__main__" == __name__:\n    import os\n    _x = 1\nr = 2\n')
    assert namespace["r"] == 2


def test_main_guard_else_branch_runs_and_is_checked():
    assert run_restricted('if __name__ == "__main__":\n    import os\nelse:\n    r = "else ran"\n')["r"] == "else ran"
    errors = compile_errors('if __name__ == "__main__":\n    pass\nelse:\n    __bad = 1\n')
    assert any('"__bad"' in e for e in errors)


@pytest.mark.parametrize("test", ['__name__ != "__main__"', '__name__ == "x"', '__name__ == "__main__" and True'])
def test_other_tests_of_name_are_not_main_guards(test):
    errors = compile_errors(f"if {test}:\n    r = 1\n")
    assert any('"__name__" is an invalid variable name' in e for e in errors)


def test_is_main_guard():
    import ast

    def first_test(source):
        return ast.parse(source).body[0].test

    assert is_main_guard(first_test('if __name__ == "__main__": pass'))
    assert is_main_guard(first_test('if "__main__" == __name__: pass'))
    assert not is_main_guard(first_test('if __name__ == "__main__" == __name__: pass'))
    assert not is_main_guard(first_test('if __name__ is "__main__": pass'))
    assert not is_main_guard(first_test('if name == "__main__": pass'))


def test_check_submission_accepts_main_block_imports(checked):
    submission = checked("""
        def compute_model_placement(gpu_num, models):
            return {g: [] for g in range(gpu_num)}

        if __name__ == "__main__":
            import os, sys, subprocess
            from evaluator import evaluate
            _unused = evaluate(os.path.abspath(__file__))
    """)
    assert submission.code is not None
    assert len(submission.sha256) == 64


# ------------------------------------------------------------------------------ classes, annotations

def test_data_model_methods_allowed_in_classes():
    namespace = run_restricted("""
        class Box:
            def __init__(self, n):
                self.n = n
            def __repr__(self):
                return "Box(%d)" % self.n
            def __str__(self):
                return "box %d" % self.n
            def __hash__(self):
                return self.n
            def __eq__(self, other):
                return self.n == other.n
            def __lt__(self, other):
                return self.n < other.n
            def __len__(self):
                return self.n
            def __iter__(self):
                return iter(range(self.n))
            def __contains__(self, x):
                return 0 <= x < self.n
            def __add__(self, other):
                return Box(self.n + other.n)
        b = Box(3)
        r = (repr(b), str(b), hash(b), b == Box(3), sorted([Box(2), Box(1)])[0].n, len(b), list(b),
             2 in b, (b + Box(1)).n, len({Box(1), Box(1)}))
    """)
    assert namespace["r"] == ("Box(3)", "box 3", 3, True, 1, 3, [0, 1, 2], True, 4, 1)


@pytest.mark.parametrize("method", ["__getattr__", "__getattribute__", "__setattr__", "__reduce__",
                                    "__init_subclass__", "__class_getitem__", "__del__"])
def test_attribute_and_pickling_hooks_rejected(method):
    assert method not in ALLOWED_DUNDER_METHODS
    errors = compile_errors(f"class C:\n    def {method}(self, *args):\n        return 1\n")
    assert any(f'"{method}"' in e for e in errors)


def test_dunder_functions_only_inside_classes():
    errors = compile_errors("def __repr__():\n    return 1\n")
    assert any('"__repr__"' in e and "Line 1" in e for e in errors)


def test_dunder_class_attributes_rejected():
    errors = compile_errors("class C:\n    __slots__ = ()\n")
    assert any('"__slots__"' in e for e in errors)


def test_annotated_assignments_allowed():
    namespace = run_restricted("""
        from typing import List
        LIMIT: int = 80
        pending: List[int]
        class Model:
            model_name: str
            model_size: int = 0
        class Holder:
            def __init__(self):
                self.items: list = []
                self.items += [1]
        d = {}
        d["k"]: int = 3
        r = (LIMIT, Model.model_size, Holder().items, d)
    """)
    assert namespace["r"] == (80, 0, [1], {"k": 3})


def test_annotated_assignment_targets_are_guarded():
    errors = compile_errors("class C:\n    pass\nc = C()\nc.__x: int = 3\n")
    assert any('"__x" is an invalid attribute name' in e for e in errors)
    errors = compile_errors("__private: int = 3\n")
    assert any('"__private"' in e for e in errors)
    with pytest.raises(TypeError, match="cannot be set in the sandbox"):
        run_restricted("import random\nr = random.Random()\nr._x: int = 3\n")
    with pytest.raises(TypeError, match="modules cannot be modified"):
        run_restricted("import math\nmath.pi: float = 3\n")


def test_dataclass_in_a_submission():
    namespace = run_restricted("""
        from dataclasses import dataclass, field

        @dataclass
        class Model:
            model_name: str
            model_size: int
            tags: list = field(default_factory=list)

        r = Model("a", 3)
    """)
    assert namespace["r"].model_size == 3


# ------------------------------------------------------------------------------ names at run time

def test_getattr_of_dunder_fails_at_run_time():
    with pytest.raises(AttributeError, match="__class__"):
        run_restricted("r = getattr([], '__class__')\n")
    with pytest.raises(AttributeError, match="__class__"):
        run_restricted("r = getattr([], '__cl' + 'ass__')\n")
    with pytest.raises(AttributeError, match="__class__"):
        run_restricted("r = getattr([], '__class__', None)\n")
    assert run_restricted("r = hasattr([], '__class__')\n")["r"] is False
    assert run_restricted("r = getattr([], 'append') is not None\n")["r"] is True
    assert run_restricted("r = getattr([], 'nope', 5)\n")["r"] == 5


def test_setattr_of_dunder_fails_at_run_time():
    with pytest.raises(AttributeError, match="invalid attribute name"):
        run_restricted("class C:\n    pass\nsetattr(C(), '__class__', int)\n")


def test_str_format_is_not_a_way_around():
    with pytest.raises(ValueError, match="reads an attribute or item"):
        run_restricted("r = '{0.__class__}'.format(1)\n")
    assert run_restricted("r = '{:.2f}'.format(1 / 3)\n")["r"] == "0.33"


@pytest.mark.parametrize("expression", ["open('/etc/passwd')", "compile('1', 'x', 'eval')", "globals()",
                                        "vars()", "dir()", "input()", "exit()", "help()"])
def test_dangerous_builtins_missing(expression):
    with pytest.raises(NameError):
        run_restricted(f"r = {expression}\n")


def test_imports_outside_the_allowlist_bind_stand_ins_that_fail_when_used():
    namespace = run_restricted("import os\nfrom pathlib import Path as P\nimport os.path\n")
    assert repr(namespace["os"]) == "<stand-in for os>" and repr(namespace["P"]) == "<stand-in for pathlib.Path>"
    with pytest.raises(ImportError, match=r"^os\.getcwd is a stand-in: import of 'os' is not allowed in the sandbox \(allowed: "):
        run_restricted("import os\nos.getcwd()\n")
    with pytest.raises(ImportError, match="subprocess.run is a stand-in"):
        run_restricted("def f():\n    import subprocess\n    subprocess.run('true')\nf()\n")
    for use in ("list(m)", "m + 1", "m[0]", "bool(m)", "len(m)", "{m: 1}", "m < 1", "int(m)"):
        with pytest.raises(ImportError, match="stand-in"):
            run_restricted(f"import os as m\nr = {use}\n")
    # nothing of the real module leaks through the stand-in's own attributes
    for attr in ("_StandIn__name", "__class__", "__dict__", "_fail"):
        with pytest.raises((AttributeError, SyntaxError, NameError)):
            run_restricted(f"import os\nr = getattr(os, {attr!r})\n")
    with pytest.raises(ImportError, match="relative imports"):
        run_restricted("from . import x\n")


def test_module_attribute_that_is_a_module_is_refused():
    # dataclasses imports inspect and sys; neither is reachable through it (its proxy has neither)
    with pytest.raises(AttributeError, match="dataclasses.inspect is not available in the sandbox"):
        run_restricted("import dataclasses\nr = dataclasses.inspect\n")
    with pytest.raises(AttributeError, match='"sys" is not available'):
        run_restricted("import dataclasses\nr = dataclasses.sys\n")


# ------------------------------------------------------------------------------ the numpy proxy

def test_module_proxy_hides_file_access():
    np = numpy_proxy()
    assert isinstance(np, ModuleProxy)
    assert repr(np) == "<sandboxed module numpy>"
    assert np.argsort is numpy.argsort
    assert np.random.randint is numpy.random.randint
    assert float(np.linalg.norm([3, 4])) == 5.0
    for name in ("save", "savez", "load", "loadtxt", "fromfile", "memmap", "ctypeslib", "lib", "testing", "f2py",
                 "fft"):
        with pytest.raises(AttributeError, match="not available in the sandbox"):
            getattr(np, name)
    with pytest.raises(AttributeError, match="numpy.random.bit_generator is not available"):
        np.random.bit_generator


def test_numpy_file_access_fails_in_restricted_code():
    with pytest.raises(AttributeError, match='"save" is not available'):
        run_restricted("import numpy as np\nnp.save('x.npy', np.zeros(2))\n")
    with pytest.raises(AttributeError, match='"save" is not available'):
        run_restricted("import numpy as np\nr = getattr(np, 'save', None)\n")
    with pytest.raises(AttributeError, match='"tofile" is not available'):
        run_restricted("import numpy as np\nnp.zeros(2).tofile('x.bin')\n")
    with pytest.raises(AttributeError, match='"ctypes" is not available'):
        run_restricted("import numpy as np\nr = np.zeros(2).ctypes\n")
    with pytest.raises(AttributeError, match='"tofile" is not available'):
        guarded_getattr(numpy.zeros(1), "tofile")


def test_numpy_through_the_proxy_still_computes():
    namespace = run_restricted("""
        import numpy as np
        a = np.array([3.0, 1.0, 2.0])
        order = np.argsort(a)
        rng = np.random.default_rng(7)
        r = (order.tolist(), float(np.sum(a)), int(np.argmax(a)), rng.integers(0, 10, 3).shape)
    """)
    assert namespace["r"] == ([1, 2, 0], 6.0, 0, (3,))


def test_check_submission_reports_the_first_policy_error_in_one_line(checked):
    with pytest.raises(InvalidSubmission) as excinfo:
        checked("def compute_model_placement(gpu_num, models):\n    x = models.__secret\n    return {}\n")
    message = str(excinfo.value)
    assert "\n" not in message
    assert '"__secret" is an invalid attribute name' in message
    assert "dunder names" in message
