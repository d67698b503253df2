"""Where runs stand, read from their stores: every run under a home (``list_runs``, what ``autopack
runs`` shows) and one run's phases, attempts, tokens and cost (``run_status``, what ``autopack status``
shows and ``--json`` prints; a batch reads each of its runs the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import StoreError
    from ..store import RunStore, RunSummary


def list_runs(root: Path) -> tuple[list[RunSummary], list[list[str]], list[StoreError]]:
    """Every run of every project under ``root``, each run's ``stale`` marks (``stale[i]`` is
    ``rows[i]``'s), and the stores that could not be read (damaged, locked, not readable): the others
    are still listed.

    Each store's integrity is checked as it is opened (``PRAGMA quick_check``: this is the overview
    that should notice a damaged store)."""
    from ..errors import StoreError
    from ..layout import Layout
    from ..store import RunStore, store_projects

    rows: list[RunSummary] = []
    unreadable: list[StoreError] = []
    for proj in store_projects(root):
        try:
            with RunStore(Layout(root, proj).db_path) as store:
                rows.extend(store.list_runs())
        except StoreError as exc:
            unreadable.append(exc)
    marks: dict[tuple[str, str], list[str]] = {}
    if rows:
        from .stale import stale_marks

        marks = stale_marks(rows)
    stale = [marks.get((r.project, r.run_id), []) for r in rows]
    return rows, stale, unreadable


def run_status(store: RunStore, run_id: str) -> dict[str, Any]:
    """One run as ``autopack status --json`` prints it: its phases with their attempts, tokens, cost and
    time, totals, usage by model, and whether an executor is running it now. Plain JSON values: the
    store's rows as dicts, their states and outcomes as strings."""
    from ..store import RunStatus, Usage

    run = store.require_run(run_id)
    usage = store.usage_by_phase(run_id)
    durations = store.phase_durations(run_id)
    phases = []
    for p in store.phases(run_id):
        atts = store.attempts(run_id, p.phase_id)
        u = usage.get(p.phase_id) or Usage(0, 0, 0.0)
        phases.append(
            {
                "id": p.phase_id,
                "name": p.name,
                "state": p.state.value,
                "revision": p.revision,
                "commit": p.commit_sha,
                "model": p.model,
                "attempts": [
                    {
                        "number": a.number,
                        "model": a.model,
                        "outcome": a.outcome.value,
                        "error_category": a.error_category,
                        "message": a.message,
                    }
                    for a in atts
                ],
                "tokens_in": u.tokens_in or 0,
                "tokens_out": u.tokens_out or 0,
                "cost_usd": u.cost_usd or 0.0,
                # seconds the phase was worked on (not counting the time the run was stopped)
                "duration_s": round(durations.get(p.phase_id, 0.0), 3),
            }
        )
    from ..lock import LOCK_NAME, executor_holding

    executor = executor_holding(store.path.parent / "runs" / run_id / LOCK_NAME)
    return {
        "run_id": run_id,
        "project": run.project,
        "goal": run.goal,
        "status": run.status.value,
        "stop_reason": run.stop_reason,
        # RUNNING with no executor: it was killed (or its machine stopped); the same command resumes it.
        "executor_pid": executor,
        "interrupted": run.status is RunStatus.INTERRUPTED or (run.status is RunStatus.RUNNING and executor is None),
        "branch": run.branch,
        "worktree": run.worktree,
        "phases": phases,
        "totals": store.totals(run_id).to_dict(),
        "by_model": [m.to_dict() for m in store.usage_by_model(run_id)],
    }
