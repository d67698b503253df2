"""The Builder's context: the phase spec, the scope and context files (within a token budget), an
outline of the repository, and on a retry what went wrong last time (the failure, the first
traceback, the end of the output, the previous attempt's diff and any edit that was refused).

The prompt is laid out for prompt caching, most stable first: the read-only context files (shared by
the phases of a run), then the repository outline and the scope files (shared by a phase's attempts),
then what changes between attempts: the phase, the learned rules, the hint and the retry section.

The budget follows the model: a share of the smallest context window the request may land on. Room
goes to scope files before read-only context files: every scope file gets at least its outline and its
best window before a context file gets any. Whole files go in when they fit (a changelog only when
every other scope file is whole). A file that does not fit is cut by ``excerpt``: its outline, then the
windows the evidence points at, each in its own code block under a ``path lines A-B:`` line, and a note
of what is hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..config import Config, provider_for_model
from ..plan import Phase
from .base import estimate_tokens
from .evidence import Evidence, gather_evidence
from .excerpt import CHANGELOG, Excerpt, FileCut
from .feedback import clip_diff, clip_middle
from .outline import list_files, repository_outline

MAX_FILES = 60
SYSTEM_RESERVE = 4000  # tokens of the system text (role, edit format, learned rules) beside the budget
TAIL_RESERVE = 300  # the closing notes: files to create, what is not shown
RETRY_SHARE = 0.2  # of the budget, at most, for the retry section (failure and previous diff)
RETRY_MIN, RETRY_MAX = 800, 8000  # tokens
OUTLINE_SHARE = 0.04  # of the budget, at most, for the repository outline
OUTLINE_MAX = 1500  # tokens
READ_ONLY_HEADER = "Read-only files (for reference; they may not be changed):\n"
SCOPE_HEADER = "Files in the phase scope (the only files you may change):\n"
_GLOB_CHARS = set("*?[")


def expand_paths(root: Path, patterns: list[str]) -> tuple[list[str], list[str]]:
    """(existing files matched, literal paths that do not exist yet), relative POSIX paths."""
    found: list[str] = []
    missing: list[str] = []
    for pat in patterns:
        if any(c in pat for c in _GLOB_CHARS):
            matches = sorted(p for p in root.glob(pat) if p.is_file() and ".git" not in p.relative_to(root).parts)
        elif pat.endswith("/") or (root / pat).is_dir():
            matches = sorted(
                p for p in (root / pat).rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts
            )
        elif (root / pat).is_file():
            matches = [root / pat]
        else:
            missing.append(pat)
            continue
        for m in matches:
            rel = m.relative_to(root).as_posix()
            if rel not in found:
                found.append(rel)
    return found[:MAX_FILES], missing


@dataclass
class BuilderContext:
    """The Builder's prompt in four parts, most stable first. ``readonly``: the read-only context files
    (identical for every phase of a run that names them). ``scope``: the repository outline and the
    scope files (identical across a phase's attempts while the files are). ``task``: the phase.
    ``request``: what changes per attempt (the diagnosis hint, the retry section, the closing ask)."""

    readonly: str
    scope: str
    task: str
    request: str
    files_shown: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    shown_lines: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # path -> 1-based ranges shown
    partial: list[str] = field(default_factory=list)  # files shown only in part (never to be sent whole)

    @property
    def stable(self) -> str:
        """The files and the outline: what a phase's attempts share."""
        return self.readonly + self.scope

    @property
    def text(self) -> str:
        return self.stable + "\n" + self.task + "\n" + self.request


def context_budget(config: Config, model: str) -> int:
    """Tokens for the phase and its files in a request to ``model``: ``builder.context_token_budget`` when
    set, else ``builder.context_window_share`` of the smallest context window the request may land on
    (the model, or the model of a provider in the routing fallback chain), leaving room for the reply
    and the system text."""
    settings = config.builder
    if settings.context_token_budget is not None:
        return settings.context_token_budget
    routing = config.routing
    own = provider_for_model(model, config)
    models = [
        model,
        *(
            routing.fallback_models[p]
            for p in dict.fromkeys(routing.fallback_chain)
            if p != own and p in routing.fallback_models
        ),
    ]
    window = min(config.context_window(m) for m in models)
    share = int(window * settings.context_window_share)
    return max(1000, min(share, window - settings.max_output_tokens - SYSTEM_RESERVE))


def build_context(
    phase: Phase,
    root: Path,
    *,
    goal: str,
    budget_tokens: int,
    feedback: str | None = None,
    hint: str | None = None,
    previous_patch: str | None = None,
    previous_applied: bool = False,
    extra_context: list[str] | None = None,
    focus: dict[str, list[tuple[int, int]]] | None = None,
    files: list[str] | None = None,
) -> BuilderContext:
    """The Builder's prompt for ``phase`` within ``budget_tokens``. ``feedback`` (the last error) and
    ``previous_patch`` (the last attempt's diff; ``previous_applied``: it is still in the files) are
    shown in the retry section and also point at the lines to show of a file that is cut.
    ``extra_context``: more read-only files (the Builder asked for them); ``focus``: line ranges the
    Builder asked to see. ``files``: the repository's files for the outline (default: walk ``root``)."""
    parts = [
        f"PHASE: {phase.id}",
        f"Name: {phase.name}",
        f"Run goal: {goal}",
        "",
        "What to do:",
        phase.description.strip(),
    ]
    if phase.steps:
        parts += ["", "Steps:"] + [f"{i}. {s}" for i, s in enumerate(phase.steps, 1)]
    parts += ["", "Scope (the only files you may change): " + ", ".join(phase.scope)]
    if phase.checks:
        parts += ["Checks that must pass afterwards: " + "; ".join(f"`{c}`" for c in phase.checks)]
    task = "\n".join(parts) + "\n"
    ask: list[str] = []
    if hint:
        ask += [f"Hint from the diagnosis of earlier failures: {hint}", ""]
    if feedback or previous_patch:
        allowance = max(RETRY_MIN, min(RETRY_MAX, int(budget_tokens * RETRY_SHARE)))
        ask += [retry_section(feedback or "", previous_patch or "", previous_applied, allowance), ""]
    ask.append(f"Make the change phase {phase.id} describes, as edits in the requested format.")
    request = "\n".join(ask) + "\n"

    scope_files, to_create = expand_paths(root, phase.scope)
    context_files, _ = expand_paths(root, [*phase.context, *(extra_context or [])])
    context_files = [f for f in context_files if f not in scope_files]
    texts: dict[str, str] = {}
    omitted: list[str] = []
    for rel in scope_files + context_files:
        try:
            texts[rel] = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            omitted.append(f"{rel} (not readable as UTF-8 text)")
    phase_text = "\n".join([phase.name, phase.description, *phase.steps, hint or ""])
    all_files = list_files(root) if files is None else files
    # The outline leaves out the files the prompt shows (whole, or cut with their own outline).
    outline = repository_outline(
        root,
        all_files,
        scope=scope_files,
        shown_whole=set(scope_files + context_files),
        phase_text=phase_text,
        room=min(OUTLINE_MAX, int(budget_tokens * OUTLINE_SHARE)),
    )
    room = (
        budget_tokens
        - estimate_tokens(task)
        - estimate_tokens(request)
        - TAIL_RESERVE
        - (estimate_tokens(outline) + 2 if outline else 0)
    )
    chooser = _Chooser(
        texts,
        lambda: gather_evidence(
            phase_text, feedback=feedback, previous_patch=previous_patch, paths=list(texts), focus=focus
        ),
    )
    chooser.allocate([r for r in scope_files if r in texts], "in scope", room)
    chooser.allocate([r for r in context_files if r in texts], "read-only context", room - chooser.used)
    shown: list[str] = []
    for rel in scope_files + context_files:
        if rel in chooser.blocks:
            shown.append(rel)
        elif rel in texts:
            omitted.append(f"{rel} ({len(texts[rel].splitlines())} lines, left out: over the context budget)")
    omitted += chooser.notes
    tail = []
    if to_create:
        tail.append(
            "Files in scope that do not exist yet (create them if the phase needs them): " + ", ".join(to_create)
        )
    if omitted:
        tail.append("Not shown in full: " + "; ".join(omitted))
    ro_blocks = [chooser.blocks[r] for r in context_files if r in chooser.blocks]
    scope_blocks = [chooser.blocks[r] for r in scope_files if r in chooser.blocks]
    readonly = (READ_ONLY_HEADER + "\n".join(ro_blocks) + "\n") if ro_blocks else ""
    scope = (
        ((outline + "\n\n") if outline else "")
        + SCOPE_HEADER
        + ("\n".join(scope_blocks) if scope_blocks else "(none yet)\n")
    )
    scope += ("\n" + "\n".join(tail) + "\n") if tail else ""
    return BuilderContext(
        readonly=readonly,
        scope=scope,
        task=task,
        request=request,
        files_shown=shown,
        omitted=omitted,
        shown_lines=chooser.spans,
        partial=[r for r in shown if r in chooser.partial],
    )


def retry_section(feedback: str, patch: str, applied: bool, allowance: int) -> str:
    """What the previous attempt did and how it failed, in about ``allowance`` tokens: the failure
    (its head and its end when long: the first traceback comes first, the end of the output last), then
    the previous attempt's diff, cut between hunks."""
    chars = allowance * 4
    out = ["The previous attempt failed. Fix this:"]
    diff_room = chars - min(len(feedback), chars // 2) - 300
    if patch.strip() and diff_room > 400:
        clipped, left_out = clip_diff(patch.strip(), diff_room)
        state = (
            "is still applied: the files above include it"
            if applied
            else "was undone: the files above are as they were before it"
        )
        more = f"\n[{left_out} more hunk(s) of that diff not shown]" if left_out else ""
        diff_block = f"\nYour previous attempt's change {state}. Its diff:\n```diff\n{clipped}\n```{more}"
    else:
        diff_block = ""
    out.append(
        clip_middle(feedback.strip(), max(400, chars - len(diff_block) - 100))
        if feedback.strip()
        else "(no error text was recorded)"
    )
    if diff_block:
        out.append(diff_block)
    return "\n".join(out)


def _file_block(rel: str, text: str) -> str:
    return f"```{_lang(rel)}\n{text.rstrip()}\n```\n"


def _lang(rel: str) -> str:
    return Path(rel).suffix.lstrip(".") or "text"


class _Chooser:
    """Decides, group by group, which files go in whole, which are cut (and to what), within a room."""

    def __init__(self, texts: dict[str, str], evidence: Callable[[], Evidence]) -> None:
        self.texts = texts
        self._evidence_fn = evidence  # gathered only when a file must be cut
        self._evidence: Evidence | None = None
        self._cuts: dict[str, FileCut] = {}
        self.blocks: dict[str, str] = {}
        self.spans: dict[str, list[tuple[int, int]]] = {}
        self.notes: list[str] = []
        self.partial: set[str] = set()
        self.used = 0

    def _cut(self, rel: str) -> FileCut:
        if rel not in self._cuts:
            if self._evidence is None:
                self._evidence = self._evidence_fn()
            self._cuts[rel] = FileCut(rel, self.texts[rel], self._evidence)
        return self._cuts[rel]

    def _whole(self, rel: str, label: str) -> str:
        return f"### {rel} ({label})\n" + _file_block(rel, self.texts[rel])

    def _take(self, rel: str, block: str, spans: list[tuple[int, int]]) -> None:
        self.blocks[rel] = block
        self.spans[rel] = spans
        self.used += estimate_tokens(block)

    def allocate(self, files: list[str], label: str, room: int) -> None:
        """Which of ``files`` go in whole and which are cut, within ``room`` tokens. Scope files first
        reserve their smallest useful excerpt (outline and best window); then files go in whole,
        smallest first, while each fits an equal share of what is left; the rest are cut, sharing it."""
        if not files:
            return
        whole_cost = {r: estimate_tokens(self._whole(r, label)) for r in files}
        if sum(whole_cost.values()) <= room:
            for r in files:
                self._take(r, self._whole(r, label), [(1, max(1, len(self.texts[r].splitlines())))])
            return
        scope = label == "in scope"
        floors = {r: min(whole_cost[r], self._cut(r).floor()) if scope else 0 for r in files}
        free = room - sum(floors.values())
        by_size = sorted(files, key=lambda r: whole_cost[r] - floors[r])
        # A changelog's news is at its top: it goes in whole only when every other file did.
        order = [r for r in by_size if not CHANGELOG.match(PurePosixPath(r).name)]
        order += [r for r in by_size if r not in order]
        whole: list[str] = []
        for k, r in enumerate(order):
            # Water-filling: a file goes in whole when it fits an equal share of what is left, so
            # one mid-sized file cannot take the room that the files which must be cut need.
            extra = whole_cost[r] - floors[r]
            if extra > free // (len(order) - k):
                break
            whole.append(r)
            free -= extra
        for r in whole:
            self._take(r, self._whole(r, label), [(1, max(1, len(self.texts[r].splitlines())))])
        # Cut files in turn, each to an equal share of what is left; a changelog first: it keeps only
        # its top and leaves the rest of its share to the others.
        rest = sorted((r for r in order if r not in whole), key=lambda r: not self._cut(r).changelog)
        for i, r in enumerate(rest):
            share = floors[r] + max(0, free) // (len(rest) - i)
            # The part headers of a cut file (its label, the line about its parts) are not the excerpt's.
            excerpt = self._cut(r).render(share - 40 - len(r) // 2) if share >= 200 else None
            if excerpt is None:
                free += floors[r]
                continue
            n = len(self.texts[r].splitlines())
            if excerpt.spans == [(1, n)]:  # every line made it after all
                block = self._whole(r, label)
                self._take(r, block, excerpt.spans)
            else:
                block = self._partial(r, label, excerpt)
                self._take(r, block, excerpt.spans)
                self.notes.append(excerpt.note)
            free -= estimate_tokens(block) - floors[r]

    def _partial(self, rel: str, label: str, excerpt: Excerpt) -> str:
        self.partial.add(rel)
        n = len(self.texts[rel].splitlines())
        out = [
            f"### {rel} ({label}, partial)",
            f"Shown in {len(excerpt.parts)} part(s) of its {n} lines; a `{rel} lines A-B:` "
            "line (not in the file) heads each part.",
        ]
        if excerpt.outline:
            out += ["Outline of the whole file:", excerpt.outline]
        for first, last, text in excerpt.parts:
            out.append(f"{rel} lines {first}-{last}:")
            out.append(_file_block(rel, text).rstrip("\n"))
        return "\n".join(out) + "\n" + excerpt.after
