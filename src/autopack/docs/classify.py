"""Decide what a document is (debug notes, strategy, reference, ...) and whom it belongs to
(the framework, or one project under ``.autonomous_runs/``).

Kind comes from keywords in the file name (weighted most), the title and the other headings; a
document with no keyword at all is *reference* material, the most common kind of stray note.
Ownership comes from location first, then from which known project the document names.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Category:
    key: str
    filename: str
    title: str
    description: str
    keywords: frozenset[str]


# Order matters: it breaks ties (an "incident report" is debug before it is a status report).
CATEGORIES: tuple[Category, ...] = (
    Category(
        "debug",
        "CONSOLIDATED_DEBUG.md",
        "Consolidated debug notes",
        "Debug logs, error and fix notes, incident reports.",
        frozenset(
            "DEBUG DEBUGGING ERROR FIX HOTFIX INCIDENT BUG BUGFIX TROUBLESHOOT TROUBLESHOOTING POSTMORTEM "
            "FAILURE CRASH TRACEBACK REGRESSION".split()
        ),
    ),
    Category(
        "strategy",
        "CONSOLIDATED_STRATEGY.md",
        "Consolidated strategy",
        "Plans, roadmaps, design decisions, and GPT/Claude design dialog.",
        frozenset(
            "PLAN PLANNING ROADMAP STRATEGY DESIGN RESPONSE DECISION PROPOSAL ARCHITECTURE RFC ADR DIALOG "
            "DIALOGUE GPT CLAUDE VISION".split()
        ),
    ),
    Category(
        "research",
        "CONSOLIDATED_RESEARCH.md",
        "Consolidated research",
        "Research, analyses, evaluations, benchmarks and comparisons.",
        frozenset(
            "RESEARCH ANALYSIS ANALYSES STUDY EVALUATION BENCHMARK COMPARISON SURVEY EXPERIMENT FINDINGS "
            "INVESTIGATION".split()
        ),
    ),
    Category(
        "status",
        "CONSOLIDATED_STATUS.md",
        "Consolidated status reports",
        "Status and progress reports, completion summaries, release notes.",
        frozenset("STATUS REPORT PROGRESS SUMMARY COMPLETE COMPLETION MILESTONE CHANGELOG RELEASE".split()),
    ),
    Category(
        "reference",
        "CONSOLIDATED_REFERENCE.md",
        "Consolidated reference",
        "Guides, references, how-tos and READMEs of components.",
        frozenset(
            "GUIDE GUIDELINES REFERENCE README HOWTO MANUAL TUTORIAL USAGE API SETUP INSTALL INSTALLATION "
            "QUICKSTART DOCS DOCUMENTATION CONFIGURATION FAQ".split()
        ),
    ),
)
BY_KEY = {c.key: c for c in CATEGORIES}
DEFAULT_CATEGORY = "reference"
"""Documents naming no keyword are reference material: that is what most loose notes turn out to be."""

_SUFFIXES = ("", "S", "ES", "ED", "ING", "ER", "ERS")
_NAME_WEIGHT, _TITLE_WEIGHT, _HEADING_WEIGHT = 3, 2, 1
PROJECT_MENTIONS_MANY = 3
"""A project named this many times in a document (outside its title) owns it."""
_TITLE_LINES = 5


def _tokens(text: str) -> list[str]:
    """Upper-case words, camelCase split, trailing digits dropped, adjacent pairs joined (HOW_TO -> HOWTO)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    words = [re.sub(r"\d+$", "", w.upper()) for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    words = [w for w in words if w]
    return words + [a + b for a, b in zip(words, words[1:], strict=False)]


def _keyword(token: str, keywords: frozenset[str]) -> str | None:
    for suffix in _SUFFIXES:
        if suffix and not token.endswith(suffix):
            continue
        stem = token[: len(token) - len(suffix)] if suffix else token
        if stem in keywords:
            return stem
    return None


def headings(text: str) -> list[str]:
    """ATX heading texts outside fenced code blocks, in order."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)) :]:
                fence = None
            continue
        if fence is None:
            h = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if h:
                out.append(h.group(1))
    return out


def classify(filename: str, text: str) -> tuple[str, str]:
    """(category key, reason) from keywords in the file name, title and headings."""
    scores: Counter[str] = Counter()
    found: dict[str, dict[str, list[str]]] = {}
    heads = headings(text)
    sources = [(PurePosixPath(filename).stem, _NAME_WEIGHT, "name")]
    if heads:
        sources.append((heads[0], _TITLE_WEIGHT, "title"))
        sources += [(h, _HEADING_WEIGHT, "headings") for h in heads[1:]]
    for chunk, weight, where in sources:
        for token in _tokens(chunk):
            for cat in CATEGORIES:
                kw = _keyword(token, cat.keywords)
                if kw:
                    scores[cat.key] += weight
                    words = found.setdefault(cat.key, {}).setdefault(where, [])
                    if kw not in words:
                        words.append(kw)
    if not scores:
        return DEFAULT_CATEGORY, "no kind keyword in name or headings: the default"
    best = max(CATEGORIES, key=lambda c: scores[c.key])  # max keeps the first of equals: CATEGORIES order
    return best.key, "; ".join(f"{where} {' '.join(words[:3])}" for where, words in found[best.key].items())


def _project_pattern(name: str) -> re.Pattern[str]:
    # "file-organizer-app-v1" is also written file_organizer_app_v1 or "file organizer app v1"
    parts = [re.escape(p) for p in re.split(r"[-_ ]+", name) if p]
    return re.compile(r"(?<![\w-])" + r"[-_ ]".join(parts) + r"(?![\w-])", re.IGNORECASE)


def attribute(rel_path: str, text: str, projects: list[str]) -> tuple[str | None, str]:
    """(project or None for the framework, reason). Location wins; then a project named in the
    file name or first lines; then one named many times. Ambiguity falls back to the framework."""
    parts = PurePosixPath(rel_path).parts
    if len(parts) > 2 and parts[0] == ".autonomous_runs":
        return parts[1], f"located in .autonomous_runs/{parts[1]}/"
    if not projects:
        return None, "no projects known"
    head = "\n".join([PurePosixPath(rel_path).name, *[ln for ln in text.splitlines() if ln.strip()][:_TITLE_LINES]])
    titled: list[tuple[int, str]] = []
    many: list[tuple[int, str]] = []
    for name in projects:
        pattern = _project_pattern(name)
        count = len(pattern.findall(text))
        if pattern.search(head):
            titled.append((count, name))
        elif count >= PROJECT_MENTIONS_MANY:
            many.append((count, name))
    for group, why in ((titled, "named in its file name or first lines"), (many, "named {n} times")):
        if not group:
            continue
        group.sort(reverse=True)
        if len(group) > 1 and group[0][0] == group[1][0]:
            names = ", ".join(n for _, n in group)
            return None, f"names several projects equally: {names}"
        n, name = group[0]
        return name, why.format(n=n)
    return None, "names no project"
