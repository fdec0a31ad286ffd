"""The layer picture of ARCHITECTURE.md, checked on the code: an app imports only the
apps below it (the ``layers`` contract in pyproject.toml, run by import-linter), and no
modules of two different apps import each other in a circle. Imports written inside
functions count as much as those at the top of a module."""

from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "core",
    "audit",
    "accounts",
    "tenants",
    "billing",
    "provisioning",
    "resale",
    "support",
    "api",
    "portals",
    "config",
)


def test_apps_import_only_the_layers_below_them(capsys):
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert code == 0, report


def _circles(graph: grimp.ImportGraph) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle_between_modules_of_different_apps():
    graph = grimp.build_graph(*APPS, cache_dir=None)
    across = [
        sorted(group) for group in _circles(graph) if len({m.split(".")[0] for m in group}) > 1
    ]
    assert not across, f"modules of different apps import each other in a circle: {across}"
