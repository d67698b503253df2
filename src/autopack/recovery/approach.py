"""Approach-flaw and stuck detection: when retrying the same plan is pointless, say so.

A phase that keeps failing the same way has a flawed approach; another Builder attempt with the
error fed back will not fix it, a re-plan might. ``detect_approach_flaw`` (the seed's
``_detect_approach_flaw``) looks at a phase's failures since its last re-plan, oldest first, and
returns a verdict when it sees one of:

- ``fatal_error_type``: the newest failure's category is one of ``replan.fatal_error_types``.
- ``repeated_reply`` (stuck): the model sent the same reply, or the same edit, twice in a row.
- ``alternating_failures`` (stuck): the gate flips between two failures, A/B/A/B.
- ``empty_replies`` (stuck): three empty or edit-less replies in a row.
- ``similar_failures``: the last ``trigger_threshold`` failures share a category and, when
  ``message_similarity_enabled``, each consecutive pair of messages is at least
  ``similarity_threshold`` similar after normalisation.

Short messages: when any message in that window is shorter than ``min_message_length`` (measured
on its *normalised* form, so a message that is mostly a path does not pass as long), similarity
cannot be judged, and the same category alone does **not** trigger: "FAILED" twice is weak
evidence, and a needless re-plan throws away a phase's work. The stuck rules still apply.

Transient categories (http_500, rate_limit, infra) never make a similar-failures verdict:
re-planning does not fix a server outage or a full disk; the health budget and the Doctor handle
those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..config import Replan
from .categories import ErrorCategory
from .normalize import message_similarity, normalize_error_message

FlawKind = Literal["similar_failures", "fatal_error_type", "repeated_reply", "alternating_failures", "empty_replies"]

TRANSIENT_CATEGORIES: frozenset[str] = frozenset(
    {ErrorCategory.http_500.value, ErrorCategory.rate_limit.value, ErrorCategory.infra.value}
)
EMPTY_REPLIES_IN_A_ROW = 3
ALTERNATION_WINDOW = 4
EVIDENCE_CHARS = 600  # the tail of each normalised message: where pytest and tracebacks put the cause


@dataclass
class FailureRecord:
    """One failed attempt, as recovery sees it. Hashes are of the raw reply and the parsed edits;
    ``gate_signature`` identifies the gate failure (e.g. a hash of its normalised summary)."""

    category: str
    message: str
    reply_hash: str | None = None
    edit_hash: str | None = None
    gate_signature: str | None = None


@dataclass
class FlawVerdict:
    """Why retrying the phase as planned is pointless, with the evidence shown to the Planner."""

    reason: str
    kind: FlawKind
    evidence: list[str] = field(default_factory=list)


def _evidence(message: str) -> str:
    return normalize_error_message(message)[-EVIDENCE_CHARS:]


def stuck_reason(failures: Sequence[FailureRecord]) -> FlawVerdict | None:
    """A verdict when the attempts are going round in circles (same reply, A/B/A/B, empty)."""
    if len(failures) >= 2:
        prev, last = failures[-2], failures[-1]
        if last.reply_hash is not None and last.reply_hash == prev.reply_hash:
            return FlawVerdict(
                reason="the model sent the same reply twice in a row; retrying it again will not help",
                kind="repeated_reply",
                evidence=[f"reply {last.reply_hash}", _evidence(last.message)],
            )
        if last.edit_hash is not None and last.edit_hash == prev.edit_hash:
            return FlawVerdict(
                reason="the model proposed the same edit twice in a row; retrying it again will not help",
                kind="repeated_reply",
                evidence=[f"edit {last.edit_hash}", _evidence(last.message)],
            )
    if len(failures) >= ALTERNATION_WINDOW:
        sigs = [f.gate_signature for f in failures[-ALTERNATION_WINDOW:]]
        a, b = sigs[0], sigs[1]
        if a is not None and b is not None and a != b and sigs == [a, b, a, b]:
            return FlawVerdict(
                reason="the attempts alternate between two gate failures (fixing one brings back the other)",
                kind="alternating_failures",
                evidence=[f"gate {s}" for s in sigs],
            )
    if len(failures) >= EMPTY_REPLIES_IN_A_ROW:
        window = failures[-EMPTY_REPLIES_IN_A_ROW:]
        if all(str(f.category) == ErrorCategory.empty_reply.value for f in window):
            return FlawVerdict(
                reason=f"{EMPTY_REPLIES_IN_A_ROW} replies in a row carried no edits",
                kind="empty_replies",
                evidence=[_evidence(f.message) for f in window],
            )
    return None


def _similar_failures(failures: Sequence[FailureRecord], cfg: Replan) -> FlawVerdict | None:
    n = cfg.trigger_threshold
    if len(failures) < n:
        return None
    window = failures[-n:]
    categories = {str(f.category) for f in window}
    if len(categories) != 1:
        return None
    category = categories.pop()
    if category in TRANSIENT_CATEGORIES:
        return None
    normalized = [normalize_error_message(f.message) for f in window]
    if not cfg.message_similarity_enabled:
        return FlawVerdict(
            reason=f"the last {n} attempts failed with the same error category ({category})",
            kind="similar_failures",
            evidence=[m[-EVIDENCE_CHARS:] for m in normalized],
        )
    if any(len(m) < cfg.min_message_length for m in normalized):
        return None
    scores = [message_similarity(window[i].message, window[i + 1].message) for i in range(n - 1)]
    if any(s < cfg.similarity_threshold for s in scores):
        return None
    lowest = min(scores) if scores else 1.0
    return FlawVerdict(
        reason=(
            f"the last {n} attempts failed with the same error category ({category}) and similar messages "
            f"(similarity >= {lowest:.2f}, threshold {cfg.similarity_threshold:.2f}): the approach looks flawed"
        ),
        kind="similar_failures",
        evidence=[m[-EVIDENCE_CHARS:] for m in normalized],
    )


def detect_approach_flaw(failures: Sequence[FailureRecord], cfg: Replan) -> FlawVerdict | None:
    """A verdict when the phase should be re-planned rather than retried, else None.

    ``failures`` are the phase's failed attempts since its last re-plan, oldest first. The rules
    are checked in the order of the module docstring; the first that fires is returned.
    """
    if not failures:
        return None
    last = failures[-1]
    if str(last.category) in cfg.fatal_error_types:
        return FlawVerdict(
            reason=f"{str(last.category)} is a fatal error type (replan.fatal_error_types): re-plan now",
            kind="fatal_error_type",
            evidence=[_evidence(last.message)],
        )
    return stuck_reason(failures) or _similar_failures(failures, cfg)


# The seed's name.
_detect_approach_flaw = detect_approach_flaw
