"""Place a SEARCH that elides lines with ``...``: its pieces in order, close together, the elided lines kept.

Models shorten SEARCH blocks (``def run(self):`` / ``# ...`` / the lines to change). When the SEARCH
as sent is not in the file, this room reads each ``...`` (or ``# ... existing code ...``) line as
"lines left out": the REPLACE must elide at the same points (as many placeholder lines), each
piece of the SEARCH is placed with ``match``'s whole-line tiers, every piece after the first within
``MAX_GAP`` lines after the one before, and the chain of places must be the only one. Piece k
becomes piece k of the REPLACE; the file's lines between pieces stay as they are. Anything else is
refused naming the piece that did not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .guards import is_placeholder_line
from .match import FileIndex, Found, candidates

MAX_GAP = 60  # lines a '...' may stand for: pieces further apart are too loosely tied to be one block


@dataclass
class ElisionRefused:
    """The elided SEARCH cannot be placed; ``problem`` names the piece (for the Builder)."""

    problem: str


def _pieces(lines: Sequence[str]) -> list[list[str]]:
    """The lines between placeholder lines (consecutive placeholders count as one)."""
    out: list[list[str]] = [[]]
    for line in lines:
        if is_placeholder_line(line):
            if out[-1] or len(out) == 1:
                out.append([])
            continue
        out[-1].append(line)
    return out


def _name(k: int, piece: list[str]) -> str:
    first = next((t.strip() for t in piece if t.strip()), "")
    first = first if len(first) <= 50 else first[:47] + "..."
    return f"piece {k + 1} of the SEARCH (starting {first!r})"


def has_elision(search: Sequence[str]) -> bool:
    return any(is_placeholder_line(t) for t in search) and any(t.strip() and not is_placeholder_line(t) for t in search)


def place_elided(idx: FileIndex, search: Sequence[str], replace: Sequence[str]) -> Found | ElisionRefused:
    """Place a SEARCH with placeholder lines piece by piece (see the module docstring)."""
    s_pieces, r_pieces = _pieces(search), _pieces(replace)
    if len(s_pieces) != len(r_pieces):
        return ElisionRefused(
            f"the SEARCH leaves lines out with '...' at {len(s_pieces) - 1} point(s) and the REPLACE at "
            f"{len(r_pieces) - 1}; put '...' at the same points of both (the lines it stands for are kept), "
            "or copy the lines out in full"
        )
    ends = [0, len(s_pieces) - 1]
    for k in ends:
        if not any(t.strip() for t in s_pieces[k]) and any(t.strip() for t in r_pieces[k]):
            where = "before its first" if k == 0 else "after its last"
            return ElisionRefused(
                f"the REPLACE has lines {where} '...' where the SEARCH has none, so where they go is unknown; "
                "SEARCH the lines they go next to"
            )
    pairs = [(s, r) for s, r in zip(s_pieces, r_pieces, strict=True) if any(t.strip() for t in s)]
    places: list[list[Found]] = []
    for k, (s, r) in enumerate(pairs):
        seq = [("-", t) for t in s] + [("+", t) for t in r]
        found = candidates(idx, seq)
        if not found:
            return ElisionRefused(f"{_name(k, s)} is not in the file; copy that piece exactly")
        places.append(found)
    chains: list[list[Found]] = [[f] for f in places[0]]
    for k in range(1, len(places)):
        longer = [c + [f] for c in chains for f in places[k] if c[-1].end <= f.start <= c[-1].end + MAX_GAP]
        if not longer:
            where = ", ".join(str(c[-1].end) for c in chains[:4])
            return ElisionRefused(
                f"{_name(k, pairs[k][0])} is not within {MAX_GAP} lines after piece {k} "
                f"(which ends at line {where}); the pieces of an elided SEARCH must follow each other closely"
            )
        chains = longer
    results: dict[tuple[str, ...], Found] = {}
    kept: list[list[Found]] = []
    lines = idx.lines
    for chain in chains:
        new: list[str] = []
        for f, nxt in zip(chain, [*chain[1:], None], strict=True):
            new.extend(f.new_lines)
            if nxt is not None:
                new.extend(lines[f.end : nxt.start])
        start, end = chain[0].start, chain[-1].end
        key = tuple(lines[:start] + new + lines[end:])
        if key not in results:
            spans = ", ".join(f"{f.start + 1}-{f.end}" for f in chain)
            fuzz = [
                f"the SEARCH leaves lines out with '...': its {len(chain)} pieces are at lines {spans}, the lines between them kept"
            ]
            fuzz += [note for f in chain for note in f.fuzz]
            results[key] = Found(start, end, new, list(dict.fromkeys(fuzz)))
            kept.append(chain)
    if len(results) > 1:
        k = next(k for k in range(len(pairs)) if len({c[k].start for c in kept}) > 1)
        where = ", ".join(str(n + 1) for n in sorted({c[k].start for c in kept})[:6])
        return ElisionRefused(
            f"{_name(k, pairs[k][0])} fits {len({c[k].start for c in kept})} places in order with the other pieces "
            f"(lines {where}); add lines to it so that only one place fits"
        )
    return next(iter(results.values()))
