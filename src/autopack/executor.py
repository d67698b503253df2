"""The executor: the loop that wires the rooms together for one run.

For each phase in order: attempts (see ``attempt.py``) until one is approved and committed, with the
recovery layer deciding after each failure: escalate the model, re-plan on an approach flaw, consult the
Doctor and carry out its action, or stop. Every state change goes to the run store first, so the same
command resumes a killed run: no phase is applied twice, no approved commit is lost, and half-applied
edits are rolled back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .agents.auditor import Auditor
from .agents.base import CallContext
from .agents.builder import Builder
from .agents.doctor import Doctor, DoctorRequest
from .agents.feedback import clip_middle
from .agents.planner import Planner, PlannerError, spec_diff
from .attempt import AttemptEnv, AttemptOutcome, run_attempt
from .config import Config
from .errors import AutopackError, RunStopped
from .events import RunEvents
from .gate.checks_env import ChecksEnv
from .layout import Layout
from .llm.service import AllProvidersFailed, LlmService
from .llm.types import ProviderError
from .plan import Phase, Plan
from .progress import Reporter
from .recovery.approach import FailureRecord, FlawVerdict, detect_approach_flaw
from .recovery.budget import HealthBudget
from .recovery.categories import categorize_provider_error
from .recovery.escalation import EscalationLadder, Rung
from .recovery.execute_fix import DISABLED_REASON, check_command, run_fix
from .recovery.policy import (
    Action,
    ConsultDoctor,
    Fail,
    Failure,
    PhaseRun,
    Progress,
    Replan,
    Retry,
    SwitchMode,
    attempts_left,
    decide,
)
from .store import UNFINISHED_ATTEMPTS, AttemptRow, AttemptStatus, CallRecord, PhaseRow, PhaseState, RunStatus, RunStore
from .workspace.worktree import Workspace

RESET_NOTE = (
    "\n\nNote: the workspace has since been reset to the phase's starting state, so edits reported "
    "earlier as applied are gone: send every edit again."
)


DOCTOR_ERROR_CHARS = 2400  # of each attempt's error in the Doctor's request


NO_CHANGES_TRAILER = "Autopack-Changes"


def no_change_message(message: str) -> str:
    """The commit message of a phase approved with no change: an empty commit, said so in its subject,
    its body and a trailer, so nobody takes it for a real change (and a resume still finds it)."""
    subject, _, rest = message.partition("\n")
    body, _, trailers = rest.rpartition("\n\n")
    note = (
        "No change: the Builder replied NO_CHANGES; the phase's checks passed and the Auditor approved "
        "the files as they were."
    )
    return f"{subject} (no changes)\n{body}\n\n{note}\n\n{trailers.rstrip()}\n{NO_CHANGES_TRAILER}: none\n"


@dataclass
class RunResult:
    run_id: str
    status: str
    reason: str | None
    exit_code: int


class StoreSink:
    """Connects the LLM service to the run store, the health budget and the progress view."""

    def __init__(self, store: RunStore, run_id: str, budget: HealthBudget, reporter: Reporter) -> None:
        self.store, self.run_id, self.budget, self.reporter = store, run_id, budget, reporter
        self.events = RunEvents(store, run_id, reporter)

    def on_call(self, record: CallRecord, phase_id: str | None, attempt_id: int | None) -> None:
        self.store.record_call(self.run_id, record, phase_id=phase_id, attempt_id=attempt_id)
        self.events.show(
            "llm_call",
            {
                "provider": record.provider,
                "model": record.model,
                "tokens_in": record.tokens_in,
                "tokens_out": record.tokens_out,
                "cost_usd": record.cost_usd,
                "ok": record.ok,
            },
        )

    def on_event(self, kind: str, data: dict[str, Any], phase_id: str | None) -> None:
        self.events.emit(kind, data, phase_id)

    def on_http_500(self) -> None:
        self.budget.record_http_500()
        self.store.add_event(self.run_id, "http_500", {})  # counted for the health budget; not shown


class Executor:
    def __init__(
        self,
        config: Config,
        plan: Plan,
        store: RunStore,
        layout: Layout,
        workspace: Workspace,
        service: LlmService,
        budget: HealthBudget,
        reporter: Reporter,
        run_id: str,
        checks_env: ChecksEnv | None = None,
    ) -> None:
        self.config, self.plan, self.store, self.layout = config, plan, store, layout
        self.ws, self.service, self.budget, self.reporter, self.run_id = workspace, service, budget, reporter, run_id
        self.events = RunEvents(store, run_id, reporter)
        self.run_dir = layout.run_dir(run_id)
        self.builder = Builder(service, config.builder)
        self.auditor = Auditor(service)
        self.doctor = Doctor(service, config)
        self.planner = Planner(service)
        self.checks_env = checks_env
        self.env = AttemptEnv(config, plan, workspace, self.builder, self.auditor, self.run_dir, self._step, checks_env)
        self._phase_id: str | None = None
        self._rolled_back: str | None = None  # the Doctor's rationale, once it rolled the run back

    # reporting --------------------------------------------------------------------------------
    def _step(self, state: str, data: dict[str, Any]) -> None:
        """The step callback the attempt reports through (it knows no phase id)."""
        assert self._phase_id is not None
        self.events.step(self._phase_id, state, data)

    # the run ----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Every phase in plan order. A failed phase does not stop the run: later phases that do not depend
        on it (``depends_on``, directly or through a phase that waits) still run, and those that do wait,
        queued, for the run's next start (the same command, once the cause is fixed). A fatal phase, a
        rolled-back run, the health budget and the cost cap stop it at once."""
        rows = self.store.phases(self.run_id)
        total = len(rows)
        failed: list[str] = []
        for i, row in enumerate(rows, 1):
            pid = row.phase_id
            state = row.state
            if state in (PhaseState.COMPLETE, PhaseState.SKIPPED):
                continue
            spec = Phase.model_validate(self.store.phase_spec(self.run_id, pid))
            deps = {d: self.store.phase(self.run_id, d).state for d in spec.depends_on}
            blocked = [d for d, s in deps.items() if s is not PhaseState.COMPLETE]
            waiting = [d for d in blocked if deps[d] is not PhaseState.SKIPPED]
            if waiting:
                self.events.emit(
                    "phase_waiting",
                    {"phase": pid, "on": waiting, "reason": f"depends on {', '.join(waiting)}, which did not complete"},
                    pid,
                )
                continue
            if blocked:
                self.events.phase(
                    pid,
                    "phase_skipped",
                    f"depends on {', '.join(blocked)}, which did not complete",
                    state=PhaseState.SKIPPED,
                )
                continue
            self._phase_id = pid
            self.events.show("phase_started", {"phase": pid, "name": spec.name, "index": i, "total": total})
            result = self.run_phase(pid, row)
            if self._rolled_back:
                return self._finish(
                    RunStatus.FAILED,
                    f"the Doctor rolled the run back to its start during phase {pid}: "
                    f"{self._rolled_back}; every phase is queued again (run the same command to start over)",
                    1,
                )
            if result is PhaseState.FATAL:
                return self._finish(
                    RunStatus.FAILED, f"phase {pid} fatal; fix the cause and run the same command to resume", 1
                )
            if result is PhaseState.FAILED:
                start = self.store.phase(self.run_id, pid).start_commit
                if start:  # nothing a failed attempt kept in the worktree reaches the phases after it
                    self.ws.restore(start)
                failed.append(pid)
        states = [p.state for p in self.store.phases(self.run_id)]
        if failed:
            queued = sum(s is PhaseState.QUEUED for s in states)
            done = sum(s is PhaseState.COMPLETE for s in states)
            waits = f"; {queued} phase(s) wait on it" if queued else ""
            which = f"phase {failed[0]}" if len(failed) == 1 else f"phases {', '.join(failed)}"
            return self._finish(
                RunStatus.FAILED,
                f"{which} failed ({done} of {total} phases complete{waits}); "
                "fix the cause and run the same command to resume",
                1,
            )
        if all(s is PhaseState.COMPLETE for s in states):
            return self._finish(RunStatus.COMPLETE, None, 0)
        skipped = sum(s is PhaseState.SKIPPED for s in states)
        return self._finish(RunStatus.PARTIAL, f"{skipped} phase(s) skipped", 1)

    def _finish(self, status: RunStatus, reason: str | None, code: int) -> RunResult:
        self.store.update_run(self.run_id, "run_finished", {"reason": reason}, status=status, stop_reason=reason)
        self.events.show("run_finished", {"status": status.value, "reason": reason})
        return RunResult(self.run_id, status.value, reason, code)

    # one phase --------------------------------------------------------------------------------
    def run_phase(self, pid: str, row: PhaseRow) -> PhaseState:
        """Attempts until one is approved, the policy gives up, or the Doctor ends the phase."""
        recovered = self._recovered_commit(pid, row)
        if recovered is not None:
            return recovered
        st = self._resume(pid, row)
        while True:
            reason = self.budget.exceeded()
            if reason:
                raise RunStopped(reason)
            no_more = attempts_left(st.attempts_done, self.config)
            if no_more:
                self.events.phase(pid, "phase_failed", no_more, state=PhaseState.FAILED)
                return PhaseState.FAILED
            spec = Phase.model_validate(self.store.phase_spec(self.run_id, pid))
            outcome, number, aid, refusal = self._attempt(pid, spec, st)
            if outcome.ok:
                self._commit(pid, spec, aid, number, outcome, st.failures)
                return PhaseState.COMPLETE
            flaw = self._record_failure(pid, st, outcome, aid, number)
            near = self.budget.near_limit(self.config.doctor_models.health_budget_near_limit_ratio)
            progress = Progress(
                mode=st.mode or spec.builder_mode,
                failures_since_doctor=st.since_doctor,
                replans_used=self._replans_used(pid),
                doctor_allowed=self._doctor_allowed(pid),
                budget_near_limit=near,
                attempts_done=st.attempts_done,
            )
            failure = Failure(
                refusal=refusal, previous_refusal=st.last_refusal, cut_off=outcome.compact_next, flaw=flaw
            )
            st.last_refusal = refusal
            for action in decide(progress, failure, self.config):
                final = self._carry_out(action, pid, spec, st, outcome)
                if final is not None:
                    return final

    def _carry_out(
        self, action: Action, pid: str, spec: Phase, st: PhaseRun, outcome: AttemptOutcome
    ) -> PhaseState | None:
        """Do what the policy decided; a final phase state ends the phase."""
        match action:
            case Fail(reason=reason):
                self.events.phase(pid, "phase_failed", self.service.scrub(reason), state=PhaseState.FAILED)
                return PhaseState.FAILED
            case SwitchMode(to=to, reason=reason):
                st.mode = to
                self.events.emit("mode_switch", {"phase": pid, "to": to, "reason": reason}, pid)
            case Replan(reason=reason, doctor_if_it_fails=doctor):
                if self._replan(
                    pid, spec, st.failures, reason, decided_by="approach-flaw detector", rung=st.ladder.current
                ):
                    st.fresh_start()
                    self.ws.restore(st.start)
                elif doctor:
                    return self._consult(
                        pid,
                        spec,
                        st,
                        outcome,
                        near=self.budget.near_limit(self.config.doctor_models.health_budget_near_limit_ratio),
                    )
            case ConsultDoctor(near_limit=near):
                return self._consult(pid, spec, st, outcome, near=near)
            case Retry():
                pass
        return None

    def _consult(
        self, pid: str, spec: Phase, st: PhaseRun, outcome: AttemptOutcome, *, near: bool
    ) -> PhaseState | None:
        st.since_doctor = 0
        verdict = self.consult_doctor(pid, spec, outcome, near)
        if verdict is None:
            return None
        final, replanned = self.apply_action(
            pid, spec, st.start, verdict[0], verdict[1], st.failures, rung=st.ladder.current
        )
        if replanned:
            st.fresh_start()
        return final

    def _recovered_commit(self, pid: str, row: PhaseRow) -> PhaseState | None:
        """COMPLETE when the phase's commit is already on the run branch: the process died between git
        and the store. Only a phase that got as far as committing can have one (a queued one skips the log)."""
        existing = self.ws.find_phase_commit(pid) if row.state is not PhaseState.QUEUED else None
        if not existing:
            return None
        self.events.phase(
            pid,
            "phase_complete",
            "found its commit on the run branch (recovered after a crash)",
            state=PhaseState.COMPLETE,
            commit_sha=existing,
        )
        return PhaseState.COMPLETE

    def _resume(self, pid: str, row: PhaseRow) -> PhaseRun:
        """The state the phase goes on from, rebuilt from the store (a fresh phase, or one resumed after
        a stop, a crash or a person sending it back to the queue)."""
        cfg = self.config
        # The phase (re)starts from the branch as it is now, not from where it first started: an attempt
        # commits only when approved, so the head is that start unless later phases committed since (the
        # run went on past the failed phase, or a person queued it again after they did).
        start = self.ws.head()
        if row.start_commit:
            self.ws.restore(start)  # roll back anything a killed attempt left half-applied
        if row.state in (PhaseState.FAILED, PhaseState.FATAL):
            self.store.set_phase(
                self.run_id,
                pid,
                "phase_requeued",
                {"decided_by": "user", "reason": "the run was started again"},
                state=PhaseState.QUEUED,
            )
        self.store.set_phase(
            self.run_id, pid, "phase_state", {"reason": "phase started"}, state=PhaseState.BUILDING, start_commit=start
        )
        history = [a for a in self.store.attempts(self.run_id, pid) if a.outcome not in UNFINISHED_ATTEMPTS]
        spec = Phase.model_validate(self.store.phase_spec(self.run_id, pid))
        replies: set[str] = set()
        steps: list[tuple[str, str, str | None, bool]] = []
        for a in history:  # each attempt with "its reply was one sent before in the phase"
            steps.append((a.model, a.complexity, a.error_category, bool(a.reply_hash) and a.reply_hash in replies))
            if a.reply_hash and a.outcome is AttemptStatus.FAILED:
                replies.add(a.reply_hash)
        ladder = EscalationLadder.from_history(cfg, "builder", spec.category, spec.complexity, steps)
        revision_start = self.store.revisions(self.run_id, pid)[-1].created_at
        requeued = [e.created_at for e in self.store.events(self.run_id, "phase_requeued", phase_id=pid)]
        window_start = max([0.0, *requeued])  # the attempt budget restarts when a failed phase is sent back
        failures = [
            self.failure_record(a)
            for a in history
            if a.outcome is AttemptStatus.FAILED and a.started_at >= revision_start
        ]
        last = history[-1] if history else None
        failed_last = last is not None and last.outcome is AttemptStatus.FAILED
        feedback = last.message if last is not None and failed_last else None
        if feedback and row.start_commit and last is not None and last.error_category == "patch_apply_error":
            feedback += RESET_NOTE  # the restore above undid any edits that feedback calls applied
        return PhaseRun(
            start=start,
            ladder=ladder,
            failures=failures,
            feedback=feedback,
            previous_patch=(last.patch or None) if last is not None and failed_last else None,
            since_doctor=len(failures),
            attempts_done=sum(1 for a in history if a.started_at >= window_start),
            previous_model=last.model if last is not None else None,
            replies=replies,
        )

    def _attempt(self, pid: str, spec: Phase, st: PhaseRun) -> tuple[AttemptOutcome, int, int, str | None]:
        """One attempt on the ladder's current model: (outcome, attempt number, attempt id, the provider's
        outright refusal worded with its model, if that is how it failed)."""
        cfg = self.config
        phase_row = self.store.phase(self.run_id, pid)
        rung = st.ladder.current
        aid, number = self.store.start_attempt(self.run_id, pid, rung.model, rung.complexity)
        self.store.set_phase(
            self.run_id, pid, "phase_state", {"attempt": number}, model=rung.model, complexity=rung.complexity
        )
        ctx = CallContext(phase_id=pid, attempt_id=aid, policy=cfg.routing.policy_for(spec.category))
        refusal: str | None = None
        try:
            outcome = run_attempt(
                self.env,
                spec,
                model=rung.model,
                mode=st.mode or spec.builder_mode,
                number=number,
                start_commit=st.start,
                feedback=st.feedback,
                hint=phase_row.hint,
                rules_text=self._rules_text(spec),
                ctx=ctx,
                previous_patch=st.previous_patch,
                retry_model=self._retry_model(st.ladder),
                previous_model=st.previous_model,
                last_attempt=st.attempts_done + 1 >= cfg.complexity_escalation.max_attempts_per_phase,
            )
        except RunStopped:
            self.store.finish_attempt(aid, AttemptStatus.STOPPED, message="run stopped during this attempt")
            self.ws.restore(st.start)
            raise
        except AllProvidersFailed as exc:
            last_err = getattr(exc, "last_error", None)
            cat = (
                categorize_provider_error(last_err.kind, last_err.status).value
                if isinstance(last_err, ProviderError)
                else "infra"
            )
            outcome = AttemptOutcome(False, rung.model, cat, str(exc))
        except ProviderError as exc:  # a request the provider refused outright (bad_request): never retried
            outcome = AttemptOutcome(False, rung.model, categorize_provider_error(exc.kind, exc.status).value, str(exc))
            refusal = self.service.scrub(
                f"{exc.details.get('role', 'Builder')} model {exc.details.get('model', rung.model)}: {exc}"
            )
        st.attempts_done += 1
        st.previous_model = rung.model
        if outcome.inexact:
            self.events.emit("edits_inexact", {"phase": pid, "attempt": number, "edits": outcome.inexact}, pid)
        for review in outcome.verdicts:  # what the Auditor said, approved or not (the report shows it)
            self.events.emit("audit_verdict", {"phase": pid, "attempt": number, **review}, pid)
        return outcome, number, aid, refusal

    def _record_failure(
        self, pid: str, st: PhaseRun, outcome: AttemptOutcome, aid: int, number: int
    ) -> FlawVerdict | None:
        """Store and report a failed attempt, put the worktree back (unless its edits stay for the next
        attempt), feed the error back, climb the escalation ladder; the approach-flaw verdict, if any."""
        cfg = self.config
        # Nothing a check printed may carry a key into the store, the journal or the next prompt.
        outcome.message = self.service.scrub(outcome.message)
        outcome.patch = self.service.scrub(outcome.patch)
        self.store.finish_attempt(
            aid,
            AttemptStatus.FAILED,
            outcome.category,
            outcome.message,
            outcome.normalized,
            outcome.reply_hash,
            outcome.patch[:50_000],
            self.service.scrub(outcome.gate.tail()) if outcome.gate else None,
        )
        lines = [ln.strip() for ln in outcome.message.splitlines() if ln.strip()]
        first_line = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else "")
        self.events.show(
            "attempt_finished",
            {
                "phase": pid,
                "attempt": number,
                "outcome": "failed",
                "model": outcome.model,
                "error_category": outcome.category,
                "message": first_line,
            },
        )
        self.budget.record_failure(outcome.category or "unknown")
        restored_kept = False
        if outcome.keep_workspace:
            st.kept_edits = True
        else:
            restored_kept, st.kept_edits = st.kept_edits, False
            self.ws.restore(st.start)
        st.feedback = outcome.message + (RESET_NOTE if restored_kept else "")
        st.previous_patch = outcome.patch or None
        st.failures.append(
            FailureRecord(
                category=outcome.category or "unknown",
                message=outcome.message or "",
                reply_hash=outcome.reply_hash,
                edit_hash=outcome.edit_hash,
                gate_signature=outcome.gate_signature,
            )
        )
        st.since_doctor += 1
        rung = st.ladder.current
        repeated = outcome.reply_hash is not None and outcome.reply_hash in st.replies
        if outcome.reply_hash:
            st.replies.add(outcome.reply_hash)
        escalated = st.ladder.record_failure(outcome.category or "unknown", repeated=repeated)
        if escalated:
            self.events.emit(
                "escalation",
                {
                    "phase": pid,
                    "from": f"{rung.model} ({rung.complexity})",
                    "to": f"{st.ladder.current.model} ({st.ladder.current.complexity})",
                    "reason": escalated,
                    "complexity": st.ladder.current.complexity,
                },
                pid,
            )
        flaw = detect_approach_flaw(st.failures, cfg.replan)
        if flaw is not None:
            self.events.emit("approach_flaw", {"phase": pid, "reason": flaw.reason, "kind": flaw.kind}, pid)
        return flaw

    def _replans_used(self, pid: str) -> int:
        """Re-plans made for the phase plus those the Planner could not answer: both spend the budget."""
        return self.store.phase(self.run_id, pid).replans + self.store.count_events(self.run_id, "replan_failed", pid)

    def _retry_model(self, ladder: EscalationLadder) -> str:
        """The model the next attempt would use if this one failed in a way that counts for escalation."""
        counted = self.config.complexity_escalation.failure_types
        if not counted:
            return ladder.current.model
        probe = copy.copy(ladder)
        probe.record_failure(counted[0])
        return probe.current.model

    def apply_action(
        self,
        pid: str,
        spec: Phase,
        start: str,
        action: str,
        data: dict[str, Any],
        failures: list[FailureRecord],
        rung: Rung | None = None,
    ) -> tuple[PhaseState | None, bool]:
        """Carry out a Doctor action. Returns (final phase state or None to keep trying, re-planned?).
        ``rung``: where the phase has escalated to (a re-plan uses a model at least that strong)."""
        if action == "skip_phase":
            self.ws.restore(start)
            self.events.phase(
                pid, "phase_skipped", f"the Doctor skipped it: {data.get('rationale', '')}", state=PhaseState.SKIPPED
            )
            return PhaseState.SKIPPED, False
        if action == "mark_fatal":
            self.ws.restore(start)
            self.events.phase(
                pid, "phase_fatal", f"the Doctor marked it fatal: {data.get('rationale', '')}", state=PhaseState.FATAL
            )
            return PhaseState.FATAL, False
        if action == "rollback_run":
            self._rollback_run(data)
            return PhaseState.FATAL, False
        if action == "replan":
            if self._replans_used(pid) < self.config.replan.max_replans_per_phase and self._replan(
                pid, spec, failures, f"Doctor: {data.get('rationale', '')}", decided_by="doctor", rung=rung
            ):
                self.ws.restore(start)
                return None, True
            return None, False
        if action == "execute_fix":
            self._execute_fix(pid, data)
        return None, False

    def failure_record(self, a: AttemptRow) -> FailureRecord:
        """A stored failed attempt as the recovery policy sees it (the store keeps no edit hash or gate
        signature: those count only within the process that saw the attempt)."""
        return FailureRecord(category=a.error_category or "unknown", message=a.message or "", reply_hash=a.reply_hash)

    def _commit(
        self, pid: str, spec: Phase, aid: int, number: int, outcome: AttemptOutcome, failures: list[FailureRecord]
    ) -> None:
        self._step("COMMITTING", {})
        gate_summary = outcome.gate.summary() if outcome.gate else "no checks"
        message = Workspace.commit_message(
            self.run_id, pid, spec.name, outcome.model, gate_summary, number, outcome.inexact
        )
        unchanged = outcome.no_changes and not outcome.patch.strip()
        if unchanged:
            message = no_change_message(message)
        sha = self.ws.commit(message, allow_empty=True, staged=True)
        self.store.finish_attempt(
            aid,
            AttemptStatus.APPROVED,
            patch=outcome.patch[:50_000],
            gate_tail=outcome.gate.tail() if outcome.gate else None,
        )
        reason = f"approved on attempt {number} ({gate_summary})" + (
            ", no change needed (NO_CHANGES)" if unchanged else ""
        )
        self.store.set_phase(
            self.run_id,
            pid,
            "phase_complete",
            {"reason": reason, "no_changes": unchanged},
            state=PhaseState.COMPLETE,
            commit_sha=sha,
        )
        self.events.show(
            "phase_complete",
            {
                "phase": pid,
                "commit": sha,
                "attempt": number,
                "gate": gate_summary,
                "duration_s": self.events.duration(pid),
                "no_changes": unchanged,
            },
        )
        if failures:
            self._learn(spec, failures[-1], outcome)

    # recovery actions -------------------------------------------------------------------------
    def _replan(
        self,
        pid: str,
        spec: Phase,
        failures: list[FailureRecord],
        reason: str,
        decided_by: str,
        rung: Rung | None = None,
    ) -> bool:
        ctx = CallContext(phase_id=pid, policy=self.config.routing.policy_for(spec.category))
        try:
            revised, rationale = self.planner.replan_phase(
                model=self.replan_model(spec, rung),
                phase=spec,
                failures=[{"category": f.category, "message": clip_middle(f.message, 1500)} for f in failures[-3:]],
                allowed_paths=self.plan.allowed_paths,
                reason=reason,
                ctx=ctx,
            )
        except (PlannerError, AllProvidersFailed, ProviderError) as exc:
            self.events.emit("replan_failed", {"phase": pid, "reason": str(exc)}, pid)
            return False
        old = spec.model_dump(exclude={"tier"})
        new = revised.model_dump(exclude={"tier"})
        diff = spec_diff(old, new)
        rev = self.store.add_revision(self.run_id, pid, new, f"{reason} | {rationale}".strip(" |"), diff, decided_by)
        self.events.show("phase_replanned", {"phase": pid, "revision": rev, "reason": reason, "diff": diff})
        self.store.set_phase(
            self.run_id,
            pid,
            "phase_state",
            {"decided_by": decided_by, "reason": "re-planned, building again"},
            state=PhaseState.BUILDING,
        )
        return True

    def replan_model(self, spec: Phase, rung: Rung | None) -> str:
        """The Planner's model for a re-plan: the model the phase has escalated to, or the tier
        strategy's model for the tier it is at, whichever costs more (the stronger one). An approach
        the escalated models kept failing at is never re-thought by the cheapest tier."""
        tiers = self.config.routing.tier_strategy
        if rung is None:
            return str(getattr(tiers, spec.complexity))
        candidates = [str(getattr(tiers, rung.complexity)), rung.model]

        def price(model: str) -> float:
            p = self.config.price_for(model)
            return -1.0 if p is None else (p.input + p.output)

        return max(candidates, key=price)  # ties: the tier's model

    def _doctor_allowed(self, pid: str) -> bool:
        dm = self.config.doctor_models
        used_phase = self.store.phase(self.run_id, pid).doctor_calls
        used_run = self.store.count_events(self.run_id, "doctor_diagnosis")
        return used_phase < dm.max_calls_per_phase and used_run < dm.max_calls_per_run

    def consult_doctor(
        self, pid: str, spec: Phase, outcome: AttemptOutcome, near: bool
    ) -> tuple[str, dict[str, Any]] | None:
        # The error as the checks said it (case, names, numbers kept: the normalised form is for comparing
        # failures, not for reading), its head and its end when long.
        attempts = [
            {
                "number": a.number,
                "model": a.model,
                "outcome": a.outcome.value,
                "error_category": a.error_category,
                "error": clip_middle(a.message or "", DOCTOR_ERROR_CHARS),
            }
            for a in self.store.attempts(self.run_id, pid)
        ]
        req = DoctorRequest(
            phase=spec.model_dump(exclude={"tier"}),
            attempts=attempts,
            last_patch=outcome.patch,
            gate_tail=outcome.gate.tail() if outcome.gate else outcome.message[-3000:],
            budget=self.budget.snapshot(),
            budget_near_limit=near,
            execute_fix_enabled=self.config.doctor.allow_execute_fix_global,
            unavailable=self._unavailable_actions(pid),
            hints_given=list(
                dict.fromkeys(
                    str(e.data.get("hint"))
                    for e in self.store.events(self.run_id, "doctor_diagnosis", phase_id=pid)
                    if e.data.get("action") == "retry_with_fix" and e.data.get("hint")
                )
            ),
        )
        try:
            result = self.doctor.diagnose(
                req, CallContext(phase_id=pid, policy=self.config.routing.policy_for(spec.category))
            )
        except (AllProvidersFailed, ProviderError) as exc:
            self.events.emit("doctor_failed", {"phase": pid, "reason": str(exc)}, pid)
            return None
        calls = self.store.phase(self.run_id, pid).doctor_calls + 1
        if result.diagnosis is None:
            self.store.set_phase(
                self.run_id,
                pid,
                "doctor_diagnosis",
                {"action": None, "error": result.error, "model": result.model},
                doctor_calls=calls,
            )
            return None
        d = result.diagnosis
        data = {
            "action": d.action,
            "confidence": d.confidence,
            "rationale": d.rationale,
            "hint": d.hint,
            "commands": d.commands,
            "setup": d.setup,
            "model": result.model,
            "escalated": result.escalated,
            "routing": result.reasons,
        }
        hint = d.hint if d.action == "retry_with_fix" and d.hint else self.store.phase(self.run_id, pid).hint
        self.store.set_phase(self.run_id, pid, "doctor_diagnosis", data, doctor_calls=calls, hint=hint)
        self.events.show("doctor_diagnosis", data)
        if d.action == "retry_with_fix" and d.hint:
            self._remember_hint(spec, d.hint, "doctor")
        if d.action == "retry_with_fix" and d.setup:
            self._add_setup(pid, spec, d.setup)
        return d.action, data

    def _unavailable_actions(self, pid: str) -> dict[str, str]:
        """The Doctor's actions that cannot be carried out now, and why (told to the Doctor, so it does
        not spend its answer on one)."""
        out: dict[str, str] = {}
        limit = self.config.replan.max_replans_per_phase
        if self._replans_used(pid) >= limit:
            out["replan"] = (
                f"the phase's re-plans are used up (replan.max_replans_per_phase = {limit}, failed re-plans count)"
            )
        if not self.config.doctor.allow_execute_fix_global:
            out["execute_fix"] = "execute_fix is disabled in this run"
        elif self.store.phase(self.run_id, pid).execute_fixes >= self.config.doctor.max_execute_fix_per_phase:
            out["execute_fix"] = "the phase's execute_fix budget is used up (doctor.max_execute_fix_per_phase)"
        return out

    def _add_setup(self, pid: str, spec: Phase, commands: list[str]) -> None:
        """Add the Doctor's set-up commands to the phase (a new revision): only ``pip install <package>``,
        only with execute_fix enabled, each checked like an execute_fix command."""
        added: list[str] = []
        refused: list[dict[str, str]] = []
        for command in commands:
            if not self.config.doctor.allow_execute_fix_global:
                refused.append({"command": command, "reason": DISABLED_REASON})
                continue
            check = check_command(command, self.ws.root, self.config.doctor)
            argv = check.argv or []
            pip = argv[:2] in (["pip", "install"], ["pip3", "install"]) or argv[1:4] == ["-m", "pip", "install"]
            if not check.allowed or not pip:
                reason = check.reason if not check.allowed else "only 'pip install <package>' may be added as set-up"
                refused.append({"command": command, "reason": reason})
            elif command not in spec.setup and command not in added:
                added.append(command)
        if added:
            old = spec.model_dump(exclude={"tier"})
            new = {**old, "setup": [*spec.setup, *added]}
            self.store.add_revision(
                self.run_id, pid, new, "Doctor: set-up added before the checks", spec_diff(old, new), "doctor"
            )
            self.store.set_phase(
                self.run_id,
                pid,
                "phase_state",
                {"decided_by": "doctor", "reason": "set-up added, building again"},
                state=PhaseState.BUILDING,
            )
        self.events.emit("setup_added", {"phase": pid, "added": added, "refused": refused}, pid)

    def _execute_fix(self, pid: str, data: dict[str, Any]) -> None:
        used = self.store.phase(self.run_id, pid).execute_fixes
        environ = self.checks_env.environ(self.ws.root) if self.checks_env else None
        outcomes = run_fix(
            data.get("commands") or [], self.ws.root, self.config.doctor, already_used=used, environ=environ
        )
        ran = any(o.exit_code is not None for o in outcomes)
        self.store.set_phase(
            self.run_id,
            pid,
            "execute_fix",
            {"outcomes": [o.__dict__ for o in outcomes]},
            execute_fixes=used + (1 if ran else 0),
        )
        for o in outcomes:
            self.events.show(
                "execute_fix",
                {"command": o.command, "allowed": o.allowed, "reason": o.reason, "exit_code": o.exit_code},
            )

    def _rollback_run(self, data: dict[str, Any]) -> None:
        run = self.store.require_run(self.run_id)
        assert run.base_commit is not None  # recorded with the worktree, before any phase ran
        kept = self.ws.reset_branch(run.base_commit)
        for p in self.store.phases(self.run_id):
            self.store.set_phase(
                self.run_id,
                p.phase_id,
                "phase_requeued",
                {"decided_by": "doctor", "reason": "run rolled back to its start"},
                state=PhaseState.QUEUED,
                start_commit=None,
                commit_sha=None,
            )
        self.events.emit(
            "run_rolled_back", {"to": run.base_commit, "rationale": data.get("rationale"), "kept_as": kept}
        )
        self._rolled_back = str(data.get("rationale") or "no rationale given")
        if kept:
            self._rolled_back += (
                f"; the approved phase commits it took off the branch are kept at {kept} (git log {kept})"
            )

    # memory -----------------------------------------------------------------------------------
    def _rules_text(self, spec: Phase) -> str:
        from .memory.rules import RuleBook, render_rules_for_prompt

        book = RuleBook.load(self.layout.rules_path)
        rules = book.rules_for(spec.category, spec.scope)
        hints = [h for h in book.hints_for_run(self.run_id)]
        text = render_rules_for_prompt(rules)
        if hints:
            text += "\nHints from earlier in this run:\n" + "\n".join(f"- {h.text}" for h in hints)
        return text

    def _remember_hint(self, spec: Phase, text: str, source: str) -> None:
        from .memory.rules import RuleBook, says_something

        if not says_something(text, ""):
            return  # a hint like "make sure the checks pass" is no lesson for later runs
        book = RuleBook.load(self.layout.rules_path)
        promoted = book.add_hint(text, "doctor_hint", self.run_id, spec.scope)
        book.save()
        if promoted is not None:
            self.events.emit(
                "rule_learned",
                {"rule_id": promoted.id, "text": promoted.text, "source": f"{source} hint seen in another run"},
            )

    def _learn(self, spec: Phase, failure: FailureRecord, outcome: AttemptOutcome) -> None:
        """A phase failed then succeeded: draw a prevention rule (model first, deterministic fallback)."""
        from .memory.rules import Rule, RuleBook, draw_rule_deterministic, says_something

        text = None
        try:
            text = self.planner.word_rule(
                model=self.config.routing.tier_strategy.low,
                category=failure.category,
                message=failure.message,
                fix_diff=outcome.patch,
                ctx=CallContext(phase_id=spec.id),
            )
            source = "model"
        except (AutopackError, ProviderError):
            text = None
        if text and not says_something(text, failure.message):
            # a rule every later prompt would carry that tells the Builder nothing the error did not
            self.events.emit("rule_dropped", {"text": text, "reason": "it says nothing the error did not"}, spec.id)
            return
        if not text:
            text = draw_rule_deterministic(failure.category, failure.message, "", spec.scope)
            source = "deterministic"
        book = RuleBook.load(self.layout.rules_path)
        rule = book.add_rule(
            Rule.new(
                text=text,
                category=failure.category,
                phase_categories=[spec.category],
                paths=list(spec.scope),
                run_id=self.run_id,
            )
        )
        book.save()
        self.events.emit("rule_learned", {"rule_id": rule.id, "text": rule.text, "source": source}, spec.id)
