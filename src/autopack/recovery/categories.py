"""Error categories: the one vocabulary recovery speaks, and the rules that map evidence onto it.

Gate output (pytest, linters, a crashed command), provider failures and edit-applier messages each
get their own classifier, because each kind of evidence has its own reliable markers. The category
decides everything downstream: what counts for model escalation, what counts against the health
budget, what is an approach flaw and when the Doctor must use the strong model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class ErrorCategory(StrEnum):
    """Why a phase attempt (or one LLM call) failed. The values are stored in the run store."""

    patch_apply_error = "patch_apply_error"
    syntax_error = "syntax_error"
    import_error = "import_error"
    ci_fail = "ci_fail"  # the seed's name for a failing test or check
    TEST_FAILURE = "ci_fail"  # alias: a failing test is a failing check
    auditor_reject = "auditor_reject"
    truncation = "truncation"
    timeout = "timeout"
    http_500 = "http_500"
    rate_limit = "rate_limit"
    scope_violation = "scope_violation"
    destructive_output = "destructive_output"
    malformed_output = "malformed_output"
    empty_reply = "empty_reply"
    infra = "infra"
    wrong_tech_stack = "wrong_tech_stack"
    schema_mismatch = "schema_mismatch"
    api_contract_wrong = "api_contract_wrong"
    unknown = "unknown"


# --- gate output ----------------------------------------------------------------------------------
# Checked in this order; the first rule that matches wins. A timeout comes first because a killed
# run's partial output can contain anything. Infra markers come next because a missing command, a
# full disk or a file left with merge-conflict markers (which Python reports as a SyntaxError) is
# not something a code edit by the Builder fixes. Syntax and import errors come before test
# failures because pytest reports them as collection errors next to a failed/error summary, and
# the precise cause is what the Builder needs to hear.

_TIMEOUT = re.compile(
    r"\btimed out\b|\bTimeoutExpired\b|\btimeout expired\b|\+{3,} Timeout \+{3,}|Failed: Timeout >|"
    r"\bkilled after \d+(\.\d+)?\s*s",
    re.IGNORECASE,
)
_SYNTAX = re.compile(r"\b(SyntaxError|IndentationError|TabError)\b")
_IMPORT = re.compile(r"\bModuleNotFoundError\b|\bImportError\b|cannot import name\b|No module named\b")
_INFRA = re.compile(
    r"command not found|No space left on device|Permission denied|index\.lock|"
    r"^CONFLICT \(|Merge conflict in|Automatic merge failed|unmerged files|"
    r"^\s*<{7} \S|^\s*>{7} \S|Unable to create '.*\.lock'|not a git repository|"
    r"OSError: \[Errno 28\]|MemoryError\b|Killed\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_CI_FAIL = re.compile(
    r"^FAILED |^ERROR |\b\d+ (failed|errors?)\b|\bAssertionError\b|^E\s+assert\b|"
    r"\bexit (code|status) [1-9]\d*|returned non-zero exit status|Found \d+ errors?\b|"
    r"\berror: |Traceback \(most recent call last\)",
    re.IGNORECASE | re.MULTILINE,
)


def categorize_gate_output(text: str, exit_code: int | None = None) -> ErrorCategory:
    """The category of a failed quality-gate check from its output (and exit code when known).

    Priority: timeout, infra, syntax_error, import_error, ci_fail, unknown. Exit codes 126/127
    (cannot execute / not found, as a POSIX shell reports them) are infra; any other non-zero
    exit with no better marker is ci_fail.
    """
    if _TIMEOUT.search(text):
        return ErrorCategory.timeout
    if exit_code in (126, 127) or _INFRA.search(text):
        return ErrorCategory.infra
    if _SYNTAX.search(text):
        return ErrorCategory.syntax_error
    if _IMPORT.search(text):
        return ErrorCategory.import_error
    if _CI_FAIL.search(text) or (exit_code is not None and exit_code != 0):
        return ErrorCategory.ci_fail
    return ErrorCategory.unknown


# --- provider errors ------------------------------------------------------------------------------

_PROVIDER_KINDS: dict[str, ErrorCategory] = {
    "server": ErrorCategory.http_500,
    "rate_limit": ErrorCategory.rate_limit,
    "timeout": ErrorCategory.timeout,
    "connection": ErrorCategory.infra,
    "auth": ErrorCategory.infra,
    # A missing key or a request the API refuses is a setup problem, not something a retry fixes.
    "not_configured": ErrorCategory.infra,
    "bad_request": ErrorCategory.infra,
    "malformed": ErrorCategory.malformed_output,
}


def categorize_provider_error(kind: str, status: int | None) -> ErrorCategory:
    """The category of a failed LLM call (``ProviderError.kind`` and its HTTP status, if any).

    The status wins over the kind when it is unambiguous: any 5xx is http_500 and 429 is
    rate_limit, because adapters differ in how they name the same server answer.
    """
    if status is not None:
        if 500 <= status <= 599:
            return ErrorCategory.http_500
        if status == 429:
            return ErrorCategory.rate_limit
        if status in (401, 403):
            return ErrorCategory.infra
        if status == 408:
            return ErrorCategory.timeout
    return _PROVIDER_KINDS.get(kind, ErrorCategory.unknown)


# --- edit applier / git apply ---------------------------------------------------------------------

_SCOPE = re.compile(
    r"\bscope\b|outside\b|travers|escap(es|ing)\b|absolute path|drive letter|NUL character|symlink|\.\./|'\.\.'|"
    r"refus\w* .*\.git\b|inside \.git|beyond a symbolic link",
    re.IGNORECASE,
)
_PATCH = re.compile(
    r"patch does not apply|hunk #?\d* ?FAILED|did not match|does not match|not found in|"
    r"corrupt patch|patch failed|ambiguous|no valid patches|malformed patch|"
    r"does not exist in index|No such file or directory|already exists in working directory|"
    r"while searching for",
    re.IGNORECASE,
)


def categorize_patch_message(text: str) -> ErrorCategory:
    """The category of an edit that could not be applied (git apply's words or our applier's).

    A refusal for where the edit points (outside the phase scope, outside the workspace, an
    absolute path, ``..``, ``.git/``, a symlink leading out) is scope_violation; every other
    applier message is patch_apply_error, since the caller only asks about edits that failed.
    """
    if _SCOPE.search(text):
        return ErrorCategory.scope_violation
    if _PATCH.search(text):
        return ErrorCategory.patch_apply_error
    return ErrorCategory.patch_apply_error


# --- Doctor routing -------------------------------------------------------------------------------

# The config names broad risk families (``high_risk_categories: [import, logic]``); these are the
# error categories each family covers. Logic errors are what tests and the Auditor catch.
RISK_FAMILIES: dict[str, frozenset[str]] = {
    "import": frozenset({ErrorCategory.import_error.value}),
    "logic": frozenset({ErrorCategory.ci_fail.value, ErrorCategory.auditor_reject.value}),
    "syntax": frozenset({ErrorCategory.syntax_error.value}),
    "patch": frozenset({ErrorCategory.patch_apply_error.value}),
    "infra": frozenset({ErrorCategory.infra.value}),
    "schema": frozenset({ErrorCategory.schema_mismatch.value}),
}


def is_high_risk(category_or_phase_category: str, high_risk: Sequence[str]) -> bool:
    """True when the error category (or the phase category) is one the config calls high-risk.

    Each entry of ``high_risk`` is a family from ``RISK_FAMILIES`` (``import`` covers
    import_error, ``logic`` covers ci_fail and auditor_reject) or an exact name, which matches an
    error category or a phase category (e.g. ``security``) of the same spelling.
    """
    name = category_or_phase_category.strip().lower()
    for entry in high_risk:
        key = entry.strip().lower()
        if key == name or name in RISK_FAMILIES.get(key, frozenset()):
            return True
    return False
