"""autopack's SEARCH/REPLACE parser against Aider's on Aider's own chat history (real model replies).

Aider's repository keeps a year of its author's chat sessions (``tests/fixtures/chat-history.md``,
4 MB, replies from GPT-4o and Claude 3.5 Sonnet) and what its parser extracts from them
(``tests/fixtures/chat-history-search-replace-gold.txt``, checked by its test_find_or_blocks.py).
This script splits the history the way that test does, parses each section with ``parse_reply`` in
SEARCH/REPLACE mode and compares the (path, SEARCH, REPLACE) triples with Aider's. A section counts
as the same when the triples are equal and autopack found no block it could not use.

    python scripts/bench/edits_aider_history.py GIT_DIR [--rev HEAD] [--show]

``GIT_DIR`` is a clone or mirror of github.com/Aider-AI/aider (read with ``git show``; nothing of it
is copied into this repository). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field

from autopack.childenv import subprocess_env
from autopack.edits import parse_reply

HISTORY = "tests/fixtures/chat-history.md"
GOLD = "tests/fixtures/chat-history-search-replace-gold.txt"
_AT = "@" * 20
# What makes Aider's output list a section (headers repeat, so the rest must be skipped to stay aligned):
# a SEARCH marker, or a shell code block (Aider collects those as commands to run).
_SHOWN = re.compile(
    r"^<{5,9} SEARCH|^```(?:bash|sh|shell|cmd|batch|powershell|ps1|zsh|fish|ksh|csh|tcsh)", re.MULTILINE
)

Block = tuple[str, str, str]


@dataclass
class GoldSection:
    header: str
    blocks: list[Block] = field(default_factory=list)
    error: str = ""  # Aider's parser raised; the gold file holds its message instead of blocks


def git_show(git_dir: str, rev: str, path: str) -> str:
    out = subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], capture_output=True, env=subprocess_env(), check=True
    )
    return out.stdout.decode("utf-8")


def read_gold(text: str) -> dict[str, list[GoldSection]]:
    """Aider's output per section header (headers repeat: a list per header, in order)."""
    out: dict[str, list[GoldSection]] = {}
    lines = text.splitlines(keepends=True)
    cur: GoldSection | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("@@@ SEARCH: ") and cur is not None:
            name = line[len("@@@ SEARCH: ") :].rsplit(" " + _AT, 1)[0]
            j = lines.index(_AT + "\n", i + 1)
            k = next(n for n in range(j + 1, len(lines)) if lines[n].startswith("@@@ REPLACE " + _AT))
            cur.blocks.append((name.strip(), "".join(lines[i + 1 : j]), "".join(lines[j + 1 : k])))
            i = k
        elif line.startswith("@@@ SHELL"):
            i = next(n for n in range(i + 1, len(lines)) if lines[n].startswith("@@@ ENDSHELL"))
        elif line.startswith("@@@ ") and not line.startswith("@@@ ENDSHELL"):
            cur = GoldSection(line[4:].rsplit(" " + _AT, 1)[0])
            j = i + 1
            while j < len(lines) and not lines[j].startswith("@@@ "):
                j += 1
            cur.error = "".join(lines[i + 1 : j]).strip()
            out.setdefault(cur.header, []).append(cur)
        i += 1
    return out


def sections(history: str) -> list[tuple[str, str]]:
    """(header, body) as Aider's test_find_or_blocks splits the history (its own sources skipped)."""
    out = []
    for section in re.split(r"(?=####\s)", history):
        if "editblock_coder.py" in section or "test_editblock.py" in section or not section.strip():
            continue
        out.append((section.split("\n")[0].strip(), "".join(section.splitlines(keepends=True)[1:])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("git_dir", help="a clone or mirror of github.com/Aider-AI/aider")
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--show", action="store_true", help="print each section where the two differ")
    args = ap.parse_args(argv)
    gold = read_gold(git_show(args.git_dir, args.rev, GOLD))
    seen: Counter[str] = Counter()
    tally: Counter[str] = Counter()
    for header, body in sections(git_show(args.git_dir, args.rev, HISTORY)):
        if not _SHOWN.search(body) or header not in gold or seen[header] >= len(gold[header]):
            continue  # a section Aider's output has no entry for (no blocks, no error)
        g = gold[header][seen[header]]
        seen[header] += 1
        parsed = parse_reply(body, "structured_edit")
        ours = [(e.path, e.search or "", e.replace or "") for e in parsed.edits if e.kind == "search_replace"]
        unusable = [e.problem for e in parsed.edits if e.kind == "unusable"]
        if ours == g.blocks and not unusable and not parsed.truncated:
            tally["same"] += 1
            continue
        if g.error and not g.blocks:
            why = "Aider's parser raised; autopack: " + ("cut off" if parsed.truncated else "parsed")
        elif parsed.truncated:
            why = "autopack: cut off (a block or fence never closed)"
        elif unusable:
            why = "autopack: a block it cannot use"
        elif [b[1:] for b in ours] == [b[1:] for b in g.blocks]:
            why = "same blocks, path written differently"
        else:
            why = "other blocks"
        tally[why] += 1
        if args.show:
            print(f"===== {header[:100]}\n{why}\n  Aider: {g.blocks!r:.400}\n  ours:  {ours!r:.400}")
            for problem in unusable:
                print(f"  unusable: {problem[:200]}")
    total = sum(tally.values())
    print(f"{total} sections of {HISTORY} with SEARCH/REPLACE blocks or a parse error in Aider's output")
    for what, n in tally.most_common():
        print(f"{n:5}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
