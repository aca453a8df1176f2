"""The package's shape: each module one job with a docstring, no import cycle, a lazy package namespace
(the sandboxed child imports the journal alone), and every module counted in the serving tasks' hash."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import adrs_bench.serving as serving
from adrs_bench.evaluator_hash import evaluator_paths
from adrs_bench.registry import get_task

PACKAGE = Path(serving.__file__).resolve().parent
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py"))


def imports_within_the_package(name: str) -> set[str]:
    """The package's modules that `name` imports at run time (TYPE_CHECKING blocks left out)."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("adrs_bench.serving"):
            if node.module == "adrs_bench.serving":
                found.update(alias.name for alias in node.names if alias.name in MODULES)
            else:
                found.add(node.module.rpartition(".")[2])
        elif isinstance(node, ast.Import):
            found.update(alias.name.rpartition(".")[2] for alias in node.names
                         if alias.name.startswith("adrs_bench.serving."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_import_cycle():
    graph = {name: imports_within_the_package(name) for name in MODULES if name != "__init__"}
    order: list[str] = []
    state: dict[str, str] = {}

    def walk(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {' -> '.join(path + [name])}"
        state[name] = "open"
        for other in sorted(graph[name]):
            walk(other, path + [name])
        state[name] = "done"
        order.append(name)

    for name in graph:
        walk(name, [])
    assert graph["journal"] == set() and graph["errors"] == set() and graph["events"] == set()
    assert graph["request"] == set() and graph["workload"] == set()


def test_modules_import_each_other_not_the_package():
    # The package namespace is lazy; inside the package, modules name the module they take from.
    for name in MODULES:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "adrs_bench.serving":
                assert all(alias.name in MODULES for alias in node.names), (name, ast.unparse(node))


@pytest.mark.parametrize("name", MODULES)
def test_every_module_says_why_in_a_docstring(name):
    docstring = ast.get_docstring(ast.parse((PACKAGE / f"{name}.py").read_text()))
    assert docstring and len(docstring) > 80, name


def test_the_package_docstring_lists_every_module():
    listed = {line.split()[1].strip("`") for line in serving.__doc__.splitlines() if line.startswith("- `")}
    assert listed == set(MODULES) - {"__init__"}


def test_public_names_load_their_module_on_first_use():
    code = ("import sys; import adrs_bench.serving as s; before = sorted(m for m in sys.modules if m.startswith("
            "'adrs_bench.serving.')); from adrs_bench.serving import journal; s.Simulator; "
            "print(before, 'adrs_bench.serving.cluster' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"
    for name in serving.__all__:
        assert getattr(serving, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'Replica'"):
        serving.Replica  # noqa: B018 (not public)


@pytest.mark.parametrize("task", ["llm_routing", "autoscaling"])
def test_every_module_counts_towards_the_serving_tasks_evaluator_hash(task):
    files = {path.resolve() for label, path in evaluator_paths(get_task(task).spec) if label.startswith("adrs_bench/")}
    assert files == {PACKAGE / f"{name}.py" for name in MODULES}
