"""The restricted compiler: RestrictedPython's policy plus the changes published programs need.

1. `if __name__ == "__main__":` blocks are removed before compilation (they import os, sys and an
   evaluator module in published programs; they must simply not run).
2. Augmented assignment to items and attributes (`w[i] += x`, `self.n += 1`) is allowed: it is
   rewritten to a call of `_inplace_setitem_` / `_inplace_setattr_`, which reads through the same
   `_getitem_`/`_getattr_` guards and writes through the same `_write_` guard as plain code.
3. Classes may define the usual data-model methods (`__repr__`, `__hash__`, `__post_init__`, ...).
4. Annotated assignments are allowed (published programs define `@dataclass class Model` with
   typed fields); their targets and values go through the same guards.
5. Names with one leading underscore (`_helper`, `self._stats`, `_LIMIT`) are allowed: published
   programs keep private helpers and state. Dunders stay refused, and so do the names the compiled code
   itself uses (`_getattr_` and every name ending in `_`, `_print`, `_call_print`, `_tmp0`...). Reading
   or writing such an attribute goes through `_getattr_` / `_write_private_`, which allow it only on the
   submission's own objects (guards.py).
6. `super().__init__(...)` is allowed (published classes call their base's constructor): it reads through
   `_super_init_`, which hands out the `__init__` of a real super object only.
"""
from __future__ import annotations

import ast
import re

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.transformer import IOPERATOR_TO_STR

# Dunder methods a class in a submission may define (RestrictedPython alone allows __init__ and
# the comparisons). Never the ones that change attribute lookup or pickling.
ALLOWED_DUNDER_METHODS = frozenset({
    "__init__", "__post_init__", "__repr__", "__str__", "__hash__", "__len__", "__iter__",
    "__contains__", "__getitem__", "__setitem__", "__bool__", "__lt__", "__le__", "__eq__",
    "__ne__", "__gt__", "__ge__", "__add__", "__sub__", "__mul__", "__truediv__",
})

# Names RestrictedPython's generated code binds or reads that do not end in "_" (print's helpers, the
# temporaries of protected unpacking): a submission may not define or read them.
GENERATED_NAMES = re.compile(r"_print|_call_print|_tmp\d*")


def is_private_name(name: object) -> bool:
    """One leading underscore, not a dunder, not a name the compiled code uses: a name a submission may
    give its own functions, classes, variables and attributes."""
    return (type(name) is str and len(name) > 1 and name[0] == "_" and name[1] != "_"
            and not name.endswith("_") and GENERATED_NAMES.fullmatch(name) is None)


def is_main_guard(test: ast.expr) -> bool:
    """True for `__name__ == "__main__"` (either operand order)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def slice_as_expression(node: ast.expr) -> ast.expr:
    """`a[1:3]`'s slice is only valid inside a subscript; as a call argument it must be `slice(...)`."""
    if isinstance(node, ast.Slice):
        parts = [part if part is not None else ast.Constant(None) for part in (node.lower, node.upper, node.step)]
        return ast.Call(func=ast.Name("slice", ast.Load()), args=parts, keywords=[])
    if isinstance(node, ast.Tuple):
        return ast.Tuple(elts=[slice_as_expression(e) for e in node.elts], ctx=ast.Load())
    return node


def is_super_init(node: ast.Attribute) -> bool:
    """`super().__init__` read (zero-argument super only): the one dunder published classes need."""
    value = node.value
    return (node.attr == "__init__" and isinstance(node.ctx, ast.Load) and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name) and value.func.id == "super" and not value.args
            and not value.keywords)


class SubmissionPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer with the changes listed in the module docstring."""

    def visit_If(self, node: ast.If):
        if is_main_guard(node.test):
            if node.orelse:
                # `else:` of a main guard runs on import: keep it, checked like any code.
                return [self.visit(stmt) for stmt in node.orelse]
            return ast.copy_location(ast.Pass(), node)
        return self.node_contents_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign):
        """Annotated assignments (dataclass fields, `x: int = 0`) are checked like plain ones."""
        return self.node_contents_visit(node)

    def check_name(self, node, name, allow_magic_methods=False):
        if allow_magic_methods and name in ALLOWED_DUNDER_METHODS and node.col_offset != 0:
            return
        if is_private_name(name):
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_Attribute(self, node: ast.Attribute):
        """`obj._x` reads through `_getattr_` and writes through `_write_private_` (own objects only);
        `super().__init__` reads through `_super_init_`, which takes a real super object only."""
        if is_super_init(node):
            call = ast.Call(func=ast.Name("_super_init_", ast.Load()), args=[self.visit(node.value)], keywords=[])
            ast.copy_location(call, node)
            return ast.fix_missing_locations(call)
        if not is_private_name(node.attr):
            return super().visit_Attribute(node)
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            call = ast.Call(func=ast.Name("_getattr_", ast.Load()), args=[node.value, ast.Constant(node.attr)],
                            keywords=[])
            ast.copy_location(call, node)
            return ast.fix_missing_locations(call)
        guard = ast.Call(func=ast.Name("_write_private_", ast.Load()), args=[node.value], keywords=[])
        ast.copy_location(guard, node.value)
        node.value = ast.fix_missing_locations(guard)
        return node

    def visit_AugAssign(self, node: ast.AugAssign):
        target = node.target
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return super().visit_AugAssign(node)
        operator = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        value = self.visit(node.value)
        if isinstance(target, ast.Attribute):
            if target.attr.startswith("_") and not is_private_name(target.attr):
                self.error(node, f'"{target.attr}" is an invalid attribute name because it starts with "_".')
                return node
            call = ast.Call(
                func=ast.Name("_inplace_setattr_", ast.Load()),
                args=[self.visit(target.value), ast.Constant(target.attr), operator, value],
                keywords=[],
            )
        else:
            key = slice_as_expression(self.visit(target.slice))
            call = ast.Call(
                func=ast.Name("_inplace_setitem_", ast.Load()),
                args=[self.visit(target.value), key, operator, value],
                keywords=[],
            )
        new = ast.Expr(call)
        ast.copy_location(new, node)
        ast.fix_missing_locations(new)
        return new


def compile_submission(source: str, filename: str):
    """Compile under the policy. Returns (code or None, errors as a tuple of strings).

    Like RestrictedPython's compile_restricted_exec, but with `dont_inherit=True`: the caller's
    `from __future__ import annotations` must not leak into the submission (it would turn a
    dataclass's annotations into strings and change the program's meaning)."""
    try:
        tree = ast.parse(source, filename, "exec")
    except SyntaxError as exc:
        return None, (f"Line {exc.lineno}: {type(exc).__name__}: {exc.msg}",)
    errors: list[str] = []
    SubmissionPolicy(errors, [], {}).visit(tree)
    if errors:
        return None, tuple(errors)
    return compile(tree, filename, "exec", dont_inherit=True), ()
