"""The Builder's context: the phase spec, the scope and context files (within a token budget),
the learned rules and hints, and on a retry what went wrong last time.

The budget follows the model: a share of the smallest context window the request may land on.
Scope files come before read-only context files: every scope file gets at least its outline and its
best window before a context file gets any room. Whole files go in when they fit (a changelog only
when every other scope file is whole). A file that does not fit is cut by ``excerpt``: the windows the
evidence points at, in file order with their line numbers, and a note of what is hidden.
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

MAX_FILES = 60
SYSTEM_RESERVE = 4000  # tokens of the system text (role, edit format, learned rules) beside the budget
TAIL_RESERVE = 300  # the closing notes: files to create, what is not shown
_GLOB_CHARS = set("*?[")


def expand_paths(root: Path, patterns: list[str]) -> tuple[list[str], list[str]]:
    """(existing files matched, literal paths that do not exist yet), relative POSIX paths."""
    found: list[str] = []
    missing: list[str] = []
    for pat in patterns:
        if any(c in pat for c in _GLOB_CHARS):
            matches = sorted(p for p in root.glob(pat) if p.is_file() and ".git" not in p.relative_to(root).parts)
        elif pat.endswith("/") or (root / pat).is_dir():
            matches = sorted(p for p in (root / pat).rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts)
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
    """``stable``: the phase and its files, identical across a phase's attempts, so it is sent with
    the system text and cached by providers that cache prompts. ``request``: what changes per
    attempt (the diagnosis hint, the previous attempt's error)."""

    stable: str
    request: str
    files_shown: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    shown_lines: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # path -> 1-based ranges shown

    @property
    def text(self) -> str:
        return self.stable + "\n" + self.request


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
    models = [model, *(routing.fallback_models[p] for p in dict.fromkeys(routing.fallback_chain)
                       if p != own and p in routing.fallback_models)]
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
) -> BuilderContext:
    """The Builder's prompt for ``phase`` within ``budget_tokens``. ``feedback`` (the last error) and
    ``previous_patch`` (the last attempt's diff) also point at the lines to show of a file that is cut."""
    parts = [f"PHASE: {phase.id}", f"Name: {phase.name}", f"Run goal: {goal}", "", "What to do:", phase.description.strip()]
    if phase.steps:
        parts += ["", "Steps:"] + [f"{i}. {s}" for i, s in enumerate(phase.steps, 1)]
    parts += ["", "Scope (the only files you may change): " + ", ".join(phase.scope)]
    if phase.checks:
        parts += ["Checks that must pass afterwards: " + "; ".join(f"`{c}`" for c in phase.checks)]
    head = "\n".join(parts) + "\n"
    ask: list[str] = []
    if hint:
        ask += [f"Hint from the diagnosis of earlier failures: {hint}", ""]
    if feedback:
        ask += ["The previous attempt failed. Fix this:", feedback.strip(), ""]
    ask.append(f"Make the change phase {phase.id} describes, as edits in the requested format.")
    request = "\n".join(ask) + "\n"

    scope_files, to_create = expand_paths(root, phase.scope)
    context_files, _ = expand_paths(root, phase.context)
    context_files = [f for f in context_files if f not in scope_files]
    texts: dict[str, str] = {}
    omitted: list[str] = []
    for rel in scope_files + context_files:
        try:
            texts[rel] = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            omitted.append(f"{rel} (not readable as UTF-8 text)")
    room = budget_tokens - estimate_tokens(head) - estimate_tokens(request) - TAIL_RESERVE
    evidence_text = "\n".join([phase.name, phase.description, *phase.steps, hint or ""])
    chooser = _Chooser(texts, lambda: gather_evidence(evidence_text, feedback=feedback, previous_patch=previous_patch,
                                                      paths=list(texts)))
    chooser.allocate([r for r in scope_files if r in texts], "in scope", room)
    chooser.allocate([r for r in context_files if r in texts], "read-only context", room - chooser.used)
    blocks: list[str] = []
    shown: list[str] = []
    for rel in scope_files + context_files:
        if rel in chooser.blocks:
            blocks.append(chooser.blocks[rel])
            shown.append(rel)
        elif rel in texts:
            omitted.append(f"{rel} ({len(texts[rel].splitlines())} lines, left out: over the context budget)")
    omitted += chooser.notes
    tail = []
    if to_create:
        tail.append("Files in scope that do not exist yet (create them if the phase needs them): " + ", ".join(to_create))
    if omitted:
        tail.append("Not shown in full: " + "; ".join(omitted))
    stable = head + "\nFiles:\n" + ("\n".join(blocks) if blocks else "(none yet)\n") + ("\n" + "\n".join(tail) + "\n" if tail else "")
    return BuilderContext(stable=stable, request=request, files_shown=shown, omitted=omitted, shown_lines=chooser.spans)


def _file_block(rel: str, text: str) -> str:
    lang = Path(rel).suffix.lstrip(".") or "text"
    return f"### {rel}\n```{lang}\n{text.rstrip()}\n```\n"


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
        self.used = 0

    def _cut(self, rel: str) -> FileCut:
        if rel not in self._cuts:
            if self._evidence is None:
                self._evidence = self._evidence_fn()
            self._cuts[rel] = FileCut(rel, self.texts[rel], self._evidence)
        return self._cuts[rel]

    def _whole(self, rel: str, label: str) -> str:
        return f"({label})\n" + _file_block(rel, self.texts[rel])

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
            excerpt = self._cut(r).render(share) if share >= 200 else None
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
        return f"({label}, partial)\n" + _file_block(rel, excerpt.body) + excerpt.after
