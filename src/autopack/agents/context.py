"""The Builder's context: the phase spec, the scope and context files (within a token budget),
the learned rules and hints, and on a retry what went wrong last time.

Whole files go in when they fit. When they do not, a file is cut to its head plus an outline of its
top-level definitions, with a note of which lines were left out, so the model knows what it has not seen.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from ..plan import Phase
from .base import estimate_tokens

MAX_FILES = 60
_GLOB_CHARS = set("*?[")


def expand_paths(root: Path, patterns: list[str]) -> tuple[list[str], list[str]]:
    """(existing files matched, literal paths that do not exist yet), relative POSIX paths."""
    found: list[str] = []
    missing: list[str] = []
    for pat in patterns:
        if any(c in pat for c in _GLOB_CHARS):
            matches = sorted(p for p in root.glob(pat) if p.is_file() and ".git" not in p.relative_to(root).parts)
        elif pat.endswith("/") or (root / pat).is_dir():
            matches = sorted(p for p in (root / pat).rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts)
        elif (root / pat).is_file():
            matches = [root / pat]
        else:
            missing.append(pat)
            continue
        for m in matches:
            rel = m.relative_to(root).as_posix()
            if rel not in found:
                found.append(rel)
    return found[:MAX_FILES], missing


def outline(text: str, path: str) -> list[str]:
    """Top-level definitions with their line numbers (Python via ast; others: nothing)."""
    if not path.endswith(".py"):
        return []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            out.append(f"  line {node.lineno}-{node.end_lineno}: {kind} {node.name}")
    return out


@dataclass
class BuilderContext:
    """``stable``: the phase and its files, identical across a phase's attempts, so it is sent with
    the system text and cached by providers that cache prompts. ``request``: what changes per
    attempt (the diagnosis hint, the previous attempt's error)."""

    stable: str
    request: str
    files_shown: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stable + "\n" + self.request


def _file_block(rel: str, text: str) -> str:
    lang = Path(rel).suffix.lstrip(".") or "text"
    return f"### {rel}\n```{lang}\n{text.rstrip()}\n```\n"


def build_context(
    phase: Phase,
    root: Path,
    *,
    goal: str,
    budget_tokens: int,
    feedback: str | None = None,
    hint: str | None = None,
) -> BuilderContext:
    parts = [f"PHASE: {phase.id}", f"Name: {phase.name}", f"Run goal: {goal}", "", "What to do:", phase.description.strip()]
    if phase.steps:
        parts += ["", "Steps:"] + [f"{i}. {s}" for i, s in enumerate(phase.steps, 1)]
    parts += ["", "Scope (the only files you may change): " + ", ".join(phase.scope)]
    if phase.checks:
        parts += ["Checks that must pass afterwards: " + "; ".join(f"`{c}`" for c in phase.checks)]
    head = "\n".join(parts) + "\n"
    ask: list[str] = []
    if hint:
        ask += [f"Hint from the diagnosis of earlier failures: {hint}", ""]
    if feedback:
        ask += ["The previous attempt failed. Fix this:", feedback.strip(), ""]
    ask.append(f"Make the change phase {phase.id} describes, as edits in the requested format.")
    request = "\n".join(ask) + "\n"

    scope_files, to_create = expand_paths(root, phase.scope)
    context_files, _ = expand_paths(root, phase.context)
    context_files = [f for f in context_files if f not in scope_files]
    remaining = budget_tokens - estimate_tokens(head) - estimate_tokens(request)
    blocks: list[str] = []
    shown: list[str] = []
    omitted: list[str] = []
    for group, label in ((scope_files, "in scope"), (context_files, "read-only context")):
        for rel in group:
            try:
                text = (root / rel).read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                omitted.append(f"{rel} (not readable as UTF-8 text)")
                continue
            cost = estimate_tokens(text)
            if cost <= remaining:
                blocks.append(f"({label})\n" + _file_block(rel, text))
                shown.append(rel)
                remaining -= cost
                continue
            lines = text.splitlines()
            keep = max(0, min(len(lines), (remaining * 4) // max(1, len(text) // max(1, len(lines))) - 10))
            if keep < 20:
                omitted.append(f"{rel} ({len(lines)} lines, left out: over the context budget)")
                continue
            note = f"[lines {keep + 1}-{len(lines)} of {rel} left out to fit the context budget]"
            ol = outline(text, rel)
            body = "\n".join(lines[:keep]) + f"\n# {note}\n"
            if ol:
                body += "# outline of the whole file:\n" + "\n".join(f"# {o}" for o in ol) + "\n"
            blocks.append(f"({label}, partial)\n" + _file_block(rel, body))
            shown.append(rel)
            omitted.append(note)
            remaining -= estimate_tokens(body)
    tail = []
    if to_create:
        tail.append("Files in scope that do not exist yet (create them if the phase needs them): " + ", ".join(to_create))
    if omitted:
        tail.append("Not shown in full: " + "; ".join(omitted))
    stable = head + "\nFiles:\n" + ("\n".join(blocks) if blocks else "(none yet)\n") + ("\n" + "\n".join(tail) + "\n" if tail else "")
    return BuilderContext(stable=stable, request=request, files_shown=shown, omitted=omitted)
