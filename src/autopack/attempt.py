"""One attempt at a phase: Builder reply -> parse -> apply (scope-checked) -> quality gate -> Auditor(s).

Returns an ``AttemptOutcome``; it never commits and never decides what happens after a failure (the
executor does both). The store is told of each step so a killed process can be resumed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from .agents.auditor import Auditor
from .agents.base import CallContext
from .agents.builder import Builder, CachePlan
from .agents.context import build_context, context_budget, expand_paths
from .agents.feedback import clip_middle, first_traceback
from .config import Config
from .edits import apply_edits, parse_reply
from .edits.paths import in_scope
from .edits.reply import Edit
from .gate.checks import GateResult, run_checks
from .gate.checks_env import ChecksEnv
from .llm.types import ProviderError
from .plan import Phase, Plan
from .recovery.categories import ErrorCategory, categorize_gate_output
from .recovery.escalation import first_model
from .recovery.normalize import normalize_error_message
from .workspace.worktree import Workspace

MAX_FEEDBACK = 8000
MAX_UNCHANGED_CHARS = 40_000  # of the scope files an Auditor reads when the Builder changed nothing
# The Builder's way to say the phase is already done: a line that starts with NO_CHANGES (bold, backticks,
# and a reason after it allowed: "NO_CHANGES: add() exists").
NO_CHANGES = re.compile(r"^[\s*_`#>-]*NO_CHANGES(?!\w)[*_`]*[\s:.!,;—–-]*", re.MULTILINE)
# In the run folder while a check runs: its process group, for a resume after kill -9 to end it.
CHECK_PID_FILE = "check.pgid"


@dataclass
class AttemptOutcome:
    ok: bool
    model: str
    category: str | None = None
    message: str = ""  # what went wrong, for the store and the Builder's next prompt
    reply_hash: str | None = None
    edit_hash: str | None = None
    gate_signature: str | None = None
    patch: str = ""
    gate: GateResult | None = None
    keep_workspace: bool = False  # partial edits stay applied (the feedback says which)
    inexact: list[str] = field(default_factory=list)  # "path: how" for each edit placed by tolerant matching
    verdicts: list[dict[str, Any]] = field(default_factory=list)  # each Auditor verdict read (model, approved, ...)
    compact_next: bool = False  # retry in a more compact edit mode
    no_changes: bool = False  # the Builder replied NO_CHANGES: the tree was checked and audited as it was

    @property
    def normalized(self) -> str:
        return normalize_error_message(self.message)


def _hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


@dataclass
class AttemptEnv:
    config: Config
    plan: Plan
    workspace: Workspace
    builder: Builder
    auditor: Auditor
    run_dir: Path
    step: Callable[[str, dict[str, Any]], None]  # reports a step (state change + progress)
    checks_env: ChecksEnv | None = None  # the project's environment for checks (None: autopack's interpreter)


def run_attempt(
    env: AttemptEnv,
    phase: Phase,
    *,
    model: str,
    mode: str,
    number: int,
    start_commit: str,
    feedback: str | None,
    hint: str | None,
    rules_text: str,
    ctx: CallContext,
    previous_patch: str | None = None,
    retry_model: str | None = None,
    previous_model: str | None = None,
    last_attempt: bool = False,
) -> AttemptOutcome:
    """One attempt. For prompt caching (``cache_plan``): ``retry_model``, the model a failed attempt
    would be retried on (None: not known, taken as this one); ``previous_model``, the model of the
    phase's previous attempt (None: this is the first); ``last_attempt``: no attempt follows this one."""
    cfg = env.config
    root = env.workspace.root
    env.step("BUILDING", {"model": model, "attempt": number})
    budget = context_budget(cfg, model)
    # Kept edits (a partly applied reply) are still in the files the Builder sees; otherwise they were undone.
    applied = bool(previous_patch) and bool(env.workspace.changed_files(start_commit))
    # The Builder's context; built again with the files it asks for (below).
    make_context = partial(
        build_context,
        phase,
        root,
        goal=env.plan.goal,
        budget_tokens=budget,
        feedback=feedback,
        hint=hint,
        previous_patch=previous_patch,
        previous_applied=applied,
    )
    context = make_context()
    if mode == "full_file" and any(p in context.partial for p in expand_paths(root, phase.scope)[0]):
        # A whole-file reply of a file shown in part would drop its hidden lines: ask for blocks instead.
        mode = "structured_edit"
        env.step(
            "BUILDING",
            {
                "model": model,
                "attempt": number,
                "mode": mode,
                "note": "a scope file is shown in part: search/replace edits instead of whole files",
            },
        )
    cache = cache_plan(
        env.plan,
        phase,
        model,
        first_model(cfg, phase.category, phase.complexity, "builder"),
        retry_model=None if last_attempt else (retry_model or model),
        previous_model=previous_model,
        recut=bool(context.partial),
    )
    reply = env.builder.build(model=model, mode=mode, context=context, rules_text=rules_text, ctx=ctx, cache=cache)
    needed = None
    if (
        not reply.truncated
        and NEED_FILES.search(reply.text)
        and not parse_reply(reply.text, mode, scope=phase.scope, root=root).edits
    ):
        needed = _needed_files(reply.text, root)
    if needed is not None:
        # The Builder asked to see files or lines it needs, instead of guessing: show them and ask once more.
        extra, focus, note = needed
        context = make_context(extra_context=extra, focus=focus)
        context.request = note + "\n\n" + context.request
        env.step("BUILDING", {"model": model, "attempt": number, "needed_files": extra + list(focus)})
        first_cost = reply.cost_usd
        reply = env.builder.build(model=model, mode=mode, context=context, rules_text=rules_text, ctx=ctx, cache=cache)
        reply = replace(reply, cost_usd=reply.cost_usd + first_cost)
    used = reply.model
    rhash = _hash(reply.text) if reply.text.strip() else None
    if not reply.text.strip():
        return AttemptOutcome(
            False,
            used,
            ErrorCategory.empty_reply.value,
            "the reply was empty; reply with edits in the requested format",
        )
    if reply.truncated:
        return AttemptOutcome(
            False,
            used,
            ErrorCategory.truncation.value,
            "your reply was cut off at the output limit and was not applied; send smaller, targeted "
            "search/replace edits instead of whole files",
            reply_hash=rhash,
            compact_next=True,
        )
    parsed = parse_reply(reply.text, mode, scope=phase.scope, root=root)
    if parsed.truncated:
        return AttemptOutcome(
            False,
            used,
            ErrorCategory.truncation.value,
            "your reply ends inside an unterminated block, so nothing was applied: " + "; ".join(parsed.problems),
            reply_hash=rhash,
            compact_next=True,
        )
    # NO_CHANGES and no edit block: the phase is done as the files are; the checks and the Auditor judge that.
    no_changes = not parsed.edits and bool(NO_CHANGES.search(reply.text))
    refused = _whole_files_shown_in_part(parsed.edits, context.partial)
    if refused:
        return AttemptOutcome(
            False,
            used,
            ErrorCategory.destructive_output.value,
            f"nothing was applied: you sent {', '.join(refused)} whole, but {'it was' if len(refused) == 1 else 'they were'} "
            "shown only in part, so a whole-file edit would drop the hidden lines. Change such a file "
            "with search/replace blocks on the lines shown (or ask for the lines you need with NEED_FILES).",
            reply_hash=rhash,
            compact_next=True,
        )
    if not parsed.edits and not no_changes:
        why = "; ".join(parsed.problems) or "no edit blocks were found"
        return AttemptOutcome(
            False,
            used,
            ErrorCategory.empty_reply.value,
            f"the reply contained no edits ({why}); use the edit format described in the instructions, "
            "or, if the files already do what the phase asks, reply with the line NO_CHANGES and one "
            "sentence saying why",
            reply_hash=rhash,
        )
    ehash = _hash("\n".join(repr(e) for e in parsed.edits)) if parsed.edits else rhash
    inexact: list[str] = []
    if no_changes:
        env.step("APPLYING", {"edits": 0, "no_changes": True})
    else:
        env.step("APPLYING", {"edits": len(parsed.edits)})
        report = apply_edits(
            parsed.edits, root, phase.scope, allow_mass_deletion=phase.allow_mass_deletion, removed_ok=phase.may_remove
        )
        inexact = [
            f"{r.path}: {'; '.join(dict.fromkeys(r.fuzz))}" for r in report.results if r.status == "applied" and r.fuzz
        ]
        if not report.ok:
            partly = bool(report.files_changed)
            return AttemptOutcome(
                False,
                used,
                report.category or ErrorCategory.patch_apply_error.value,
                refusal_feedback(report.feedback(), reply.text, parsed.edits, [r.index for r in report.refused]),
                reply_hash=rhash,
                edit_hash=ehash,
                patch=env.workspace.stage_and_diff(start_commit),
                keep_workspace=partly and report.category == "patch_apply_error",
                inexact=inexact,
            )

    environ = env.checks_env.environ(root) if env.checks_env else None
    setup = list(env.plan.setup) + list(phase.setup)
    if setup:
        # Set-up (a dependency a change adds, an editable install) runs before the checks, in the same
        # environment; when it fails the checks could only fail for a reason no edit can fix.
        env.step("GATING", {"setup": len(setup)})
        prepared = run_checks(
            setup,
            root,
            timeout=cfg.quality_gate.check_timeout_seconds,
            log_path=env.run_dir / "gate" / f"{phase.id}-attempt{number}-setup.log",
            tail_lines=cfg.quality_gate.tail_lines,
            environ=environ,
            pid_file=env.run_dir / CHECK_PID_FILE,
        )
        if not prepared.passed:
            return AttemptOutcome(
                False,
                used,
                ErrorCategory.infra.value,
                f"the phase's setup failed before its checks could run: {prepared.summary()}\n{prepared.tail()}"[
                    :MAX_FEEDBACK
                ],
                reply_hash=rhash,
                edit_hash=ehash,
                patch=env.workspace.stage_and_diff(start_commit),
                gate=prepared,
                inexact=inexact,
            )
    checks = list(phase.checks) + list(env.plan.default_checks) + list(cfg.quality_gate.default_checks)
    env.step("GATING", {"checks": len(checks)})
    gate = run_checks(
        checks,
        root,
        timeout=cfg.quality_gate.check_timeout_seconds,
        log_path=env.run_dir / "gate" / f"{phase.id}-attempt{number}.log",
        tail_lines=cfg.quality_gate.tail_lines,
        environ=environ,
        pid_file=env.run_dir / CHECK_PID_FILE,
    )
    # Checks may write files (snapshots, generated code, a formatter run on the whole tree): only the
    # phase's scope is the phase's to change, so anything else they left is put back and reported.
    stray = [f for f in env.workspace.changed_since(start_commit) if not in_scope(f, phase.scope)]
    if stray:
        env.workspace.discard(stray, start_commit)
        env.step(
            "GATING",
            {
                "discarded_out_of_scope": stray[:50],
                "note": (
                    f"{len(stray)} file(s) the checks changed outside the phase scope were put back: {', '.join(stray[:10])}"
                    + (" ..." if len(stray) > 10 else "")
                ),
            },
        )
    patch = env.workspace.stage_and_diff(start_commit)
    if not gate.passed:
        tail = gate.tail()
        category = gate_category(gate, tail)
        failed = ",".join(
            sorted(
                name
                for c in gate.checks
                if not c.passed
                for name in ((c.pytest.failed_tests if c.pytest else []) or [c.command])
            )
        )
        said = (
            (
                "you replied NO_CHANGES, but the files as they are do not pass the phase's checks; make the change "
                "the phase asks for\n"
            )
            if no_changes
            else ""
        )
        return AttemptOutcome(
            False,
            used,
            category,
            said + gate_feedback(gate),
            reply_hash=rhash,
            edit_hash=ehash,
            gate_signature=_hash(category + failed),
            patch=patch,
            gate=gate,
            inexact=inexact,
            no_changes=no_changes,
        )

    env.step("AUDITING", {})
    dual = phase.category in cfg.quality_gate.dual_audit_categories
    auditors = [first_model(cfg, phase.category, phase.complexity, "auditor")]
    if dual:
        chain = cfg.escalation_chains.auditor.for_complexity(phase.complexity)
        second = next((m for m in chain if m != auditors[0]), auditors[0])
        auditors.append(second)
    phase_text = f"PHASE: {phase.id}\nName: {phase.name}\nGoal: {phase.description}\nScope: {', '.join(phase.scope)}"
    unchanged = _no_change_review(reply.text, root, phase) if no_changes else None
    verdicts: list[dict[str, Any]] = []
    for auditor_model in auditors:
        try:
            outcome = env.auditor.review(
                model=auditor_model,
                phase_text=phase_text,
                diff=patch,
                gate_summary=gate.summary(),
                gate_tail=gate.tail(),
                ctx=ctx,
                unchanged=unchanged,
                fallback_models=audit_fallbacks(cfg, phase, auditor_model),
            )
        except ProviderError as exc:  # say whose request it was: the executor's message names the model to change
            raise replace(exc, details={**exc.details, "role": "Auditor", "model": auditor_model}) from exc
        if outcome.verdict is not None:
            verdicts.append(
                {
                    "model": outcome.model,
                    "approved": outcome.verdict.accepted,
                    "summary": outcome.verdict.summary,
                    "issues": [i.model_dump(exclude_none=True) for i in outcome.verdict.issues],
                }
            )
        if outcome.verdict is None:
            # The change passed its checks: it stays in the workspace, and the Builder is asked to confirm
            # it (NO_CHANGES) rather than to write it again; the next review may read better.
            return AttemptOutcome(
                False,
                used,
                ErrorCategory.malformed_output.value,
                "your change passed the phase's checks, but no Auditor reply could be read as a verdict "
                f"({outcome.error}). The change is still applied: the files above include it. If it "
                "completes the phase, reply NO_CHANGES; otherwise send only the further edits it needs.",
                reply_hash=rhash,
                edit_hash=ehash,
                patch=patch,
                gate=gate,
                inexact=inexact,
                keep_workspace=True,
                verdicts=verdicts,
            )
        if not outcome.verdict.accepted:
            fatal = outcome.verdict.fatal_category(cfg.replan.fatal_error_types)
            return AttemptOutcome(
                False,
                used,
                fatal or ErrorCategory.auditor_reject.value,
                outcome.verdict.feedback()[:MAX_FEEDBACK],
                reply_hash=rhash,
                edit_hash=ehash,
                patch=patch,
                gate=gate,
                inexact=inexact,
                no_changes=no_changes,
                verdicts=verdicts,
            )
    return AttemptOutcome(
        True,
        used,
        patch=patch,
        gate=gate,
        reply_hash=rhash,
        edit_hash=ehash,
        inexact=inexact,
        no_changes=no_changes,
        verdicts=verdicts,
    )


def cache_plan(
    plan: Plan,
    phase: Phase,
    model: str,
    starting_model: str,
    *,
    retry_model: str | None,
    previous_model: str | None,
    recut: bool,
) -> CachePlan:
    """Which breakpoints the Builder's request carries. A breakpoint both reads a cached prefix and
    writes one that is not cached yet (at 1.25 x the input price), so it is placed only where the prefix
    can be read: now (an earlier request on this model wrote it) or later (a later request on this model
    will repeat it). The read-only block (instructions and context files) is repeated by the phase's
    next attempt on this model and by the plan's other phases with the same context files, which start
    on ``starting_model``; the scope block only by the phase's attempts on this model, and not even then
    when a scope file is cut in part (``recut``: a retry cuts it again, the failure being new evidence).
    ``retry_model``: the model of the next attempt if this one fails (None: no attempt follows)."""
    phases = plan.all_phases()
    index = next((i for i, p in enumerate(phases) if p.id == phase.id), len(phases))
    others = [p for i, p in enumerate(phases) if i != index and p.context == phase.context]
    same_phase = model in (retry_model, previous_model)
    shared = same_phase or (model == starting_model and bool(phase.context) and bool(others))
    return CachePlan(shared=shared, phase=same_phase and not recut)


def gate_feedback(gate: GateResult) -> str:
    """A failed gate for the next prompt: the summary, the first failure report of the failed checks'
    output (pytest's first failing test, else the first traceback) when the end of the output does not
    already hold it, then the end of the output; in ``MAX_FEEDBACK`` characters, cut in the middle."""
    tail = gate.tail()
    first = next((t for c in gate.checks if not c.passed and not c.skipped if (t := first_traceback(c.output))), "")
    parts = [f"quality gate failed: {gate.summary()}"]
    if first and first.strip() not in tail:
        parts += ["First failure in the output:", first]
    parts += ["End of the output:" if first and first.strip() not in tail else "Output:", tail]
    return clip_middle("\n".join(parts), MAX_FEEDBACK)


def refusal_feedback(feedback: str, reply: str, edits: list[Edit], refused: list[int]) -> str:
    """The applier's feedback, then each refused edit as the Builder sent it (it never sees its earlier
    reply otherwise, so "fix and resend" needs the text to fix)."""
    lines = reply.splitlines()
    blocks = []
    for edit in edits:
        if edit.index in refused and edit.span[1] > edit.span[0]:
            text = "\n".join(lines[edit.span[0] : edit.span[1]])
            blocks.append(f"Edit {edit.index}, as you sent it:\n{clip_middle(text, 2500)}")
    sent = ("\n\nThe refused edits:\n" + "\n\n".join(blocks)) if blocks else ""
    return clip_middle(feedback, MAX_FEEDBACK // 2) + sent[: MAX_FEEDBACK // 2]


def _whole_files_shown_in_part(edits: list[Edit], partial: list[str]) -> list[str]:
    shown_in_part = set(partial)
    out = []
    for e in edits:
        path = e.path.replace("\\", "/").removeprefix("./")
        if e.kind == "full_file" and path in shown_in_part and path not in out:
            out.append(path)
    return out


# NEED_FILES: path, path:120-180 (or "path lines 120-180")
NEED_FILES = re.compile(r"^[\s*_`>-]*NEED_FILES\s*:?\s*(.*)$", re.MULTILINE)
_NEED_ITEM = re.compile(r"^(?P<path>[^\s:]+?)(?::| lines? )?(?:(?P<a>\d+)\s*[-–]\s*(?P<b>\d+))?$")


def _needed_files(reply: str, root: Path) -> tuple[list[str], dict[str, list[tuple[int, int]]], str]:
    """What a NEED_FILES reply asks for: (files to show, line ranges to show, a note for the prompt)."""
    found = NEED_FILES.findall(reply)
    items: list[str] = []
    for chunk in (c.strip(" `'\"") for line in found for c in re.split(r"[,;]", line)):
        # "path lines 120-180" is one item; "a.py b.py" two
        items += [chunk] if _NEED_ITEM.match(chunk) and " " in chunk else [w.strip("`'\"") for w in chunk.split()]
    items = [i for i in items if i]
    files: list[str] = []
    focus: dict[str, list[tuple[int, int]]] = {}
    missing: list[str] = []
    base = root.resolve()
    for item in items[:20]:
        m = _NEED_ITEM.match(item)
        path = (m.group("path") if m else item).removeprefix("./")
        target = (root / path).resolve()
        if not target.is_file() or not target.is_relative_to(base) or ".git" in target.relative_to(base).parts:
            missing.append(item)
            continue
        rel = target.relative_to(base).as_posix()
        if m and m.group("a"):
            focus.setdefault(rel, []).append((int(m.group("a")), int(m.group("b"))))
        if rel not in files:
            files.append(rel)
    note = "You asked to see: " + ", ".join(items) + "; they are shown above where they fit the budget."
    if missing:
        note += " Not found in the repository: " + ", ".join(missing) + "."
    note += " Now reply with the edits (asking again is not possible in this attempt)."
    return files, focus, note


def audit_fallbacks(cfg: Config, phase: Phase, model: str) -> list[str]:
    """Who reviews when ``model`` gives no readable verdict: the next other model of the phase's
    Auditor chain, then of the higher tiers' chains, then the strong Doctor model."""
    tiers = ["low", "medium", "high"]
    chains = [
        m for t in tiers[tiers.index(phase.complexity) :] for m in cfg.escalation_chains.auditor.for_complexity(t)
    ]
    return [m for m in dict.fromkeys([*chains, cfg.doctor_models.strong]) if m != model][:1]


def _no_change_review(reply: str, root: Path, phase: Phase) -> str:
    """What an Auditor needs to judge a NO_CHANGES reply: the Builder's reason and the scope files as they are."""
    reason = NO_CHANGES.sub("", reply).strip() or "(no reason given)"
    found, missing = expand_paths(root, phase.scope)
    parts = [
        f"The Builder changed nothing: it replied NO_CHANGES, saying:\n{reason[:2000]}\n",
        "The files in the phase scope as they are now (judge whether they already do what the phase asks):",
    ]
    room = MAX_UNCHANGED_CHARS
    for rel in found:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(text) > room:
            parts.append(f"### {rel}\n[{len(text.splitlines())} lines, not shown: over the review's room]")
            continue
        room -= len(text)
        parts.append(f"### {rel}\n```\n{text.rstrip()}\n```")
    if missing:
        parts.append("Not in the tree: " + ", ".join(missing))
    return "\n".join(parts) + "\n"


def gate_category(gate: GateResult, tail: str) -> str:
    """The category of a failed gate, from what the checks did before what their output says: a
    failing test whose message mentions "timed out" or "Permission denied" is still a test failure."""
    failed = [c for c in gate.checks if not c.passed and not c.skipped]
    if any(c.timed_out for c in failed):
        return ErrorCategory.timeout.value
    if any(c.exit_code in (126, 127) for c in failed):
        return ErrorCategory.infra.value  # the command could not be found or run
    if gate.syntax_errors:
        return ErrorCategory.syntax_error.value
    if any(c.pytest is not None and (c.pytest.failed or c.pytest.errors) for c in failed):
        from_text = categorize_gate_output(tail)
        if from_text in (ErrorCategory.syntax_error, ErrorCategory.import_error):
            return from_text.value
        return ErrorCategory.ci_fail.value
    return categorize_gate_output(tail, next((c.exit_code for c in failed), None)).value
