"""No module of the project imports another that imports it back, not even lazily.

Read from the source (nothing is imported): every `import` and `from … import` anywhere
in a module — at the top, inside a function, under `if TYPE_CHECKING:` — is an edge to
the project module it names. A group of modules that reach each other through those
edges is a circle; a package and its own submodules do not count as one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every top-level package of the project except the tests themselves.
PACKAGES = sorted(
    path.name
    for path in ROOT.iterdir()
    if (path / "__init__.py").is_file() and path.name != "tests"
)


def project_modules() -> dict[str, Path]:
    """Return every module of the project's packages by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """Return the project modules that `module` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports pkg.mod; `from pkg import name` imports pkg.
            names += [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        # A package and its own submodules import each other by nature.
        family = name == module or name.startswith(f"{module}.") or module.startswith(f"{name}.")
        if name and not family:
            found.add(name)
    return found


def circles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Yield each group of two or more modules that import each other (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> Iterator[list[str]]:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                yield from visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                yield sorted(group)

    for module in sorted(graph):
        if module not in index:
            yield from visit(module)


def test_lazy_relative_and_type_checking_imports_count(tmp_path):
    source = tmp_path / "jobs.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import progress\n"
        "if TYPE_CHECKING:\n"
        "    from bot.runtime import Runtime\n"
        "def relay():\n"
        "    from actors.context import current_runtime\n"
        "    import store.models\n",
        encoding="utf-8",
    )
    known = {"actors", "actors.progress", "actors.context", "bot.runtime", "store", "store.models"}
    assert imported_modules("actors.jobs", source, known) == {
        "actors.progress",
        "actors.context",
        "bot.runtime",
        "store.models",
    }


def test_a_circle_is_every_module_of_it_once():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set(), "f": {"g"}, "g": {"f"}}
    assert list(circles(graph)) == [["a", "b", "c"], ["f", "g"]]


def test_no_module_imports_another_that_imports_it_back():
    modules = project_modules()
    known = set(modules)
    graph = {module: imported_modules(module, path, known) for module, path in modules.items()}
    found = "\n".join(" ↔ ".join(group) for group in circles(graph))
    assert not found, f"import circles (move what both need down a layer):\n{found}"
