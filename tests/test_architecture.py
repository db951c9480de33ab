"""The package's import graph: no circles, nothing imports upward, nothing uses a deprecated path.

Every ``import`` counts, at module level or inside a function (fervid imports heavy modules
lazily, but a lazy import is still a dependency). Layers, lowest first (docs/ARCHITECTURE.md):

    base (errors, classes, writes, machine, htmlpage) < hub < models, data < checkpoint
    < inference < rundir < results < train < the CLI and the package root

``rundir`` (the run directory's layout, lock, folds.json words, integrity) stands on the base
alone, so that training and results can share it.
"""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fervid"
BASE = {"errors", "classes", "writes", "machine", "htmlpage"}
MAY_IMPORT = {  # unit -> the units it may import (besides itself)
    "base": set(),
    "hub": {"base"},
    "models": {"base", "hub"},
    "data": {"base", "hub"},
    "checkpoint": {"base", "hub", "models"},
    "inference": {"base", "hub", "models", "data", "checkpoint"},
    "rundir": {"base"},
    "results": {"base", "hub", "models", "data", "checkpoint", "inference", "rundir"},
    "train": {"base", "hub", "models", "data", "checkpoint", "inference", "rundir", "results"},
}
DEPRECATED = ("fervid.engine", "fervid.models.hub")  # aliases kept for one release (fervid._moved)


def modules() -> dict[str, Path]:
    out = {}
    for f in SRC.rglob("*.py"):
        parts = f.relative_to(SRC.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def imported(name: str, path: Path, known: dict) -> set[str]:
    """The fervid modules ``name`` imports (the longest known module of each imported name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            candidates = [f"{base}.{a.name}" for a in node.names] or [base]
        else:
            continue
        for c in candidates:
            while c and c not in known:
                c = c.rpartition(".")[0]
            if c and c != name:
                found.add(c)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def unit(module: str) -> str | None:
    """The layer of a module, ``None`` for the top (CLI, package root, deprecated aliases)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in {"cli", "__main__", "_moved", "engine"}:
        return None
    return "base" if parts[1] in BASE else parts[1]


def test_no_import_circles():
    g = graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_nothing_imports_upward():
    wrong = [
        f"{m} ({unit(m)}) imports {t} ({unit(t)})"
        for m, targets in sorted(graph().items())
        for t in sorted(targets)
        if unit(m) is not None and (unit(t) is None or (unit(t) != unit(m) and unit(t) not in MAY_IMPORT[unit(m)]))
    ]
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


def test_every_unit_is_known():
    assert {unit(m) for m in modules()} - {None} <= set(MAY_IMPORT), "a new package needs its place in MAY_IMPORT"


def test_no_module_uses_a_deprecated_path():
    users = [
        f"{m} imports {t}"
        for m, targets in graph().items()
        for t in targets
        if t.startswith(DEPRECATED) and unit(m) is not None
    ]
    source_mentions = [
        f"{p}: {old}"
        for p in SRC.rglob("*.py")
        if p.name != "_moved.py" and "engine" not in p.parts
        for old in (
            "import fervid.engine",
            "from fervid.engine",
            "from fervid.models.hub",
            "from fervid.models import hub",
        )
        if old in p.read_text()
    ]
    assert not users and not source_mentions, users + source_mentions


@pytest.mark.parametrize(
    "old, name, new",
    [
        ("fervid.engine.fit", "train_run", "fervid.train.run"),
        ("fervid.engine.fit", "build_model", "fervid.train.model_setup"),
        ("fervid.engine.compare", "compare_runs", "fervid.results.compare"),
        ("fervid.engine.protocol", "subjects_sha1", "fervid.rundir.folds"),
        ("fervid.engine.runlock", "run_files_lock", "fervid.rundir.lock"),
        ("fervid.models.hub", "resolve", "fervid.hub.fetch"),
    ],
)
def test_old_paths_still_import_with_a_deprecation_warning(monkeypatch, old, name, new):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to .*{new.rpartition('.')[0]}"):
        alias = importlib.import_module(old)
    assert getattr(alias, name) is getattr(importlib.import_module(new), name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module(old)  # once per process, like any import
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        alias.nothing_here  # noqa: B018
