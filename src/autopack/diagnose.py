"""``autopack doctor diagnose``: run the Doctor on a failed phase of a stored run and, with
``--apply``, carry out its action with the same code the executor uses mid-run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import load_effective_config
from .errors import AutopackError
from .executor import Executor, StoreSink
from .layout import home_dir
from .lock import RunLock
from .plan import Phase, plan_from_json
from .progress import PlainReporter
from .runner import _budget_from_store, make_service, run_environment
from .store import AttemptStatus, PhaseState, find_run
from .workspace.worktree import Workspace


def diagnose_stored(
    *, run_id: str, phase_id: str | None, apply: bool, config_path: Path | None, home: Path | None, script: Path | None
) -> dict[str, Any]:
    config = load_effective_config(config_path)
    root = home_dir(home)
    layout, store = find_run(root, run_id)
    with RunLock(layout.run_dir(run_id) / "executor.lock", run_id), store:
        run = store.require_run(run_id)
        phases = store.phases(run_id)
        if phase_id is None:
            failed = [p for p in phases if p.state in (PhaseState.FAILED, PhaseState.FATAL)]
            if not failed:
                raise AutopackError(f"run {run_id!r} has no failed phase; name one with --phase")
            phase_id = failed[-1].phase_id
        row = store.phase(run_id, phase_id)
        attempts = [a for a in store.attempts(run_id, phase_id) if a.outcome is AttemptStatus.FAILED]
        if not attempts:
            raise AutopackError(f"phase {phase_id!r} of run {run_id!r} has no failed attempt to diagnose")
        plan = plan_from_json(run.plan_json)
        worktree = Path(run.worktree) if run.worktree else layout.run_dir(run_id) / "worktree"
        assert run.project_dir is not None  # the runner records it with the run
        ws = Workspace.open(Path(run.project_dir), run_id, worktree, base_commit=run.base_commit or None)
        reporter = PlainReporter(open(os.devnull, "w", encoding="utf-8"))
        budget = _budget_from_store(config, store, run_id)
        override = None
        if script is not None:
            from .llm.scripted import ScriptedProvider

            override = ScriptedProvider(script)
        service = make_service(
            config,
            run_environment(dict(os.environ)),
            sink=StoreSink(store, run_id, budget, reporter),
            override=override,
            spent=float(store.totals(run_id).cost_usd),
            tokens=store.provider_tokens(run_id),
        )
        ex = Executor(config, plan, store, layout, ws, service, budget, reporter, run_id)
        spec = Phase.model_validate(store.phase_spec(run_id, phase_id))
        last = attempts[-1]
        from .attempt import AttemptOutcome

        outcome = AttemptOutcome(False, last.model, last.error_category, last.message or "", patch=last.patch or "")
        near = budget.near_limit(config.doctor_models.health_budget_near_limit_ratio)
        verdict = ex.consult_doctor(phase_id, spec, outcome, near)
        if verdict is None:
            raise AutopackError("the Doctor gave no valid diagnosis (see `autopack journal --run-id ...`)")
        action, data = verdict
        applied = "not applied (pass --apply)"
        if apply:
            start = row.start_commit or ws.head()
            failures = [ex.failure_record(a) for a in attempts]
            final, replanned = ex.apply_action(phase_id, spec, start, action, data, failures)
            if final is None:
                store.set_phase(
                    run_id,
                    phase_id,
                    "phase_requeued",
                    {"decided_by": "user (doctor diagnose --apply)", "action": action},
                    state=PhaseState.QUEUED,
                )
                applied = (
                    f"{action}: phase {phase_id} queued again"
                    + (" with a new revision" if replanned else "")
                    + "; run `autopack run` with the same --run-id and --plan to continue"
                )
            else:
                applied = f"{action}: phase {phase_id} is now {final.value}"
        return {
            "run_id": run_id,
            "phase": phase_id,
            "model": data["model"],
            "diagnosis": {k: data[k] for k in ("action", "confidence", "rationale", "hint", "commands")},
            "applied": applied,
        }
