"""Edit-application benchmark, part 4: SEARCH/REPLACE blocks from real commits, damaged as models damage them.

Owns the real-changes corpus: for the most recent non-merge commits of git repositories (mirrors of
well-known Python projects), each Python file a commit modifies yields one block per change (the
changed lines with context grown until the SEARCH is unique), applied alone to the file before the
commit. Each block is then sent undamaged and damaged (``KINDS``); whether a damaged block can still be
placed is decided here, from the file, independently of any applier. ``edits.py`` runs autopack,
Aider's applier (``edits_aider_driver.py``, in its own process) and an exact ``str.replace`` on every
case in the same run.
"""

from __future__ import annotations

import ast
import difflib
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edits_report import Outcome

from autopack.childenv import subprocess_env

NONE = "none"
TRAILING = "trailing whitespace"
REINDENT = "re-indented"
REINDENT_TWIN = "re-indented, same lines at another indentation"
WRONG_LINE = "one context line wrong"
LEFT_OUT = "one context line left out"
ONE_OFF_SEVERAL = "one line wrong or left out, several places fit"
ELIDED = "elided with ... (pieces in order, kept lines)"
AMBIGUOUS = "ambiguous (fits several places)"
ABSENT = "absent (another file's block)"
KINDS = [NONE, TRAILING, REINDENT, REINDENT_TWIN, WRONG_LINE, LEFT_OUT, ONE_OFF_SEVERAL, ELIDED, AMBIGUOUS, ABSENT]
MUST_REFUSE = {REINDENT_TWIN, ONE_OFF_SEVERAL, AMBIGUOUS, ABSENT}
PLACEHOLDERS = ["...", "# ...", "# ... existing code ...", "# ... (unchanged)"]


@dataclass
class RealCase:
    """One SEARCH/REPLACE block for ``text`` (lines ending with newlines); ``new_text`` None: must refuse."""

    kind: str
    label: str  # repo:sha:path
    path: str
    text: str
    new_text: str | None
    search: str
    replace: str


# the corpus ---------------------------------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    out = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, env=subprocess_env())
    return out.stdout.decode("utf-8", errors="replace") if out.returncode == 0 else ""


def _text_at(repo: Path, rev: str, path: str) -> str | None:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    out = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{rev}:{path}"], capture_output=True)
    if out.returncode != 0 or b"\0" in out.stdout or b"\r" in out.stdout:
        return None
    try:
        return out.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def repo_label(repo: Path) -> str:
    name = repo.resolve().name if repo.resolve().name != "repo" else repo.resolve().parent.name
    return name.replace("+", "/")


def changed_files(repo: Path, rev: str, commits: int) -> Iterator[tuple[str, str, str, str]]:
    """(label, path, old text, new text) of the Python files modified by the last ``commits`` commits before ``rev``."""
    shas = _git(repo, "log", "--no-merges", "--format=%H", "-n", str(commits), rev, "--", "*.py").split()
    for sha in shas:
        for line in _git(repo, "show", "--no-renames", "--format=", "--name-status", sha).splitlines():
            status, _, path = line.partition("\t")
            if status != "M" or not path.endswith(".py"):
                continue
            old, new = _text_at(repo, f"{sha}^", path), _text_at(repo, sha, path)
            if (
                old
                and new
                and old.endswith("\n")
                and new.endswith("\n")
                and 20 <= old.count("\n") <= 6000
                and _parses(old)
            ):
                yield f"{repo_label(repo)}:{sha[:10]}:{path}", path, old, new


def _count(lines: list[str], block: list[str]) -> int:
    n = len(block)
    return sum(1 for s in range(len(lines) - n + 1) if lines[s : s + n] == block) if n else 0


def _squash(s: str) -> str:
    return " ".join(s.split())


def indent_count(lines: list[str], block: list[str]) -> int:
    """Places where ``block`` fits when indentation and spacing are ignored."""
    return _count([_squash(s) for s in lines], [_squash(s) for s in block])


def shifted_places(lines: list[str], block: list[str], replace: list[str]) -> int:
    """Places where ``block`` fits with one indentation shift on all its non-blank lines (same shape) and
    where the ``replace`` lines, shifted as much, keep an indentation (none would go below column 0)."""
    n, want, hits = len(block), [_squash(s) for s in block], 0
    squashed = [_squash(s) for s in lines]
    least = min((_indent(r) for r in replace if r.strip()), default=0)
    for s in range(len(lines) - n + 1):
        if squashed[s : s + n] == want:
            shifts = {_indent(lines[s + k]) - _indent(block[k]) for k in range(n) if block[k].strip()}
            hits += len(shifts) <= 1 and least + min(shifts, default=0) >= 0
    return hits


@dataclass
class Block:
    """One change of a commit as a SEARCH/REPLACE pair: file lines ``lo:hi`` become ``new``."""

    label: str
    path: str
    lines: list[str]  # the file before the commit
    lo: int
    hi: int
    new: list[str]
    first: int  # first changed line (the SEARCH's context is lines lo:first and last:hi)
    last: int

    @property
    def search(self) -> list[str]:
        return self.lines[self.lo : self.hi]

    @property
    def text(self) -> str:
        return "".join(s + "\n" for s in self.lines)

    @property
    def new_text(self) -> str:
        return "".join(s + "\n" for s in self.lines[: self.lo] + self.new + self.lines[self.hi :])


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def blocks(label: str, path: str, old: str, new: str, per_file: int, rng: random.Random) -> list[Block]:
    """One block per change (difflib hunks with no context), context grown until the SEARCH is unique."""
    a, b = old.split("\n")[:-1], new.split("\n")[:-1]
    groups = list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(0))
    rng.shuffle(groups)
    out: list[Block] = []
    for group in groups[:per_file]:
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        for extra in range(2, 6):  # models send a few lines around the change
            lo, hi = max(0, i1 - extra), min(len(a), i2 + extra)
            search = a[lo:hi]
            top, bottom = b[max(0, j1 - (i1 - lo)) : j1], b[j2 : j2 + (hi - i2)]
            if top != a[lo:i1] or bottom != a[i2:hi]:
                break  # another change within the context: the lines around this one are not kept as they are
            if any(s.strip() for s in search) and _count(a, search) == 1:
                block = Block(label, path, a, lo, hi, top + b[j1:j2] + bottom, i1, i2)
                # One change of several alone can leave the module broken; a change deleting most of the file is
                # refused by the mass-deletion guard unless the phase allows it, which is not what this measures.
                if _parses(block.new_text) and len(block.new_text) >= 0.4 * len(old):
                    out.append(block)
                break
    return out


# damage -------------------------------------------------------------------------------------------------
def _join(lines: list[str]) -> str:
    return "".join(s + "\n" for s in lines)


def _indent(s: str) -> int:
    return len(s) - len(s.lstrip(" "))


def one_off_places(lines: list[str], search: list[str], replace: list[str], kept: set[int], f: int, e: int) -> int:
    """Files a damaged SEARCH can make when any one of its ``kept`` lines may be wrong, or any one file line
    between two of its lines may be left out: an applier cannot know which damage happened, so the block
    can be placed only when these readings agree on one result. ``search[f:e]`` is what the REPLACE changes."""
    n = len(search)
    mid = replace[f : len(replace) - (n - e)]
    results: set[tuple[str, ...]] = set()

    def result(start: int, end: int, at: list[int]) -> tuple[str, ...]:
        changed = set(at[f:e])
        insert = at[f] if f < n else end
        out = lines[:start]
        for i in range(start, end):
            if i == insert:
                out += mid
            if i not in changed:
                out.append(lines[i])
        return tuple(out + (mid if insert >= end else []) + lines[end:])

    for s in range(len(lines) - n + 1):
        bad = [k for k in range(n) if lines[s + k] != search[k]]
        if len(bad) == 1 and bad[0] in kept:
            results.add(result(s, s + n, list(range(s, s + n))))
    for s in range(len(lines) - n):
        for g in range(1, n):
            if lines[s : s + g] == search[:g] and lines[s + g + 1 : s + n + 1] == search[g:]:
                results.add(result(s, s + n + 1, list(range(s, s + g)) + list(range(s + g + 1, s + n + 1))))
    return len(results)


_WORD = re.compile(r"[A-Za-z_]\w{2,}")


def _wrong(line: str, rng: random.Random) -> str:
    """The line as a model misremembers it: a typo in a name, a changed comment, or another line."""
    words = list(_WORD.finditer(line))
    roll = rng.random()
    if "#" in line and roll < 0.3:
        return line.split("#", 1)[0] + "# " + rng.choice(["TODO: check this", "see above", "updated"])
    if words and roll < 0.8:
        m = rng.choice(words)
        w = m.group()
        k = rng.randrange(1, len(w))
        typo = w[:k] + w[k + 1 :] if rng.random() < 0.5 else w[:k] + w[k] + w[k:]
        return line[: m.start()] + typo + line[m.end() :]
    return " " * _indent(line) + rng.choice(["result = process(data)", "self.setup()", "value = None"])


def damaged(b: Block, rng: random.Random, others: list[Block]) -> Iterator[RealCase]:
    """The block undamaged and with each damage that applies to it."""
    text, new_text, search, replace = b.text, b.new_text, b.search, b.new
    yield RealCase(NONE, b.label, b.path, text, new_text, _join(search), _join(replace))
    s = [x + rng.choice([" ", "  ", "\t"]) if x.strip() and rng.random() < 0.6 else x for x in search]
    if s != search:
        yield RealCase(TRAILING, b.label, b.path, text, new_text, _join(s), _join(replace))
    body = [x for x in search + replace if x.strip()]
    if body and all(not x.startswith("\t") for x in body):
        least = min(_indent(x) for x in body)
        shift = -4 * rng.randint(1, least // 4) if least >= 4 else 4
        s = [x[-shift:] if shift < 0 and x.strip() else (" " * shift + x if x.strip() else x) for x in search]
        r = [x[-shift:] if shift < 0 and x.strip() else (" " * shift + x if x.strip() else x) for x in replace]
        if s != search:
            if shifted_places(b.lines, s, r) == 1:
                yield RealCase(REINDENT, b.label, b.path, text, new_text, _join(s), _join(r))
            else:  # the same lines at another indentation too: only the indentation told them apart
                yield RealCase(REINDENT_TWIN, b.label, b.path, text, None, _join(s), _join(r))
    # Models send a few more lines above the change than the smallest unique block: 3 more here.
    up = b.lines[max(0, b.lo - 3) : b.lo]
    search, replace = up + search, up + replace
    f, e = b.first - b.lo + len(up), b.last - b.lo + len(up)
    ctx = set(range(0, f)) | set(range(e, len(search)))
    kept = [k for k in sorted(ctx) if search[k].strip()]
    tail = len(search) - e  # context lines after the change, the same in SEARCH and REPLACE

    def at_replace(k: int) -> int:
        return k if k < f else len(replace) - (len(search) - k)

    if len([x for x in search if x.strip()]) >= 3 and kept:
        k = rng.choice(kept)
        wrong = _wrong(search[k], rng)
        if wrong.strip() != search[k].strip():
            s = search[:k] + [wrong] + search[k + 1 :]
            r = list(replace)
            r[at_replace(k)] = wrong
            fits = one_off_places(b.lines, s, r, set(kept), f, e)
            yield RealCase(WRONG_LINE if fits == 1 else ONE_OFF_SEVERAL, b.label, b.path, text,
                           new_text if fits == 1 else None, _join(s), _join(r))  # fmt: skip
        # Not next to the change: where the REPLACE's new lines go relative to the left-out line stays known.
        inner = [k for k in kept if k - 1 in ctx and k + 1 in ctx and (k + 1 < f or k > e) and k < len(search) - 1]
        if inner and tail >= 0:
            k = rng.choice(inner)
            s = search[:k] + search[k + 1 :]
            r = replace[: at_replace(k)] + replace[at_replace(k) + 1 :]
            kept_s = {n if n < k else n - 1 for n in kept if n != k}
            fits = one_off_places(b.lines, s, r, kept_s, f - (k < f), e - (k < e))
            yield RealCase(LEFT_OUT if fits == 1 else ONE_OFF_SEVERAL, b.label, b.path, text,
                           new_text if fits == 1 else None, _join(s), _join(r))  # fmt: skip
    yield from _elided(b, rng)
    yield from _ambiguous(b)
    other = next(
        (o for o in others if o.path != b.path and indent_count(b.lines, o.search) == 0 and not _one_off(b.lines, o)),
        None,
    )
    if other is not None:
        yield RealCase(ABSENT, b.label, b.path, text, None, _join(other.search), _join(other.new))


def _one_off(lines: list[str], o: Block) -> bool:
    """Another file's block fits these lines but for one line (then it is not absent here)."""
    search = o.search
    every = set(range(len(search)))
    return one_off_places(lines, search, o.new, every, o.first - o.lo, o.last - o.lo) > 0


def _elided(b: Block, rng: random.Random) -> Iterator[RealCase]:
    """The block grown upwards by 6 to 12 lines, 3 or more of which (not the first) become one placeholder line."""
    up = rng.randint(6, 12)
    lo = b.lo - up
    if lo < 0:
        return
    top = b.lines[lo : b.lo]
    cut = rng.randint(1, 2)
    hidden = top[cut:]
    if len(hidden) < 3 or not any(x.strip() for x in top[:cut]) or not any(x.strip() for x in hidden):
        return
    ind = " " * _indent(next(x for x in hidden if x.strip()))
    mark = ind + rng.choice(PLACEHOLDERS)
    head = top[:cut]
    # The pieces must pin one place in order: the head once, then the rest (as sent) right after it.
    rest = b.search
    heads = [s for s in range(len(b.lines)) if b.lines[s : s + cut] == head]
    chains = [s for s in heads if any(b.lines[t : t + len(rest)] == rest for t in range(s + cut, s + cut + 61))]
    if chains != [lo]:
        return
    s, r = head + [mark] + rest, head + [mark] + b.new
    yield RealCase(ELIDED, b.label, b.path, b.text, b.new_text, _join(s), _join(r))


def _ambiguous(b: Block) -> Iterator[RealCase]:
    """The changed lines alone (no context) when they occur at another place too: must refuse."""
    core = b.lines[b.first : b.last]
    if not core or not any(x.strip() for x in core) or _count(b.lines, core) < 2:
        return
    start = b.first - b.lo
    new_core = b.new[start : len(b.new) - (b.hi - b.last)]
    yield RealCase(AMBIGUOUS, b.label, b.path, b.text, None, _join(core), _join(new_core))


def corpus(specs: list[str], commits: int, per_file: int, seed: int) -> list[RealCase]:
    """Every case of the last ``commits`` commits of each ``PATH[@REV]`` in ``specs``."""
    rng = random.Random(f"{seed}-real")
    found: list[Block] = []
    for spec in specs:
        path, _, rev = spec.rpartition("@") if "@" in spec and not Path(spec).exists() else (spec, "", "HEAD")
        for label, rel, old, new in changed_files(Path(path), rev or "HEAD", commits):
            found.extend(blocks(label, rel, old, new, per_file, rng))
    cases: list[RealCase] = []
    for i, b in enumerate(found):
        others = found[i + 1 :] + found[:i]
        cases.extend(damaged(b, rng, others[:20]))
    return cases


# running ------------------------------------------------------------------------------------------------
Judge = Callable[[bool, "bytes | None", "bytes | None", bytes], str]


class AiderDriver:
    """Aider's applier in its own process (``edits_aider_driver.py``), fed one case at a time."""

    def __init__(self, spec: str) -> None:
        driver = Path(__file__).with_name("edits_aider_driver.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(driver), spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def apply(self, root: Path, path: str, reply: str) -> tuple[bool, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"id": 0, "root": str(root), "path": path, "reply": reply}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return bool(out["ok"]), float(out["seconds"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run(
    cases: list[RealCase],
    tmp: Path,
    tools: dict[str, Callable[[Path, str, str], tuple[bool, float]]],
    judge: Judge,
    show: Callable[[str, RealCase, str], None] | None = None,
) -> tuple[dict[str, dict[str, Outcome]], dict[str, list[float]]]:
    """Every case through every tool, each on a fresh copy of the file: outcomes per tool and kind, times per tool."""
    results: dict[str, dict[str, Outcome]] = {t: defaultdict(Outcome) for t in tools}
    times: dict[str, list[float]] = defaultdict(list)
    root = tmp / "real"
    for case in cases:
        target = root / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        original = case.text.encode()
        intended = None if case.new_text is None else case.new_text.encode()
        reply = f"{case.path}\n```python\n<<<<<<< SEARCH\n{case.search}=======\n{case.replace}>>>>>>> REPLACE\n```\n"
        for tool, apply in tools.items():
            target.write_bytes(original)
            ok, seconds = apply(root, case.path, reply)
            verdict = judge(ok, target.read_bytes() if target.exists() else None, intended, original)
            results[tool][case.kind].add(verdict)
            times[tool].append(seconds)
            if show is not None and tool == "autopack" and (verdict == "wrong" or (verdict == "refused" and intended)):
                show(verdict, case, reply)
        target.unlink()
    return results, times
