"""The names a submission can reach: allowlisted builtins (with `type` and class statements that
never make a metaclass), modules only as proxies (modules.py), and the guard functions RestrictedPython's
compiled code calls (`_getattr_`, `_write_`, ...)."""
from __future__ import annotations

import builtins
import dataclasses
import operator
import string
import sys
import types
from typing import Any, Iterable

from RestrictedPython.Guards import (guarded_iter_unpack_sequence, guarded_unpack_sequence, safe_builtins,
                                     safer_getattr, safer_getattr_raise)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .policy import is_private_name
from .modules import (OPEN_BASES, PRIVATE_ALIASES, SUBMISSION_MODULE, ModuleProxy, compat_proxies, is_own_class,
                      module_proxy, refused_module, refused_names,
                      stand_in)

EXTRA_BUILTINS = (
    "all", "any", "bytes", "dict", "enumerate", "filter", "format", "frozenset", "iter", "list",
    "map", "max", "min", "next", "object", "property", "reversed", "set", "sorted", "staticmethod",
    "classmethod", "sum", "super", "tuple", "zip", "NotImplemented",
)

# Attributes no object may hand out, whatever module or type it comes from: interpreter internals
# (frames, code, closures; Cython functions, numpy.random's among them, have .func_globals, their
# module's globals; `mro` hands out the class hierarchy).
INTERNAL_ATTRIBUTES = frozenset({
    "mro", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "f_globals", "f_locals",
    "f_builtins", "tb_frame", "func_globals", "func_code", "func_closure",
})

# Attributes libraries use to reach files, raw memory or the system (numpy arrays have .tofile/.dump/
# .ctypes, numpy has .lib, .testing, .load). Refused on every object except the submission's own (an
# instance of a class it wrote, or such a class, with no library class among its bases), where they
# are its own attributes and dataclass fields: a `load` field of its own is just a number.
LIBRARY_ATTRIBUTES = frozenset({
    "tofile", "dump", "dumps", "ctypes", "cffi", "save", "savez", "savez_compressed", "savetxt", "load",
    "loads", "loadtxt", "fromfile", "genfromtxt", "memmap", "DataSource", "f2py", "lib", "testing",
    "distutils", "os", "sys", "subprocess", "builtins", "system", "popen", "exec", "eval",
})
DENIED_ATTRIBUTES = INTERNAL_ATTRIBUTES | LIBRARY_ATTRIBUTES


def wholly_own(obj: Any) -> bool:
    """Whether `obj` is the submission's own class, or an instance of one, with nothing but its own
    classes, builtins (object, tuple, dict, exceptions...) and the bases a task offers (modules.OPEN_BASES)
    in its hierarchy: then no library code stands behind its attributes."""
    cls = obj if isinstance(obj, type) else type(obj)
    return is_own_class(cls) and all(
        is_own_class(klass) or klass.__module__ == "builtins" or klass in OPEN_BASES for klass in cls.__mro__)


# Values no attribute read may hand out, whatever the attribute is called (AttributeError.obj, say):
# modules, frames, code and tracebacks are the interpreter itself. Nor `type` or another metaclass.
HIDDEN_VALUE_TYPES = frozenset({types.ModuleType, types.FrameType, types.CodeType, types.TracebackType})


def refuse_hidden_value(name: str, value: Any) -> None:
    kind = type(value)
    if kind is types.ModuleType:
        raise AttributeError(f'"{name}" is a module; import it directly if it is on the allowlist')
    if kind in HIDDEN_VALUE_TYPES:
        raise AttributeError(f'"{name}" is a {kind.__name__} object, which the sandbox does not hand out')
    if kind is type and issubclass(value, type):
        raise AttributeError(f'"{name}" is a metaclass ({value.__name__}), which the sandbox does not hand out; '
                             "use isinstance(x, type)")


MISSING = object()
PLAIN_NAMES: set[str] = set()  # names already found plain (str, no underscore, not denied, not careful)
FORMAT_NAMES = frozenset({"format", "format_map"})


def formats_fields(value: Any) -> bool:
    """str.format and str.format_map read the attributes a text names ('{0.__class__}') past _getattr_.
    RestrictedPython refuses them on str and its subclasses; this also catches them through super()."""
    if value is str.format or value is str.format_map:
        return True
    return isinstance(getattr(value, "__self__", None), str) and getattr(value, "__name__", None) in FORMAT_NAMES


class FieldlessFormatter(string.Formatter):
    """str.format's language without reaching into the arguments: '{0}', '{name}', '{:.3f}', '{!r}' and
    nested specs work; a field that reads an attribute or an item ('{0.__class__}', '{0[x]}') is refused
    (str.format would read it past _getattr_)."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if "." in field_name or "[" in field_name:
            raise ValueError(f"format field {{{field_name}}} reads an attribute or item of an argument, which "
                             "the sandbox does not allow; pass the value itself, or use an f-string")
        return super().get_field(field_name, args, kwargs)


FORMATTER = FieldlessFormatter()


def fieldless(method: Any) -> Any:
    """str.format / str.format_map (bound to a text, or str's own) through FieldlessFormatter."""
    text = getattr(method, "__self__", None)
    mapping = getattr(method, "__name__", None) == "format_map"
    if not isinstance(text, str):  # str.format(text, ...) called on the class
        if mapping:
            return lambda template, values: FORMATTER.vformat(str(template), (), values)
        return lambda template, *args, **kwargs: FORMATTER.vformat(str(template), args, kwargs)
    text = str(text)
    if mapping:
        return lambda values: FORMATTER.vformat(text, (), values)
    return lambda *args, **kwargs: FORMATTER.vformat(text, args, kwargs)


def checked_resize(value: Any) -> Any:
    """ndarray.resize, never with refcheck=False (that frees memory its views still read and write)."""
    numpy = sys.modules.get("numpy")
    if numpy is None or not isinstance(getattr(value, "__self__", None), numpy.ndarray):
        return value

    def resize(*new_shape: Any, refcheck: bool = True) -> None:
        if not refcheck:
            raise ValueError("ndarray.resize(refcheck=False) is not available in the sandbox (views would read "
                             "freed memory); leave refcheck on or make a new array")
        return value(*new_shape)  # holds no other reference to the array: numpy's refcheck still passes
    return resize


def checked_set_state(value: Any) -> Any:
    """RandomState.set_state, with its position checked (numpy indexes its key array with it unchecked)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return value
    if value is numpy.random.RandomState.set_state:
        raise AttributeError("RandomState.set_state is available on an instance only: rs.set_state(state)")
    if not isinstance(getattr(value, "__self__", None), numpy.random.RandomState):
        return value

    def set_state(state: Any) -> Any:
        if isinstance(state, dict):
            inner = state["state"]
            state = (state["bit_generator"], inner["key"], inner["pos"], state.get("has_gauss", 0),
                     state.get("gauss", 0.0))
        state = tuple(state)  # read once: numpy reads this copy, not the submission's object again
        position = state[2] if len(state) > 2 else None
        if position is None or not 0 <= int(position) <= 624:
            raise ValueError(f"expected a RandomState state position in 0..624, got {position}; pass a "
                             "state from get_state()")
        return value(state)
    return set_state


# numpy methods that trust an argument; however they are reached (bound, through super(), from the
# class) they come wrapped so that the argument is checked.
CHECKED_METHODS = {"resize": checked_resize, "set_state": checked_set_state}

# Names that take the careful path (RestrictedPython's own checks): str.format and friends, the
# inspect attributes, and CHECKED_METHODS. Everything else is a plain getattr after two set lookups:
# attribute access is the hot path of most submissions.
CAREFUL_NAMES = (frozenset({"format", "format_map", "get_field", "get_value", "vformat", "Formatter"})
                 | INSPECT_ATTRIBUTES | CHECKED_METHODS.keys())


def guarded_getattr(obj: Any, name: str, default: Any = MISSING) -> Any:
    if type(name) is str and name in PLAIN_NAMES:  # the hot path: one set lookup
        value = getattr(obj, name) if default is MISSING else getattr(obj, name, default)
    elif type(name) is not str or name[:1] == "_" or name in DENIED_ATTRIBUTES or name in CAREFUL_NAMES:
        if type(name) is not str:  # a str subclass could answer any comparison or startswith it likes
            raise TypeError(f"attribute names are plain str in the sandbox, got {type(name).__name__}")
        if is_private_name(name):  # `_x`: the submission's own objects, and the aliases a task's views offer
            if not wholly_own(obj) and name not in PRIVATE_ALIASES.get(type(obj), ()):
                raise AttributeError(f'attribute "{name}" of a {type(obj).__name__} object is not available in the '
                                     "sandbox (underscore attributes are readable on the submission's own objects only)")
            return getattr(obj, name) if default is MISSING else getattr(obj, name, default)
        if isinstance(name, str) and name in DENIED_ATTRIBUTES and (name in INTERNAL_ATTRIBUTES
                                                                    or not wholly_own(obj)):
            raise AttributeError(f'attribute "{name}" is not available in the sandbox')
        if name in FORMAT_NAMES:  # RestrictedPython refuses str.format outright; ours reads no fields
            value = getattr(obj, name) if default is MISSING else getattr(obj, name, default)
        else:
            value = safer_getattr_raise(obj, name) if default is MISSING else safer_getattr(obj, name, default)
        if name in FORMAT_NAMES and formats_fields(value):
            value = fieldless(value)
        if name in CHECKED_METHODS:
            value = CHECKED_METHODS[name](value)
    else:
        if len(PLAIN_NAMES) < 100_000:  # bounded: getattr(obj, computed_name) cannot grow it forever
            PLAIN_NAMES.add(name)
        value = getattr(obj, name) if default is MISSING else getattr(obj, name, default)
    kind = type(value)
    if kind in HIDDEN_VALUE_TYPES or kind is type and issubclass(value, type):
        refuse_hidden_value(name, value)
    return value


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


# Objects a library reads back later, so that writing them would steer the library: a Field's name is
# pasted into the code dataclass() generates for a subclass; typing's aliases forward writes to the
# real class (typing.Counter.x = ... sets collections.Counter.x).
READ_ONLY_TYPES = frozenset({dataclasses.Field})


WRITABLE_CLASSES: set[type] = set()  # classes whose instances guarded_write already let through


def guarded_write(obj: Any) -> Any:
    """Writes go to the submission's own objects and plain data only: never a module, a proxy, a class
    the submission did not define, or an object a library reads back (READ_ONLY_TYPES, typing's)."""
    kind = type(obj)
    if kind in WRITABLE_CLASSES:  # the hot path: one set lookup
        return obj
    if issubclass(kind, (types.ModuleType, ModuleProxy)):
        raise TypeError("modules cannot be modified in the sandbox")
    if issubclass(kind, type):  # a class: decided per class, never cached
        if not is_own_class(obj):
            raise TypeError(f"class {obj.__name__} is not the submission's own; it cannot be modified")
        return obj
    if kind in READ_ONLY_TYPES or kind.__module__ == "typing":
        raise TypeError(f"{kind.__name__} objects belong to the library that made them and cannot be modified "
                        "in the sandbox; make a new one instead")
    if kind is types.FunctionType:  # decided per function, never cached
        if obj.__globals__.get("__name__") != SUBMISSION_MODULE:
            raise TypeError(f"function {obj.__name__} belongs to a library and cannot be modified in the sandbox "
                            "(its attributes would outlive the case); wrap it in a function of your own")
        return obj
    if len(WRITABLE_CLASSES) < 10_000:
        WRITABLE_CLASSES.add(kind)
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
    target = guarded_private_write(obj) if is_private_name(name) else guarded_write(obj)
    setattr(target, name, inplacevar(op, guarded_getattr(obj, name), value))


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


def make_importer(allowed: Iterable[str], compat: dict[str, dict[str, Any]] | None = None):
    """`__import__` for submissions: allowlisted modules (and `__future__`), each as a proxy built on first
    import; `from M import X` only for X on M's allowlist (modules.refused_names, as the static check).
    The modules a task provides itself (`compat`: name -> offered names and values) come as proxies
    of those names only."""
    allowed = frozenset(allowed)
    proxies: dict[str, ModuleProxy] = {}
    provided = compat_proxies(compat or {})

    def guarded_import(name: str, globals=None, locals=None, fromlist=(), level: int = 0):
        if level != 0:
            raise ImportError("relative imports are not available in the sandbox; import modules by their name")
        if name in provided:
            target = provided[name] if fromlist else provided[name.split(".")[0]]
            for attr in fromlist or ():
                if not isinstance(attr, str) or attr not in target.__dict__ or attr == "_name":
                    offered = sorted(k for k in target.__dict__ if k != "_name")
                    raise ImportError(f"'{attr}' cannot be imported from {name}: the task provides only "
                                      f"{', '.join(offered)}; use one of those")
            return target
        root = name.split(".")[0]
        if name != "__future__" and root not in allowed:
            # `import a.b` binds `a`; `from a.b import c` reads c from `a.b`
            return StandIn(name if fromlist else root, f"allowed: {', '.join(sorted(allowed))}")
        problem = refused_module(name) or refused_names(name, fromlist or ())
        if problem:
            raise ImportError(problem)
        if root not in proxies:
            proxies[root] = module_proxy(root)
        target = proxies[root]
        if fromlist:
            for part in name.split(".")[1:]:
                target = getattr(target, part)
        return target

    return guarded_import


class StandIn:
    """What an import outside the allowlist binds: nothing works on it. Reading a plain attribute gives
    another stand-in (so `from pathlib import Path` binds one without failing); any other use (a call,
    iteration, truth, arithmetic, indexing) raises ImportError naming the module and the allowlist.
    The static check refuses a file that reads a name bound this way, so only a program that reaches it
    indirectly (a class attribute, a container) meets the error."""

    __slots__ = ("_StandIn__name", "_StandIn__allowed")

    def __init__(self, name: str, allowed: str):
        self.__name, self.__allowed = name, allowed

    def __getattr__(self, attr: str) -> "StandIn":
        if attr.startswith("__"):
            raise AttributeError(attr)
        return StandIn(f"{self.__name}.{attr}", self.__allowed)

    def __repr__(self) -> str:
        return f"<stand-in for {self.__name}>"

    def _fail(self, *args: Any, **kwargs: Any):
        module = self.__name.split(".")[0]
        raise ImportError(f"{self.__name} is a stand-in: import of '{module}' is not allowed in the sandbox "
                          f"({self.__allowed}); remove the import and use an allowed module")

    __call__ = __iter__ = __len__ = __bool__ = __getitem__ = __setitem__ = __contains__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __floordiv__ = __mod__ = __pow__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = __index__ = _fail
    __int__ = __float__ = __enter__ = __hash__ = _fail


class SandboxType:
    """`type` in a submission (one instance): type(x) is class_of(x); type(name, bases, namespace) is
    refused (it makes a class with any dunder method); isinstance(x, type) keeps its meaning."""

    def __call__(self, obj: Any, bases: Any = None, namespace: Any = None, /) -> type:
        if bases is None and namespace is None:
            return class_of(obj)
        raise TypeError("type() with three arguments (making a class) is not available in the sandbox; "
                        "write a class statement")

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, type)

    def __subclasscheck__(self, sub: Any) -> bool:
        return issubclass(sub, type)

    def __repr__(self) -> str:
        return "<class 'type' (sandboxed)>"


# Classes whose instances are the interpreter's machinery: functions, code, frames, modules, cells,
# descriptors, and list[int]'s GenericAlias, whose class calls any origin it is given (so do typing's
# alias classes: class_of refuses every class of the typing module too).
INTERNAL_CLASSES = (frozenset(v for v in vars(types).values() if isinstance(v, type))
                    - {type(None), type(Ellipsis), type(NotImplemented), types.SimpleNamespace}
                    | {ModuleProxy, SandboxType})


PLAIN_CLASSES: set[type] = set()  # classes class_of already let through (type(x) is a hot path too)


def class_of(obj: Any) -> type:
    """type(obj) for a submission: never `type` or another metaclass, nor an internal class; a class
    with a stand-in (numpy.ndarray) as its stand-in."""
    cls = type(obj)
    if cls in PLAIN_CLASSES:
        return cls
    replacement = stand_in(cls)
    if replacement is not None:  # so never in PLAIN_CLASSES
        return replacement
    if issubclass(cls, type):
        raise TypeError("type() of a class is not available in the sandbox (it would hand out a metaclass); "
                        "compare classes directly or use isinstance(x, type)")
    if cls in INTERNAL_CLASSES or cls.__module__ == "typing":
        raise TypeError(f"type() of a {cls.__name__} object is not available in the sandbox; "
                        "use isinstance() or callable()")
    if len(PLAIN_CLASSES) < 10_000:
        PLAIN_CLASSES.add(cls)
    return cls


def build_class(func, name, *bases, **keywords):
    """A class statement: never a metaclass. A class deriving from `type` (say through typing.Type,
    whose bases resolve to it) would make classes with any dunder method."""
    for base in types.resolve_bases(bases):
        if isinstance(base, SandboxType) or isinstance(base, type) and issubclass(base, type):
            raise TypeError(f"class {name} would derive from type (a metaclass), which the sandbox does not "
                            "allow; derive from object or your own classes")
    return builtins.__build_class__(func, name, *bases, **keywords)


def restricted_globals(allowed_imports: Iterable[str], compat: dict[str, dict[str, Any]] | None = None
                       ) -> dict[str, Any]:
    """A fresh global namespace for one load of a submission (`compat`: the modules its task provides)."""
    names = dict(safe_builtins)
    for name in EXTRA_BUILTINS:
        names[name] = getattr(builtins, name)
    names["getattr"] = guarded_getattr
    names["hasattr"] = guarded_hasattr
    names["setattr"] = lambda obj, name, value: setattr(guarded_write(obj), guarded_name(name, obj), value)
    names["type"] = SandboxType()
    names["__build_class__"] = build_class
    names["__import__"] = make_importer(allowed_imports, compat)
    names.pop("_getattr_", None)
    names.pop("delattr", None)  # refused by the static check too (checks.UNAVAILABLE_BUILTINS)
    return {
        "__builtins__": names,
        "__name__": SUBMISSION_MODULE,
        "__metaclass__": type,  # RestrictedPython writes every class statement as `class C(metaclass=__metaclass__)`
        "_getattr_": guarded_getattr,
        "_getitem_": operator.getitem,  # a C function: subscripts are the hot path of most submissions
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": guarded_write,
        "_inplacevar_": inplacevar,
        "_inplace_setitem_": inplace_setitem,
        "_inplace_setattr_": inplace_setattr,
        "_write_private_": guarded_private_write,
        "_super_init_": super_init,
        "_print_": CappedPrint,
        "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs),
    }


def super_init(proxy: Any) -> Any:
    """`super().__init__` in a submission: the base's constructor bound to an instance of the
    submission's class, from a real super object only. Bound to a class (in a classmethod) it would be
    the base's plain function, callable on any object: refused."""
    if type(proxy) is not super:
        raise TypeError(f"__init__ is read only from super() in the sandbox, got a {type(proxy).__name__} object; "
                        "call super().__init__(...)")
    if isinstance(proxy.__self__, type):
        raise TypeError("super().__init__ is available in instance methods only (here super() is bound to a "
                        "class); call it from __init__")
    return proxy.__init__


def guarded_name(name: str, obj: Any = None) -> str:
    """An attribute name setattr may write: no underscore, or one leading underscore on the
    submission's own object."""
    if type(name) is not str:  # a str subclass could answer startswith as it likes
        raise TypeError(f"attribute names are plain str in the sandbox, got {type(name).__name__}")
    if is_private_name(name) and wholly_own(obj):
        return name
    if not isinstance(name, str) or name.startswith("_"):
        raise AttributeError(f'"{name}" is an invalid attribute name')
    return name


def guarded_private_write(obj: Any) -> Any:
    """`obj._x = ...` and `del obj._x`: the submission's own objects only."""
    if not wholly_own(obj):
        raise TypeError(f"underscore attributes of a {type(obj).__name__} object cannot be set in the sandbox; "
                        "only the submission's own objects take them")
    return guarded_write(obj)
