"""Error message normalisation and similarity: the same failure must compare equal across attempts.

Two runs of one failing test differ in temp paths, line numbers, timings, addresses and ids; none
of that says anything about *why* they failed. ``normalize_error_message`` replaces that variable
content with placeholders, and ``message_similarity`` compares what is left. Re-planning (see
``approach.py``) uses the similarity to tell an approach flaw from a run of unrelated failures.
"""

from __future__ import annotations

import difflib
import re

# Long outputs are compared on their tail: pytest, tracebacks and linters put the cause at the end,
# and SequenceMatcher is quadratic in the worst case.
MAX_COMPARED_CHARS = 4000

_SUBS: list[tuple[re.Pattern[str], str]] = [
    # URLs before paths, so https://host/a/b is one token rather than a host and a path.
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.I), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    # ISO 8601 date-times and dates, then clock times, then "Mon Jan  6 10:00:00 2025" style stamps.
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
        "<time>",
    ),
    (re.compile(r"\b\d{1,2}/[A-Z][a-z]{2}/\d{4}(?::\d{2}){3}(?: [+-]\d{4})?"), "<time>"),
    (
        re.compile(
            r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +(?:\d{1,2} +)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
            r"[a-z]* +(?:\d{1,2} +)?(?:\d{4} +)?\d{2}:\d{2}:\d{2}(?: +\d{4})?(?: +(?:GMT|UTC|[+-]\d{4}))?"
        ),
        "<time>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    # Windows paths (drive or UNC), then POSIX absolute/home paths, then relative paths that are
    # unmistakably paths (./x, ../x, or dirs/ending/in/a/file.ext). A path ends at whitespace, a
    # quote, a bracket, a comma, or a ":" that starts a line number or a pytest node id.
    (re.compile(r"(?<![\w/\\])(?:[A-Za-z]:[\\/]|\\\\[\w.$-]+\\)[^\s'\"<>|:;*?,()\[\]]*"), "<path>"),
    (re.compile(r"(?<![\w.<>/~-])(?:~|\.{1,2})?/(?:[^\s'\":;,()\[\]<>]+)"), "<path>"),
    (re.compile(r"(?<![\w./<>-])(?:\.{1,2}/)?(?:[\w.@+-]+/)+[\w.@+-]*\.[A-Za-z]\w{0,9}\b"), "<path>"),
    # Positions: "line 42", "line 42, column 7", "file.py:42:7", "L42", "col 7".
    (re.compile(r"\b(line|lineno|column|col|row|offset)(\s*[=:]?\s*)\d+\b", re.I), r"\1 <n>"),
    (re.compile(r":\d+(?::\d+)?(?=\b|:)"), ":<n>"),
    (re.compile(r"\bL\d+(?:-L?\d+)?\b"), "L<n>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # Durations: "0.12s", "in 3.4 seconds", "123ms", "1.5 min", "0:00:01" handled as a time above.
    (
        re.compile(
            r"\b\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b",
            re.I,
        ),
        "<dur>",
    ),
    (re.compile(r"\b(pid|process|thread|worker|gw)(\s*[=:#]?\s*)\d+\b", re.I), r"\1 <n>"),
    # Temp names outside a path: tempfile's "tmp" + 8 random characters (not identifiers such as
    # tmp_path), and pytest's basetemp directories.
    (re.compile(r"\btmp[a-z0-9_]{8}\b", re.I), "<tmp>"),
    (re.compile(r"\bpytest-(?:of-[\w.-]+|\d+(?![.\d]))", re.I), "<tmp>"),
    # Git object names and other long hex ids (a digit and a letter, so words and numbers survive).
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}\b", re.I), "<hash>"),
    (re.compile(r"\b\d{5,}\b"), "<n>"),
]
_SPACE = re.compile(r"\s+")


def normalize_error_message(msg: str) -> str:
    """``msg`` with paths, UUIDs, timestamps, positions, addresses, durations, pids, temp names and
    long numbers replaced by placeholders, whitespace collapsed and lower-cased."""
    text = msg
    for pattern, replacement in _SUBS:
        text = pattern.sub(replacement, text)
    return _SPACE.sub(" ", text).strip().lower()


def message_similarity(a: str, b: str) -> float:
    """Similarity of two error messages after normalisation, from 0.0 (unrelated) to 1.0 (same).

    ``difflib.SequenceMatcher.ratio`` on the normalised texts (their last ``MAX_COMPARED_CHARS``
    characters), without the auto-junk heuristic, which would discard frequent characters of long
    messages and make the ratio depend on length.
    """
    na = normalize_error_message(a)[-MAX_COMPARED_CHARS:]
    nb = normalize_error_message(b)[-MAX_COMPARED_CHARS:]
    if not na and not nb:
        return 1.0
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()


# The seed's names, kept so its documentation reads true against this code.
_normalize_error_message = normalize_error_message
_calculate_message_similarity = message_similarity
