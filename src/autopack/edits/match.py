"""Find the one place in a file where a block of lines belongs: exact first, then tolerant, never a guess.

Owns the matching ladder used for diff hunks and SEARCH/REPLACE blocks alike. A block is a list of
(op, text) lines: context ``" "`` and removed ``"-"`` lines must be found in the file ("before"),
added ``"+"`` lines are written. Tiers, each tried only when the previous found nothing:

1. exact lines; 2. trailing whitespace ignored; 3. tabs and spaces compared by width; 4. indentation
and inner spacing ignored (added lines are then re-indented the way the file is); 5. diff hunks only:
one context line altered, or one file line missing from the hunk, with the file's line kept.
The last tier, for SEARCH/REPLACE only (SEARCH text that is part of a line), is ``fragment``'s; it
builds on this module's ``FileIndex``, ``Found`` and ``Ambiguous``.

Places are told apart by the file they would produce. Two different results at one tier are
ambiguous and refused, unless the hunk header's line number (within 2 lines) points at exactly one.
Removed lines must always match up to whitespace; a ``...`` line only ever matches itself; a block
that fits exactly but also fits a more indented place with other indentation is ambiguous too (models
drop indentation, all or part of it, and the exact twin is then the wrong place).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .guards import is_placeholder_line

Line = tuple[str, str]
Mapper = Callable[[str], "str | None"]
_LEVELS = ("exact", "rstrip", "tabs", "indent")
_FUZZ = {
    "rstrip": "matched ignoring trailing whitespace",
    "tabs": "matched with tabs and spaces told apart only by width",
    "indent": "matched ignoring indentation and spacing",
}
_HINT_SLACK = 2  # a header line number this close to one twin (and no other) picks it
# When a block placed exactly (or up to whitespace at line ends) also fits elsewhere at another
# indentation, which placements count as ambiguous: "column0" only blocks sent at column 0 (a model
# that dropped all indentation), "deeper" any block with a more indented twin (a model that dropped
# some), "any" every such block. Measured (scripts/bench/edits.py --twin-rule, docs/BENCHMARKS.md):
# "column0" applied 94 of 116 partly dedented blocks at the exact copy (wrong), "deeper" and "any"
# none; "deeper" refuses 90 of 200 blocks sent exactly at the shallower of two twins, "any" all 200;
# no rule refused any of 600 undamaged blocks of real commits.
TWIN_RULE = "deeper"


def _key(level: str, s: str) -> str:
    if level == "exact":
        return s
    if level == "rstrip":
        return s.rstrip()
    if level == "tabs":  # leading tabs expanded to width 4; equals rstrip() for lines without tabs
        body = s.lstrip(" \t")
        return s[: len(s) - len(body)].expandtabs(4) + body.rstrip() if body.strip() else ""
    return " ".join(s.split())


class FileIndex:
    """A file's lines with per-tier keys and key -> positions maps, built lazily."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        self._keys: dict[str, list[str]] = {}
        self._pos: dict[str, dict[str, list[int]]] = {}
        self._text: str | None = None

    @property
    def text(self) -> str:
        """The lines joined by newlines (for fast substring counts)."""
        if self._text is None:
            self._text = "\n".join(self.lines)
        return self._text

    def keys(self, level: str) -> list[str]:
        if level not in self._keys:
            # Inlined per tier: this runs over every line of the file and dominates placing an edit.
            if level == "exact":
                keys = self.lines
            elif level == "rstrip":
                keys = [s.rstrip() for s in self.lines]
            elif level == "indent":
                keys = [" ".join(s.split()) for s in self.lines]
            else:
                keys = [_key(level, s) if "\t" in s else s.rstrip() for s in self.lines]
            self._keys[level] = keys
        return self._keys[level]

    def positions(self, level: str, key: str) -> list[int]:
        if level not in self._pos:
            table: dict[str, list[int]] = defaultdict(list)
            for i, k in enumerate(self.keys(level)):
                table[k].append(i)
            self._pos[level] = table
        return self._pos[level].get(key, [])


@dataclass
class Found:
    """Where a block goes: file lines ``start:end`` become ``new_lines``; ``fuzz`` says what was tolerated."""

    start: int
    end: int
    new_lines: list[str]
    fuzz: list[str] = field(default_factory=list)


@dataclass
class Ambiguous:
    """The block matches at several places equally well (0-based starts)."""

    starts: list[int]
    level: str
    exact_at: int | None = None  # set when one place matches exactly and others only up to indentation


# indentation ---------------------------------------------------------------------------------
def indentation(s: str) -> str:
    """The leading spaces and tabs of a line."""
    return s[: len(s) - len(s.lstrip(" \t"))]


def _width(ws: str, tab: int) -> int:
    w = 0
    for c in ws:
        w = (w // tab + 1) * tab if c == "\t" else w + 1
    return w


def indent_mapper(pairs: Sequence[tuple[str, str]]) -> tuple[Mapper, str] | None:
    """How the model's indentation maps onto the file's, from matched (model line, file line) pairs.

    Returns a function re-indenting an added line (None when it cannot) and a note, or None when
    the pairs disagree (the block's shape differs from the file's, so it is not the same code).
    """
    leads = [(indentation(m), indentation(f)) for m, f in pairs if m.strip() and f.strip()]
    if all(a == b for a, b in leads):
        return (lambda line: line), ""
    a0, b0 = leads[0]
    if b0.endswith(a0):
        extra = b0[: len(b0) - len(a0)]
        if all(b == extra + a for a, b in leads):
            return (lambda line: extra + line if line.strip() else line), "added lines re-indented to the file's level"
    if a0.endswith(b0):
        cut = a0[: len(a0) - len(b0)]
        if all(a == cut + b for a, b in leads):
            return (
                lambda line: line[len(cut) :] if line.startswith(cut) else (line if not line.strip() else None)
            ), "added lines re-indented to the file's level"
    use_tabs = any("\t" in b for _, b in leads)
    for tab in (4, 8, 2):
        deltas = {_width(b, tab) - _width(a, tab) for a, b in leads}
        if len(deltas) == 1:
            delta = deltas.pop()

            def mapper(line: str, tab: int = tab, delta: int = delta) -> str | None:
                if not line.strip():
                    return line
                w = _width(indentation(line), tab) + delta
                if w < 0:
                    return None
                ws = "\t" * (w // tab) + " " * (w % tab) if use_tabs else " " * w
                return ws + line.lstrip(" \t")

            style = "tabs" if use_tabs else "spaces"
            return mapper, f"added lines re-indented to the file's {style}"
    return None


# candidates ----------------------------------------------------------------------------------
@dataclass
class _Cand:
    start: int
    end: int
    pos: list[int]  # file index of each "before" line
    altered: int | None = None  # index of the one context line that differs
    missing: int | None = None  # file index of the one line the block omits


def _strict(idx: FileIndex, level: str, bkeys: list[str]) -> list[_Cand]:
    m, fk = len(bkeys), idx.keys(level)
    anchor = min(range(m), key=lambda k: (len(idx.positions(level, bkeys[k])), not bkeys[k]))
    out = []
    for p in idx.positions(level, bkeys[anchor]):
        s = p - anchor
        if s >= 0 and s + m <= len(fk) and fk[s : s + m] == bkeys:
            out.append(_Cand(s, s + m, list(range(s, s + m))))
    return out


def _tolerant(idx: FileIndex, level: str, bkeys: list[str], seq: Sequence[Line]) -> list[_Cand]:
    m, fk, n = len(bkeys), idx.keys(level), len(idx.lines)
    ops = [op for op, _ in seq if op != "+"]
    texts = [t for op, t in seq if op != "+"]
    nonblank = [k for k in range(m) if bkeys[k]]
    if m < 2 or len(nonblank) < 2:
        return []
    # A gap may hold an omitted file line only if it touches a context line and has no added line in it
    # (otherwise where the added lines go relative to it would be a guess).
    gap_ok = [False] * (m + 1)
    k, plus_since = 0, False
    for op, _ in seq:
        if op == "+":
            plus_since = True
            continue
        if 0 < k < m + 1:
            gap_ok[k] = not plus_since and (ops[k - 1] == " " or ops[k] == " ")
        k += 1
        plus_since = False
    anchors = sorted(nonblank, key=lambda k: len(idx.positions(level, bkeys[k])))[:2]
    starts: set[int] = set()
    for a in anchors:
        for p in idx.positions(level, bkeys[a]):
            starts.update((p - a, p - a - 1))
    out: list[_Cand] = []
    for s in sorted(starts):
        if s < 0:
            continue
        if s + m <= n:
            bad = []
            for k in range(m):
                if fk[s + k] != bkeys[k]:
                    bad.append(k)
                    if len(bad) > 1:
                        break
            if len(bad) == 1:
                j = bad[0]
                ok = ops[j] == " " and not is_placeholder_line(texts[j]) and len([k for k in nonblank if k != j]) >= 2
                if ok:
                    out.append(_Cand(s, s + m, list(range(s, s + m)), altered=j))
        if s + m + 1 <= n:
            p = 0
            while p < m and fk[s + p] == bkeys[p]:
                p += 1
            q = 0
            while q < m and fk[s + m - q] == bkeys[m - 1 - q]:
                q += 1
            for g in range(max(1, m - q), min(p, m - 1) + 1):
                if gap_ok[g]:
                    pos = list(range(s, s + g)) + list(range(s + g + 1, s + m + 1))
                    out.append(_Cand(s, s + m + 1, pos, missing=s + g))
    return out


def _build(idx: FileIndex, cand: _Cand, seq: Sequence[Line], level: str) -> Found | None:
    lines = idx.lines
    before_texts = [t for op, t in seq if op != "+"]
    if level in ("tabs", "indent") and any(
        is_placeholder_line(t) and lines[cand.pos[k]].rstrip() != t.rstrip()
        for k, t in enumerate(before_texts)
        if k != cand.altered
    ):
        return None  # a '...' may stand for code; it only counts when it is literally the file's line
    pairs = [(before_texts[k], lines[cand.pos[k]]) for k in range(len(before_texts)) if k != cand.altered]
    mapped = indent_mapper(pairs) if level in ("tabs", "indent") else ((lambda line: line), "")
    if mapped is None:
        return None
    mapper, note = mapped
    out: list[str] = []
    f, k = cand.start, 0
    for op, text in seq:
        if op == "+":
            new = mapper(text)
            if new is None:
                return None
            out.append(new)
            continue
        target = cand.pos[k]
        out.extend(lines[f:target])  # the one line the block omitted, kept as it is in the file
        if op == " ":
            out.append(lines[target])
        f, k = target + 1, k + 1
    out.extend(lines[f : cand.end])
    fuzz = [_FUZZ[level]] if level in _FUZZ else []
    if note:
        fuzz.append(note)
    if cand.altered is not None:
        at = cand.pos[cand.altered]
        fuzz.append(
            f"context line {before_texts[cand.altered].strip()!r} differs from line {at + 1} of the file; kept the file's line"
        )
    if cand.missing is not None:
        fuzz.append(f"the block omits line {cand.missing + 1} of the file ({lines[cand.missing].strip()!r}); kept it")
    return Found(cand.start, cand.end, out, fuzz)


def _choose(lines: list[str], found: list[Found], hint: int | None, level: str) -> Found | Ambiguous | None:
    # Candidates are told apart by the file they would produce: an "altered last context line" and a
    # "missing line" reading of the same spot give one result and are not an ambiguity.
    if len(found) <= 1:
        return found[0] if found else None
    options: list[Found] = []
    results: list[list[str]] = []
    for f in found:
        result = lines[: f.start] + f.new_lines + lines[f.end :]
        if result not in results:
            options.append(f)
            results.append(result)
    if len(options) == 1:
        return options[0]
    at_hint = [f for f in options if hint is not None and abs(f.start - hint) <= _HINT_SLACK]
    if len(at_hint) == 1:
        chosen = at_hint[0]
        others = ", ".join(sorted({str(f.start + 1) for f in options if f.start != chosen.start}))
        if others:
            chosen.fuzz.append(f"the same lines also appear at line {others}; used the one at the header's line number")
            return chosen
    return Ambiguous(sorted({f.start for f in options}), level)


def place(idx: FileIndex, seq: Sequence[Line], *, hint: int | None = None) -> Found | Ambiguous | None:
    """Place a block at the strict tiers (exact, trailing whitespace, tab width, indentation); None: not found."""
    before = [t for op, t in seq if op != "+"]
    if not any(t.strip() and not is_placeholder_line(t) for t in before):
        return None  # nothing but blank lines and '...': no place can be told from another
    for level in _LEVELS:
        bkeys = [_key(level, t) for t in before]
        built = [b for c in _strict(idx, level, bkeys) if (b := _build(idx, c, seq, level))]
        result = _choose(idx.lines, built, hint, level)
        # A tabs-for-spaces block kept its indentation width: dropping part of it too would be a second slip.
        if (
            isinstance(result, Found)
            and level != "indent"
            and (_at_column_zero(before) or TWIN_RULE == "any" or (TWIN_RULE == "deeper" and level != "tabs"))
        ):
            return _unless_reindented_elsewhere(idx, seq, before, result, hint)
        if result is not None:
            return result
    return None


def candidates(idx: FileIndex, seq: Sequence[Line]) -> list[Found]:
    """Every place a block fits at the first strict tier where it fits at all (for pieces placed together)."""
    before = [t for op, t in seq if op != "+"]
    if not any(t.strip() and not is_placeholder_line(t) for t in before):
        return []
    for level in _LEVELS:
        bkeys = [_key(level, t) for t in before]
        built = [b for c in _strict(idx, level, bkeys) if (b := _build(idx, c, seq, level))]
        if built:
            return built
    return []


def place_tolerant(
    idx: FileIndex, seq: Sequence[Line], *, hint: int | None = None, unnumbered: bool = False
) -> Found | Ambiguous | None:
    """For blocks the strict tiers missed: allow one context line altered, or one file line missing.

    Call it only after checking the block is not already applied, so a tolerated line never makes an
    applied block look like an unapplied one. ``unnumbered`` (SEARCH/REPLACE, which has no line number
    to confirm a place): the lines that match must say enough on their own (``_evident``).
    """
    before = [t for op, t in seq if op != "+"]
    if not any(t.strip() and not is_placeholder_line(t) for t in before):
        return None
    for level in ("rstrip", "indent"):
        bkeys = [_key(level, t) for t in before]
        built = [(c, b) for c in _tolerant(idx, level, bkeys, seq) if (b := _build(idx, c, seq, level))]
        result = _choose(idx.lines, [b for _, b in built], hint, level)
        if unnumbered and isinstance(result, Found):
            # Weak readings still count as other readings (above); the one that is left must be strong.
            if not all(_evident(idx, c, before) for c, b in built if b.new_lines == result.new_lines):
                return None
        if result is not None:
            return result
    return None


def _evident(idx: FileIndex, cand: _Cand, before: list[str]) -> bool:
    """Enough matching lines to trust a tolerated place without a line number: three lines of substance
    (10+ characters with a word in them; not a lone quote, bracket or ``else:``), or two when the one wrong
    line is close to the file's (a typo, a changed comment), or two and a third line for a left-out one."""
    matched = [t for k, t in enumerate(before) if k != cand.altered and t.strip()]
    strong = sum(1 for t in matched if len(t.strip()) >= 10 and re.search(r"[A-Za-z_]{2}", t))
    if cand.altered is not None:
        wrong, real = before[cand.altered].strip(), idx.lines[cand.pos[cand.altered]].strip()
        return strong >= 3 or (strong >= 2 and difflib.SequenceMatcher(None, wrong, real).ratio() >= 0.6)
    return strong >= 2 and len(matched) >= 3


def _depth(lines: list[str], start: int, n: int) -> int:
    """The least indentation width (tabs as 4) of the non-blank lines ``start:start+n``."""
    return min((len(indentation(t).expandtabs(4)) for t in lines[start : start + n] if t.strip()), default=0)


def _at_column_zero(before: list[str]) -> bool:
    return any(t.strip() for t in before) and min(len(indentation(t)) for t in before if t.strip()) == 0


def _unless_reindented_elsewhere(
    idx: FileIndex, seq: Sequence[Line], before: list[str], found: Found, hint: int | None
) -> Found | Ambiguous:
    # Models often drop indentation, sending a nested block at column 0; then an exact match can be the
    # wrong twin (a top-level statement vs the same statement inside a function). When the block is at
    # column 0 and fits elsewhere with other indentation, only the hunk header's line number may decide.
    # Most blocks have no twin: when their longest line occurs once in the file (the place found), no
    # indentation-blind index of the whole file is needed.
    longest = max((t.strip() for t in before), key=len)
    if idx.text.count(longest) <= 1:
        return found
    keys = [_key("indent", t) for t in before]
    others = {c.start for c in _strict(idx, "indent", keys) if c.start != found.start and _build(idx, c, seq, "indent")}
    if TWIN_RULE == "deeper":  # only a twin the block could have been dedented from
        depth = _depth(idx.lines, found.start, len(before))
        others = {o for o in others if _depth(idx.lines, o, len(before)) > depth}
    if not others or (hint is not None and abs(found.start - hint) <= _HINT_SLACK):
        return found
    return Ambiguous(sorted({found.start, *others}), "indent", exact_at=found.start)


def already_present(idx: FileIndex, seq: Sequence[Line]) -> bool:
    """True when the block's result ("after" lines) is in the file with some substance to it."""
    after = [t for op, t in seq if op != "-"]
    if sum(1 for t in after if t.strip()) < (1 if any(op == "+" and t.strip() for op, t in seq) else 2):
        return False
    for level in _LEVELS:
        if _strict(idx, level, [_key(level, t) for t in after]):
            return True
    return False


def closest(lines: Sequence[str], wanted: Sequence[str], limit: int = 30) -> tuple[str, list[str]]:
    """The stretch of the file most like ``wanted`` (numbered, for "did you mean") and the wanted lines it lacks."""
    norm = [" ".join(s.split()) for s in lines]
    want = [" ".join(s.split()) for s in wanted]
    positions: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(norm):
        if key:
            positions[key].append(i)
    votes: Counter[int] = Counter()
    for k, w in enumerate(want):
        if w and len(positions.get(w, ())) <= 50:
            for p in positions.get(w, ()):
                votes[p - k] += 1
    if not votes:
        probes = sorted((w for w in want if w), key=len, reverse=True)[:3]
        pool = list(positions)
        for probe in probes:
            at = want.index(probe)
            for match in difflib.get_close_matches(probe, pool, n=3, cutoff=0.6):
                for p in positions[match][:5]:
                    votes[p - at] += 1
    if not votes:
        return "", [w for w in wanted if w.strip()]
    best, best_score = 0, -1.0
    for s, _ in votes.most_common(6):
        lo = max(0, s)
        window = norm[lo : lo + max(len(want), 1)]
        score = difflib.SequenceMatcher(None, want, window, autojunk=False).ratio()
        if score > best_score:
            best, best_score = lo, score
    hi = min(len(lines), best + max(len(want), 1))
    shown = [f"{n + 1:>5} | {lines[n]}" for n in range(best, min(hi, best + limit))]
    if hi > best + limit:
        shown.append(f"      | ... ({hi - best - limit} more lines)")
    present = set(norm[best:hi])
    missing = [wanted[k] for k, w in enumerate(want) if w and w not in present]
    return "\n".join(shown), missing
