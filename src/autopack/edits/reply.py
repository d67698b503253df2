"""What a parsed Builder reply holds: ``Edit``s (with their diff ``Hunk``s) in a ``ParsedReply``, and the
code-fence pattern every parser reads. Shared by ``parse`` (whole files, SEARCH/REPLACE, choosing the
format) and ``udiff`` (unified diffs), and read by ``placement`` and ``apply``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

EditKind = Literal["diff", "full_file", "search_replace", "unusable"]
FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^`]*?)[ \t]*$")


@dataclass
class Hunk:
    """One ``@@`` hunk: ``lines`` are (op, text) with op ``" "`` context, ``"-"`` removed, ``"+"`` added."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    old_start: int | None = None
    old_count: int | None = None
    new_start: int | None = None
    new_count: int | None = None
    number: int = 1

    @property
    def before(self) -> list[str]:
        return [t for op, t in self.lines if op != "+"]

    @property
    def after(self) -> list[str]:
        return [t for op, t in self.lines if op != "-"]


@dataclass
class Edit:
    """One edit to one file. ``index`` is 1-based in reply order and is how feedback names it."""

    kind: EditKind
    path: str
    index: int = 0
    hunks: list[Hunk] = field(default_factory=list)
    content: str | None = None
    search: str | None = None
    replace: str | None = None
    delete_file: bool = False
    new_file: bool = False
    problem: str = ""  # kind "unusable": why the block cannot be applied (the Builder reads it)
    line: int = field(default=0, repr=False, compare=False)  # 1-based reply line where the block starts
    span: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)  # reply lines [start, end), 0-based


def unusable(problem: str, line: int, span: tuple[int, int], path: str = "") -> Edit:
    """An edit block that cannot be applied; the applier refuses it with ``problem``."""
    return Edit(kind="unusable", path=path, problem=problem, line=line, span=span)


@dataclass
class ParsedReply:
    """What a reply holds. ``truncated`` replies were cut off mid-block and must not be applied.

    ``edits`` include ``unusable`` ones (edit blocks that cannot be applied, each refused with its
    ``problem``); ``problems`` are notes that refuse nothing (a miscounted hunk, the format used).
    """

    edits: list[Edit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False
    mode: str = "diff"
    spans: list[tuple[int, int]] = field(default_factory=list, repr=False)  # reply lines this format read

    @property
    def usable(self) -> list[Edit]:
        return [e for e in self.edits if e.kind != "unusable"]
