"""Builder-context benchmark: does the Builder's prompt show the lines that real changes touch?

The corpus is real history: recent non-merge commits of any git repository (a checkout or a bare
mirror) that change Python files (and whatever else they change with them: CHANGES.md, docs; not
lock files such as ``uv.lock``: they are generated, no phase asks a model to edit one). For each
commit the files it changes are written, as they were in its parent, to a temporary directory
(``git show parent:path``; no worktree); a phase is made with those files as its scope and the
commit message (subject and body) as its description, and ``build_context`` builds the prompt. Each
hunk of the real change (``git diff -U0``) counts as visible when every old-side line it touches is
in the prompt (for a pure insertion: the lines on both sides of the insertion point). Files the
commit creates are scope files that do not exist yet: nothing to show, so their hunks are not counted.

Side by side in one run: the code as it is (``new``) and the selection before the evidence-ranked
cut (``old``: ``src/autopack/agents/context.py`` at commit ``--baseline``, loaded from this repository's
git history), each at the budget the shipped config gives ``--model`` and at ``--small`` tokens (the
old fixed cap). At the small budget two evidence variants show what a retry adds: ``traceback``
(the feedback is a traceback with one frame on the first touched line of each hunk) and ``patch``
(the previous attempt's diff is the real diff itself; the old code has no such input).

    python scripts/bench/context.py --repo PATH[@REV] [--repo ...] [--commits 60] [--rev HEAD]
        [--model claude-sonnet-4-5] [--small 24000] [--baseline SHA] [--write-doc [docs/BENCHMARKS.md]]

Not part of the test suite; ``tests/test_bench_context_smoke.py`` runs ``run`` on a tiny generated repo.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import replace_section  # noqa: E402

from autopack.agents.base import estimate_tokens  # noqa: E402
from autopack.agents.context import build_context, context_budget  # noqa: E402
from autopack.config import load_config  # noqa: E402
from autopack.plan import Phase  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "0ce4b46eb907d502a6906ded7308d7cc44733f70"  # the last commit with the head-and-keywords selection
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
LOCKFILE = re.compile(r"(\.lock|-lock\.json|-lock\.yaml)$")
_OLD_NOTE = re.compile(r"\[(.+?): only lines (.+?) of (\d+) shown")


@dataclass
class Case:
    """One commit: its parent's files, its message, and the lines each hunk needs visible."""

    repo: str
    sha: str
    message: str
    files: dict[str, str]  # scope path -> text in the parent (files the commit creates are absent)
    scope: list[str]
    hunks: list[tuple[str, set[int]]]  # (path, 1-based old-side lines that must be shown)
    diff: str


@dataclass
class Shown:
    lines: dict[str, set[int]]  # path -> lines shown
    whole: set[str]
    tokens: int
    left_out: int  # scope files not shown at all


# A selector builds a prompt: (phase, root, budget, feedback, previous_patch) -> what it shows.
Selector = Callable[[Phase, Path, int, str | None, str | None], Shown]


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", f"--git-dir={_git_dir(repo)}", *args], capture_output=True, check=True)
    return out.stdout.decode("utf-8", errors="replace")


def _git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


def _text_at(repo: Path, rev: str, path: str) -> str | None:
    out = subprocess.run(["git", f"--git-dir={_git_dir(repo)}", "show", f"{rev}:{path}"], capture_output=True)
    if out.returncode != 0 or b"\0" in out.stdout:
        return None
    try:
        return out.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def hunk_lines(diff: str) -> list[tuple[str, set[int]]]:
    """Per hunk of a ``-U0`` diff: its path and the old-side lines it touches (a pure insertion
    after line k needs k and k + 1 shown)."""
    out: list[tuple[str, set[int]]] = []
    path = ""
    for line in diff.splitlines():
        if line.startswith("--- "):
            path = line[6:] if line.startswith("--- a/") else ""
        elif path and (m := _HUNK.match(line)):
            start, count = int(m.group(1)), int(m.group(2)) if m.group(2) is not None else 1
            need = set(range(start, start + count)) if count else {start, start + 1}
            out.append((path, need))
    return out


def collect(repo: Path, n: int, rev: str = "HEAD", max_files: int = 10) -> list[Case]:
    """The ``n`` most recent non-merge commits before ``rev`` that change a Python file in place."""
    cases: list[Case] = []
    for sha in _git(repo, "log", "--no-merges", "--format=%H", "-n", str(n * 4), rev, "--", "*.py").split():
        names = _git(repo, "show", "--no-renames", "--format=", "--name-status", sha).splitlines()
        # Lock files are generated, not written: no phase asks a model to edit one.
        changed = [ln.split("\t", 1) for ln in names if "\t" in ln and not LOCKFILE.search(ln)]
        if not changed or len(changed) > max_files:
            continue
        parent = f"{sha}^"
        files: dict[str, str] = {}
        for status, path in changed:
            if status != "A" and (text := _text_at(repo, parent, path)) is not None:
                files[path] = text
        if not files:  # only new files (or a root commit): nothing to see beforehand
            continue
        diff = _git(repo, "diff", "--no-renames", "--no-color", "-U0", parent, sha, "--", *files)
        hunks = [
            (p, {k for k in need if 1 <= k <= len(files[p].splitlines())}) for p, need in hunk_lines(diff) if p in files
        ]
        hunks = [(p, need) for p, need in hunks if need]
        if not any(p.endswith(".py") for p, _ in hunks):
            continue
        message = _git(repo, "show", "-s", "--format=%B", sha).strip()
        cases.append(Case(label(repo), sha, message, files, [p for _, p in changed], hunks, diff))
        if len(cases) == n:
            break
    return cases


def label(repo: Path) -> str:
    """A repository's name: a mirror's ``owner+name/repo`` is called by its owner and name."""
    repo = repo.resolve()
    return repo.parent.name if repo.name in ("repo", ".git") else repo.name.removesuffix(".git")


def _traceback(case: Case) -> str:
    frames = [f'  File "/work/tree/{p}", line {min(need)}, in <module>' for p, need in case.hunks]
    return "Traceback (most recent call last):\n" + "\n".join(frames) + "\nAssertionError"


# -- the two selectors ----------------------------------------------------------------------------


def new_selector(phase: Phase, root: Path, budget: int, feedback: str | None, patch: str | None) -> Shown:
    ctx = build_context(phase, root, goal="benchmark", budget_tokens=budget, feedback=feedback, previous_patch=patch)
    lines: dict[str, set[int]] = {}
    for rel, spans in ctx.shown_lines.items():
        text = (root / rel).read_text(encoding="utf-8").splitlines()
        for a, b in spans:
            lines.setdefault(rel, set()).update(range(a, b + 1))
            # What the prompt claims to show is really in it, line for line.
            assert "\n".join(text[a - 1 : b]).rstrip() in ctx.stable, (rel, a, b)
    whole = {r for r in ctx.shown_lines if len(lines[r]) >= len((root / r).read_text(encoding="utf-8").splitlines())}
    left_out = sum(1 for r in phase.scope if (root / r).is_file() and r not in ctx.files_shown)
    return Shown(lines, whole, estimate_tokens(ctx.text), left_out)


def load_baseline(sha: str) -> ModuleType | None:
    """``agents/context.py`` as it was at ``sha`` in this repository, as a module of the package."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{sha}:src/autopack/agents/context.py"], capture_output=True, check=True
        ).stdout.decode("utf-8")
    except (subprocess.CalledProcessError, OSError):
        return None
    name = "autopack.agents._context_baseline"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "autopack.agents"
    sys.modules[name] = module
    exec(compile(source, f"{sha[:10]}:context.py", "exec"), module.__dict__)
    return module


def old_selector(module: ModuleType) -> Selector:
    def select(phase: Phase, root: Path, budget: int, feedback: str | None, patch: str | None) -> Shown:
        ctx = module.build_context(phase, root, goal="benchmark", budget_tokens=budget, feedback=feedback)
        lines: dict[str, set[int]] = {}
        partial: set[str] = set()
        for note in ctx.omitted:
            if m := _OLD_NOTE.search(note):
                partial.add(m.group(1))
                for rng in m.group(2).split(", "):
                    a, _, b = rng.partition("-")
                    lines.setdefault(m.group(1), set()).update(range(int(a), int(b or a) + 1))
        for rel in ctx.files_shown:
            if rel not in partial:
                lines[rel] = set(range(1, len((root / rel).read_text(encoding="utf-8").splitlines()) + 1))
        whole = set(ctx.files_shown) - partial
        left_out = sum(1 for r in phase.scope if (root / r).is_file() and r not in ctx.files_shown)
        return Shown(lines, whole, estimate_tokens(ctx.text), left_out)

    return select


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Row:
    repo: str
    code: str
    budget: int
    evidence: str
    commits: int = 0
    hunks: int = 0
    visible: int = 0
    files: int = 0
    whole: int = 0
    left_out: int = 0
    tokens: list[int] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def measure(cases: list[Case], code: str, select: Selector, budget: int, evidence: str) -> Row:
    row = Row(cases[0].repo if cases else "-", code, budget, evidence)
    with tempfile.TemporaryDirectory(prefix="bench-context-") as tmp:
        for case in cases:
            root = Path(tmp) / case.sha[:12]
            for rel, text in case.files.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text, encoding="utf-8")
            subject = case.message.splitlines()[0][:120]
            phase = Phase(id="bench", name=subject, description=case.message, scope=case.scope)
            feedback = _traceback(case) if evidence == "traceback" else None
            shown = select(phase, root, budget, feedback, case.diff if evidence == "patch" else None)
            row.commits += 1
            row.files += len(case.files)
            row.whole += len(shown.whole)
            row.left_out += shown.left_out
            row.tokens.append(shown.tokens)
            for rel, need in case.hunks:
                row.hunks += 1
                if need <= shown.lines.get(rel, set()):
                    row.visible += 1
                else:
                    row.missed.append(f"{case.sha[:10]} {rel}:{min(need)}-{max(need)}")
    return row


def _repo_rev(spec: Path, rev: str) -> tuple[Path, str]:
    """``PATH@REV`` walks back from REV in PATH; a plain PATH from ``rev``."""
    text = str(spec)
    if not spec.exists() and "@" in text:
        path, _, at = text.rpartition("@")
        return Path(path), at
    return spec, rev


def run(
    repos: list[Path], *, commits: int, rev: str, model: str, small: int, baseline: str | None
) -> tuple[list[Row], dict[str, str]]:
    """Every row of the table, and per repo the commit range measured."""
    default = context_budget(load_config(), model)
    module = load_baseline(baseline) if baseline else None
    selectors: list[tuple[str, Selector]] = [("new", new_selector)]
    if module is not None:
        selectors.insert(0, ("old", old_selector(module)))
    rows: list[Row] = []
    ranges: dict[str, str] = {}
    for spec in repos:
        repo, at = _repo_rev(spec, rev)
        cases = collect(repo, commits, at)
        if not cases:
            continue
        ranges[label(repo)] = f"{len(cases)} commits, {cases[-1].sha[:12]}..{cases[0].sha[:12]}"
        for budget in (small, default):
            for code, select in selectors:
                rows.append(measure(cases, code, select, budget, "phase only"))
        for code, select in selectors:
            rows.append(measure(cases, code, select, small, "traceback"))
        rows.append(measure(cases, "new", new_selector, small, "patch"))
    return rows, ranges


def table(rows: list[Row]) -> str:
    head = [
        "repo",
        "code",
        "budget",
        "evidence",
        "commits",
        "hunks",
        "visible %",
        "whole files %",
        "left out",
        "median tokens",
        "max tokens",
    ]
    body = [
        [
            r.repo,
            r.code,
            str(r.budget),
            r.evidence,
            str(r.commits),
            str(r.hunks),
            f"{100 * r.visible / max(1, r.hunks):.1f}",
            f"{100 * r.whole / max(1, r.files):.1f}",
            str(r.left_out),
            str(int(statistics.median(r.tokens))) if r.tokens else "-",
            str(max(r.tokens, default=0)),
        ]
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in body]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--repo",
        type=Path,
        action="append",
        required=True,
        help="a git repository or bare git dir; PATH@REV walks back from REV there",
    )
    ap.add_argument("--commits", type=int, default=60, help="commits per repository")
    ap.add_argument("--rev", default="HEAD", help="walk back from this revision")
    ap.add_argument(
        "--model", default="claude-sonnet-4-5", help="the budget is the one the shipped config gives this model"
    )
    ap.add_argument("--small", type=int, default=24000, help="the small budget (tokens)")
    ap.add_argument(
        "--baseline", default=BASELINE, help="autopack commit whose context.py is the 'old' code ('' for none)"
    )
    ap.add_argument("--misses", action="store_true", help="list the hunks not visible, per row")
    ap.add_argument("--write-doc", nargs="?", const=str(ROOT / "docs" / "BENCHMARKS.md"), default=None)
    args = ap.parse_args(argv)
    rows, ranges = run(
        args.repo,
        commits=args.commits,
        rev=args.rev,
        model=args.model,
        small=args.small,
        baseline=args.baseline or None,
    )
    text = table(rows)
    default = context_budget(load_config(), args.model)
    old = f"old: src/autopack/agents/context.py at {args.baseline[:12]}; " if args.baseline else ""
    legend = (
        f"{old}new: this checkout\n"
        f"budget {default}: what the shipped config gives {args.model}; {args.small}: the small budget\n"
        "visible %: hunks whose every touched line (both sides of an insertion) is in the prompt\n"
        "left out: scope files not shown at all; tokens: the whole prompt (4 characters a token)\n"
        + "\n".join(f"{name}: {rng}" for name, rng in ranges.items())
    )
    print(text)
    print(legend)
    if args.misses:
        for r in rows:
            print(f"\n{r.repo} {r.code} {r.budget} {r.evidence}: {len(r.missed)} hunks not visible")
            print("\n".join("  " + m for m in r.missed))
    if args.write_doc:
        doc_path = Path(args.write_doc)
        command = "python scripts/bench/context.py " + " ".join(argv if argv is not None else sys.argv[1:])
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = f"Command: `{command}`  \nDate: {when}\n\n```text\n{text}\n{legend}\n```"
        doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else ""
        doc_path.write_text(replace_section(doc, "Builder context", body, "context.py"), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
