"""The package's import graph, read from the source: no cycles, the command line imported by
`python -m maskflow` alone, and the modules Snakemake reads at every start kept light.

An edge is an `import maskflow...` / `from maskflow... import ...` statement anywhere in a module
(in a function too: a lazy import is still a dependency a reader follows), except under
`if TYPE_CHECKING:` (annotations only). `"module:function"` strings of the registries are not
imports: they are resolved where the registry is used.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "workflow"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in (PACKAGE_ROOT / "maskflow").rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """The maskflow modules a source file imports (`from a import b`: a.b when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "maskflow"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "maskflow":
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return found


def import_graph(modules: dict[str, Path] = MODULES) -> dict[str, set[str]]:
    return {name: imports_of(path) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_search_finds_a_cycle():
    graph = import_graph()
    graph["maskflow.config"] = graph["maskflow.config"] | {"maskflow.layout"}  # layout imports config
    assert ["maskflow.config", "maskflow.figures.families", "maskflow.layout"] in cycles(graph)


def test_only_main_imports_the_command_line():
    importers = sorted(name for name, imported in import_graph().items() if "maskflow.cli" in imported)
    assert importers == ["maskflow.__main__"]


@pytest.mark.parametrize(
    "module, not_imported",
    [
        # read by Snakemake at every start (workflow/rules/common.smk)
        ("maskflow.layout", {"maskflow.cli", "maskflow.figures.command", "torch", "pandas", "matplotlib"}),
        ("maskflow.runtime.snakemake_patches", {"maskflow.cli", "pandas", "torch"}),
        # a NumPy model's train job: the command, its outputs, the NumPy trainer
        ("maskflow.training.command", {"maskflow.cli", "torch", "pandas"}),
        ("maskflow.training.outputs", {"torch", "pandas"}),
        ("maskflow.training.numpy_mlp", {"torch", "pandas", "maskflow.training.torch_trainer"}),
    ],
)
def test_light_modules_stay_light(module, not_imported):
    code = f"import sys, {module}; print(sorted(set(sys.modules) & set({sorted(not_imported)!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_figure_families_import_nothing_above_them():
    """Names and drawn_for rules only: the config's splits, the error types, the annotation formats."""
    assert imports_of(MODULES["maskflow.figures.families"]) <= {
        "maskflow.config",
        "maskflow.errors",
        "maskflow.annotations",
    }


def test_the_model_registry_names_trainers_the_command_knows_without_pointing_into_training():
    from maskflow.models import REGISTRY
    from maskflow.training.command import TRAINERS

    assert not any(name.startswith("maskflow.training") for name in imports_of(MODULES["maskflow.models"]))
    tree = ast.parse(MODULES["maskflow.models"].read_text(encoding="utf-8"))
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert not [s for s in strings if s.startswith("maskflow.training")]  # no "module:function" into training
    assert {kind.trainer or "torch" for kind in REGISTRY.values()} <= set(TRAINERS)


def test_the_report_shows_comparison_group_columns_in_their_order():
    from maskflow.compare.table import GROUP_COLUMNS
    from maskflow.report.build import GROUP_LABELS

    assert list(GROUP_LABELS) == [column for column in GROUP_COLUMNS if column in GROUP_LABELS]
