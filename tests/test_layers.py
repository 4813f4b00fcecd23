"""The package's import structure, read from the source with ``ast`` (nothing is imported).

Every ``import aegan...`` and ``from aegan... import ...`` under aegan/ is an edge
from the importing module to the imported one, including imports inside
functions and imports under ``if TYPE_CHECKING:`` (an annotation that names a
module above is a dependency on it too). ``from aegan.pkg import mod`` is an edge to aegan/pkg/mod.py when that
file exists, otherwise to aegan/pkg/__init__.py (an import of names from the
package's ``__init__``).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aegan"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "paths", "progress", "score_names", "allocator", "byte_sizes"),
    ("dcase",),
    ("config",),
    ("features",),
    ("model",),
    ("bundles",),
    ("detector",),
    ("calibration", "export", "plots"),
    ("owndata",),
    ("training", "hub", "results", "synth"),
    ("monitor", "fleet"),
    ("serve",),
    ("demo",),
    ("cli", "__main__", "__init__"),
)
"""Who may import whom, lowest first: a module imports its own layer or lower ones only.

Names are relative to ``aegan``: a top-level module (``errors``), a package
(``model``, meaning everything in it) or one module of a package
(``hub.download``, to place it apart from its package); the longest name that
matches a module decides its layer.

- ``dcase`` (DCASE file names, ground truth, metrics) is below ``config``:
  the config schema knows machine types from ``dcase.clips``.
- ``model`` holds the networks and their arithmetic; ``bundles`` stores them;
  ``detector`` is the scoring API built on both; ``calibration`` and
  ``export`` turn networks into a ``Detector`` and a ``Detector`` into ONNX.
- ``plots`` (every picture, the one matplotlib user) draws what ``detector``
  returns (maps, timelines) for ``training`` and ``results``.
- ``owndata`` (a plain folder of recordings: its layout, its config, its
  inputs) is what ``training`` and ``results`` use for a machine of your own.
- ``monitor`` and ``fleet`` use the library as any Python user would;
  ``serve`` runs ``monitor``'s sources; nothing below them knows they exist.
- ``cli`` is the top: nothing below it imports it. ``__main__`` (``python -m
  aegan``) and ``__init__`` (the package face, ``from aegan import
  Detector``) sit beside it.
"""

LONG_MODULE = 400
"""Past this many lines a module is worth a second look: is it still one topic?"""
ENTRY_POINT = "aegan.__main__"  # `python -m aegan`: runs the CLI's main from aegan/cli/__init__.py


# ---------------------------------------------------------------- reading the imports


@dataclass(frozen=True)
class Edge:
    """One import of an aegan module by another."""

    source: str  # dotted module name, e.g. aegan.detector.detector
    path: Path
    line: int
    target: str  # the module the import resolves to
    statement: str  # the import as written
    names_from_init: bool  # names taken from a package's __init__ (or the package face)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def describe(self) -> str:
        return f"{self.where} `{self.statement}`"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module under aegan/, by dotted name ('aegan' is aegan/__init__.py)."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return name in modules() and modules()[name].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth; `if TYPE_CHECKING:` bodies skipped."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def every_import(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, ``if TYPE_CHECKING:`` bodies included."""
    return (node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom))


def _absolute(node: ast.ImportFrom, source: str, path: Path) -> str:
    if not node.level:
        return node.module or ""
    package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def edges_of(path: Path, text: str | None = None) -> Iterator[Edge]:
    """The aegan imports of the module at ``path`` (of ``text`` when given)."""
    source = module_name(path)
    text = path.read_text(encoding="utf-8") if text is None else text
    for node in every_import(ast.parse(text, filename=str(path))):
        statement = ast.unparse(node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "aegan" or alias.name.startswith("aegan."):
                    target = alias.name
                    yield Edge(source, path, node.lineno, target, statement, is_package(target))
            continue
        base = _absolute(node, source, path)
        if base != "aegan" and not base.startswith("aegan."):
            continue
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in modules():
                yield Edge(source, path, node.lineno, submodule, statement, False)
            else:
                yield Edge(source, path, node.lineno, base, statement, is_package(base))


@cache
def all_edges() -> tuple[Edge, ...]:
    return tuple(edge for path in modules().values() for edge in edges_of(path))


def layer_entry(name: str) -> str | None:
    """The LAYERS name that decides a module's layer (the longest that matches)."""
    relative = "__init__" if name == "aegan" else name.removeprefix("aegan.")
    matches = [
        entry
        for layer in LAYERS
        for entry in layer
        if relative == entry or relative.startswith(entry + ".")
    ]
    return max(matches, key=len) if matches else None


def layer_of(name: str) -> int | None:
    entry = layer_entry(name)
    return None if entry is None else next(i for i, lay in enumerate(LAYERS) if entry in lay)


def layer_table() -> str:
    return " < ".join("[" + ", ".join(layer) + "]" for layer in LAYERS)


# ---------------------------------------------------------------- the reader itself


def test_the_reader_resolves_imports_as_python_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks the checker: submodules, names from __init__, relative imports, TYPE_CHECKING."""
    code = """
from typing import TYPE_CHECKING
import numpy as np
from aegan.training import runs
from aegan.dcase.clips import Clip
from . import nets
from .registry import bundle_path
if TYPE_CHECKING:
    from aegan.cli import app
def later():
    from aegan import __version__
    import aegan.dcase.clips
    from aegan.training import Trainer
"""
    path = PACKAGE / "model" / "example.py"
    found = [(e.line, e.target, e.names_from_init) for e in edges_of(path, code)]
    assert sorted(found) == [
        (4, "aegan.training.runs", False),
        (5, "aegan.dcase.clips", False),
        (6, "aegan.model.nets", False),
        (7, "aegan.model.registry", False),
        (9, "aegan.cli", True),
        (11, "aegan", True),
        (12, "aegan.dcase.clips", False),
        (13, "aegan.training", True),
    ]
    assert module_name(path) == "aegan.model.example"
    assert module_name(PACKAGE / "__init__.py") == "aegan"
    assert layer_entry("aegan.hub.fetch") == "hub"
    monkeypatch.setitem(globals(), "LAYERS", (("hub.download",), ("hub",)))
    assert (layer_of("aegan.hub.download"), layer_of("aegan.hub.fetch")) == (0, 1)
    monkeypatch.undo()
    assert layer_of("aegan.cli.common") == len(LAYERS) - 1
    assert layer_of("aegan") == len(LAYERS) - 1


def test_every_aegan_import_names_an_existing_module() -> None:
    missing = [
        f"{edge.describe()}: there is no {edge.target.replace('.', '/')}.py "
        f"(nor {edge.target.replace('.', '/')}/__init__.py)"
        for edge in all_edges()
        if edge.target not in modules()
    ]
    assert not missing, "Imports of modules that do not exist (moved or renamed?):\n" + "\n".join(
        missing
    )


# ---------------------------------------------------------------- the rules


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle [a, b, ..., a] in ``graph``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        iterators = [iter(sorted(graph[start]))]
        state[start] = 1
        while iterators:
            nxt = next(iterators[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iterators.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_find_cycle_finds_one_and_only_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    cycle = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for edge in all_edges():
        if edge.target in modules() and edge.target != edge.source:
            graph[edge.source].add(edge.target)
    reports = []
    while (cycle := find_cycle(graph)) is not None:
        steps = []
        for a, b in pairwise(cycle):
            edge = next(e for e in all_edges() if e.source == a and e.target == b)
            steps.append(f"  {a} -> {b}   ({edge.describe()})")
        reports.append("\n".join(steps))
        graph[cycle[-2]].discard(cycle[-1])  # to find the next cycle, if any
    assert not reports, (
        "Import cycles (an import inside a function hides a cycle, it does not break it):\n"
        + "\n\n".join(reports)
        + "\nBreak each by moving the shared code down into a module both can import."
    )


def test_no_module_imports_the_package_face() -> None:
    offending = [
        f"{edge.describe()} imports aegan/__init__.py"
        for edge in all_edges()
        if edge.target == "aegan"
    ]
    assert not offending, (
        "aegan/__init__.py is the face for users (`from aegan import Detector`); "
        "code inside aegan must import the module that defines a name "
        "(e.g. importlib.metadata.version('aegan') instead of aegan.__version__):\n"
        + "\n".join(offending)
    )


def test_no_module_takes_names_from_a_subpackage_init() -> None:
    offending = [
        f"{edge.describe()} takes names from {edge.target.replace('.', '/')}/__init__.py"
        for edge in all_edges()
        if edge.names_from_init
        and edge.target != "aegan"  # the face has its own test
        and edge.source != ENTRY_POINT
    ]
    assert not offending, (
        "Import names from the module that defines them, not from a package's __init__:\n"
        + "\n".join(offending)
    )


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(
        f"{path.relative_to(ROOT)}" for name, path in modules().items() if layer_of(name) is None
    )
    assert not unplaced, (
        f"Modules outside the layer table {layer_table()}; add their package or name to "
        "LAYERS in tests/test_layers.py:\n" + "\n".join(unplaced)
    )


def test_imports_point_down_the_layers() -> None:
    upward = []
    for edge in all_edges():
        source, target = layer_of(edge.source), layer_of(edge.target)
        if source is None or target is None or target <= source:
            continue
        upward.append(
            f"{edge.describe()}: {layer_entry(edge.source)} (layer {source}) imports "
            f"{edge.target} ({layer_entry(edge.target)}, layer {target})"
        )
    assert not upward, (
        f"Imports that point up the layers {layer_table()}; move the needed code down "
        "(or, if the table is wrong, change LAYERS in tests/test_layers.py with a reason):\n"
        + "\n".join(upward)
    )


def test_only_the_cli_imports_the_cli() -> None:
    offending = [
        f"{edge.describe()} imports {edge.target}"
        for edge in all_edges()
        if (edge.target == "aegan.cli" or edge.target.startswith("aegan.cli."))
        and not (edge.source == "aegan.cli" or edge.source.startswith("aegan.cli."))
        and edge.source != ENTRY_POINT
    ]
    assert not offending, (
        "Only aegan/cli (and the entry point aegan/__main__.py) may import aegan.cli; "
        "the library must work without the command line:\n" + "\n".join(offending)
    )


def line_counts() -> dict[Path, int]:
    return {
        path.relative_to(ROOT): len(path.read_text(encoding="utf-8").splitlines())
        for path in modules().values()
    }


def test_long_modules_are_flagged_not_split() -> None:
    """Length is a warning sign, not a rule: a long module is named for a second look."""
    long = sorted(((n, p) for p, n in line_counts().items() if n > LONG_MODULE), reverse=True)
    for n, path in long:
        warnings.warn(f"{path} has {n} lines: is it still one topic?", stacklevel=1)


def matplotlib_importers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in runtime_imports(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""] * (node.level == 0)
            )
            if any(n == "matplotlib" or n.startswith("matplotlib.") for n in names):
                found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_matplotlib_is_imported_by_aegan_plots_only() -> None:
    found = matplotlib_importers()
    listing = "\n".join(f"  {name}: {', '.join(lines)}" for name, lines in sorted(found.items()))
    assert len(found) <= 1, (
        "matplotlib is imported by several modules; draw every picture in aegan/plots.py:\n"
        + listing
    )
    assert set(found) <= {"aegan.plots"}, (
        "matplotlib belongs in aegan/plots.py, the one drawing module:\n" + listing
    )
