"""What to do after a phase's attempt failed: one pure function over the phase's progress.

The executor carries decisions out (stores, restores, calls the Planner or the Doctor); this module
only decides, from data, so every recovery branch is tested in milliseconds (tests/test_policy.py).
The order of the questions is the order of the seed's recovery layer:

1. the provider refused the same request twice in a row -> ``Fail`` (every attempt left would be
   refused again);
2. a reply cut off in ``full_file`` mode -> ``SwitchMode`` to ``structured_edit`` (then go on);
3. an approach flaw while the re-plan budget lasts -> ``Replan`` (and, should the Planner fail to
   answer, the Doctor when it is due);
4. the Doctor is due (``call_after_failures`` failures since it last spoke, a health budget near its
   limit, or a flaw no re-plan can answer any more) and allowed -> ``ConsultDoctor``;
5. otherwise ``Retry``, with the error fed back.

After the phase's last attempt nothing is asked of the Planner or the Doctor: a re-plan or a hint
no attempt is left to use could not change the outcome (measured as wasted calls by
scripts/bench/finishing.py), so the answer is ``Retry`` and the attempt limit ends the phase.

Re-plans that failed (the Planner gave no usable revision) count against
``replan.max_replans_per_phase`` like those that succeeded: asking again after every later failure
spent most of a hopeless phase's calls on the Planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config
from .approach import FailureRecord, FlawVerdict
from .escalation import EscalationLadder


@dataclass
class PhaseRun:
    """Everything a phase's attempts carry from one to the next, as one value: rebuilt from the store
    when a phase starts or resumes (``Executor._resume``), changed by the executor as it goes."""

    start: str  # the commit the phase started from (failed attempts restore it)
    ladder: EscalationLadder  # the model the next attempt uses, and where failures lead
    failures: list[FailureRecord] = field(default_factory=list)  # since the last re-plan
    feedback: str | None = None  # what the next Builder prompt is told went wrong
    previous_patch: str | None = None  # what the failed attempt changed (shown again, and evidence)
    since_doctor: int = 0  # failures since the Doctor last spoke
    attempts_done: int = 0  # attempts in this attempt window (a re-queue opens a new one)
    last_refusal: str | None = None  # the provider's outright refusal of the previous attempt
    previous_model: str | None = None  # who was asked last (prompt caching)
    mode: str | None = None  # an edit format the policy switched to (None: the phase's own)
    kept_edits: bool = False  # a partial apply stays in the worktree for the next attempt
    replies: set[str] = field(default_factory=set)  # hashes of the phase's failed replies (a repeat means stuck)

    def fresh_start(self) -> None:
        """After a re-plan: the new revision starts without the old revision's failures (the approach-flaw
        detector judges the new plan on its own) and without the old diff, but the next Builder prompt
        still sees what the checks said last (the failing tests are the same tests: dropping them cost
        the retry its lift, measured by scripts/bench/finishing.py)."""
        self.failures, self.previous_patch = [], None
        if self.feedback:
            self.feedback = "Before the phase was re-planned, the previous attempt failed with:\n" + self.feedback
        self.since_doctor, self.kept_edits = 0, False


@dataclass(frozen=True)
class Progress:
    """A phase's recovery state after a failed attempt (what the policy reads)."""

    mode: str  # the edit format the next attempt would use
    failures_since_doctor: int
    replans_used: int  # re-plans made or tried (a failed one counts)
    doctor_allowed: bool  # the per-phase and per-run Doctor budgets have room
    budget_near_limit: bool  # the run's health budget is close to stopping it
    attempts_done: int = 0  # attempts made in this attempt window, the failed one included


@dataclass(frozen=True)
class Failure:
    """The facts of the failed attempt the policy needs."""

    refusal: str | None = None  # the provider's outright refusal (HTTP 400), worded with its model
    previous_refusal: str | None = None  # the same, for the attempt before
    cut_off: bool = False  # the reply ended inside a block (truncation)
    flaw: FlawVerdict | None = None  # detect_approach_flaw's verdict on the failures so far


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class SwitchMode:
    to: str
    reason: str


@dataclass(frozen=True)
class Replan:
    reason: str
    doctor_if_it_fails: bool  # consult the Doctor when the Planner gives no usable revision


@dataclass(frozen=True)
class ConsultDoctor:
    near_limit: bool


@dataclass(frozen=True)
class Retry:
    pass


Action = Fail | SwitchMode | Replan | ConsultDoctor | Retry


def decide(progress: Progress, failure: Failure, config: Config) -> list[Action]:
    """The actions to carry out, in order, after a failed attempt. At most one ``SwitchMode`` first,
    then exactly one of ``Fail``, ``Replan``, ``ConsultDoctor`` or ``Retry``."""
    if failure.refusal is not None and failure.refusal == failure.previous_refusal:
        return [
            Fail(
                f"the provider refused the same request twice in a row ({failure.refusal}); change that model (or its "
                "max_tokens) in the configuration, or shorten the phase, then run the same command to resume"
            )
        ]
    actions: list[Action] = []
    if failure.cut_off and progress.mode == "full_file":
        actions.append(SwitchMode("structured_edit", "reply cut off in full_file mode"))
    if attempts_left(progress.attempts_done, config) is not None:  # that was the last attempt
        return [*actions, Retry()]
    flaw = failure.flaw
    doctor_due = progress.doctor_allowed and (
        progress.failures_since_doctor >= config.doctor_models.call_after_failures
        or progress.budget_near_limit
        or flaw is not None
    )
    if flaw is not None and progress.replans_used < config.replan.max_replans_per_phase:
        actions.append(Replan(f"{flaw.kind}: {flaw.reason}", doctor_if_it_fails=doctor_due))
    elif doctor_due:
        actions.append(ConsultDoctor(progress.budget_near_limit))
    else:
        actions.append(Retry())
    return actions


def attempts_left(attempts_done: int, config: Config) -> str | None:
    """Why no attempt is left (the phase fails), or None while one is."""
    limit = config.complexity_escalation.max_attempts_per_phase
    if attempts_done >= limit:
        return f"no approved change after {attempts_done} attempts (complexity_escalation.max_attempts_per_phase = {limit})"
    return None
