"""A small outline of the repository for the Builder: where things are (the file tree, folded where it
is long) and what the modules related to the phase define at their top level (with signatures), so a
model can call what exists and ask for a file it needs (``NEED_FILES``) instead of guessing.

Related modules, most related first: those a scope file imports, those the phase names (by file or
module name), then up to three of the scope files' neighbours in their folders. Files shown whole elsewhere in the
prompt are not outlined again. Everything fits a token allowance; what does not fit is left out.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path, PurePosixPath

from .base import estimate_tokens

# Folders that are not the project's own source: tools, caches, environments, build output.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".autonomous_runs",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        "env",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".idea",
        ".vscode",
        "build",
        "dist",
        ".eggs",
        "site-packages",
        ".cache",
        "htmlcov",
        "logs",
    }
)
MAX_FILES = 3000
NAMES_PER_DIR = 14
DEFS_PER_MODULE = 40
MAX_NEIGHBOURS = 3  # modules outlined only for sitting in a scope file's folder


def list_files(root: Path, limit: int = MAX_FILES) -> list[str]:
    """The project's files (relative POSIX paths, sorted), skipping tool and build folders and dot-folders."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
        )
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            out.append(name if rel_dir == "." else f"{rel_dir}/{name}")
            if len(out) >= limit:
                return out
    return out


def tree(files: list[str], room: int) -> str:
    """One line per folder with its files; folders fold into a count, deepest first, until it fits."""
    by_dir: dict[str, list[str]] = {}
    for f in files:
        parent, _, name = f.rpartition("/")
        by_dir.setdefault(parent, []).append(name)
    folded: set[str] = set()

    def render() -> str:
        lines = []
        for d in sorted(by_dir):
            if any(d == f or d.startswith(f + "/") for f in folded):
                continue
            label = (d + "/") if d else "./"
            if d in folded:
                count = sum(len(v) for k, v in by_dir.items() if k == d or k.startswith(d + "/"))
                lines.append(f"{label} ({count} files)")
                continue
            names = by_dir[d]
            more = f", ... and {len(names) - NAMES_PER_DIR} more" if len(names) > NAMES_PER_DIR else ""
            lines.append(f"{label}: {', '.join(names[:NAMES_PER_DIR])}{more}")
        return "\n".join(lines)

    text = render()
    # Fold the deepest, then the biggest folders first: the top of the tree says most about the layout.
    order = sorted((d for d in by_dir if d), key=lambda d: (-d.count("/"), -len(by_dir[d])))
    for d in order:
        if estimate_tokens(text) <= room:
            break
        folded.add(d)
        text = render()
    return text if estimate_tokens(text) <= room else ""


def top_level(text: str) -> list[str]:
    """A Python module's top-level definitions with their signatures (classes with their methods)."""
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out: list[str] = []
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append(_signature(node))
        elif isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            methods = [n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            out.append(
                f"class {node.name}"
                + (f"({bases})" if bases else "")
                + (f": {', '.join(methods[:12])}" + (" ..." if len(methods) > 12 else "") if methods else "")
            )
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper() or name == "__all__":
                out.append(name)
    return out


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    args = ast.unparse(node.args)
    ret = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    sig = f"{prefix} {node.name}({args}){ret}"
    return sig if len(sig) <= 160 else sig[:157] + "..."


def _imports(text: str, rel: str) -> list[str]:
    """Module names a Python file imports (relative imports resolved against its package)."""
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    package = list(PurePosixPath(rel).parent.parts)
    out: list[str] = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            if name:
                out.append(name)
            out += [f"{name}.{a.name}" if name else a.name for a in node.names]
    return out


def _module_files(name: str, files: set[str]) -> list[str]:
    path = name.replace(".", "/")
    found = []
    for prefix in ("", "src/", "lib/"):
        for cand in (f"{prefix}{path}.py", f"{prefix}{path}/__init__.py"):
            if cand in files:
                found.append(cand)
    return found


def related_modules(root: Path, files: list[str], scope: list[str], phase_text: str) -> list[str]:
    """Python modules related to the phase, most related first (see the module docstring)."""
    present = set(files)
    ranked: dict[str, float] = {}

    def add(path: str, weight: float) -> None:
        if path.endswith(".py") and path in present:
            ranked[path] = max(ranked.get(path, 0.0), weight)

    for rel in scope:
        if rel.endswith(".py") and (root / rel).is_file():
            try:
                text = (root / rel).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for name in _imports(text, rel):
                for path in _module_files(name, present):
                    add(path, 3.0)
    words = {w.strip("`'\".,:;()") for w in phase_text.split()}
    for path in files:
        stem = PurePosixPath(path).stem
        if path in words or (len(stem) >= 4 and stem in words):
            add(path, 2.0)
    scope_dirs = {PurePosixPath(r).parent.as_posix() for r in scope}
    neighbours = [p for p in files if PurePosixPath(p).parent.as_posix() in scope_dirs and p not in ranked]
    for path in [p for p in neighbours if p.endswith(".py") and p not in scope][:MAX_NEIGHBOURS]:
        add(path, 1.0)  # a weak tie: only a few, the tree names the rest
    return sorted(ranked, key=lambda p: (-ranked[p], p))


def repository_outline(
    root: Path, files: list[str], *, scope: list[str], shown_whole: set[str], phase_text: str, room: int
) -> str:
    """The repository outline within ``room`` tokens: the tree (at most half of it), then the top-level
    definitions of related modules other than ``shown_whole`` (files the prompt shows); "" when
    nothing useful fits."""
    if room < 60 or not files:
        return ""
    tree_text = tree(files, room // 2)
    parts = ["Repository files (folders folded to a count where the tree is long):\n" + tree_text] if tree_text else []
    used = estimate_tokens(parts[0]) if parts else 0
    defs: list[str] = []
    for rel in related_modules(root, files, scope, phase_text):
        if rel in shown_whole or rel in scope:  # a scope file cut in part has its own outline
            continue
        try:
            names = top_level((root / rel).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if not names:
            continue
        more = f"\n  ... and {len(names) - DEFS_PER_MODULE} more" if len(names) > DEFS_PER_MODULE else ""
        entry = f"{rel}:\n" + "\n".join(f"  {n}" for n in names[:DEFS_PER_MODULE]) + more
        cost = estimate_tokens(entry) + 1
        if used + cost > room:
            continue
        defs.append(entry)
        used += cost
    if defs:
        parts.append("Top-level definitions of related modules (not shown below in full):\n" + "\n".join(defs))
    return "\n\n".join(parts)
