"""The run-level health budget: counters that stop a run before it loops or burns money.

Three counters, each with a limit from ``health_budget`` in the config:

- ``http_500``: server errors from providers (``MAX_HTTP_500_PER_RUN``). ``record_http_500`` counts
  one server answer (the LLM service calls it for every 5xx, retried or not); a phase failure of
  category http_500 counts here too.
- ``patch_failures``: failures caused by the Builder's edits themselves
  (``MAX_PATCH_FAILURES_PER_RUN``): see ``PATCH_FAILURE_CATEGORIES``.
- ``total_failures``: every failed attempt, whatever its category (``MAX_TOTAL_FAILURES_PER_RUN``).

The budget is built from counts, so a resumed run continues where it stopped rather than getting
a fresh allowance.
"""

from __future__ import annotations

from typing import Any

from .. import config as cfgmod
from .categories import ErrorCategory

# Edits that could not be applied, were refused, destroyed content, were cut off mid-file, or left
# code that does not parse: all are the edit's fault rather than the approach's or the network's.
PATCH_FAILURE_CATEGORIES: frozenset[str] = frozenset(
    {
        ErrorCategory.patch_apply_error.value,
        ErrorCategory.scope_violation.value,
        ErrorCategory.syntax_error.value,
        ErrorCategory.destructive_output.value,
        ErrorCategory.truncation.value,
    }
)

_KEYS = {
    "http_500": "MAX_HTTP_500_PER_RUN",
    "patch_failures": "MAX_PATCH_FAILURES_PER_RUN",
    "total_failures": "MAX_TOTAL_FAILURES_PER_RUN",
}
_WHAT = {"http_500": "HTTP 5xx server errors", "patch_failures": "patch failures", "total_failures": "failures"}


class HealthBudget:
    """Failure counters for one run, checked against its limits, ``config.HealthBudgetLimits``."""

    def __init__(
        self, cfg: cfgmod.HealthBudgetLimits, *, http_500: int = 0, patch_failures: int = 0, total_failures: int = 0
    ) -> None:
        self.cfg = cfg
        self.http_500 = http_500
        self.patch_failures = patch_failures
        self.total_failures = total_failures

    def record_failure(self, category: str) -> None:
        """Count one failed attempt of ``category`` (total, plus patch failures when it is one).

        An attempt that failed with http_500 is not counted again as a server error: each 5xx reply
        was already counted by ``record_http_500`` when the LLM service saw it."""
        value = str(category)  # an ErrorCategory is a str of its value
        self.total_failures += 1
        if value in PATCH_FAILURE_CATEGORIES:
            self.patch_failures += 1

    def record_http_500(self) -> None:
        """Count one server error from a provider (not a phase failure by itself)."""
        self.http_500 += 1

    def counters(self) -> dict[str, int]:
        return {"http_500": self.http_500, "patch_failures": self.patch_failures, "total_failures": self.total_failures}

    def limits(self) -> dict[str, int]:
        return {name: int(getattr(self.cfg, key)) for name, key in _KEYS.items()}

    def exceeded(self) -> str | None:
        """Why the run must stop (the first limit reached), or None while within budget."""
        limits = self.limits()
        for name, count in self.counters().items():
            limit = limits[name]
            if count >= limit:
                key = _KEYS[name]
                return (
                    f"{key} ({limit}) reached: {count} {_WHAT[name]} this run; raise health_budget.{key} "
                    "in the config and run the same command again to resume"
                )
        return None

    def near_limit(self, ratio: float) -> bool:
        """True when any counter is at or over ``ratio`` of its limit (the Doctor then uses its strong model)."""
        limits = self.limits()
        return any(count >= ratio * limits[name] for name, count in self.counters().items())

    def snapshot(self) -> dict[str, Any]:
        """Counters, limits, the config key of each limit and used ratios by counter name, e.g. for the Doctor's prompt or ``status``."""
        counters, limits = self.counters(), self.limits()
        return {
            "counters": counters,
            "limits": limits,
            "limit_keys": dict(_KEYS),
            "ratios": {name: round(counters[name] / limits[name], 3) for name in counters},
        }
