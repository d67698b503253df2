"""The store's queries return typed rows: frozen dataclasses whose states and outcomes are enums, and
a store written before they did reads the same (the SQL schema did not change)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from autopack.cli.output import print_json
from autopack.errors import StoreError
from autopack.layout import Layout
from autopack.memory.journal import render_journal
from autopack.review.status import run_status
from autopack.store import (
    AttemptRow,
    AttemptStatus,
    CallRecord,
    EventRow,
    PhaseRow,
    PhaseState,
    RevisionRow,
    RunRow,
    RunStatus,
    RunStore,
    RunSummary,
)

DATA = Path(__file__).parent / "data"
PHASES = [
    {"id": "p0", "name": "First", "complexity": "low"},
    {"id": "p1", "name": "Second", "complexity": "medium"},
]


def new_store(tmp_path: Path) -> RunStore:
    store = RunStore(Layout(tmp_path, "demo").db_path)
    store.create_run("r1", "demo", "the goal", json.dumps({"project": "demo"}), PHASES, plan_path="plan.yaml")
    return store


def test_queries_return_typed_rows_with_enum_states_and_outcomes(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.set_phase("r1", "p0", "phase_state", state=PhaseState.BUILDING)
        aid, _ = store.start_attempt("r1", "p0", "glm-4.6", "low")
        store.finish_attempt(aid, AttemptStatus.FAILED, error_category="ci_fail", message="1 failed")
        store.start_attempt("r1", "p0", "glm-4.6", "low")

        run = store.require_run("r1")
        assert isinstance(run, RunRow) and run.status is RunStatus.RUNNING and run.plan_path == "plan.yaml"
        phase = store.phase("r1", "p0")
        assert isinstance(phase, PhaseRow) and phase.state is PhaseState.BUILDING
        assert [p.state for p in store.phases("r1")] == [PhaseState.BUILDING, PhaseState.QUEUED]
        failed, running = store.attempts("r1", "p0")
        assert isinstance(failed, AttemptRow) and failed.outcome is AttemptStatus.FAILED
        assert (failed.error_category, failed.message, failed.number) == ("ci_fail", "1 failed", 1)
        assert running.outcome is AttemptStatus.RUNNING and running.finished_at is None
        [revision] = store.revisions("r1", "p1")
        assert isinstance(revision, RevisionRow) and json.loads(revision.spec_json) == PHASES[1]
        [summary] = store.list_runs()
        assert isinstance(summary, RunSummary) and summary.status is RunStatus.RUNNING
        assert (summary.phases, summary.complete) == (2, 0)
        events = store.events("r1")
        assert all(isinstance(e, EventRow) for e in events)
        assert events[-1].kind == "attempt_started" and events[-1].data == {
            "attempt": 2,
            "model": "glm-4.6",
            "complexity": "low",
        }
        with pytest.raises(dataclasses.FrozenInstanceError):
            phase.state = PhaseState.COMPLETE  # type: ignore[misc]


def test_to_dict_gives_a_rows_columns_in_order_with_enums_as_their_stored_strings(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.record_call("r1", CallRecord("builder", "glm", "glm-4.6", tokens_in=10, cost_usd=0.5), "p0")
        phase = store.phase("r1", "p0").to_dict()
        [summary] = store.list_runs()
        totals = store.totals("r1").to_dict()
    assert list(phase) == [
        "run_id", "phase_id", "idx", "name", "state", "revision", "complexity", "start_commit", "commit_sha",
        "model", "replans", "doctor_calls", "execute_fixes", "hint", "updated_at",
    ]  # fmt: skip
    assert phase["state"] == "QUEUED" and type(phase["state"]) is str
    assert summary.to_dict()["status"] == "RUNNING" and type(summary.to_dict()["status"]) is str
    assert totals == {"calls": 1, "tokens_in": 10, "tokens_out": 0, "tokens_cached": 0, "cost_usd": 0.5}


def test_finish_attempt_refuses_an_outcome_the_schema_does_not_know_and_writes_nothing(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        aid, _ = store.start_attempt("r1", "p0", "glm-4.6", "low")
        with pytest.raises(ValueError, match="success"):
            store.finish_attempt(aid, "success")  # type: ignore[arg-type]
        [attempt] = store.attempts("r1")
        assert attempt.outcome is AttemptStatus.RUNNING
        assert store.count_events("r1", "attempt_finished") == 0
        store.finish_attempt(aid, "approved")  # type: ignore[arg-type]  # the enum's value is as good
        assert store.attempts("r1")[0].outcome is AttemptStatus.APPROVED


def written_before_typed_rows(home: Path) -> Path:
    """The store ``tests/data/store_v1_before_typed_rows.sql`` holds (written by the autopack before
    typed rows), where ``autopack`` finds it under ``home``."""
    db = Layout(home, "calc").db_path
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.executescript((DATA / "store_v1_before_typed_rows.sql").read_text(encoding="utf-8"))
    conn.close()
    return db


def dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_a_store_written_before_typed_rows_reads_as_typed_rows(tmp_path: Path) -> None:
    db = written_before_typed_rows(tmp_path)
    before = dump(db)
    with RunStore(db) as store:
        run = store.require_run("r1")
        assert (run.status, run.branch, run.base_commit) == (RunStatus.INTERRUPTED, "autopack/r1", "abc123")
        assert [(p.phase_id, p.state, p.revision) for p in store.phases("r1")] == [
            ("p1", PhaseState.COMPLETE, 1),
            ("p2", PhaseState.BUILDING, 0),
        ]
        assert [(a.phase_id, a.number, a.outcome) for a in store.attempts("r1")] == [
            ("p1", 1, AttemptStatus.FAILED),
            ("p1", 2, AttemptStatus.APPROVED),
            ("p2", 1, AttemptStatus.INTERRUPTED),
        ]
        assert [r.reason for r in store.revisions("r1", "p1")] == ["initial plan", "approach flaw"]
        assert store.events("r1", "workspace_ready")[0].data["base_branch"] == "main"
        assert store.totals("r1").calls == 1
    assert dump(db) == before  # nothing migrated or rewritten: a complete store is only read


def test_what_the_commands_print_of_an_older_store_is_what_they_printed_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``status --json``, ``runs --json`` and the journal, byte for byte as the autopack before typed
    rows printed them for the same store (``tests/data/store_v1_*``, written by that version)."""
    db = written_before_typed_rows(tmp_path)
    with RunStore(db) as store:
        print_json(run_status(store, "r1"))
        runs = [r.to_dict() for r in store.list_runs()]
        journal = render_journal(store, "r1")
    assert capsys.readouterr().out == (DATA / "store_v1_status.json").read_text(encoding="utf-8")
    assert json.dumps(runs, indent=2) + "\n" == (DATA / "store_v1_runs.json").read_text(encoding="utf-8")
    assert journal == (DATA / "store_v1_journal.md").read_text(encoding="utf-8")


def test_a_state_this_autopack_does_not_know_is_a_store_error_not_a_traceback(tmp_path: Path) -> None:
    # runs.status and phases.state are plain TEXT: a newer autopack may write a value without a schema change
    with new_store(tmp_path) as store:
        with sqlite3.connect(store.path) as conn:
            conn.execute("UPDATE phases SET state='PAUSED' WHERE phase_id='p1'")
            conn.execute("UPDATE runs SET status='PAUSED'")
        conn.close()
        with pytest.raises(StoreError, match=r"phases.state 'PAUSED'.*upgrade autopack"):
            store.phases("r1")
        with pytest.raises(StoreError, match=r"runs.status 'PAUSED'.*upgrade autopack"):
            store.require_run("r1")
        assert store.phase("r1", "p0").state is PhaseState.QUEUED  # the rows it knows still read
