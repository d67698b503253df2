"""What a failed attempt tells the next one, as text that fits: the first traceback of a check's
output, a long text cut in the middle (its head says what failed, its tail how it ended), and a
unified diff cut at hunk boundaries.

Pure text in, text out: the gate and the edit applier produce the texts, the Builder's context and
the Doctor's request render them within their budgets.
"""

from __future__ import annotations

import re

_TRACEBACK = "Traceback (most recent call last):"
# pytest's failure section header: "____ test_name ____" (with -q too), and its summaries.
_PYTEST_HEADER = re.compile(r"^_{3,} .+ _{3,}$")
_PYTEST_SECTION_END = re.compile(r"^(={3,} .* ={3,}|_{3,} .+ _{3,}|-{3,} .* -{3,})$")
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Failure)\b.*")
_HUNK = re.compile(r"^@@ ")


def first_traceback(output: str, max_lines: int = 60) -> str:
    """The first failure report in a check's output: pytest's first ``____ test ____`` section, else
    the first Python traceback (to its exception line), else ""; at most ``max_lines`` lines (the
    head of the report and the lines that say what was raised are kept)."""
    lines = output.splitlines()
    block: list[str] = []
    for i, line in enumerate(lines):
        if _PYTEST_HEADER.match(line.strip()):
            block = [line]
            for nxt in lines[i + 1 :]:
                if _PYTEST_SECTION_END.match(nxt.strip()):
                    break
                block.append(nxt)
            break
        if line.strip() == _TRACEBACK:
            block = [line]
            for nxt in lines[i + 1 :]:
                block.append(nxt)
                if nxt and not nxt[0].isspace() and _EXC_LINE.match(nxt):
                    break
            break
    while block and not block[-1].strip():
        block.pop()
    if len(block) > max_lines:
        head = max_lines // 3
        tail = max_lines - head - 1
        block = [*block[:head], f"[... {len(block) - head - tail} lines of this report cut ...]", *block[-tail:]]
    return "\n".join(block)


def clip_middle(text: str, limit: int) -> str:
    """``text`` in at most about ``limit`` characters: its head and its tail on whole lines, with a
    line saying how many lines were cut between them (a failure says what failed first and how it
    ended last)."""
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    budget = max(limit - 60, 40)
    head_budget = budget * 2 // 5
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > head_budget:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used_tail = 0
    for line in reversed(lines[len(head) :]):
        if used + used_tail + len(line) + 1 > budget:
            break
        tail.append(line)
        used_tail += len(line) + 1
    tail.reverse()
    if not head and not tail:  # one enormous line
        return text[: budget // 2] + f"\n[... {len(text) - budget} characters cut ...]\n" + text[-budget // 2 :]
    cut = len(lines) - len(head) - len(tail)
    return "\n".join([*head, f"[... {cut} lines cut ...]", *tail])


def clip_diff(diff: str, limit: int) -> tuple[str, int]:
    """A unified diff in at most about ``limit`` characters, cut between hunks (the first hunk, when
    too big on its own, keeps its head and tail): (the text, how many hunks were left out)."""
    if len(diff) <= limit:
        return diff, 0
    files: list[tuple[list[str], list[list[str]]]] = []
    lines = diff.splitlines()
    for i, line in enumerate(lines):
        header_open = bool(files) and not files[-1][1]
        new_file = line.startswith("diff --git ") or (
            line.startswith("--- ")
            and i + 1 < len(lines)
            and lines[i + 1].startswith("+++ ")
            and not (
                header_open
                and files[-1][0][0].startswith("diff --git ")
                and not any(h.startswith("--- ") for h in files[-1][0])
            )
        )
        if new_file or not files:
            files.append(([line], []))
        elif _HUNK.match(line):
            files[-1][1].append([line])
        elif files[-1][1]:
            files[-1][1][-1].append(line)
        else:
            files[-1][0].append(line)
    out: list[str] = []
    used = 0
    left_out = 0
    for header, hunks in files:
        head = "\n".join(header)
        taken: list[str] = []
        for hunk in hunks:
            text = "\n".join(hunk)
            cost = len(text) + 1 + (0 if taken else len(head) + 1)
            if used + cost <= limit:
                taken.append(text)
                used += cost
            elif not out and not taken and limit - used - len(head) > 200:
                part = clip_middle(text, limit - used - len(head) - 1)
                taken.append(part)
                used += len(part) + len(head) + 2
            else:
                left_out += 1
        if taken:
            out += [head, *taken]
    return "\n".join(out), left_out
