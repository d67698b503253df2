"""Recovery: what happens after a phase attempt fails.

Error categories and their classifiers (``categories``), message normalisation and similarity
(``normalize``), approach-flaw and stuck detection (``approach``), the run health budget
(``budget``), the model escalation ladder (``escalation``) and the Doctor's guarded command
execution (``execute_fix``, with the allowed git forms in ``git_whitelist``). Pure decisions from data, except ``execute_fix`` which runs
whitelisted commands; nothing here knows about provider SDKs or the executor.
"""

from __future__ import annotations

from .approach import FailureRecord, FlawVerdict, detect_approach_flaw, stuck_reason
from .budget import PATCH_FAILURE_CATEGORIES, HealthBudget
from .categories import (
    ErrorCategory,
    categorize_gate_output,
    categorize_patch_message,
    categorize_provider_error,
    is_high_risk,
)
from .escalation import (
    EscalationLadder,
    Rung,
    attempts_exhausted,
    counts_for_escalation,
    first_model,
    next_rung,
    tier_order,
)
from .execute_fix import CommandCheck, FixOutcome, check_command, run_fix
from .normalize import message_similarity, normalize_error_message

__all__ = [
    "PATCH_FAILURE_CATEGORIES",
    "CommandCheck",
    "ErrorCategory",
    "EscalationLadder",
    "FailureRecord",
    "FixOutcome",
    "FlawVerdict",
    "HealthBudget",
    "Rung",
    "attempts_exhausted",
    "categorize_gate_output",
    "categorize_patch_message",
    "categorize_provider_error",
    "check_command",
    "counts_for_escalation",
    "detect_approach_flaw",
    "first_model",
    "is_high_risk",
    "message_similarity",
    "next_rung",
    "normalize_error_message",
    "run_fix",
    "stuck_reason",
    "tier_order",
]
