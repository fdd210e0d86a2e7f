"""The package's layers, read from its source: no import cycles, and the core reaches its optional
features only through their two entry points.

Every import counts, wherever it stands (module level, inside a function, under
``TYPE_CHECKING``), and so does ``importlib.import_module("...")`` with a literal name: a lazy
import is still a dependency. Importing ``a.b`` counts as depending on ``a.b`` (not on ``a``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import yoi_worker_runtime

PACKAGE = "yoi_worker_runtime"
ROOT = Path(yoi_worker_runtime.__file__).parent
#: The optional features, and the only modules of the core that may import them (when called).
OPTIONAL = {
    f"{PACKAGE}.store_backed": {f"{PACKAGE}.stores"},
    f"{PACKAGE}.http_server": {PACKAGE},
}


def module_names() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = module_names()


def own_module(name: str) -> str | None:
    """The package module ``name`` refers to (a name imported from a module: that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            named.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            named.add(str(node.args[0].value))
    targets = {own_module(name) for name in named if name.split(".")[0] == PACKAGE}
    return {target for target in targets if target is not None and target != module}


GRAPH = {module: imports_of(module, path) for module, path in MODULES.items()}


def cycles() -> list[list[str]]:
    """Every elementary cycle, each found once (from its smallest module)."""
    found: list[list[str]] = []

    def walk(start: str, path: list[str]) -> None:
        for target in sorted(GRAPH[path[-1]]):
            if target == start:
                found.append(path)
            elif target > start and target not in path:
                walk(start, [*path, target])

    for module in sorted(GRAPH):
        walk(module, [module])
    return found


def test_the_graph_sees_the_package() -> None:
    assert f"{PACKAGE}.runtime" in GRAPH[f"{PACKAGE}.stores"]
    assert f"{PACKAGE}.store_backed" in GRAPH[f"{PACKAGE}.stores"]  # an import in a function
    assert f"{PACKAGE}.http_server.routes" in GRAPH[f"{PACKAGE}.http_server.openapi"]


def test_no_module_imports_itself_back() -> None:
    assert cycles() == []


def test_the_core_reaches_the_optional_features_only_through_their_entry_points() -> None:
    for feature, entry_points in OPTIONAL.items():
        inside = {module for module in GRAPH if f"{module}.".startswith(f"{feature}.")}
        users = {
            module for module, targets in GRAPH.items() if module not in inside and targets & inside
        }
        assert users <= entry_points, feature
