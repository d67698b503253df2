"""Read what a check printed: pytest's summary and failed test ids, and syntax errors.

Pure text in, data out, no processes: ``parse_pytest_summary`` takes the counts from pytest's last
summary line (``2 failed, 10 passed in 0.12s``) and the node ids from its ``FAILED``/``ERROR``
short-summary lines; ``find_syntax_errors`` collects syntax errors reported by Python tracebacks
(also inside pytest's ``E`` blocks), ruff or mypy. ANSI colour codes are ignored. ``gate`` runs the
checks and attaches what this module finds to each ``CheckResult``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PytestSummary:
    """Counts from pytest's final line, and the node ids of tests that failed or errored."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    xpassed: int = 0
    deselected: int = 0
    warnings: int = 0
    failed_tests: list[str] = field(default_factory=list)  # from `FAILED ...` and `ERROR ...` lines

    def describe(self) -> str:
        """Pytest's own wording: ``2 failed, 10 passed, 1 skipped`` (``no tests ran`` if empty)."""
        parts = [
            f"{n} {word}"
            for n, word in (
                (self.failed, "failed"),
                (self.errors, "error" if self.errors == 1 else "errors"),
                (self.passed, "passed"),
                (self.skipped, "skipped"),
                (self.xfailed, "xfailed"),
                (self.xpassed, "xpassed"),
            )
            if n
        ]
        return ", ".join(parts) if parts else "no tests ran"

    def merged(self, other: PytestSummary) -> PytestSummary:
        names = self.failed_tests + [t for t in other.failed_tests if t not in self.failed_tests]
        counts: dict[str, Any] = {k: getattr(self, k) + getattr(other, k) for k in _PYTEST_KEYS}
        return PytestSummary(**counts, failed_tests=names)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in _PYTEST_KEYS}, "failed_tests": list(self.failed_tests)}


_PYTEST_KEYS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "deselected", "warnings")
_PYTEST_WORDS = {"error": "errors", "warning": "warnings", "rerun": None, "reruns": None}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# `===== 2 failed, 10 passed in 0.12s =====`, `1 passed in 0.01s`, `... in 61.02s (0:01:01)`
_SUMMARY_LINE = re.compile(r"^=*\s*(?P<body>\S.*?)\s+in\s+[\d.]+s(?:\s+\([\d:.]+\))?\s*=*$")
_SUMMARY_ITEM = re.compile(r"^(\d+) ([a-z]+)$")
_NODE_LINE = re.compile(r"^(FAILED|ERROR) (\S.*)$")


def parse_pytest_summary(output: str) -> PytestSummary | None:
    """Counts from the LAST pytest summary line in ``output`` (None if there is none), plus the
    names from every ``FAILED path::test - msg`` / ``ERROR path - msg`` short-summary line."""
    lines = _ANSI.sub("", output).splitlines()
    summary: PytestSummary | None = None
    for line in reversed(lines):
        summary = _parse_summary_line(line.strip())
        if summary is not None:
            break
    if summary is None:
        return None
    for line in lines:
        m = _NODE_LINE.match(line.rstrip())
        if m:
            node = _node_id(m.group(2))
            if ("::" in node or ".py" in node) and node not in summary.failed_tests:
                summary.failed_tests.append(node)
    return summary


def _parse_summary_line(line: str) -> PytestSummary | None:
    m = _SUMMARY_LINE.match(line)
    if not m:
        return None
    counts: dict[str, Any] = {}
    for item in m.group("body").split(", "):
        if item == "no tests ran":
            continue
        im = _SUMMARY_ITEM.match(item)
        if not im:
            return None
        word = im.group(2)
        key = _PYTEST_WORDS.get(word, word)
        if key is None:
            continue
        if key not in _PYTEST_KEYS:
            return None
        counts[key] = counts.get(key, 0) + int(im.group(1))
    return PytestSummary(**counts)


def _node_id(rest: str) -> str:
    """The node id before `` - message``; a ``[param - id]`` in brackets is part of the id."""
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif depth == 0 and rest.startswith(" - ", i):
            return rest[:i]
    return rest.strip()


_FILE_LINE = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
_PY_SYNTAX = re.compile(r"^(?:E\s+)?\s*(?P<kind>SyntaxError|IndentationError|TabError): (?P<msg>.*)$")
# ruff: `x.py:3:14: SyntaxError: ...`; mypy: `x.py:3: error: invalid syntax  [syntax]`
_TOOL_SYNTAX = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)? (?:E999 )?SyntaxError: (?P<msg>.*)$")
_MYPY_SYNTAX = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+): error: (?P<msg>.*?)\s+\[syntax\]$")


def find_syntax_errors(output: str, cwd: Path | None = None) -> list[str]:
    """Syntax errors reported in ``output`` by Python tracebacks (also inside pytest's ``E``
    blocks), ruff or mypy, as ``File "calc.py", line 3: SyntaxError: expected ':'``. Paths inside
    ``cwd`` are shown relative to it."""
    found: list[str] = []
    last_file: tuple[str, str, int] | None = None  # path, line, index of the line it was seen on
    for i, raw in enumerate(_ANSI.sub("", output).splitlines()):
        line = raw.rstrip()
        fm = _FILE_LINE.search(line)
        if fm:
            last_file = (fm.group("path"), fm.group("line"), i)
            continue
        entry = None
        pm = _PY_SYNTAX.match(line)
        if pm:
            where = ""
            if last_file is not None and i - last_file[2] <= 6:
                where = f'File "{_relative(last_file[0], cwd)}", line {last_file[1]}: '
            entry = f"{where}{pm.group('kind')}: {pm.group('msg')}"
        else:
            tm = _TOOL_SYNTAX.match(line) or _MYPY_SYNTAX.match(line)
            if tm:
                entry = f'File "{_relative(tm.group("path"), cwd)}", line {tm.group("line")}: SyntaxError: {tm.group("msg")}'
        if entry is not None and entry not in found:
            found.append(entry)
    return found


def _relative(path: str, cwd: Path | None) -> str:
    if cwd is None or not os.path.isabs(path):
        return path
    try:
        return str(Path(path).resolve().relative_to(Path(cwd).resolve()))
    except (ValueError, OSError):
        return path
