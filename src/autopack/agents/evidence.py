"""Evidence for the Builder's context: where in a file the change a phase asks for is likely to be.

From the phase's text and the last error: the names they mention, stemmed so that "resolved" meets
"resolve" (a name written as code weighs more than a prose word), quoted strings, and lines the
feedback quotes. From the last error and the last attempt's diff: lines pinned in a file, from
traceback frames (``File "x.py", line N``), ``x.py:N:`` references and the diff's hunks (old and new side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PINNED_WEIGHT = 25.0  # a line a traceback or the previous diff points at
CODE_WEIGHT = 3.0  # a name written as code (snake_case, CamelCase, dotted, `quoted`, called) beats a prose word

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_BACKTICKED = re.compile(r"`([^`\n]{1,80})`")
_QUOTED = re.compile(r"""(?<![A-Za-z0-9])(['"])([^'"\n]{3,80})\1""")
_FRAME = re.compile(r'File "([^"\n]+)", line (\d+)')
_COLON = re.compile(r"([\w./\\-]+\.[A-Za-z0-9]+):(\d+):")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_STOP = frozenset(
    "about above after again also always and any are because been before being both but can cannot could does done "
    "each either else even every for from had has have here how into its just like make made many may more most "
    "must need never none not now only other our out over same should since some such than that the their them "
    "then there these they this those through too under until upon use used uses using very was were what when "
    "where which while who why will with without would you your add adds added fix fixes fixed change changes "
    "changed file files function functions method phase test tests new old instead already".split()
)


def stem(word: str) -> str:
    """A crude suffix strip, the same on both sides, so "resolved", "resolves" and "resolve" meet."""
    w = word.lower()
    for suffix in ("ing", "ed", "es", "e", "s", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            return w[: -len(suffix)]
    return w


def line_terms(line: str) -> set[str]:
    out: set[str] = set()
    for ident in _WORD.findall(line):
        out.add(stem(ident))
        parts = PARTS.findall(ident)
        if len(parts) > 1:
            out.update(stem(p) for p in parts if len(p) >= 3)
    return out


@dataclass(frozen=True)
class Evidence:
    """What the phase, the last error and the previous attempt say about where to look."""

    terms: dict[str, float] = field(default_factory=dict)  # stemmed term -> weight multiplier
    literals: tuple[str, ...] = ()  # quoted strings, matched as written
    quoted_lines: frozenset[str] = frozenset()  # stripped lines the feedback quotes
    pinned: dict[str, dict[int, float]] = field(default_factory=dict)  # path -> {1-based line: weight}


def gather_evidence(
    text: str,
    *,
    feedback: str | None,
    previous_patch: str | None,
    paths: list[str],
    focus: dict[str, list[tuple[int, int]]] | None = None,
) -> Evidence:
    """Evidence from the phase ``text`` (name, description, steps, hint), the last error and the last
    diff; ``focus``: line ranges the Builder asked to see (they weigh most)."""
    terms: dict[str, float] = {}

    def add(term: str, weight: float) -> None:
        terms[term] = max(terms.get(term, 0.0), weight)

    whole = text + "\n" + (feedback or "")
    code_spans = {m.group(1) for m in _BACKTICKED.finditer(whole)}
    backticked = {w for span in code_spans for w in _IDENT.findall(span)}
    for m in _IDENT.finditer(whole):
        ident = m.group(0)
        called = whole[m.end() : m.end() + 1] == "("
        for part in ident.split("."):
            parts = PARTS.findall(part)
            code = (
                "." in ident
                or "_" in part.strip("_")
                or len(parts) > 1
                or ident in backticked
                or called
                or (part.isupper() and len(part) >= 3)
            )
            if code and len(part) >= 3:
                add(stem(part), CODE_WEIGHT)
            elif len(part) >= 4 and part.lower() not in _STOP:
                add(stem(part), 1.0)
            if len(parts) > 1:
                for p in parts:
                    if len(p) >= 4 and p.lower() not in _STOP:
                        add(stem(p), 1.0)
    literals = tuple(dict.fromkeys(m.group(2) for m in _QUOTED.finditer(whole) if m.group(2).strip()))
    quoted = frozenset(s for s in (ln.strip() for ln in (feedback or "").splitlines()) if len(s) >= 12)
    pinned: dict[str, dict[int, float]] = {}
    for where, line in [*_FRAME.findall(feedback or ""), *_COLON.findall(feedback or "")]:
        rel = _match_path(where, paths)
        if rel is not None:
            pinned.setdefault(rel, {})[int(line)] = PINNED_WEIGHT
    for rel, lines in _patch_lines(previous_patch or "", paths).items():
        for n in lines:
            pinned.setdefault(rel, {}).setdefault(n, PINNED_WEIGHT)
    for where, ranges in (focus or {}).items():
        rel = _match_path(where, paths)
        if rel is None:
            continue
        for first, last in ranges:
            for n in range(max(1, first), min(last, first + 400) + 1):
                pinned.setdefault(rel, {})[n] = 2 * PINNED_WEIGHT
    return Evidence(terms, literals, quoted, pinned)


def _match_path(where: str, paths: list[str]) -> str | None:
    where = where.replace("\\", "/")
    exact = [p for p in paths if where == p or where.endswith("/" + p)]
    if exact:
        return max(exact, key=len)
    tail = [p for p in paths if p.endswith("/" + where.lstrip("./"))]
    return tail[0] if len(tail) == 1 else None


def _patch_lines(patch: str, paths: list[str]) -> dict[str, set[int]]:
    """Lines each hunk of a unified diff covers, old side and new side (the file may be either)."""
    out: dict[str, set[int]] = {}
    rel: str | None = None
    old_path = ""
    for line in patch.splitlines():
        if line.startswith("--- "):
            old_path = line[4:].split("\t")[0].strip()
        elif line.startswith("+++ "):
            new_path = line[4:].split("\t")[0].strip()
            name = old_path if new_path == "/dev/null" else new_path
            name = name[2:] if name[:2] in ("a/", "b/") else name
            rel = _match_path(name, paths)
        elif rel is not None and (m := _HUNK.match(line)):
            for start, count in ((m.group(1), m.group(2)), (m.group(3), m.group(4))):
                first, n = int(start), int(count) if count is not None else 1
                out.setdefault(rel, set()).update(range(max(first, 1), max(first, 1) + max(n, 1)))
    return out
