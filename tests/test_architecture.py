"""The package's shape: no import cycles, layers that only import downward, a README that maps it.

Imports are read from the source (every ``import``, at module level or inside a function; those
under ``if TYPE_CHECKING:`` are left out, as they never run), so a deferred import cannot hide a
cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cxr_lib"
README = PACKAGE.parent / "README.md"

#: Layers from the bottom up; a module imports only from its own layer or the ones below.
LAYERS = {
    "cxr_lib.errors": 0, "cxr_lib.storage": 0, "cxr_lib.progress": 0, "cxr_lib": 0,
    "cxr_lib.data": 1, "cxr_lib.languages": 1, "cxr_lib.models": 2, "cxr_lib.analysis": 3, "cxr_lib.study": 4, "cxr_lib.training": 4,
    "cxr_lib.app": 5, "cxr_lib.tooling": 5, "cxr_lib.cli": 6, "cxr_lib.__main__": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The layer of ``module``: that of its longest listed prefix."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str) -> set[str]:
    """The package's own modules that ``module`` imports (at run time)."""
    tree = ast.parse(MODULES[module].read_text())
    skipped = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from cxr_lib.models import vlm`` imports the submodule cxr_lib.models.vlm
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES and name != module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_reader_sees_deferred_imports() -> None:
    # cli imports nearly everything, most of it inside its command functions
    assert {"cxr_lib.tooling.book", "cxr_lib.app.ui"} <= GRAPH["cxr_lib.cli"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    upward = sorted(target for target in GRAPH[module] if layer(target) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports from a higher layer: {upward}"


def test_readme_module_table_matches_the_package() -> None:
    """Every module has a row; a row names a module, or (with ``*``) a folder of alike modules such as
    one per language."""
    from fnmatch import fnmatch

    text = README.read_text()
    listed = set(re.findall(r"^\| `(cxr_lib/[\w/*]+\.py)` \|", text, flags=re.M))
    present = {p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py")
               if p.name not in {"__init__.py", "__main__.py"}}
    missing = {path for path in present if not any(fnmatch(path, row) for row in listed)}
    stale = {row for row in listed if not any(fnmatch(path, row) for path in present)}
    assert listed, "the README has no module table (rows like | `cxr_lib/data/datasets.py` | ... |)"
    assert not missing, f"modules missing from the README's table: {sorted(missing)}"
    assert not stale, f"the README's table names modules that do not exist: {sorted(stale)}"


def test_importing_every_module_loads_no_heavy_library() -> None:
    import subprocess
    import sys

    heavy = ("torch", "transformers", "timm", "gradio", "medmnist", "scipy", "matplotlib", "PIL")
    names = [m for m in MODULES if not m.endswith("__main__")]
    code = (f"import importlib, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              cwd=PACKAGE.parent)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == "", f"importing cxr_lib loads {finished.stdout.strip()}"


def test_docs_name_only_modules_that_exist() -> None:
    root = PACKAGE.parent
    pages = [root / "README.md", root / "CONVENTIONS.md", *sorted((root / "book").glob("*.md"))]
    stale = []
    for page in pages:
        text = page.read_text()
        for path in re.findall(r"cxr_lib/[\w/]+\.py", text):
            if not (root / path).is_file():
                stale.append(f"{page.name}: {path}")
        for dotted in re.findall(r"cxr_lib(?:\.\w+)+", text):
            parts = dotted.split(".")
            known = next((k for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in MODULES), 0)
            # a package's __init__ only describes it: what follows a package name must be one of its modules
            if not known or (known < len(parts) and MODULES[".".join(parts[:known])].name == "__init__.py"):
                stale.append(f"{page.name}: {dotted}")
    assert not stale, f"docs name modules that do not exist: {stale}"
