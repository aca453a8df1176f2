"""The text `adrs-bench new TASK FILE` writes: the task's example, pointed at FILE.

The convention: every task's example (spec.json `example`, e.g. tasks/*/example.py) has a module
docstring holding exactly one line of its own (not the line of either triple quote) that begins, after
its indentation, with `Try it:`. A starter is the example with that line, and nothing else, replaced by
`Try it:  adrs-bench run TASK FILE` (same indentation, FILE as the user typed it), so the first command
a newcomer reads runs the file they just wrote, not the example's own path. An example without that line (or with several) is a bug in the task: StarterTemplateError,
caught by tests/core/test_starters.py before any user meets it.
"""
from __future__ import annotations

import ast
import shlex
from pathlib import Path

from .errors import StarterTemplateError
from .spec import TaskSpec

TRY_IT = "Try it:"


def try_it_line(task: str, file: Path) -> str:
    """The command to run FILE, as the user typed the path (quoted only where a shell needs it)."""
    return f"{TRY_IT}  adrs-bench run {task} {shlex.quote(str(file))}"


def docstring_lines(source: str) -> range:
    """0-based indices of the lines strictly inside the module docstring, between the lines holding its
    quotes (empty when there is none): only documentation is ever rewritten, never code that happens to
    hold the words, and never a line whose quotes would go with it."""
    body = ast.parse(source).body
    first = body[0] if body else None
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return range(first.lineno, first.end_lineno - 1)
    return range(0)


def starter_text(spec: TaskSpec, file: Path) -> str:
    """The task's example with its Try-it line naming `file`; raises StarterTemplateError when the example
    does not hold exactly one such line in its docstring."""
    example = spec.path(spec.example)
    source = example.read_text()
    lines = source.splitlines(keepends=True)
    found = [i for i in docstring_lines(source) if lines[i].lstrip().startswith(TRY_IT)]
    if len(found) != 1:
        raise StarterTemplateError(
            f"{example}: expected one line beginning '{TRY_IT}' in the example's docstring, got {len(found)}; "
            f"give it exactly one (the convention is in adrs_bench/starter.py)")
    (index,) = found
    line = lines[index]
    indent = line[:len(line) - len(line.lstrip())]
    ending = line[len(line.rstrip("\r\n")):]
    lines[index] = indent + try_it_line(spec.name, file) + ending
    return "".join(lines)
