"""The run store: where it lives, what it keeps, and that a killed process leaves it consistent."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autopack.childenv import subprocess_env
from autopack.errors import StoreError
from autopack.layout import Layout
from autopack.store import CallRecord, PhaseState, RunStatus, RunStore

PHASES = [
    {"id": "p0", "name": "First", "complexity": "low", "scope": ["a.py"]},
    {"id": "p1", "name": "Second", "complexity": "medium", "scope": ["b.py"]},
    {"id": "p2", "name": "Café ünïcode ✓", "complexity": "high", "scope": ["c.py"]},
]


def new_store(tmp_path: Path, run_id: str = "r1") -> RunStore:
    store = RunStore(Layout(tmp_path, "demo").db_path)
    store.create_run(run_id, "demo", "the goal", json.dumps({"project": "demo"}), PHASES, plan_path="plan.yaml")
    return store


def raw(db_path: Path) -> sqlite3.Connection:
    """A plain connection, as another tool (or a human with sqlite3) would open the file."""
    conn = sqlite3.connect(str(db_path))
    conn.row_factory = sqlite3.Row
    return conn


# where and how -------------------------------------------------------------------------------------
def test_store_lives_under_autonomous_runs_per_project(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        assert store.path == tmp_path / ".autonomous_runs" / "demo" / "autopack.db"
    assert store.path.is_file()


def test_store_uses_wal_journal(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        with raw(store.path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_enforces_foreign_keys(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        with store.transaction() as db:
            assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            store.start_attempt("r1", "no-such-phase", "glm-4.6", "low")


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.set_phase("r1", "p0", "phase_started", state=PhaseState.BUILDING)
    with RunStore(Layout(tmp_path, "demo").db_path) as again:
        assert again.phase("r1", "p0").state == "BUILDING"
        assert again.require_run("r1").goal == "the goal"


# runs ----------------------------------------------------------------------------------------------
def test_created_run_has_queued_phases_in_plan_order_and_an_event(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        run = store.require_run("r1")
        assert (run.status, run.plan_path) == ("RUNNING", "plan.yaml")
        assert [(p.phase_id, p.state, p.revision) for p in store.phases("r1")] == [
            ("p0", "QUEUED", 0),
            ("p1", "QUEUED", 0),
            ("p2", "QUEUED", 0),
        ]
        assert store.phase("r1", "p2").name == "Café ünïcode ✓"
        [event] = store.events("r1")
        assert (event.kind, event.data) == ("run_created", {"phases": 3, "project": "demo"})


def test_unknown_run_id_is_a_store_error_that_says_what_to_do(tmp_path: Path) -> None:
    with new_store(tmp_path) as store, pytest.raises(StoreError, match=r"no run 'nope'.*`autopack runs`"):
        store.require_run("nope")


def test_update_run_sets_status_and_records_it_in_the_event(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.update_run("r1", "run_stopped", {"by": "budget"}, status=RunStatus.STOPPED, stop_reason="health budget")
        run = store.require_run("r1")
        assert (run.status, run.stop_reason) == ("STOPPED", "health budget")
        event = store.events("r1", kind="run_stopped")[0]
        assert event.data == {"by": "budget", "status": "STOPPED", "stop_reason": "health budget"}


def test_update_run_refuses_unknown_columns(tmp_path: Path) -> None:
    with new_store(tmp_path) as store, pytest.raises(ValueError, match="unknown run fields"):
        store.update_run("r1", colour="red")


def test_list_runs_counts_complete_phases_and_cost(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.create_run("r2", "demo", "other", "{}", PHASES[:1])
        store.set_phase("r1", "p0", "phase_complete", state=PhaseState.COMPLETE)
        store.record_call("r1", CallRecord(role="builder", provider="glm", model="glm-4.6", cost_usd=0.25))
        rows = {r.run_id: r for r in store.list_runs()}
        assert (rows["r1"].phases, rows["r1"].complete, rows["r1"].cost_usd) == (3, 1, 0.25)
        assert (rows["r2"].phases, rows["r2"].complete, rows["r2"].cost_usd) == (1, 0, 0)


# phases: one transaction per change, with its event ------------------------------------------------
def test_set_phase_changes_the_row_and_appends_its_event(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.set_phase("r1", "p1", "phase_gating", {"check": "pytest"}, state=PhaseState.GATING, model="gpt-5")
        row = store.phase("r1", "p1")
        assert (row.state, row.model) == ("GATING", "gpt-5")
        [event] = store.events("r1", kind="phase_gating")
        assert event.phase_id == "p1"
        assert event.data == {"check": "pytest", "state": "GATING", "model": "gpt-5"}


def test_set_phase_refuses_unknown_columns_and_writes_nothing(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        with pytest.raises(ValueError, match="unknown phase fields"):
            store.set_phase("r1", "p0", "oops", state=PhaseState.BUILDING, colour="red")
        assert store.phase("r1", "p0").state == "QUEUED"
        assert store.count_events("r1", "oops") == 0


def test_set_phase_on_an_unknown_phase_writes_no_event(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        with pytest.raises(StoreError, match="no phase 'p9'"):
            store.set_phase("r1", "p9", "phase_started", state=PhaseState.BUILDING)
        with pytest.raises(StoreError, match="no phase 'p9'"):
            store.set_phase("r1", "p9", "note")
        assert store.count_events("r1", "phase_started") == 0
        assert store.count_events("r1", "note") == 0


def test_a_failing_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        with pytest.raises(RuntimeError), store.transaction() as db:
            db.execute("UPDATE phases SET state='COMPLETE' WHERE run_id='r1' AND phase_id='p0'")
            raise RuntimeError("crash between the two writes")
        assert store.phase("r1", "p0").state == "QUEUED"


def test_events_are_append_only(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.add_event("r1", "note", {"text": "hello"}, phase_id="p0")
        with raw(store.path) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET kind='forged'")
        assert [e.kind for e in store.events("r1")] == ["run_created", "note"]


def test_events_can_be_read_incrementally_and_by_kind(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        first = store.add_event("r1", "note", {"n": 1})
        store.add_event("r1", "note", {"n": 2}, phase_id="p1")
        store.add_event("r1", "other", {})
        assert [e.data for e in store.events("r1", kind="note")] == [{"n": 1}, {"n": 2}]
        assert [e.kind for e in store.events("r1", after=first)] == ["note", "other"]
        assert store.count_events("r1", "note") == 2
        assert store.count_events("r1", "note", phase_id="p1") == 1


# phase revisions (re-plans) ------------------------------------------------------------------------
def test_initial_spec_is_revision_zero(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        assert store.phase_spec("r1", "p2") == PHASES[2]
        assert [r.reason for r in store.revisions("r1", "p2")] == ["initial plan"]


def test_add_revision_makes_the_new_spec_current_and_requeues_the_phase(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        store.set_phase("r1", "p1", "phase_failed", state=PhaseState.FAILED)
        new_spec = {**PHASES[1], "scope": ["b.py", "b_helpers.py"]}
        rev = store.add_revision(
            "r1", "p1", new_spec, "approach flaw: same import error twice", "+b_helpers.py", "planner"
        )
        assert rev == 1
        assert store.phase_spec("r1", "p1") == new_spec
        row = store.phase("r1", "p1")
        assert (row.state, row.revision, row.replans) == ("QUEUED", 1, 1)
        assert [r.revision for r in store.revisions("r1", "p1")] == [0, 1]
        [event] = store.events("r1", kind="phase_replanned")
        assert event.data["decided_by"] == "planner"
        assert event.data["diff"] == "+b_helpers.py"
        assert store.add_revision("r1", "p1", PHASES[1], "again", "", "doctor") == 2


def test_add_revision_for_an_unknown_phase_is_a_store_error(tmp_path: Path) -> None:
    with new_store(tmp_path) as store, pytest.raises(StoreError, match="no phase 'p9'"):
        store.add_revision("r1", "p9", {}, "why", "", "planner")


def test_phase_spec_for_an_unknown_phase_is_a_store_error(tmp_path: Path) -> None:
    with new_store(tmp_path) as store, pytest.raises(StoreError, match="no phase 'p9'"):
        store.phase_spec("r1", "p9")


# attempts and LLM calls ----------------------------------------------------------------------------
def test_attempts_are_numbered_per_phase(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        assert store.start_attempt("r1", "p0", "glm-4.6", "low")[1] == 1
        assert store.start_attempt("r1", "p0", "claude-sonnet-4-5", "medium")[1] == 2
        assert store.start_attempt("r1", "p1", "gpt-5", "medium")[1] == 1
        assert [a.model for a in store.attempts("r1", "p0")] == ["glm-4.6", "claude-sonnet-4-5"]
        assert len(store.attempts("r1")) == 3


def test_finish_attempt_keeps_the_outcome_and_logs_it(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        aid, _ = store.start_attempt("r1", "p0", "glm-4.6", "low")
        store.finish_attempt(aid, "failed", error_category="ci_fail", message="1 failed", patch="--- a\n+++ b\n")
        [att] = store.attempts("r1", "p0")
        assert (att.outcome, att.error_category, att.message) == ("failed", "ci_fail", "1 failed")
        assert att.finished_at is not None
        [event] = store.events("r1", kind="attempt_finished")
        assert event.data["outcome"] == "failed" and event.data["attempt"] == 1


def test_finish_attempt_with_an_unknown_id_is_a_store_error(tmp_path: Path) -> None:
    with new_store(tmp_path) as store, pytest.raises(StoreError, match="no attempt 999"):
        store.finish_attempt(999, "failed")


def test_abandon_open_attempts_marks_only_running_ones_interrupted(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        done, _ = store.start_attempt("r1", "p0", "glm-4.6", "low")
        store.finish_attempt(done, "approved")
        store.start_attempt("r1", "p0", "glm-4.6", "low")
        store.start_attempt("r1", "p1", "gpt-5", "medium")
        assert store.abandon_open_attempts("r1") == 2
        assert [a.outcome for a in store.attempts("r1")] == ["approved", "interrupted", "interrupted"]
        assert store.count_events("r1", "attempt_interrupted") == 2
        assert store.abandon_open_attempts("r1") == 0


def test_llm_call_totals_and_usage_by_model_and_phase(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        aid, _ = store.start_attempt("r1", "p0", "glm-4.6", "low")
        calls = [
            ("p0", CallRecord("builder", "glm", "glm-4.6", tokens_in=1000, tokens_out=200, cost_usd=0.001)),
            (
                "p0",
                CallRecord(
                    "auditor", "glm", "glm-4.6", tokens_in=500, tokens_out=100, tokens_cached=400, cost_usd=0.0005
                ),
            ),
            (
                "p1",
                CallRecord(
                    "builder", "anthropic", "claude-sonnet-4-5", tokens_in=2000, tokens_out=300, cost_usd=0.0105
                ),
            ),
            (None, CallRecord("doctor", "anthropic", "claude-sonnet-4-5", tokens_out=10, ok=False, error="500")),
        ]
        for phase_id, call in calls:
            store.record_call("r1", call, phase_id=phase_id, attempt_id=aid if phase_id == "p0" else None)
        totals = store.totals("r1")
        assert (totals.calls, totals.tokens_in, totals.tokens_out, totals.tokens_cached) == (
            4,
            3500,
            610,
            400,
        )
        assert totals.cost_usd == pytest.approx(0.012)
        by_model = store.usage_by_model("r1")
        assert [(m.model, m.calls) for m in by_model] == [("claude-sonnet-4-5", 2), ("glm-4.6", 2)]
        assert by_model[1].tokens_in == 1500
        assert store.usage_by_phase("r1")["p0"].tokens_out == 300
        assert store.provider_tokens("r1") == {"glm": 1800, "anthropic": 2310}


def test_totals_of_a_run_without_calls_are_zero(tmp_path: Path) -> None:
    with new_store(tmp_path) as store:
        assert store.totals("r1").to_dict() == {
            "calls": 0,
            "tokens_in": 0,
            "tokens_out": 0,
            "tokens_cached": 0,
            "cost_usd": 0,
        }


# a killed process leaves a consistent store -------------------------------------------------------
WRITER = r"""
import sys
from pathlib import Path
from autopack.store import CallRecord, RunStore

store = RunStore(Path(sys.argv[1]))
run_id = sys.argv[2]
states = ["BUILDING", "APPLYING", "GATING", "AUDITING", "COMMITTING", "FAILED"]
i = 0
while True:
    phase = f"p{i % 3}"
    store.set_phase(run_id, phase, "state_set", {"i": i}, state=states[i % len(states)], hint=str(i))
    aid, _ = store.start_attempt(run_id, phase, "glm-4.6", "low")
    store.record_call(run_id, CallRecord("builder", "glm", "glm-4.6", tokens_in=10, tokens_out=5), phase, aid)
    store.finish_attempt(aid, "failed", error_category="ci_fail", message="x" * 300)
    if i == 20:
        print("writing", flush=True)
    i += 1
"""


def check_consistent(db_path: Path, run_id: str) -> int:
    """Assert every state change has its event and vice versa; return how many changes survived."""
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        call_attempts = {r[0] for r in conn.execute("SELECT attempt_id FROM llm_calls WHERE run_id=?", (run_id,))}
    with RunStore(db_path) as store:
        changes = store.events(run_id, kind="state_set")
        # each change committed with its event, in order: no gap, no event without its change
        assert [e.data["i"] for e in changes] == list(range(len(changes)))
        for phase in store.phases(run_id):
            mine = [e for e in changes if e.phase_id == phase.phase_id]
            assert mine, f"{phase.phase_id} has no state change although the writer ran 21 rounds"
            assert (phase.state, phase.hint) == (mine[-1].data["state"], mine[-1].data["hint"])
        attempts = store.attempts(run_id)
        started = [(e.phase_id, e.data["attempt"]) for e in store.events(run_id, kind="attempt_started")]
        assert [(a.phase_id, a.number) for a in attempts] == started
        finished = [(e.phase_id, e.data["attempt"]) for e in store.events(run_id, kind="attempt_finished")]
        assert [(a.phase_id, a.number) for a in attempts if a.outcome != "running"] == finished
        for a in attempts:  # no half-written row: a finished attempt has every finishing column
            if a.outcome != "running":
                assert (a.error_category, len(a.message), a.finished_at is not None) == ("ci_fail", 300, True)
        assert len([a for a in attempts if a.outcome == "running"]) <= 1
        assert call_attempts <= {a.attempt_id for a in attempts}  # no call row without its attempt
        # the store is still usable after the crash: resume marks the interrupted attempt
        open_before = len([a for a in attempts if a.outcome == "running"])
        assert store.abandon_open_attempts(run_id) == open_before
        store.set_phase(run_id, "p0", "resumed", state=PhaseState.QUEUED)
        return len(changes)


@pytest.mark.parametrize("round_", range(3))
def test_sigkill_at_a_random_point_leaves_a_consistent_store(tmp_path: Path, round_: int) -> None:
    seed = random.randrange(1_000_000)
    delay = random.Random(seed).uniform(0, 0.15)
    run_id = f"crash-{round_}"
    new_store(tmp_path, run_id).close()
    db_path = Layout(tmp_path, "demo").db_path
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == b"writing\n", child.stderr.read() if child.stderr else line
        time.sleep(delay)  # land the kill somewhere random inside the write loop
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    survived = check_consistent(db_path, run_id)
    assert survived > 20, f"seed {seed}: the kill landed after the writer's 21st round"


def test_exit_inside_an_open_transaction_loses_only_that_transaction(tmp_path: Path) -> None:
    new_store(tmp_path).close()
    db_path = Layout(tmp_path, "demo").db_path
    script = (
        "import os, sys\nfrom pathlib import Path\nfrom autopack.store import RunStore, PhaseState\n"
        "store = RunStore(Path(sys.argv[1]))\n"
        "store.set_phase('r1', 'p0', 'phase_started', state=PhaseState.BUILDING)\n"
        "with store.transaction() as db:\n"
        "    db.execute(\"UPDATE phases SET state='COMPLETE' WHERE run_id='r1' AND phase_id='p0'\")\n"
        "    os._exit(9)  # dies between the state write and its event\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(db_path)], capture_output=True, env=subprocess_env())
    assert proc.returncode == 9, proc.stderr.decode("utf-8", "replace")
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with RunStore(db_path) as store:
        assert store.phase("r1", "p0").state == "BUILDING"
        assert [e.kind for e in store.events("r1")] == ["run_created", "phase_started"]


def test_a_registered_secret_is_masked_in_every_text_the_store_writes(tmp_path: Path) -> None:
    from autopack.secrets import MASK, register_secret_values

    secret = "sk-store-SECRET-9d1e"
    register_secret_values([secret])
    store = new_store(tmp_path)
    aid, _ = store.start_attempt("r1", "p0", "m", "low")
    diff = f'-API_KEY = "{secret}"\n+API_KEY = "{secret}"  # moved\n'
    store.finish_attempt(aid, "failed", "patch_apply_error", f"echoed {secret}", None, None, diff, f"tail {secret}")
    store.add_event("r1", "note", {"nested": [{"text": secret}]}, phase_id="p0")
    store.close()
    with raw(Layout(tmp_path, "demo").db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        attempt = conn.execute("SELECT message, patch, gate_tail FROM attempts").fetchone()
        events = [r[0] for r in conn.execute("SELECT data_json FROM events")]
    assert attempt["patch"] == f'-API_KEY = "{MASK}"\n+API_KEY = "{MASK}"  # moved\n'
    assert attempt["message"] == f"echoed {MASK}" and attempt["gate_tail"] == f"tail {MASK}"
    assert not any(secret in e for e in events)
    on_disk = b"".join(p.read_bytes() for p in Layout(tmp_path, "demo").db_path.parent.glob("autopack.db*"))
    assert secret.encode() not in on_disk
