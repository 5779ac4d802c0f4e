"""The layout docs/architecture.md describes, held against the code: which part may import
which, no import cycles between files or between packages, SQL only in store/.

Run alone to see the graph's problems: `python -m pytest tests/test_layout.py -q`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatiq"

# The parts, lowest first: a module may import its own part and any lower rank, never a
# higher one, and a feature never another feature. The top level (app, cli, server,
# workers, routes, keys, config) wires everything; below it, only `keys` (the app's state)
# and `config` may be imported, and not by core/ or store/.
RANK = {"core": 0, "store": 1, "api": 2, "files": 3, "live": 3, "panel": 4, "outbox": 5,
        "automation": 6, "oidc": 6, "mail": 6, "webhooks": 6, "privacy": 6}
SHARED_TOP = {"chatiq", "chatiq.keys", "chatiq.config"}
# Modules that do I/O, which core/ must not import.
IO_MODULES = {"aiohttp", "aiopg", "psycopg2", "socket", "smtplib", "subprocess"}
# A string constant that is a statement (not prose that mentions a keyword).
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|PREPARE|EXECUTE)\s"
                 r"|^\s*(LISTEN|NOTIFY)\s+\w+\s*;?\s*$|pg_notify\(")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """chatiq modules imported by one file (at any depth, TYPE_CHECKING included)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, name, known) for name, path in mods.items()}


def part(module: str) -> str:
    """core, store, live, …, a feature's name, or 'top' for the top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "top"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _package_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for src, targets in edges.items():
        a = part(src)
        for dst in targets:
            b = part(dst)
            if a != b and "top" not in (a, b):
                packages.setdefault(a, set()).add(b)
    return packages


def test_no_file_import_cycles():
    # A package's __init__ importing its own submodules is not a cycle of design.
    edges = {src: {d for d in dst if not src.startswith(d + ".") and not d.startswith(src + ".")}
             for src, dst in graph().items()}
    assert cycles(edges) == []


def test_no_package_import_cycles():
    assert cycles(_package_edges(graph())) == []


def test_each_part_imports_only_what_it_may():
    wrong = []
    for src, targets in graph().items():
        a = part(src)
        if a == "top":
            continue
        for dst in targets:
            b = part(dst)
            if b == "top":
                ok = dst in SHARED_TOP and a not in ("core", "store")
            else:
                ok = a == b or (RANK[b] < RANK[a])
            if not ok:
                wrong.append(f"{src} -> {dst}")
    assert wrong == []


def test_core_does_no_io():
    wrong = []
    for name, path in modules().items():
        if not name.startswith("chatiq.core."):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            wrong += [f"{name}: {n}" for n in names if n in IO_MODULES]
    assert wrong == []


def test_sql_only_in_store():
    wrong = []
    for name, path in modules().items():
        if name.startswith("chatiq.store"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.search(node.value):
                wrong.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
    assert wrong == []
