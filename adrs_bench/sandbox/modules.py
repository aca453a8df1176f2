"""What `import` hands a submission: for each module a task may allow, one explicit allowlist of names,
seen through a ModuleProxy. Never a module itself, never a name that is a module (submodules are
proxies of their own), and never a name that evaluates text as code or sets attributes by a name the
submission chose: such names are left out (`typing.get_type_hints`, `functools.singledispatch`,
`functools.update_wrapper`, `dataclasses.make_dataclass`, ...) or replaced by the wrappers below.

One place for the rule: the static check (checks.py) and the run-time importer (guards.py) both ask
`refused_names`; a module with no allowlist here cannot be imported at all."""
from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import importlib
import random
import sys
from typing import Any, Iterable

SUBMISSION_MODULE = "adrs_submission"


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ALLOWLISTS: dict[str, frozenset[str]] = {
    "math": words("""
        acos acosh asin asinh atan atan2 atanh cbrt ceil comb copysign cos cosh degrees dist e erf erfc exp
        exp2 expm1 fabs factorial floor fmod frexp fsum gamma gcd hypot inf isclose isfinite isinf isnan isqrt
        lcm ldexp lgamma log log10 log1p log2 modf nan nextafter perm pi pow prod radians remainder sin sinh
        sqrt sumprod tan tanh tau trunc ulp"""),
    # SystemRandom is left out: it reads the OS's entropy, so a run could not be repeated.
    "random": words("""
        Random betavariate binomialvariate choice choices expovariate gammavariate gauss getrandbits
        getstate lognormvariate normalvariate paretovariate randbytes randint random randrange sample seed
        setstate shuffle triangular uniform vonmisesvariate weibullvariate"""),
    "copy": words("copy deepcopy Error error"),
    "heapq": words("heapify heappop heappush heappushpop heapreplace merge nlargest nsmallest"),
    "bisect": words("bisect bisect_left bisect_right insort insort_left insort_right"),
    "itertools": words("""
        accumulate batched chain combinations combinations_with_replacement compress count cycle dropwhile
        filterfalse groupby islice pairwise permutations product repeat starmap takewhile tee zip_longest"""),
    # Clocks and sleep only: no local time (it reads the time-zone files).
    "time": words("""
        time time_ns perf_counter perf_counter_ns monotonic monotonic_ns process_time process_time_ns sleep"""),
    # UserString is left out: its format() is str.format, which reads attributes named in the text.
    "collections": words("deque defaultdict Counter OrderedDict namedtuple ChainMap UserDict UserList"),
    "collections.abc": words("""
        Callable Collection Container Generator Hashable ItemsView Iterable Iterator KeysView Mapping
        MappingView MutableMapping MutableSequence MutableSet Reversible Sequence Set Sized ValuesView"""),
    # Left out: singledispatch/singledispatchmethod (register() evaluates string annotations), update_wrapper
    # (its `assigned=` copies any attribute, __code__ included).
    "functools": words("""
        reduce partial partialmethod lru_cache cache cached_property cmp_to_key total_ordering wraps"""),
    # Left out: make_dataclass (any class namespace, any dunder), Field (its objects are read-only).
    "dataclasses": words("""
        dataclass field fields asdict astuple replace is_dataclass FrozenInstanceError InitVar KW_ONLY MISSING"""),
    # Names for annotations and typed containers. Left out: get_type_hints and ForwardRef (they evaluate
    # string annotations with the real eval), get_origin (typing.Type's origin is the real `type`),
    # reveal_type (writes to stderr), and the decorators that set attributes on whatever they are given.
    "typing": words("""
        AbstractSet Annotated Any AnyStr BinaryIO ByteString Callable ChainMap ClassVar Collection Concatenate
        Container Counter DefaultDict Deque Dict Final FrozenSet Generator Generic Hashable IO ItemsView
        Iterable Iterator KeysView List Literal LiteralString Mapping MappingView MutableMapping
        MutableSequence MutableSet NamedTuple Never NewType NoReturn NotRequired Optional OrderedDict
        ParamSpec Protocol Required Reversible Self Sequence Set Sized SupportsAbs SupportsBytes
        SupportsComplex SupportsFloat SupportsIndex SupportsInt SupportsRound TYPE_CHECKING Text TextIO Tuple
        Type TypeAlias TypeGuard TypeVar TypeVarTuple TypedDict Union Unpack ValuesView assert_never
        assert_type cast runtime_checkable"""),
    # numpy reaches files (save, load, fromfile, tofile, memmap, ctypeslib, lib...): none of those.
    "numpy": words("""
        abs absolute add all allclose amax amin any append arange arccos arcsin arctan arctan2 argmax argmin
        argpartition argsort around array array_equal asarray average bincount bool_ broadcast_to ceil clip
        concatenate copy count_nonzero cumprod cumsum delete diag diff divide dot dtype e empty empty_like
        equal exp expand_dims eye flatnonzero flip floor floor_divide fmax fmin full full_like float32 float64
        greater greater_equal hstack inf inner int8 int16 int32 int64 integer floating intp isclose isfinite
        isin isinf isnan lexsort less less_equal linspace log log10 log1p log2 logical_and logical_not
        logical_or logical_xor matmul max maximum mean median min minimum mod multiply nan nanargmax
        nanargmin nanmax nanmean nanmin nansum ndarray negative nonzero not_equal ones ones_like outer
        partition percentile pi power prod ptp quantile ravel reciprocal repeat reshape rint round
        searchsorted sign sort split sqrt square squeeze stack std subtract sum take tile trace transpose tril
        triu true_divide uint8 uint32 uint64 unique unravel_index var vstack where zeros zeros_like newaxis
        number generic"""),
    "numpy.random": words("""
        seed rand randn randint random random_sample choice shuffle permutation uniform normal default_rng
        Generator RandomState exponential poisson binomial beta gamma lognormal"""),
    "numpy.linalg": words("norm solve inv det eig eigh svd lstsq matrix_rank pinv qr cholesky"),
    # Not a module a task allows: what `from __future__ import annotations` itself needs at run time.
    "__future__": words("""
        nested_scopes generators division absolute_import with_statement print_function unicode_literals
        generator_stop annotations"""),
}


def submodules(module: str) -> list[str]:
    """The allowlisted modules directly under `module` (numpy -> numpy.random, numpy.linalg)."""
    return sorted(name for name in ALLOWLISTS if name.rpartition(".")[0] == module)


# ------------------------------------------------------------------------------------------------
# The submission's own classes and functions: the only ones a library may rewrite on its behalf.

def is_own_class(obj: Any) -> bool:
    return isinstance(obj, type) and obj.__module__ == SUBMISSION_MODULE


# Classes a task offers a submission to derive from (vidur's BaseGlobalScheduler): they hold nothing of
# the harness, so an instance of a submission's class deriving from one is still wholly its own.
OPEN_BASES: set[type] = set()

# Underscore attributes a task's view objects answer by design (a vidur replica scheduler's
# `_request_queue` and `_config`): readable on instances of exactly that class, and nothing else is.
PRIVATE_ALIASES: dict[type, frozenset[str]] = {}


def open_base(cls: type) -> type:
    """Class decorator for trusted task code: submissions may subclass `cls` and keep underscore state."""
    OPEN_BASES.add(cls)
    return cls


def private_aliases(*names: str):
    """Class decorator for trusted task code: these underscore attributes of its instances are public."""
    def register(cls: type) -> type:
        PRIVATE_ALIASES[cls] = frozenset(names)
        return cls
    return register


def own_class(cls: Any, what: str) -> type:
    if not is_own_class(cls):
        raise TypeError(f"{what}() rewrites the class it is given, so it takes only a class the submission "
                        f"defines, got {cls!r}; apply it to your own class")
    return cls


def own_function(func: Any, what: str):
    namespace = getattr(func, "__globals__", None)
    if not (isinstance(namespace, dict) and namespace.get("__name__") == SUBMISSION_MODULE):
        raise TypeError(f"{what}() rewrites the function it is given, so it takes only a function the "
                        f"submission defines, got {func!r}; apply it to your own function")
    return func


def dataclass(cls=None, /, **options):
    """dataclasses.dataclass, on the submission's own classes only (it rewrites the class it is given)."""
    if cls is None:
        return functools.partial(dataclass, **options)
    return dataclasses.dataclass(own_class(cls, "dataclass"), **options)


def total_ordering(cls):
    """functools.total_ordering, on the submission's own classes only (it adds methods to the class)."""
    return functools.total_ordering(own_class(cls, "total_ordering"))


def wraps(wrapped):
    """functools.wraps with its standard attribute lists only, onto the submission's own functions."""
    def decorate(wrapper):
        return functools.update_wrapper(own_function(wrapper, "wraps"), wrapped)
    return decorate


def namedtuple(typename, field_names, *, rename=False, defaults=None):
    """collections.namedtuple, whose class is always the submission's own (`module=` is not its to choose).
    The names it pastes into code are checked by namedtuple itself: identifiers, no leading underscore."""
    return collections.namedtuple(typename, field_names, rename=rename, defaults=defaults, module=SUBMISSION_MODULE)


def deepcopy(x, memo=None, /):
    """copy.deepcopy without `memo`: the memo keeps every original object it walked, private state included."""
    if memo is not None:
        raise TypeError("copy.deepcopy takes no memo in the sandbox; call deepcopy(x)")
    return copy.deepcopy(x)


class ArrayClassMeta(type):
    """isinstance(x, np.ndarray) and issubclass(c, np.ndarray) answer for the real numpy.ndarray."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, sys.modules["numpy"].ndarray)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return type.__subclasscheck__(cls, sub) or issubclass(sub, sys.modules["numpy"].ndarray)


class ndarray(metaclass=ArrayClassMeta):
    """numpy.ndarray as a submission sees it (as np.ndarray and as type(array)): the real constructor
    with a buffer forges objects, np.ndarray((1,), object, buffer=np.array([id(x)])) being x itself."""

    def __new__(cls, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
        if buffer is not None:
            raise TypeError("np.ndarray(..., buffer=...) is not available in the sandbox (it reinterprets memory); "
                            "use np.array, np.zeros or np.empty")
        return sys.modules["numpy"].ndarray(shape, dtype, None, offset, strides, order)


def stand_in(cls: type) -> type | None:
    """The stand-in a submission sees for a real class (by np.ndarray and by type(x) alike), or None."""
    numpy = sys.modules.get("numpy")
    return ndarray if numpy is not None and cls is numpy.ndarray else None


# Generators asked for without a seed would read the OS's entropy and make a rerun differ. They are
# seeded from the module-level generators instead, which the child seeds from each case's content.
# (np.random.RandomState() stays as numpy has it: it is a class submissions subclass; unseeded, it is
# the one generator left that reads the OS.)
def fresh_seed() -> int:
    return random.getrandbits(63)


class Random(random.Random):
    """random.Random: without a seed, seeded from the per-case `random` stream (not the OS)."""

    def seed(self, a=None, version=2):
        super().seed(fresh_seed() if a is None else a, version)


def random_seed(a=None, version=2):
    random.seed(fresh_seed() if a is None else a, version)


def numpy_seed(seed=None):
    numpy = sys.modules["numpy"]
    numpy.random.seed(int(numpy.random.randint(0, 2**32 - 1)) if seed is None else seed)


def default_rng(seed=None):
    numpy = sys.modules["numpy"]
    return numpy.random.default_rng(int(numpy.random.randint(0, 2**62)) if seed is None else seed)


REPLACEMENTS: dict[tuple[str, str], Any] = {
    ("random", "Random"): Random,
    ("random", "seed"): random_seed,
    ("numpy.random", "seed"): numpy_seed,
    ("numpy.random", "default_rng"): default_rng,
    ("numpy", "ndarray"): ndarray,
    ("dataclasses", "dataclass"): dataclass,
    ("functools", "total_ordering"): total_ordering,
    ("functools", "wraps"): wraps,
    ("collections", "namedtuple"): namedtuple,
    ("copy", "deepcopy"): deepcopy,
}


# ------------------------------------------------------------------------------------------------

class ModuleProxy:
    """A module seen through its allowlist. The allowed names are copied in (plain attribute reads, as
    fast as a module's); the module itself is not kept, so nothing reaches it through the proxy."""

    def __init__(self, name: str, values: dict[str, Any]):
        self.__dict__.update(values)
        self._name = name

    def __getattr__(self, attr: str) -> Any:  # only for names that were not copied in
        name = self.__dict__.get("_name", "module")
        raise AttributeError(f"{name}.{attr} is not available in the sandbox (not on its allowlist)")

    def __repr__(self) -> str:
        return f"<sandboxed module {self._name}>"


def module_proxy(name: str) -> ModuleProxy:
    """A fresh proxy of an allowlisted module, its allowlisted submodules as proxies too. Names this
    Python or numpy does not have are left out (never looked up later)."""
    module = importlib.import_module(name)
    values = {attr: REPLACEMENTS.get((name, attr)) or getattr(module, attr)
              for attr in ALLOWLISTS[name] if hasattr(module, attr)}
    for child in submodules(name):
        values[child.rpartition(".")[2]] = module_proxy(child)
    return ModuleProxy(name, values)


def compat_proxies(modules: dict[str, dict[str, Any]]) -> dict[str, ModuleProxy]:
    """Proxies for the modules a task provides itself (vidur.entities, ...), by dotted name, every
    package on the way included: `import vidur.entities` binds the proxy of `vidur`, whose `entities`
    is the proxy of `vidur.entities`."""
    values: dict[str, dict[str, Any]] = {}
    for name, names in modules.items():
        values.setdefault(name, {}).update(names)
        parts = name.split(".")
        for depth in range(1, len(parts)):
            values.setdefault(".".join(parts[:depth]), {})
    proxies: dict[str, ModuleProxy] = {}
    for name in sorted(values, key=lambda n: -n.count(".")):  # children first
        children = {child.rpartition(".")[2]: proxies[child] for child in proxies
                    if child.rpartition(".")[0] == name}
        proxies[name] = ModuleProxy(name, {**values[name], **children})
    return proxies


def numpy_proxy() -> ModuleProxy:
    return module_proxy("numpy")


def refused_names(module: str, names: Iterable[str]) -> str | None:
    """Why `from module import names` is refused, or None: each name must be on module's allowlist
    or be an allowlisted submodule."""
    allowed = ALLOWLISTS.get(module, frozenset())
    for name in names:
        if name not in allowed and f"{module}.{name}" not in ALLOWLISTS:
            offer = sorted(allowed | {child.rpartition(".")[2] for child in submodules(module)})
            return (f"'{name}' cannot be imported from {module}: the sandbox allows only {', '.join(offer)}; "
                    "use one of those")
    return None


def refused_module(module: str) -> str | None:
    """Why `import module` is refused once its package is allowed, or None: it needs an allowlist here."""
    if module in ALLOWLISTS:
        return None
    root = module.split(".")[0]
    known = submodules(root)
    return (f"import of '{module}' is not allowed: the sandbox has no allowlist for it"
            f"{' (available: ' + ', '.join(known) + ')' if known else ''}; import an allowed module")
