"""The static check of a submission, before anything runs: small `check_*` functions, each
raising InvalidSubmission with one line saying what was expected, what was got and what to do."""
from __future__ import annotations

import ast
import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Iterator, Mapping

from ..errors import InvalidSubmission, SubmissionNotFound
from ..spec import TaskSpec
from .modules import ALLOWLISTS, refused_names, submodules
from .policy import compile_submission, is_main_guard


@dataclass(frozen=True)
class CheckedSubmission:
    """A submission that passed every static check, with its restricted bytecode."""

    path: Path
    source: str
    sha256: str
    code: CodeType
    warnings: tuple[str, ...] = ()  # what runs, but not as written (imports bound to stand-ins)
    entry: str = ""  # what the harness calls: "Router()", or "X (deriving from BaseGlobalScheduler)"


def check_exists(path: Path) -> bytes:
    if not path.exists():
        raise SubmissionNotFound(f"expected a submission file, got no file at {path}; check the path")
    if not path.is_file():
        raise SubmissionNotFound(f"expected a submission file, got a directory at {path}; name a .py file")
    return path.read_bytes()


def check_text(path: Path, data: bytes) -> str:
    if b"\x00" in data:
        raise InvalidSubmission(f"{path}: expected Python source, got a binary file; submit the .py file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSubmission(
            f"{path}: expected UTF-8 Python source, got undecodable bytes at offset {exc.start}; save it as UTF-8"
        ) from None


def check_syntax(path: Path, source: str) -> ast.Module:
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise InvalidSubmission(
            f"{path}:{exc.lineno}: expected valid Python, got a syntax error ({exc.msg}); fix that line"
        ) from None


def top_level_statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements that run on import: everything but the body of a main guard."""
    stack = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.If) and is_main_guard(node.test):
            stack = list(node.orelse) + stack
            continue
        yield node


def provided_names(module: str, provided: Mapping[str, tuple[str, ...]]) -> frozenset[str] | None:
    """What `from module import ...` may name when the task provides `module` or a package above one
    of its modules (its names and its child packages), else None."""
    names = set(provided.get(module, ()))
    prefix = module + "."
    names |= {name[len(prefix):].split(".")[0] for name in provided if name.startswith(prefix)}
    return frozenset(names) if module in provided or names else None


def check_imports(path: Path, tree: ast.Module, allowed: tuple[str, ...],
                  provided: Mapping[str, tuple[str, ...]] = {}) -> list[str]:
    """Allowed modules only, and from them only names on their allowlists (modules.py). A submodule
    with no allowlist (numpy.fft) is left to the run-time importer, which refuses it.

    An import outside the allowlist does not refuse a file by itself (published programs end with a
    wrapper's unused `from pathlib import Path`): at run time its names are bound to stand-ins that
    fail when touched. It refuses the file when the code reads a name it binds, since that would fail
    at run time. Returns one warning per import bound to a stand-in. The modules the task provides
    (`provided`, spec compat_modules) offer their names only."""
    loaded = loaded_names(tree)
    warnings = []
    for module, names, line, bound in import_bindings(tree):
        if module == "__future__":
            continue
        offered = provided_names(module, provided)
        if offered is not None:
            missing = [name for name in names if name not in offered]
            if missing:
                raise InvalidSubmission(
                    f"{path}:{line}: expected a name {module} provides ({', '.join(sorted(offered))}), got "
                    f"'{missing[0]}'; the task provides only those (see its README)")
            continue
        if module not in allowed and module.split(".")[0] not in allowed:
            if module.startswith("."):
                raise InvalidSubmission(f"{path}:{line}: relative import '{module}' is not available in the "
                                        f"sandbox; expected only {', '.join(allowed)}; remove it")
            used = sorted(set(bound) & set(loaded)) if "*" not in names else ["*"]
            if used:
                where = "a star import" if used == ["*"] else f"the code uses '{used[0]}' (line {loaded[used[0]]})"
                raise InvalidSubmission(
                    f"{path}:{line}: import of '{module}' is not allowed and {where}; expected only "
                    f"{', '.join(allowed)}; remove it (a main-guard block may import anything)"
                )
            warnings.append(f"{path}:{line}: import of '{module}' is not on the allowlist: it is bound to a "
                            f"stand-in that fails if anything touches it (unused here; better removed)")
            continue
        problem = refused_names(module, names) if module in ALLOWLISTS else None
        if problem:
            raise InvalidSubmission(f"{path}:{line}: {problem}")
    return warnings


def import_bindings(tree: ast.Module) -> Iterator[tuple[str, tuple[str, ...], int, tuple[str, ...]]]:
    """(module, names imported from it, line, names bound) for every import that can run: at any depth,
    outside main guards. `import M` imports no names from M; `import a.b` binds `a`."""
    for stmt in top_level_statements(tree):
        for node in ast.walk(stmt):
            if isinstance(node, ast.If) and is_main_guard(node.test):
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, (), node.lineno, ((alias.asname or alias.name.split(".")[0]),)
            elif isinstance(node, ast.ImportFrom):
                names = tuple(a.name for a in node.names)
                bound = tuple(a.asname or a.name for a in node.names)
                yield ("." * node.level) + (node.module or ""), names, node.lineno, bound


def loaded_names(tree: ast.Module) -> dict[str, int]:
    """Every name the code reads (outside main guards), with the first line that reads it."""
    found: dict[str, int] = {}
    for stmt in top_level_statements(tree):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
                found.setdefault(node.id, node.lineno)
    return found


def check_module_attributes(path: Path, tree: ast.Module, allowed: tuple[str, ...]) -> None:
    """`np.lib`, `math.nope`: an attribute of an allowlisted module that is not on its allowlist would
    fail at run time, so it is refused now (for names bound once, by `import M` or `import M as X`)."""
    modules: dict[str, str] = {}
    for module, names, _, bound in import_bindings(tree):
        if not names and module in allowed and module in ALLOWLISTS and "." not in module:
            modules[bound[0]] = module
    stores = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)]
    for name in set(stores) & set(modules):
        del modules[name]  # rebound somewhere: not surely the module
    for stmt in top_level_statements(tree):
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and not node.attr.startswith("__")):
                module = modules[node.value.id]
                names = ALLOWLISTS[module] | {child.rpartition(".")[2] for child in submodules(module)}
                if node.attr not in names:
                    close = difflib.get_close_matches(node.attr, sorted(names), n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise InvalidSubmission(
                        f"{path}:{node.lineno}: expected a name on {module}'s allowlist, got "
                        f"'{node.value.id}.{node.attr}', which the sandbox does not provide; {hint}"
                        f"see adrs_bench/sandbox/modules.py for the list")


# Builtins a submission cannot use (they reach files, the interpreter or the terminal). Caught here,
# before anything runs, unless the module defines a name of its own with that spelling.
UNAVAILABLE_BUILTINS = frozenset({"open", "exec", "eval", "compile", "globals", "locals", "vars", "input",
                                  "breakpoint", "memoryview", "help", "exit", "quit", "dir", "delattr"})


def bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def check_unavailable_builtins(path: Path, tree: ast.Module) -> None:
    bound = bound_names(tree)
    for stmt in top_level_statements(tree):
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                    and node.id in UNAVAILABLE_BUILTINS and node.id not in bound):
                raise InvalidSubmission(
                    f"{path}: expected code the sandbox accepts, got: Line {node.lineno}: '{node.id}' is not "
                    "available in the sandbox (no files, no dynamic code); remove it")


def check_policy(path: Path, source: str):
    code, errors = compile_submission(source, str(path))
    if errors:
        first = errors[0].replace("\n", " ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidSubmission(
            f"{path}: expected code the sandbox accepts, got: {first}{more}; "
            "dunder names, names the compiled code uses (_getattr_, _print, ...), open(), exec/eval and "
            "similar are not available"
        )
    return code


def positional_range(args: ast.arguments) -> tuple[int, float]:
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    return required, (float("inf") if args.vararg else positional)


def base_subclasses(tree: ast.Module, module: str, name: str) -> list[str]:
    """The top-level classes deriving from `module.name` (imported by `from module import name [as X]`,
    or reached as an attribute `X.name`), directly or through another such class, in file order."""
    bases = {bound for imported, names, _, binds in import_bindings(tree) if imported == module
             for got, bound in zip(names, binds) if got == name}
    found: list[str] = []
    for node in top_level_statements(tree):
        if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id in bases or isinstance(b, ast.Attribute) and b.attr == name
                for b in node.bases):
            bases.add(node.name)
            found.append(node.name)
    return found


def entry_subclass(path: Path, tree: ast.Module, spec: TaskSpec) -> str | None:
    """The one leaf class deriving from the interface's entry_base, or None when there is none."""
    iface = spec.interface
    if not iface.entry_base:
        return None
    found = base_subclasses(tree, iface.entry_base_module, iface.entry_base_name)
    parents = {b.id for node in top_level_statements(tree) if isinstance(node, ast.ClassDef)
               for b in node.bases if isinstance(b, ast.Name)}
    leaves = [name for name in found if name not in parents]
    if len(leaves) > 1:
        raise InvalidSubmission(
            f"{path}: expected one class deriving from {iface.entry_base_name} to be the {iface.entry_point}, "
            f"got {len(leaves)} ({', '.join(leaves)}); name the one to use {iface.entry_point}")
    return leaves[0] if leaves else None


def check_entry_point(path: Path, tree: ast.Module, spec: TaskSpec) -> str:
    """The entry point is defined as the interface says; returns what the harness will call."""
    iface = spec.interface
    wanted = len(iface.parameters)
    expected = f"{iface.entry_point}({', '.join(iface.parameters)})"
    defs = [s for s in top_level_statements(tree)
            if isinstance(s, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and s.name == iface.entry_point]
    subclass = None if defs else entry_subclass(path, tree, spec)
    if subclass:
        return f"{subclass} (deriving from {iface.entry_base_name})"
    if not defs:
        kind = "function" if iface.kind == "function" else "class"
        either = f" or a class deriving from {iface.entry_base_name}" if iface.entry_base else ""
        raise InvalidSubmission(
            f"{path}: expected a top-level {kind} {expected}{either}, got none; define it (run "
            f"`adrs-bench new {spec.name} FILE` for a starter)"
        )
    node = defs[-1]
    if iface.kind == "function":
        if not isinstance(node, ast.FunctionDef):
            raise InvalidSubmission(
                f"{path}:{node.lineno}: expected {iface.entry_point} to be a plain function {expected}, "
                f"got a {type(node).__name__}; make it a def"
            )
        low, high = positional_range(node.args)
        required_keywords = [a.arg for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is None]
        if required_keywords:
            raise InvalidSubmission(
                f"{path}:{node.lineno}: expected {expected}, got required keyword-only argument(s) "
                f"{', '.join(required_keywords)} the harness will not pass; give them defaults")
        if not low <= wanted <= high:
            got = ", ".join(a.arg for a in node.args.posonlyargs + node.args.args)
            raise InvalidSubmission(
                f"{path}:{node.lineno}: expected {expected} taking {wanted} positional arguments, "
                f"got {iface.entry_point}({got}); change the signature to {iface.signature}"
            )
    elif not isinstance(node, ast.ClassDef):
        raise InvalidSubmission(
            f"{path}:{node.lineno}: expected {iface.entry_point} to be a class, got a function; see {iface.signature}"
        )
    return expected


def check_submission(path: Path | str, spec: TaskSpec, source: str | None = None) -> CheckedSubmission:
    """Run every check in order; return the compiled submission or raise on the first failure.
    With `source`, that text is checked and `path` only names it (nothing is read)."""
    path = Path(path)
    data = check_exists(path) if source is None else source.encode("utf-8")
    source = check_text(path, data)
    tree = check_syntax(path, source)
    warnings = check_imports(path, tree, spec.allowed_imports, spec.compat_modules)
    check_module_attributes(path, tree, spec.allowed_imports)
    entry = check_entry_point(path, tree, spec)
    check_unavailable_builtins(path, tree)
    code = check_policy(path, source)
    return CheckedSubmission(path=path, source=source, sha256=hashlib.sha256(data).hexdigest(), code=code,
                             warnings=tuple(warnings), entry=entry)
