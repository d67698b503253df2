"""Errors a user can cause. The CLI prints each as one red line and exits with code 2.

Tracebacks are for bugs; anything the user can fix (a bad file, a missing key, a lock held by
another process) is an ``AutopackError`` whose message says what to do.
"""

from __future__ import annotations


class AutopackError(Exception):
    """Base class for errors caused by input or environment rather than by a bug."""

    exit_code: int = 2


class ConfigError(AutopackError):
    """config/models.yaml (or an override) is unreadable or invalid."""


class PlanError(AutopackError):
    """A run plan is unreadable or invalid."""


class StoreError(AutopackError):
    """The run store does not hold what was asked for (unknown run id, ...)."""


class LockHeldError(AutopackError):
    """Another executor already holds the lock for this run id."""


class RunStopped(AutopackError):
    """A run stopped cleanly (budget, cost cap, fatal phase); state is saved and resumable."""

    exit_code = 3
