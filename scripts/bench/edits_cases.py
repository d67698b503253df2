"""Edit-application benchmark, part 2: the families built on purpose, which random changes rarely produce.

Owns three constructed families on stdlib modules, each a real change that keeps the module compiling:

- twin hunks: the same 3+ lines at two places of a module, a change at one of them, its unified diff
  with the context kept inside the repeated lines; sent with the right hunk line numbers (the header
  picks the twin) and with line numbers moved more than 3 lines away from every twin (nothing tells
  the twins apart: must refuse);
- twin blocks: the same block, same shape, at two indentations; a change at one of them as a
  SEARCH/REPLACE, sent with its indentation (unique) and at column 0 (fits both: must refuse);
- part-of-line SEARCH/REPLACE: a number or a call argument changed inside a line, the SEARCH a
  fragment of that line, classified by where else the fragment occurs (``word_places``).
"""

from __future__ import annotations

import ast
import io
import keyword
import random
import re
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edits_corpus import Hunk, indent_of, parses, render

TWIN_RIGHT = "hunk text not unique, right line numbers"
TWIN = "wrong_line_numbers, hunk text not unique"
SR_TWIN_KEPT = "block at several indentations, indentation kept"
SR_TWIN_KEPT_DEEPER = "block at several indentations, indentation kept, a deeper twin"
SR_TWIN = "indent_dropped, block at several indentations"
SR_LINE_IN_LINE = "indent_dropped, one line that is also part of another line"
SR_TWIN_PARTIAL = "indent partly dropped, exact copy at that indentation"
PART_UNIQUE = "part of a line, unique"
PART_IN_WORDS = "part of a line, unique; also inside longer words"
PART_SEVERAL = "part of a line, at several places"
PART_CUT = "part of a line, only inside a longer word"
PART_KINDS = [PART_UNIQUE, PART_IN_WORDS, PART_SEVERAL, PART_CUT]
ADDED = "_bench_twin = 0  # added"


@dataclass
class DiffCase:
    """A unified diff to apply to ``text``; ``new_text`` is the intended result."""

    kind: str
    rel: str
    text: str
    new_text: str
    diff: str


@dataclass
class SRCase:
    """A SEARCH/REPLACE block for ``text``: whole lines end with a newline, a part of a line does not;
    ``new_text`` None: nothing is intended (any change is wrong)."""

    kind: str
    rel: str
    text: str
    new_text: str | None
    search: str
    replace: str


def _code(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _squash(line: str) -> str:
    return " ".join(line.split())


def _width(line: str) -> int:
    return len(indent_of(line).expandtabs(8))


def twin_runs(lines: list[str], key: Callable[[str], str], shifted: bool) -> list[tuple[int, int, int]]:
    """Pairs of non-overlapping runs (p, q, length) of 3+ lines equal under ``key``, first 3 all code.

    ``shifted``: the runs must differ by one nonzero indentation shift on every non-blank line (same
    shape, other level); otherwise they are equal line for line.
    """
    end = len(lines) - (lines[-1:] == [""])  # text.split("\n") ends with "" after the final newline: no line
    keys = [key(s) for s in lines[:end]]
    pos: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i in range(end - 2):
        if all(_code(s) for s in lines[i : i + 3]):
            pos[tuple(keys[i : i + 3])].append(i)

    def same(a: int, b: int, shift: int) -> bool:
        if keys[a] != keys[b]:
            return False
        return not shifted or not lines[a].strip() or _width(lines[b]) - _width(lines[a]) == shift

    runs: set[tuple[int, int, int]] = set()
    for starts in pos.values():
        for p, q in zip(starts, starts[1:], strict=False):
            shift = _width(lines[q]) - _width(lines[p])
            if q - p < 3 or (shifted and shift == 0):
                continue
            if not all(same(p + k, q + k, shift) for k in range(3)):
                continue
            while p > 0 and same(p - 1, q - 1, shift):
                p, q = p - 1, q - 1
            n = 3
            while p + n < q and q + n < end and same(p + n, q + n, shift):
                n += 1
            runs.add((p, q, n))
    return sorted(runs)


def edit_in_run(run: list[str], rng: random.Random) -> tuple[int, list[tuple[str, str]]] | None:
    """A real change inside ``run`` with up to 3 context lines that stay inside it: (first line used, ops)."""
    n = len(run)
    kind = rng.choice(["insert", "delete", "rename"])
    if kind == "insert":
        k = rng.randint(0, n - 2)  # a line goes between run[k] and run[k + 1], at the next line's level
        ind = indent_of(run[k + 1] if run[k + 1].strip() else run[k])
        lo, mid, hi = max(0, k - 2), [("+", ind + ADDED)], k + 1
    else:
        k = rng.randint(1, n - 2)
        if not _code(run[k]):
            return None
        lo, hi = max(0, k - 3), k + 1
        mid = [("-", run[k])]
        if kind == "rename":
            names = _names(run[k])
            if not names:
                return None
            name = rng.choice(names)
            mid.append(("+", re.sub(rf"\b{re.escape(name)}\b", f"{name}_b", run[k])))
    ops = [(" ", s) for s in run[lo : k + 1 if kind == "insert" else k]] + mid
    ops += [(" ", s) for s in run[hi : hi + 3]]
    return lo, ops


def _names(line: str) -> list[str]:
    """Identifiers in the code of one line (not in its strings or comment)."""
    names = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                names.append(tok.string)
    except (tokenize.TokenError, SyntaxError):
        pass  # an unclosed bracket at the end of the line: the names before it are kept
    return names


def _in_strings(text: str) -> set[int]:
    """0-based lines inside a multi-line string (docstrings, text blocks): data, not code to edit."""
    out: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.end_lineno != node.lineno:
            out.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
    return out


def _starts(lines: list[str], block: list[str]) -> list[int]:
    return [s for s in range(len(lines) - len(block) + 1) if lines[s : s + len(block)] == block]


def _spread(sites: list[tuple[str, str, int, int, int]], rng: random.Random) -> list[tuple[str, str, int, int, int]]:
    """Sites in random order, one module at a time round-robin, so no module's boilerplate dominates."""
    by_module: dict[str, list[tuple[str, str, int, int, int]]] = defaultdict(list)
    for site in sites:
        by_module[site[0]].append(site)
    groups = list(by_module.values())
    rng.shuffle(groups)
    for g in groups:
        rng.shuffle(g)
    return [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]


@dataclass
class _Change:
    """A change inside a repeated run: file lines ``at:at+len(before)`` become ``after``."""

    rel: str
    text: str
    lines: list[str]
    at: int
    ops: list[tuple[str, str]]
    before: list[str]
    after: list[str]

    @property
    def new_text(self) -> str:
        return "\n".join(self.lines[: self.at] + self.after + self.lines[self.at + len(self.before) :])


def _changes(
    sites: list[tuple[str, str, int, int, int]], rng: random.Random, accept: Callable[[_Change], bool], tries: int = 4
) -> Iterator[_Change]:
    """One accepted change that keeps the module parsing per site (``tries`` edits at either twin)."""
    strings: dict[str, set[int]] = {}
    for rel, text, p, q, n in _spread(sites, rng):
        lines = text.split("\n")
        if rel not in strings:
            strings[rel] = _in_strings(text)
        for _ in range(tries):
            start = rng.choice([p, q])
            made = None if strings[rel] & set(range(start, start + n)) else edit_in_run(lines[start : start + n], rng)
            if made is None:
                continue
            lo, ops = made
            before, after = [t for op, t in ops if op != "+"], [t for op, t in ops if op != "-"]
            change = _Change(rel, text, lines, start + lo, ops, before, after)
            if accept(change) and parses(change.new_text):
                yield change
                break


def _twins_differ(c: _Change) -> bool:
    """The hunk text is at 2+ places, and applying it at another one gives another file."""
    twins = _starts(c.lines, c.before)
    if len(twins) < 2:
        return False
    new = c.new_text
    return all("\n".join(c.lines[:o] + c.after + c.lines[o + len(c.before) :]) != new for o in twins if o != c.at)


def twin_diff_cases(files: list[tuple[str, str]], count: int, rng: random.Random) -> list[DiffCase]:
    """``count`` changes at one of two identical runs, each as two diffs: right and wrong line numbers."""
    if count <= 0:
        return []
    sites = [(rel, text, p, q, n) for rel, text in files for p, q, n in twin_runs(text.split("\n"), str, False)]
    out: list[DiffCase] = []
    for c in _changes(sites, rng, _twins_differ):
        twins = _starts(c.lines, c.before)
        moved = [c.at + rng.choice([-1, 1]) * rng.randint(3, 300) for _ in range(50)]
        wrong = next((m for m in moved if 0 <= m < len(c.lines) and all(abs(m - o) > 3 for o in twins)), None)
        if wrong is None:
            continue  # a module too short to move the header away from every twin
        paths = (f"a/lib/{c.rel}", f"b/lib/{c.rel}")
        for kind, s in ((TWIN_RIGHT, c.at), (TWIN, wrong)):
            hunk: Hunk = [[s + 1, len(c.before), s + 1, len(c.after)], c.ops]
            out.append(DiffCase(kind, c.rel, c.text, c.new_text, render(*paths, [hunk])))
        if len(out) >= 2 * count:
            break
    return out


def _cut(c: _Change) -> int:
    return min(len(indent_of(t)) for t in c.before + c.after if t.strip())


def twin_block_cases(files: list[tuple[str, str]], count: int, rng: random.Random) -> list[SRCase]:
    """``count`` changes at one of two same-shape blocks at different indentation, as SEARCH/REPLACE
    with the indentation kept and with it dropped."""
    if count <= 0:
        return []
    sites = [(rel, text, p, q, n) for rel, text in files for p, q, n in twin_runs(text.split("\n"), _squash, True)]
    out: list[SRCase] = []

    def block(ls: list[str], cut: int = 0) -> str:
        return "".join(ln[cut:] + "\n" for ln in ls)

    # Column 0 cannot drop its indentation; an exact twin elsewhere belongs to the diff family.
    made = 0
    for c in _changes(sites, rng, lambda c: _cut(c) > 0 and len(_starts(c.lines, c.before)) == 1):
        if _deeper_twin(c):  # as sent, it may as well be that twin with part of its indentation dropped
            out.append(SRCase(SR_TWIN_KEPT_DEEPER, c.rel, c.text, None, block(c.before), block(c.after)))
        else:
            out.append(SRCase(SR_TWIN_KEPT, c.rel, c.text, c.new_text, block(c.before), block(c.after)))
        out.append(SRCase(SR_TWIN, c.rel, c.text, c.new_text, block(c.before, _cut(c)), block(c.after, _cut(c))))
        partial = _partly_dedented(c)
        if partial is not None:
            out.append(SRCase(SR_TWIN_PARTIAL, c.rel, c.text, None, block(c.before, partial), block(c.after, partial)))
        made += 1
        if made >= count:
            break
    return out


def _deeper_twin(c: _Change) -> bool:
    """The change's lines also occur, same shape, at a deeper indentation."""
    squashed = [_squash(t) for t in c.before]
    n = len(c.before)
    for o in range(len(c.lines) - n + 1):
        if o != c.at and [_squash(t) for t in c.lines[o : o + n]] == squashed:
            if min(len(indent_of(t)) for t in c.lines[o : o + n] if t.strip()) > _cut(c):
                return True
    return False


def _partly_dedented(c: _Change) -> int | None:
    """How far to dedent the change's lines so they are exactly a less indented, still indented twin
    elsewhere (a model that dropped part of the indentation), or None."""
    squashed = [_squash(t) for t in c.before]
    n = len(c.before)
    for o in range(len(c.lines) - n + 1):
        if o == c.at or [_squash(t) for t in c.lines[o : o + n]] != squashed:
            continue
        other = min(len(indent_of(t)) for t in c.lines[o : o + n] if t.strip())
        cut = _cut(c) - other
        if 0 < other and cut > 0 and [t[cut:] if t.strip() else t for t in c.before] == c.lines[o : o + n]:
            return cut
    return None


# part of a line ------------------------------------------------------------------------------
_WORDY = re.compile(r"\d\w*(?:\.\d\w*)*|\w+")  # a word, or a number with its fraction/exponent/suffix
_TOKEN = re.compile(r"\d\w*(?:\.\d\w*)*|\w+|[^\w\s]")


def word_places(text: str, fragment: str) -> tuple[int, int]:
    """(places where neither end of ``fragment`` splits a word or number, places inside longer words)."""
    whole = inside = 0
    at = text.find(fragment)
    while at != -1:
        ls = text.rfind("\n", 0, at) + 1
        le = text.find("\n", at)
        line = text[ls : le if le != -1 else len(text)]
        a, b = at - ls, at - ls + len(fragment)
        if any(m.start() < a < m.end() or m.start() < b < m.end() for m in _WORDY.finditer(line)):
            inside += 1
        else:
            whole += 1
        at = text.find(fragment, at + 1)  # overlapping places count
    return whole, inside


def _targets(tree: ast.AST) -> list[ast.expr]:
    """Numbers in expressions and names passed as call arguments: what a part-of-line edit changes."""
    out: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            out += [a for a in node.args if isinstance(a, ast.Name)]
            out += [k.value for k in node.keywords if isinstance(k.value, ast.Name)]
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            out.append(node)
    return [n for n in out if n.lineno == n.end_lineno]


def part_cases(rel: str, text: str, rng: random.Random, tries: int = 150) -> list[SRCase]:
    """At most one case per part-of-line row from one module (``tries`` bounds the fragments looked at)."""
    lines = text.split("\n")
    targets = _targets(ast.parse(text))
    rng.shuffle(targets)
    found: dict[str, SRCase] = {}
    for node in targets[:tries]:
        line = lines[node.lineno - 1]
        if not line.isascii():  # ast columns are UTF-8 byte offsets
            continue
        toks = [(m.start(), m.end()) for m in _TOKEN.finditer(line)]
        i = next((j for j, t in enumerate(toks) if t == (node.col_offset, node.end_col_offset)), None)
        if i is None:
            continue
        old = line[toks[i][0] : toks[i][1]]
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            value = node.value + rng.randint(1, 9)
            new = repr(value) if isinstance(value, float) else str(value)  # a constant changed
        else:
            new = f"{old}_arg"  # an argument of a call renamed
        spans = [(lo, hi) for lo in range(max(0, i - 2), i + 1) for hi in range(i, min(len(toks), i + 3))]
        rng.shuffle(spans)
        for lo, hi in spans[:3]:
            a, b = toks[lo][0], toks[hi][1]
            fragment = line[a:b]
            if fragment.strip() == line.strip() or not fragment.strip("()[]{},.:"):
                continue
            whole, inside = word_places(text, fragment)
            kind = PART_SEVERAL if whole > 1 else PART_IN_WORDS if inside else PART_UNIQUE
            if kind in found:
                continue
            new_line = line[: toks[i][0]] + new + line[toks[i][1] :]
            new_text = "\n".join(lines[: node.lineno - 1] + [new_line] + lines[node.lineno :])
            replace = fragment[: toks[i][0] - a] + new + fragment[toks[i][1] - a :]
            if parses(new_text):
                found[kind] = SRCase(kind, rel, text, new_text, fragment, replace)
                break
        if PART_CUT not in found:
            cut = _cut_case(rel, text, line, toks, i)
            if cut is not None:
                found[PART_CUT] = cut
        if len(found) == len(PART_KINDS):
            break
    return [found[k] for k in PART_KINDS if k in found]


def _cut_case(rel: str, text: str, line: str, toks: list[tuple[int, int]], i: int) -> SRCase | None:
    """A SEARCH naming a word the module has only inside longer words (``max`` for ``max_length``),
    with the call or expression around it: whatever an applier does with it other than refusing is wrong."""
    for j in (i - 1, i, i + 1):
        if not 0 <= j < len(toks):
            continue
        word = line[toks[j][0] : toks[j][1]]
        if "_" not in word.strip("_") or keyword.iskeyword(word) or word[0].isdigit():
            continue
        head = word.strip("_").split("_")[0]
        if len(head) < 3 or not word.startswith(head):
            continue
        a = toks[max(0, j - 1)][0]
        fragment = line[a : toks[j][0] + len(head)]  # the token before it and the word's first part
        whole, inside = word_places(text, fragment)
        if whole == 0 and inside:
            return SRCase(PART_CUT, rel, text, None, fragment, fragment + "_new")
    return None
