"""The layers, read from the sources (ast, not a grep, so an import inside a function or under
TYPE_CHECKING counts too): `playground/ui` formats and never imports torch or pandas; the core
(`playground/*.py`) never imports `playground.ui`, gradio or plotly; and no core modules import each
other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "playground"
CORE = {p.stem: p for p in PACKAGE.glob("*.py")}
UI = sorted((PACKAGE / "ui").rglob("*.py"))


def imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module `path` imports, as absolute dotted names (relative imports resolved within the package at `root`)."""
    package = ["playground", *path.parent.relative_to(root).parts]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from . import x` imports the module x
    return out


def top(name: str) -> str:
    return name.split(".")[0]


def core_edges(path: Path) -> set[str]:
    """The core modules `path` imports."""
    return {n.split(".")[1] for n in imports(path) if n.startswith("playground.") and n.split(".")[1] in CORE} - {path.stem}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while not part or part[-1] != v:
                part.append(stack.pop())
                on.discard(part[-1])
            if len(part) > 1:
                found.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_every_kind_of_import(tmp_path):
    ui = tmp_path / "playground" / "ui"
    ui.mkdir(parents=True)
    src = ui / "x.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n"
                   "def f():\n    from .. import plotdata\n    from ..engine import Engine\n    import pandas as pd\n")
    got = imports(src, tmp_path / "playground")
    assert {"torch", "pandas", "playground.plotdata", "playground.engine", "playground.engine.Engine"} <= got
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_ui_formats_and_never_imports_torch_or_pandas():
    assert len(UI) > 10
    bad = {str(p.relative_to(PACKAGE)): sorted(n for n in imports(p) if top(n) in ("torch", "pandas", "numpy"))
           for p in UI}
    assert not {k: v for k, v in bad.items() if v}


def test_the_core_never_imports_the_ui_gradio_or_plotly():
    assert {"decoder", "engine", "step_analysis", "params"} <= set(CORE)
    bad = {name: sorted(n for n in imports(p) if top(n) in ("gradio", "plotly") or n.startswith("playground.ui"))
           for name, p in CORE.items()}
    assert not {k: v for k, v in bad.items() if v}


def test_no_core_modules_import_each_other():
    graph = {name: core_edges(p) for name, p in CORE.items()}
    assert graph["step_analysis"] >= {"decoder", "stage_rows", "plotdata"} and "engine" not in graph["decoder"]
    assert cycles(graph) == []
