"""Cutting a file that does not fit the Builder's budget: which of its lines to show, and saying what is hidden.

Evidence (gathered by ``evidence``) says where a change is likely to be: the names the phase and the
last error mention (a rare name weighs more than a common one: IDF over the file's lines, so a word on
300 lines is worth little), lines a traceback points at, lines the feedback quotes, lines the previous
attempt's diff touched; here also the definitions that hold those lines or that the phase names, and the
top of a changelog. Candidate windows are ranked by the evidence they add to what is already kept; the
best that fit are kept (one that does not fit is skipped and the next one tried), then the kept parts
grow into their surroundings while room is left. The file's outline comes first; then the parts, in
file order, each its own code block under a ``path lines A-B:`` line outside the fence (the fence holds
only the file's own lines, so a SEARCH copied from it never carries a marker, and no line-number
prefixes: edits copy lines exactly); then what is hidden.
"""

from __future__ import annotations

import ast
import heapq
import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from .base import estimate_tokens
from .evidence import CODE_WEIGHT, PARTS, PINNED_WEIGHT, Evidence, line_terms, stem

BEFORE, AFTER = 6, 14  # a window around one line of evidence
DEF_MAX = 120  # a definition tied to evidence is shown whole up to this many lines, else its head
DEF_HEAD = 25
CHANGELOG_SECTION = 200  # a changelog's first section is shown whole up to this many lines
MAX_CANDIDATES = 2000
GROW = 15  # lines added on each side of a kept part per round, once the evidence is placed
SPAN_HEADER = 10  # tokens of a part's "path lines A-B:" line and its fences
CHANGELOG = re.compile(r"^(changelog|changes|history|news|release[-_ ]?notes)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Definition:
    start: int  # 0-based, first line (decorators included)
    end: int  # 0-based, exclusive
    name: str
    kind: str  # "def", "class" or "section"
    depth: int


def definitions(text: str, path: str) -> list[Definition]:
    """Python: every def and class (any depth) with its line range; Markdown/reST: sections; else none."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".py":
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return []
        out: list[Definition] = []

        def visit(nodes: list[ast.stmt], depth: int) -> None:
            for node in nodes:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
                    kind = "class" if isinstance(node, ast.ClassDef) else "def"
                    out.append(Definition(start, node.end_lineno or node.lineno, node.name, kind, depth))
                    visit(node.body, depth + 1)
                elif isinstance(node, (ast.If, ast.Try, ast.With)):
                    visit(node.body, depth)

        visit(tree.body, 0)
        return out
    if suffix in (".md", ".rst", ".markdown", ".txt") or CHANGELOG.match(PurePosixPath(path).name):
        return _sections(text.splitlines())
    return []


def _sections(lines: list[str]) -> list[Definition]:
    heads: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        if line.startswith("#") and line.lstrip("#").startswith(" "):
            heads.append((i, line.lstrip("#").strip()))
        elif (
            i + 1 < len(lines)
            and line.strip()
            and len(set(lines[i + 1].strip())) == 1
            and lines[i + 1].strip()[0] in "=-~^*"
            and len(lines[i + 1].strip()) >= len(line.strip()) >= 2
        ):
            heads.append((i, line.strip()))
    if not heads:
        return []
    ends = [h[0] for h in heads[1:]] + [len(lines)]
    return [Definition(i, end, title[:60], "section", 0) for (i, title), end in zip(heads, ends, strict=True)]


@dataclass
class Excerpt:
    parts: list[tuple[int, int, str]]  # kept windows: first and last line (1-based), their text
    outline: str  # the outline of the whole file ("" when none fits), shown before the parts
    after: str  # what is hidden, shown after the parts
    note: str  # one line for the prompt's "Not shown in full" list
    spans: list[tuple[int, int]]  # kept line ranges, 1-based inclusive


class FileCut:
    """One file's lines scored against the evidence; ``render`` picks what fits in a token allowance."""

    def __init__(self, rel: str, text: str, evidence: Evidence) -> None:
        self.rel = rel
        self.lines = text.splitlines()
        self.defs = definitions(text, rel)
        self.changelog = bool(CHANGELOG.match(PurePosixPath(rel).name))
        n = len(self.lines)
        line_sets = [line_terms(ln) for ln in self.lines]
        df: dict[str, int] = {}
        for s in line_sets:
            for t in s & evidence.terms.keys():
                df[t] = df.get(t, 0) + 1
        self.weight = {t: math.log((n + 1) / (c + 0.5)) * evidence.terms[t] for t, c in df.items()}
        self.hits: list[set[str]] = [s & self.weight.keys() for s in line_sets]
        for lit in evidence.literals:
            where = [i for i, ln in enumerate(self.lines) if lit in ln]
            if where:
                self.weight["'" + lit] = math.log((n + 1) / (len(where) + 0.5)) * CODE_WEIGHT
                for i in where:
                    self.hits[i].add("'" + lit)
        self.pinned = {n_ - 1: w for n_, w in evidence.pinned.get(rel, {}).items() if 0 < n_ <= n}
        if evidence.quoted_lines:
            counts: dict[str, int] = {}
            for ln in self.lines:
                counts[ln.strip()] = counts.get(ln.strip(), 0) + 1
            for i, ln in enumerate(self.lines):
                if ln.strip() in evidence.quoted_lines and counts[ln.strip()] <= 3:
                    self.pinned.setdefault(i, PINNED_WEIGHT)
        self.cost = [(len(ln) + 1) / 4 for ln in self.lines]
        self.candidates = self._candidates()

    # -- candidates --------------------------------------------------------------------------
    def _candidates(self) -> list[tuple[int, int, float]]:
        """(lo, hi, bonus): windows worth showing, 0-based half-open, with a bonus beyond their evidence."""
        n = len(self.lines)
        out: list[tuple[int, int, float]] = []
        for i in range(n):
            # In a changelog, the names of the phase are all over its history: only the top is news.
            if (self.hits[i] and not self.changelog) or i in self.pinned:
                out.append((max(0, i - BEFORE), min(n, i + AFTER + 1), 0.0))
        for d in self.defs:
            named = self.weight.get(stem(d.name), 0.0)
            if not named:  # named in part: test_edit for `edit`
                named = 0.5 * max(
                    (self.weight.get(stem(p), 0.0) for p in PARTS.findall(d.name) if len(p) >= 3), default=0.0
                )
            holds = any(d.start <= i < d.end for i in self.pinned)
            if named or holds:
                hi = d.end if d.end - d.start <= DEF_MAX else d.start + DEF_HEAD
                out.append((d.start, hi, named + (5.0 if holds else 0.0)))
        if self.changelog:
            # The news is at the top: a new entry goes at the start or the end of the first section.
            ends = [d.end for d in self.defs if d.end - d.start > 3]
            end = min(n, ends[0] if ends else 60)
            if end <= CHANGELOG_SECTION:
                out.append((0, end, 4 * PINNED_WEIGHT))
            else:
                out += [(0, 40, 4 * PINNED_WEIGHT), (end - 25, end, 3 * PINNED_WEIGHT)]
        else:
            first_def = min((d.start for d in self.defs), default=n)
            out.append((0, min(n, max(20, min(first_def, 60))), 1.0))  # the imports and the module's docstring
        if re.match(r"(test_.*|.*_test)\.py$", PurePosixPath(self.rel).name):
            out.append((max(0, n - 15), n, 1.0))  # new tests usually go at the end
        if len(out) > MAX_CANDIDATES:  # a word on every line of a huge file: the best are enough
            none = [False] * n
            out = heapq.nlargest(MAX_CANDIDATES, out, key=lambda c: self._gain(c[0], c[1], {}, none) + c[2])
        return out

    def _gain(self, lo: int, hi: int, seen: dict[str, int], shown: list[bool]) -> float:
        """The evidence a window adds: each term again counts half as much as the last time it was kept."""
        terms: set[str] = set()
        pins = 0.0
        for i in range(lo, hi):
            terms |= self.hits[i]
            if not shown[i]:
                pins += self.pinned.get(i, 0.0)
        # fsum: the same total in any set order, so the same prompt whatever the process's hash seed.
        return pins + math.fsum(self.weight[t] * 0.5 ** seen.get(t, 0) for t in terms)

    # -- selection ---------------------------------------------------------------------------
    def select(self, room: float) -> list[tuple[int, int]]:
        """Kept ranges (0-based half-open, merged) within ``room`` tokens."""
        n = len(self.lines)
        shown = [False] * n
        seen: dict[str, int] = {}
        heap = [
            (-(self._gain(lo, hi, seen, shown) + bonus), k, lo, hi, bonus)
            for k, (lo, hi, bonus) in enumerate(self.candidates)
        ]
        heapq.heapify(heap)
        room = self._place(heap, shown, seen, room)
        if any(shown) and not self.changelog:
            room = self._grow(shown, room)
        return _runs(shown)

    def _place(
        self, heap: list[tuple[float, int, int, int, float]], shown: list[bool], seen: dict[str, int], room: float
    ) -> float:
        while heap and room > 0:
            _, k, lo, hi, bonus = heapq.heappop(heap)
            score = self._gain(lo, hi, seen, shown) + bonus
            if heap and score < -heap[0][0] - 1e-9:
                heapq.heappush(heap, (-score, k, lo, hi, bonus))  # worth less now that others are kept
                continue
            lo, hi = self._snap(lo, hi, shown)
            cost = self._cost(lo, hi, shown)
            if cost is None or cost > room:
                continue  # nothing new, or too big: the next candidate may still fit
            room -= cost
            terms: set[str] = set()
            for i in range(lo, hi):
                shown[i] = True
                terms |= self.hits[i]
            for t in terms:
                seen[t] = seen.get(t, 0) + 1
        return room

    @staticmethod
    def _snap(lo: int, hi: int, shown: list[bool]) -> tuple[int, int]:
        """Close a gap of up to three lines to a kept part next to the window (a header costs as much)."""
        for gap in range(1, 4):
            if lo - gap - 1 >= 0 and shown[lo - gap - 1] and not any(shown[lo - gap : lo]):
                lo -= gap
                break
        for gap in range(1, 4):
            if hi + gap < len(shown) and shown[hi + gap] and not any(shown[hi : hi + gap]):
                hi += gap
                break
        return lo, hi

    def _cost(self, lo: int, hi: int, shown: list[bool]) -> float | None:
        new = [i for i in range(lo, hi) if not shown[i]]
        if not new:
            return None
        joins = (lo > 0 and shown[lo - 1]) or (hi < len(shown) and shown[hi]) or any(shown[lo:hi])
        return sum(self.cost[i] for i in new) + (0 if joins else SPAN_HEADER)

    def _grow(self, shown: list[bool], room: float) -> float:
        """Spend what is left around the kept parts: small gaps first, then a few lines each side per round."""
        n = len(shown)
        for lo, hi in _gaps(shown):
            if 0 < lo and hi < n and hi - lo <= 4 and (c := self._cost(lo, hi, shown)) is not None and c <= room:
                room -= c
                shown[lo:hi] = [True] * (hi - lo)
        grew = True
        while grew and room > 0:
            grew = False
            runs = _runs(shown)
            for k, (lo, hi) in enumerate(runs):
                next_lo = runs[k + 1][0] if k + 1 < len(runs) else n
                prev_hi = runs[k - 1][1] if k > 0 else 0
                for a, b in ((hi, min(next_lo, hi + GROW)), (max(prev_hi, lo - GROW), lo)):
                    if a < b and not any(shown[a:b]):
                        c = sum(self.cost[i] for i in range(a, b))
                        if c <= room:
                            room -= c
                            shown[a:b] = [True] * (b - a)
                            grew = True
        return room

    # -- rendering ---------------------------------------------------------------------------
    def outline(self, full: bool = True, limit: int = 400) -> str:
        entries = [d for d in self.defs if full or d.depth == 0]
        if not entries:
            return ""
        rows = [f"  {'  ' * d.depth}line {d.start + 1}-{d.end}: {d.kind} {d.name}" for d in entries[:limit]]
        if len(entries) > limit:
            rows.append(f"  ... and {len(entries) - limit} more")
        return "\n".join(rows)

    def floor(self) -> int:
        """Tokens of the smallest useful excerpt: the top-level outline and the best window."""
        none = [False] * len(self.lines)
        best = max(self.candidates, key=lambda c: self._gain(c[0], c[1], {}, none) + c[2])
        return int(sum(self.cost[best[0] : best[1]])) + estimate_tokens(self.outline(False, 60)) + 120

    def render(self, allowance: int) -> Excerpt | None:
        """The excerpt that fits ``allowance`` tokens (block, hidden parts, outline), or None."""
        for full, limit in ((True, 400), (False, 60), (False, 0)):
            ol = self.outline(full, limit) if limit else ""
            if ol and estimate_tokens(ol) > allowance * (0.25 if full else 0.35):
                continue
            room = allowance - estimate_tokens(ol) - 120  # headers, fences, the hidden-lines note
            if room < 20:
                continue
            runs = self.select(room)
            if runs:
                return self._excerpt(runs, ol)
        return None

    def _excerpt(self, runs: list[tuple[int, int]], ol: str) -> Excerpt:
        n = len(self.lines)
        parts = [(lo + 1, hi, "\n".join(self.lines[lo:hi])) for lo, hi in runs]
        shown_n = sum(hi - lo for lo, hi in runs)
        kept = _ranges([(lo + 1, hi) for lo, hi in runs])
        hidden = _ranges([(lo + 1, hi) for lo, hi in _gaps_of(runs, n)])
        shown = [False] * n
        for lo, hi in runs:
            shown[lo:hi] = [True] * (hi - lo)
        unseen = [d for d in self.defs if not any(shown[d.start : d.end])]
        what = ""
        if unseen:
            names = ", ".join(f"{d.name} ({d.start + 1}-{d.end})" for d in unseen[:12])
            more = f" and {len(unseen) - 12} more" if len(unseen) > 12 else ""
            what = f"; {'sections' if unseen[0].kind == 'section' else 'definitions'} not shown at all: {names}{more}"
        note = f"{self.rel}: only lines {kept} of {n} shown"
        after = (
            f"[{self.rel}: {shown_n} of {n} lines shown ({kept}); hidden: lines {hidden}{what}. Edit only lines "
            "shown; never send this file whole.]"
        )
        return Excerpt(parts, ol, after + "\n", note, [(lo + 1, hi) for lo, hi in runs])


def _runs(shown: list[bool]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, s in enumerate([*shown, False]):
        if s and start is None:
            start = i
        elif not s and start is not None:
            out.append((start, i))
            start = None
    return out


def _gaps(shown: list[bool]) -> list[tuple[int, int]]:
    return _runs([not s for s in shown])


def _gaps_of(runs: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    shown = [False] * n
    for lo, hi in runs:
        shown[lo:hi] = [True] * (hi - lo)
    return _gaps(shown)


def _ranges(spans: list[tuple[int, int]], limit: int = 12) -> str:
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans[:limit])
    return text + (f" and {len(spans) - limit} more ranges" if len(spans) > limit else "")
