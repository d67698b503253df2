"""``autopack diff``: what a run changed, and what its models tried before that.

The run's change is ``git diff <base> <run branch>`` (a phase's: its start commit to its commit);
``attempts_text`` lays out each failed attempt's stored patch, error and gate output. ``colorize``
paints a diff in git's default colours for a terminal; piped output stays plain text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from git import Repo

from ..layout import Layout
from ..store import AttemptRow, AttemptStatus, PhaseRow, RunStore
from ..workspace.gitcmd import git_bytes, git_ok
from .runref import ReviewError, RunRef, base_of, load_run, open_project, require_tip

# git's default diff colours (color.diff.meta, frag, old, new): what a user sees from `git diff`.
_BOLD, _CYAN, _RED, _GREEN, _YELLOW, _RESET = "\x1b[1m", "\x1b[36m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[m"
_META_PREFIXES = (
    "diff --git ",
    "index ",
    "--- ",
    "+++ ",
    "new file mode ",
    "deleted file mode ",
    "old mode ",
    "new mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "Binary files ",
)


def stored_run_diff(
    store: RunStore, layout: Layout, run_id: str, *, phase: str | None, attempts: bool, painter: Painter
) -> tuple[str, list[str]]:
    """``autopack diff``: the run's change (or ``phase``'s commit), painted, and with ``attempts`` each
    failed attempt after it; with the notes to show beside it. A phase without a commit is refused
    unless ``attempts`` asks for what was tried."""
    run = load_run(store, layout, run_id)
    phases = store.phases(run_id)
    tried = store.attempts(run_id, phase)
    chosen = find_phase(phases, run, phase) if phase else None
    repo = open_project(run)
    notes: list[str] = []
    if chosen is None:
        text = run_diff(repo, run)
        if not text and not attempts:
            notes.append(f"branch {run.branch} has no change against the commit it started from")
    else:
        found = phase_diff(repo, run, chosen)
        if found is None and not attempts:
            raise ReviewError(
                f"phase {phase} has no commit (state {chosen.state.value}); `autopack diff --run-id {run_id} --phase "
                f"{phase} --attempts` shows what was tried"
            )
        text = found or ""
    out = painter.diff(text)
    if attempts:
        failed = attempts_text(tried, painter)
        if text:
            out += "\n"
        out += failed or f"(no failed attempt{' in phase ' + phase if phase else ''})\n"
    return out, notes


def git_diff(repo: Repo, old: str, new: str) -> str:
    """``git diff old new`` as text (renames found; no external diff drivers; never coloured)."""
    out = git_bytes(repo, "diff", "--no-color", "--no-ext-diff", "-M", old, new, "--")
    return out.decode("utf-8", errors="replace")


def run_diff(repo: Repo, run: RunRef) -> str:
    """The run branch's whole change against the commit it started from."""
    return git_diff(repo, base_of(repo, run), require_tip(repo, run))


def phase_diff(repo: Repo, run: RunRef, phase: PhaseRow) -> str | None:
    """The change phase ``phase`` (a store row) committed, or None when it has no commit."""
    sha = phase.commit_sha
    if not sha or not git_ok(repo, "rev-parse", "--verify", "-q", f"{sha}^{{commit}}"):
        return None
    start = phase.start_commit
    if not start or not git_ok(repo, "rev-parse", "--verify", "-q", f"{start}^{{commit}}"):
        start = f"{sha}^"
    return git_diff(repo, str(start), str(sha))


def find_phase(phases: list[PhaseRow], run: RunRef, phase_id: str) -> PhaseRow:
    for p in phases:
        if p.phase_id == phase_id:
            return p
    known = ", ".join(p.phase_id for p in phases) or "none"
    raise ReviewError(f"run {run.run_id!r} has no phase {phase_id!r}; its phases are: {known}")


@dataclass(frozen=True)
class Painter:
    """Terminal colours, or none (``enabled`` False) for piped output."""

    enabled: bool

    def diff(self, text: str) -> str:
        return colorize(text) if self.enabled else text

    def header(self, text: str) -> str:
        return f"{_BOLD}{_YELLOW}{text}{_RESET}" if self.enabled else text

    def label(self, text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if self.enabled else text


def colorize(text: str) -> str:
    """``text`` (a unified diff, possibly several) in git's default colours."""
    out = []
    in_hunk = False
    for line in text.splitlines(keepends=True):
        body, end = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        if body.startswith("diff --git ") or (not in_hunk and body.startswith(_META_PREFIXES)):
            in_hunk = False
            out.append(f"{_BOLD}{body}{_RESET}{end}")
        elif body.startswith("@@"):
            in_hunk = True
            close = body.find("@@", 2)
            if close == -1:
                out.append(f"{_CYAN}{body}{_RESET}{end}")
            else:  # the function context after the second @@ stays plain, as in git
                out.append(f"{_CYAN}{body[: close + 2]}{_RESET}{body[close + 2 :]}{end}")
        elif in_hunk and body.startswith("-"):
            out.append(f"{_RED}{body}{_RESET}{end}")
        elif in_hunk and body.startswith("+"):
            out.append(f"{_GREEN}{body}{_RESET}{end}")
        else:
            out.append(line)
    return "".join(out)


def attempts_text(attempts: Iterable[AttemptRow], painter: Painter, *, include_approved: bool = False) -> str:
    """Each failed (or interrupted) attempt: who tried, what went wrong, the patch it left, the gate output."""
    parts: list[str] = []
    for a in attempts:
        if a.outcome is AttemptStatus.APPROVED and not include_approved:
            continue
        if a.outcome is AttemptStatus.RUNNING:
            continue
        took = ""
        if a.finished_at and a.started_at:
            took = f", {float(a.finished_at) - float(a.started_at):.1f} s"
        category = f": {a.error_category}" if a.error_category else ""
        parts.append(
            painter.header(
                f"===== phase {a.phase_id}, attempt {a.number} on {a.model} ({a.complexity}): "
                f"{a.outcome.value}{category}{took} ====="
            )
            + "\n"
        )
        message = a.message or ""
        gate = a.gate_tail
        if gate and gate.strip() and gate.strip() in message:  # shown once, under "gate output"
            message = message.replace(gate.strip(), "(the checks' output is below)").strip()
        if message:
            parts.append(painter.label("--- what went wrong ---") + "\n" + _ending(message))
        patch = a.patch or ""
        parts.append(painter.label("--- the change it made ---") + "\n")
        parts.append(painter.diff(_ending(patch)) if patch.strip() else "(none: no edit reached the files)\n")
        parts.append(painter.label("--- gate output ---") + "\n")
        parts.append(_ending(gate) if gate and gate.strip() else f"({gate_note(gate)})\n")
        parts.append("\n")
    return "".join(parts)


def gate_note(gate_tail: str | None) -> str:
    """What an attempt without gate output means: the checks never ran, or they all passed."""
    return "the checks did not run" if gate_tail is None else "the checks passed: no failure output"


def _ending(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
