"""The edits room: parse a Builder reply (diff, whole files, SEARCH/REPLACE) and apply it safely.

``parse_reply`` turns text into ``Edit``s (and flags truncated replies, which must never be
applied); an edit block it cannot use (no path line, a hunk without its header, a block in
another format) is an ``unusable`` edit that ``apply_edits`` refuses, never a dropped one. Pass
it the phase ``scope`` and workspace ``root`` so that a line naming a file without an extension
(``VERSION``) counts as a path line. ``apply_edits`` checks every path against the workspace and the phase scope, places each
edit exactly or with bounded tolerance (never at a guessed place), runs the destructive-output
guards and a Python syntax check, writes atomically, and returns an ``ApplyReport`` whose
``feedback()`` is the text the Builder sees next. This room knows nothing about LLMs.
"""

# Submodules load on first use (PEP 562), so importing one module (the CLI reads edits.parse) does not pull in the
# whole room: `autopack --help` must stay fast.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers only; at run time names load lazily
    from .apply import apply_edits
    from .parse import detect_mode, parse_reply
    from .paths import PathRefused, in_scope, resolve_in_workspace
    from .reply import Edit
    from .report import ApplyReport

_EXPORTS = {
    "ApplyReport": ".report",
    "Edit": ".reply",
    "PathRefused": ".paths",
    "apply_edits": ".apply",
    "detect_mode": ".parse",
    "in_scope": ".paths",
    "parse_reply": ".parse",
    "resolve_in_workspace": ".paths",
}

__all__ = [
    "ApplyReport",
    "Edit",
    "PathRefused",
    "apply_edits",
    "detect_mode",
    "in_scope",
    "parse_reply",
    "resolve_in_workspace",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
