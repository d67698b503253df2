"""Where runs stand, read from their stores: every run under a home (``list_runs``, what ``autopack
runs`` shows) and one run's phases, attempts, tokens and cost (``run_status``, what ``autopack status``
shows and ``--json`` prints; a batch reads each of its runs the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import StoreError
    from ..store import RunStore


def list_runs(root: Path) -> tuple[list[dict[str, Any]], list[StoreError]]:
    """Every run of every project under ``root``, each with its ``stale`` marks, and the stores that
    could not be read (damaged, locked, not readable): the others are still listed.

    Each store's integrity is checked as it is opened (``PRAGMA quick_check``: this is the overview
    that should notice a damaged store)."""
    from ..errors import StoreError
    from ..layout import Layout
    from ..store import RunStore, store_projects

    rows: list[dict[str, Any]] = []
    unreadable: list[StoreError] = []
    for proj in store_projects(root):
        try:
            with RunStore(Layout(root, proj).db_path) as store:
                rows.extend(store.list_runs())
        except StoreError as exc:
            unreadable.append(exc)
    if rows:
        from .stale import stale_marks

        marks = stale_marks(rows)
        for r in rows:
            r["stale"] = marks.get((r["project"], r["run_id"]), [])
    return rows, unreadable


def run_status(store: RunStore, run_id: str) -> dict[str, Any]:
    """One run as ``autopack status --json`` prints it: its phases with their attempts, tokens, cost and
    time, totals, usage by model, and whether an executor is running it now."""
    run = store.require_run(run_id)
    usage = store.usage_by_phase(run_id)
    durations = store.phase_durations(run_id)
    phases = []
    for p in store.phases(run_id):
        atts = store.attempts(run_id, p["phase_id"])
        u = usage.get(p["phase_id"], {})
        phases.append(
            {
                "id": p["phase_id"],
                "name": p["name"],
                "state": p["state"],
                "revision": p["revision"],
                "commit": p["commit_sha"],
                "model": p["model"],
                "attempts": [
                    {k: a[k] for k in ("number", "model", "outcome", "error_category", "message")} for a in atts
                ],
                "tokens_in": u.get("tokens_in") or 0,
                "tokens_out": u.get("tokens_out") or 0,
                "cost_usd": u.get("cost_usd") or 0.0,
                # seconds the phase was worked on (not counting the time the run was stopped)
                "duration_s": round(durations.get(p["phase_id"], 0.0), 3),
            }
        )
    from ..lock import LOCK_NAME, executor_holding

    executor = executor_holding(store.path.parent / "runs" / run_id / LOCK_NAME)
    return {
        "run_id": run_id,
        "project": run["project"],
        "goal": run["goal"],
        "status": run["status"],
        "stop_reason": run["stop_reason"],
        # RUNNING with no executor: it was killed (or its machine stopped); the same command resumes it.
        "executor_pid": executor,
        "interrupted": run["status"] == "INTERRUPTED" or (run["status"] == "RUNNING" and executor is None),
        "branch": run["branch"],
        "worktree": run["worktree"],
        "phases": phases,
        "totals": store.totals(run_id),
        "by_model": store.usage_by_model(run_id),
    }
