"""The Builder's context: the phase spec, the scope and context files (within a token budget),
the learned rules and hints, and on a retry what went wrong last time.

Whole files go in when they fit. When they do not, a file is cut to its head plus an outline of its
top-level definitions, with a note of which lines were left out, so the model knows what it has not seen.
"""

from __future__ import annotations

import ast
import re
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
    texts: dict[str, str] = {}
    omitted: list[str] = []
    for rel in scope_files + context_files:
        try:
            texts[rel] = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            omitted.append(f"{rel} (not readable as UTF-8 text)")
    # Whole files first, smallest first, so one big file cannot crowd out the small ones.
    whole: set[str] = set()
    for rel in sorted(texts, key=lambda r: (r not in scope_files, len(texts[r]))):
        cost = estimate_tokens(texts[rel])
        if cost <= remaining:
            whole.add(rel)
            remaining -= cost
    # Then the relevant parts of the rest: lines naming what the phase talks about, and an outline.
    words = _keywords(" ".join([phase.description, *phase.steps, feedback or "", hint or ""]))
    partial: dict[str, str] = {}
    for rel in sorted((r for r in texts if r not in whole), key=lambda r: r not in scope_files):
        body, note = _relevant_parts(rel, texts[rel], words, remaining)
        if body is None:
            omitted.append(f"{rel} ({len(texts[rel].splitlines())} lines, left out: over the context budget)")
            continue
        partial[rel] = body
        omitted.append(note)
        remaining -= estimate_tokens(body)
    blocks: list[str] = []
    shown: list[str] = []
    for group, label in ((scope_files, "in scope"), (context_files, "read-only context")):
        for rel in group:
            if rel in whole:
                blocks.append(f"({label})\n" + _file_block(rel, texts[rel]))
            elif rel in partial:
                blocks.append(f"({label}, partial)\n" + _file_block(rel, partial[rel]))
            else:
                continue
            shown.append(rel)
    tail = []
    if to_create:
        tail.append("Files in scope that do not exist yet (create them if the phase needs them): " + ", ".join(to_create))
    if omitted:
        tail.append("Not shown in full: " + "; ".join(omitted))
    stable = head + "\nFiles:\n" + ("\n".join(blocks) if blocks else "(none yet)\n") + ("\n" + "\n".join(tail) + "\n" if tail else "")
    return BuilderContext(stable=stable, request=request, files_shown=shown, omitted=omitted)


_COMMON = {"that", "this", "with", "from", "into", "function", "file", "files", "should", "must", "when", "return",
           "returns", "test", "tests", "phase", "each", "every", "have", "make", "change", "add", "the"}


def _keywords(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]{3,}", text) if w.lower() not in _COMMON}


def _relevant_parts(rel: str, text: str, words: set[str], budget_tokens: int) -> tuple[str | None, str]:
    """Windows around the lines that name ``words`` (else the head), and the file's outline, in
    ``budget_tokens``; None when not even a useful part fits."""
    lines = text.splitlines()
    ol = outline(text, rel)
    ol_text = ("# outline of the whole file:\n" + "\n".join(f"# {o}" for o in ol) + "\n") if ol else ""
    room = budget_tokens - estimate_tokens(ol_text) - 40
    if room < 100:  # the outline alone does not leave room for code: try without it
        ol_text, room = "", budget_tokens - 40
    if room < 100:
        return None, ""
    hits = [i for i, line in enumerate(lines) if any(w in line for w in words)]
    spans: list[tuple[int, int]] = []
    for i in hits or [0]:
        lo, hi = max(0, i - 8), min(len(lines), i + 9 if hits else 60)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    out: list[str] = []
    used = 0
    kept: list[tuple[int, int]] = []
    for lo, hi in spans:
        chunk = lines[lo:hi]
        cost = estimate_tokens("\n".join(chunk)) + 5
        if used + cost > room:
            break
        out.append(f"# ... lines {lo + 1}-{hi}:")
        out.extend(chunk)
        kept.append((lo + 1, hi))
        used += cost
    if not kept:
        return None, ""
    shown = ", ".join(f"{a}-{b}" for a, b in kept)
    note = f"[{rel}: only lines {shown} of {len(lines)} shown, to fit the context budget]"
    return "\n".join(out) + f"\n# {note}\n" + ol_text, note
