"""The edits room: parse a Builder reply (diff, whole files, SEARCH/REPLACE) and apply it safely.

``parse_reply`` turns text into ``Edit``s (and flags truncated replies, which must never be
applied); ``apply_edits`` checks every path against the workspace and the phase scope, places each
edit exactly or with bounded tolerance (never at a guessed place), runs the destructive-output
guards and a Python syntax check, writes atomically, and returns an ``ApplyReport`` whose
``feedback()`` is the text the Builder sees next. This room knows nothing about LLMs.
"""

from __future__ import annotations

from .apply import apply_edits
from .parse import Edit, Hunk, ParsedReply, detect_mode, parse_reply
from .paths import PathRefused, in_scope, resolve_in_workspace
from .report import ApplyReport, EditResult, HunkResult

__all__ = [
    "ApplyReport",
    "Edit",
    "EditResult",
    "Hunk",
    "HunkResult",
    "ParsedReply",
    "PathRefused",
    "apply_edits",
    "detect_mode",
    "in_scope",
    "parse_reply",
    "resolve_in_workspace",
]
