"""The names a submission can reach: allowlisted builtins and modules, numpy behind an attribute
allowlist, and the guard functions RestrictedPython's compiled code calls (`_getattr_`, ...)."""
from __future__ import annotations

import builtins
import operator
import types
from typing import Any, Iterable

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safe_builtins, safer_getattr
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

SUBMISSION_MODULE = "adrs_submission"

EXTRA_BUILTINS = (
    "all", "any", "bytes", "dict", "enumerate", "filter", "format", "frozenset", "iter", "list",
    "map", "max", "min", "next", "object", "property", "reversed", "set", "sorted", "staticmethod",
    "classmethod", "sum", "super", "tuple", "zip", "NotImplemented",
)

# Attributes no object may hand out, whatever module or type it comes from: they reach files,
# raw memory or interpreter internals (numpy arrays have .tofile/.dump/.ctypes).
DENIED_ATTRIBUTES = frozenset({
    "tofile", "dump", "dumps", "ctypes", "save", "savez", "savez_compressed", "savetxt", "load",
    "loads", "loadtxt", "fromfile", "genfromtxt", "memmap", "DataSource", "f2py", "lib", "testing",
    "distutils", "os", "sys", "subprocess", "builtins", "mro", "gi_frame", "gi_code", "cr_frame",
    "f_globals", "f_locals", "f_builtins", "tb_frame", "system", "popen", "exec", "eval",
})

# numpy, as a submission sees it: these names only (plus the submodules below).
NUMPY_ALLOWED = frozenset("""
abs absolute add all allclose amax amin any append arange arccos arcsin arctan arctan2 argmax argmin
argpartition argsort around array array_equal asarray average bincount bool_ broadcast_to ceil clip
concatenate copy count_nonzero cumprod cumsum delete diag diff divide dot dtype e empty empty_like equal
exp expand_dims eye flatnonzero flip floor floor_divide fmax fmin full full_like float32 float64 greater
greater_equal hstack inf inner int8 int16 int32 int64 integer floating intp isclose isfinite isin isinf isnan
lexsort less less_equal linspace log log10 log1p log2 logical_and logical_not logical_or logical_xor matmul
max maximum mean median min minimum mod multiply nan nanargmax nanargmin nanmax nanmean nanmin nansum ndarray
negative nonzero not_equal ones ones_like outer partition percentile pi power prod ptp quantile ravel
reciprocal repeat reshape rint round searchsorted sign sort split sqrt square squeeze stack std subtract
sum take tile trace transpose tril triu true_divide uint8 uint32 uint64 unique unravel_index var vstack where
zeros zeros_like newaxis number generic
""".split())
NUMPY_SUBMODULES = {
    "random": frozenset("""
        seed rand randn randint random random_sample choice shuffle permutation uniform normal
        default_rng Generator RandomState exponential poisson binomial beta gamma lognormal
    """.split()),
    "linalg": frozenset("norm solve inv det eig eigh svd lstsq matrix_rank pinv qr cholesky".split()),
}


class ModuleProxy:
    """A module seen through an attribute allowlist. Submissions cannot reach its underscore
    attributes (the restricted compiler forbids them), so the real module stays hidden."""

    def __init__(self, name: str, module: Any, allowed: Iterable[str], submodules: dict | None = None):
        self._name = name
        self._module = module
        self._allowed = frozenset(allowed)
        self._submodules = submodules or {}

    def __getattr__(self, attr: str) -> Any:
        if attr in self._submodules:
            return self._submodules[attr]
        if attr in self._allowed:
            return getattr(self._module, attr)
        raise AttributeError(f"{self._name}.{attr} is not available in the sandbox (not on its allowlist)")

    def __repr__(self) -> str:
        return f"<sandboxed module {self._name}>"


def numpy_proxy() -> ModuleProxy:
    import numpy

    subs = {
        name: ModuleProxy(f"numpy.{name}", getattr(numpy, name), allowed)
        for name, allowed in NUMPY_SUBMODULES.items()
    }
    return ModuleProxy("numpy", numpy, NUMPY_ALLOWED, subs)


MISSING = object()
# Names that take the careful path (RestrictedPython's own checks): str.format and friends, and the
# inspect attributes. Everything else is a plain getattr after two set lookups: attribute access is
# the hot path of most submissions.
CAREFUL_NAMES = frozenset({"format", "format_map", "get_field", "get_value", "vformat", "Formatter"}) | INSPECT_ATTRIBUTES


PLAIN_NAMES: set[str] = set()  # names already found plain (str, no underscore, not denied, not careful)


def guarded_getattr(obj: Any, name: str, default: Any = MISSING) -> Any:
    if type(name) is str and name in PLAIN_NAMES:  # the hot path: one set lookup
        value = getattr(obj, name) if default is MISSING else getattr(obj, name, default)
        if type(value) is types.ModuleType:
            raise AttributeError(f'"{name}" is a module; import it directly if it is on the allowlist')
        return value
    if type(name) is not str or name[:1] == "_" or name in DENIED_ATTRIBUTES or name in CAREFUL_NAMES:
        if isinstance(name, str) and name in DENIED_ATTRIBUTES:
            raise AttributeError(f'attribute "{name}" is not available in the sandbox')
        value = safer_getattr(obj, name) if default is MISSING else safer_getattr(obj, name, default)
    else:
        if len(PLAIN_NAMES) < 100_000:  # bounded: getattr(obj, computed_name) cannot grow it forever
            PLAIN_NAMES.add(name)
        value = getattr(obj, name) if default is MISSING else getattr(obj, name, default)
    if type(value) is types.ModuleType:
        raise AttributeError(f'"{name}" is a module; import it directly if it is on the allowlist')
    return value


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_write(obj: Any) -> Any:
    """Writes go to the submission's own objects only: never a module, a proxy or a foreign class."""
    if isinstance(obj, (types.ModuleType, ModuleProxy)):
        raise TypeError("modules cannot be modified in the sandbox")
    if isinstance(obj, type) and obj.__module__ != SUBMISSION_MODULE:
        raise TypeError(f"class {obj.__name__} is not the submission's own; it cannot be modified")
    return obj


INPLACE_OPERATORS = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "@=": operator.imatmul,
}


def inplacevar(op: str, left: Any, right: Any) -> Any:
    return INPLACE_OPERATORS[op](left, right)


def inplace_setitem(obj: Any, key: Any, op: str, value: Any) -> None:
    guarded_write(obj)[key] = inplacevar(op, obj[key], value)


def inplace_setattr(obj: Any, name: str, op: str, value: Any) -> None:
    setattr(guarded_write(obj), name, inplacevar(op, guarded_getattr(obj, name), value))


class CappedPrint:
    """`print` in a submission: kept (first 64 KiB) for diagnostics, never written to a terminal."""

    limit = 65536

    def __init__(self, _getattr_=None):
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        if self.size < self.limit:
            self.parts.append(text[: self.limit - self.size])
        self.size += len(text)

    def __call__(self) -> str:
        return "".join(self.parts)

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs["file"] = self
        print(*objects, **kwargs)


def make_importer(allowed: Iterable[str], numpy_module: ModuleProxy | None):
    """`__import__` for submissions: allowlisted modules and their submodules; numpy as its proxy."""
    allowed = frozenset(allowed)

    def guarded_import(name: str, globals=None, locals=None, fromlist=(), level: int = 0):
        if level != 0:
            raise ImportError("relative imports are not available in the sandbox")
        root = name.split(".")[0]
        if name == "__future__":
            return __import__(name, globals, locals, fromlist, level)
        if name not in allowed and root not in allowed:
            raise ImportError(f"import of '{name}' is not allowed (allowed: {', '.join(sorted(allowed))})")
        if root == "numpy":
            if numpy_module is None:
                raise ImportError("numpy is not available")
            target = numpy_module
            for part in name.split(".")[1:]:
                if not isinstance(getattr(target, part, None), ModuleProxy):
                    raise ImportError(f"import of '{name}' is not allowed: numpy submodules available: "
                                      f"{', '.join(sorted(NUMPY_SUBMODULES))}")
                target = getattr(target, part)
            return target if fromlist else numpy_module
        return __import__(name, globals, locals, fromlist, level)

    return guarded_import


def restricted_globals(allowed_imports: Iterable[str]) -> dict[str, Any]:
    """A fresh global namespace for one load of a submission."""
    allowed_imports = tuple(allowed_imports)
    numpy_module = numpy_proxy() if "numpy" in allowed_imports else None
    names = dict(safe_builtins)
    for name in EXTRA_BUILTINS:
        names[name] = getattr(builtins, name)
    names["getattr"] = guarded_getattr
    names["hasattr"] = guarded_hasattr
    names["setattr"] = lambda obj, name, value: setattr(guarded_write(obj), guarded_name(name), value)
    names["type"] = lambda obj: type(obj)
    names["__import__"] = make_importer(allowed_imports, numpy_module)
    names.pop("_getattr_", None)
    return {
        "__builtins__": names,
        "__name__": SUBMISSION_MODULE,
        "__metaclass__": type,
        "_getattr_": guarded_getattr,
        "_getitem_": operator.getitem,  # a C function: subscripts are the hot path of most submissions
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": guarded_write,
        "_inplacevar_": inplacevar,
        "_inplace_setitem_": inplace_setitem,
        "_inplace_setattr_": inplace_setattr,
        "_print_": CappedPrint,
        "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs),
    }


def guarded_name(name: str) -> str:
    if not isinstance(name, str) or name.startswith("_"):
        raise AttributeError(f'"{name}" is an invalid attribute name')
    return name
