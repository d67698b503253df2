"""Place SEARCH text that is part of a line: the last tier of the matching ladder, for SEARCH/REPLACE only.

Models sometimes SEARCH a fragment (a value, an argument, a line without its comment) that the
whole-line tiers of ``match`` cannot find. This room decides whether such text may be used as exact
text inside a line: only where neither end cuts a word or number in two, at exactly one such place,
and not when the REPLACE repeats the rest of that line (the model took the fragment for the whole
line; a REPLACE that ends with the punctuation closing that line, `;` or `.`, replaces up to the end of
the line instead of doubling it). Anything else is refused with a message naming the line, so the model
can send whole lines.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .match import Ambiguous, FileIndex, Found

# A word, or a number with its fraction, exponent or suffix (1.5, 2e10, 0x1F, 10_000): what a SEARCH
# fragment may never begin or end inside of. Dots only join digits, so `a.b` and "version 2.0." split.
_TOKEN = re.compile(r"\d\w*(?:\.\d\w*)*|\w+")
_PART_FUZZ = "matched part of a line exactly"


@dataclass
class PartRefused:
    """The SEARCH text is in the file only as part of a line where using it would corrupt code.

    ``start:end`` are the file lines of the first such occurrence; ``problem`` says what is wrong.
    """

    start: int
    end: int
    problem: str


def _cut_word(line: str, col: int) -> str | None:
    """The word or number that a boundary at ``col`` would cut in two (None: ``col`` is between tokens)."""
    for m in _TOKEN.finditer(line):
        if m.start() >= col:
            return None
        if col < m.end():
            return m.group()
    return None


def place_fragment(
    idx: FileIndex, search: Sequence[str], replace: Sequence[str]
) -> Found | Ambiguous | PartRefused | None:
    """Place SEARCH text the line tiers missed as exact text that is part of a line; None: not in the file.

    Models sometimes SEARCH a fragment (a value, an argument, a line without its comment). Matching
    plain text can also hit the middle of a word (``sub`` in ``subtract``), and replacing there
    corrupts code, so a place counts only when neither end cuts a word or number; it must be the only
    such place, and a REPLACE that repeats the rest of its line is refused (words) or replaces up to the
    end of the line (closing punctuation) rather than doubled.
    """
    old = "\n".join(search)
    if not any(s.strip() for s in search):
        return None
    lines, text = idx.lines, "\n".join(idx.lines)
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    good: list[tuple[int, int, int, int]] = []  # (first line, its column, last line, column after the match)
    cut: list[tuple[int, int, str]] = []
    at = text.find(old)
    while at != -1:
        first = bisect.bisect_right(offsets, at) - 1
        last = bisect.bisect_right(offsets, at + len(old)) - 1
        c0, c1 = at - offsets[first], at + len(old) - offsets[last]
        if word := _cut_word(lines[first], c0):
            cut.append((first, last, f"starts inside the {_kind(word)} {word!r}"))
        elif word := _cut_word(lines[last], c1):
            cut.append((first, last, f"ends inside the {_kind(word)} {word!r}"))
        else:
            good.append((first, c0, last, c1))
        at = text.find(old, at + 1)  # overlapping occurrences count: each is a place the text fits
    if len(good) > 1:
        return Ambiguous([g[0] for g in good], "part")
    if not good:
        if not cut:
            return None
        first, last, why = cut[0]
        return PartRefused(
            first,
            last + 1,
            f"it is only part of {_lines(first, last)} and {why}; a SEARCH never splits a word or number, "
            "so copy whole lines from the file",
        )
    first, c0, last, c1 = good[0]
    head, tail = lines[first][:c0], lines[last][c1:]
    h, t = head.strip(), tail.strip()
    if replace and re.search(r"\w", h) and replace[0].strip().startswith(h):
        problem = f"the REPLACE starts with {h!r}, which that line already has before it"
    elif replace and re.search(r"\w", t) and replace[-1].strip().endswith(t):
        problem = f"the REPLACE ends with {t!r}, which that line already has after it"
    else:
        fuzz = [_PART_FUZZ]
        if replace and t and _repeats_rest(search[-1], replace[-1], t):
            # `return a + b` -> `return a - b;` in `return a + b;`: the model took the SEARCH for the
            # whole line, and the REPLACE says how the line ends; keeping the line's `;` would double it.
            tail = ""
            fuzz.append(f"the REPLACE ends with {t!r}, the rest of line {last + 1}: replaced up to the end of the line")
        new = (head + "\n".join(replace) + tail).split("\n")
        if cut:
            others = sorted({c[0] + 1 for c in cut})
            where = ("lines " if len(others) > 1 else "line ") + ", ".join(map(str, others))
            fuzz.append(f"the same text inside longer words ({where}) was left alone")
        return Found(first, last + 1, new, fuzz)
    return PartRefused(
        first,
        last + 1,
        f"it is only part of {_lines(first, last)}, and {problem} (it would be there twice); SEARCH the whole line",
    )


_BRACKETS = {"(": ("(", 1), ")": ("(", -1), "[": ("[", 1), "]": ("[", -1), "{": ("{", 1), "}": ("{", -1)}


def _balance(text: str) -> dict[str, int]:
    """Open minus closed brackets of each kind in ``text``."""
    out = {"(": 0, "[": 0, "{": 0}
    for ch in text:
        if ch in _BRACKETS:
            kind, step = _BRACKETS[ch]
            out[kind] += step
    return out


def _repeats_rest(search_last: str, replace_last: str, rest: str) -> bool:
    """The REPLACE's last line ends with ``rest`` (punctuation that follows the SEARCH text on its line)
    as the line's own ending, not as part of its change: the SEARCH does not end with it, and without
    it the REPLACE opens and closes brackets as the SEARCH does (``call(x`` -> ``call(g(x)`` closes its
    own bracket, and the line's ``)`` stays)."""
    r = replace_last.rstrip()
    if not r.endswith(rest) or search_last.rstrip().endswith(rest):
        return False
    return _balance(r[: len(r) - len(rest)]) == _balance(search_last)


def part_places(idx: FileIndex, text: str) -> list[int]:
    """Lines (0-based) that hold ``text`` as part of the line's code, on word boundaries at both ends
    and not inside a comment or a string on that line: where a one-line SEARCH could also have been
    aimed when the whole-line tiers placed it only by ignoring its indentation."""
    text = text.strip()
    found: list[int] = []
    for n, line in enumerate(idx.lines):
        if not text or line.strip() == text:
            continue
        at = line.find(text)
        while at != -1:
            if not _cut_word(line, at) and not _cut_word(line, at + len(text)) and _in_code(line, at):
                found.append(n)
                break
            at = line.find(text, at + 1)
    return found


def _in_code(line: str, col: int) -> bool:
    """False if ``col`` is inside a comment or a string that starts on this line. A line inside a
    multi-line string cannot be told from code here; it counts as code (the careful answer)."""
    quote, i = "", 0
    while i < col:
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif ch == "#":
            return False
        elif ch in "'\"":
            quote = ch * 3 if line.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        i += 1
    return not quote


def _kind(token: str) -> str:
    return "number" if token[0].isdigit() else "word"


def _lines(first: int, last: int) -> str:
    return f"line {first + 1}" if first == last else f"lines {first + 1}-{last + 1}"
