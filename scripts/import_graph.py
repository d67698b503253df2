"""What each room of ``src/autopack`` imports, and the import cycles: the table and the cycle list of
docs/ARCHITECTURE.md section 4, made from the code rather than by hand.

Every module is read with ``ast`` (nothing is imported); relative imports are resolved to modules. A
module inside a package belongs to the room ``package/``; a top-level module is a room of its own.
"Top" is an import at module level, "lazy" one inside a function (the project's way of keeping
``--help`` fast) that is not also at module level; ``if TYPE_CHECKING:`` imports are left out.

    python scripts/import_graph.py            # the Markdown table, then the cycles
    python scripts/import_graph.py --check    # only the cycles; exit 1 if there is one
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "autopack"
SKIP = ("examples",)  # the demo's project: a user's code, not autopack's


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name below ``autopack`` (``""`` is the package itself) -> file."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIP:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import with whether it is at module level (inside a top-level ``if`` or ``try`` counts)."""

    def one(node: ast.AST, top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, top
        else:
            yield from children(node, top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    def children(node: ast.AST, top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for c in child.orelse:
                    yield from one(c, top)
            else:
                yield from one(child, top)

    yield from children(tree, True)


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module ``name`` starts with."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name if name in known else ("" if "" in known else None)


def edges(known: dict[str, Path]) -> dict[str, dict[str, bool]]:
    """module -> {imported module: True if imported at module level}."""
    out: dict[str, dict[str, bool]] = {}
    for mod, path in known.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        found: dict[str, bool] = {}
        for node, top in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name[len("autopack.") :] for a in node.names if a.name.startswith("autopack.")]
            else:
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                    prefix = ".".join([*base, *([node.module] if node.module else [])])
                elif node.module and (node.module == "autopack" or node.module.startswith("autopack.")):
                    prefix = node.module[len("autopack") :].lstrip(".")
                else:
                    continue
                # `from . import x` / `from .pkg import mod`: a name may be a module of its own
                targets = [
                    f"{prefix}.{a.name}".lstrip(".") if f"{prefix}.{a.name}".lstrip(".") in known else prefix
                    for a in node.names
                ]
            for t in targets:
                target = _resolve(t, known)
                if target is None or target == mod:
                    continue
                found[target] = found.get(target, False) or top
        out[mod] = found
    return out


def room(mod: str, known: dict[str, Path]) -> str:
    if mod == "":
        return "`__init__`"
    head = mod.split(".")[0]
    is_pkg = known.get(head, Path()).name == "__init__.py"
    return f"{head}/" if is_pkg else head


def room_table(known: dict[str, Path], graph: dict[str, dict[str, bool]]) -> list[tuple[str, list[str], list[str]]]:
    top: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for mod, targets in graph.items():
        r = room(mod, known)
        top.setdefault(r, set())
        lazy.setdefault(r, set())
        for t, at_top in targets.items():
            tr = room(t, known)
            if tr == r:
                continue
            (top if at_top else lazy)[r].add(tr)
    rows = []
    for r in sorted(top, key=lambda x: (x.startswith("`"), x)):
        lazy_only = sorted(lazy[r] - top[r])
        rows.append((r, sorted(top[r]), lazy_only))
    return rows


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def report_cycles(known: dict[str, Path], graph: dict[str, dict[str, bool]]) -> list[str]:
    lines = []
    # The package's __init__ is left out: importing `autopack.x` runs it, which is not an edge anyone wrote.
    mods = {m: {t for t in ts if t} for m, ts in graph.items() if m}
    top_only = {m: {t for t, at_top in graph[m].items() if at_top and t} for m in mods}
    rooms: dict[str, set[str]] = {}
    for m, ts in mods.items():
        rooms.setdefault(room(m, known), set()).update(room(t, known) for t in ts if room(t, known) != room(m, known))
    for label, g in (
        ("modules, imports at module level", top_only),
        ("modules, lazy imports too", mods),
        ("rooms, lazy imports too", rooms),
    ):
        found = cycles(g)
        lines.append(f"- {label}: " + ("; ".join(" <-> ".join(c) for c in found) if found else "no cycle"))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="print only the cycles; exit 1 if there is one")
    args = parser.parse_args()
    known = modules()
    graph = edges(known)
    cyc = report_cycles(known, graph)
    if not args.check:
        print("| room | imports at module level | imports lazily only |")
        print("|---|---|---|")
        for r, top, lazy in room_table(known, graph):
            print(
                f"| `{r}` | {', '.join(top) or '—'} | {', '.join(lazy) or '—'} |".replace("``__init__``", "`__init__`")
            )
        print()
    print("\n".join(cyc))
    return 1 if any("no cycle" not in line for line in cyc) else 0


if __name__ == "__main__":
    raise SystemExit(main())
