"""The debug journal tells a run's story from the run store: attempts, diagnoses, re-plans, outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from autopack.cli.memory import register
from autopack.memory.journal import render_journal, write_journal
from autopack.store import PhaseState, RunStatus, RunStore

RUN = "run-a"
DIFF = "--- revision 0\n+++ revision 1\n-scope: [src/calc.py]\n+scope: [src/calc.py, src/__init__.py]"


def make_store(home: Path) -> RunStore:
    """A run with one phase that failed twice, was diagnosed, re-planned, fixed and completed."""
    store = RunStore(home / ".autonomous_runs" / "calc" / "autopack.db")
    phases = [
        {"id": "p1", "name": "add mul", "complexity": "low"},
        {"id": "p2", "name": "docs", "complexity": "low"},
    ]
    store.create_run(RUN, "calc", "Add multiplication to calc", json.dumps({"project": "calc"}), phases)
    store.set_phase(RUN, "p1", "phase_state", {"reason": "phase started"}, state=PhaseState.BUILDING)

    a1, _ = store.start_attempt(RUN, "p1", "glm-4.6", "low")
    store.finish_attempt(
        a1,
        "failed",
        error_category="import_error",
        message="ImportError: cannot import name 'mul' from 'calc'",
        gate_tail="collected 0 items / 1 error\nE   ImportError: cannot import name 'mul' from 'calc'\n1 error in 0.05s",
    )
    store.add_event(RUN, "escalation", {"from": "glm-4.6", "to": "claude-sonnet-4-5", "reason": "2 failures"}, "p1")
    a2, _ = store.start_attempt(RUN, "p1", "claude-sonnet-4-5", "low")
    store.finish_attempt(a2, "failed", error_category="import_error", message="ImportError: cannot import name 'mul'")
    store.set_phase(
        RUN,
        "p1",
        "doctor_diagnosis",
        {"action": "replan", "confidence": 0.82, "rationale": "mul is never exported", "model": "glm-4.6"},
        doctor_calls=1,
    )
    store.add_revision(RUN, "p1", {"id": "p1", "name": "add mul", "complexity": "low"}, "approach flaw", DIFF, "doctor")
    store.set_phase(
        RUN,
        "p1",
        "execute_fix",
        {"outcomes": [{"command": "git stash", "allowed": False, "reason": "not whitelisted"}]},
    )
    a3, _ = store.start_attempt(RUN, "p1", "claude-sonnet-4-5", "low")
    store.finish_attempt(a3, "approved")
    store.add_event(RUN, "rule_learned", {"rule_id": "r-0001", "text": "Export new functions in __all__."}, "p1")
    store.add_event(RUN, "telepathy", {"vibes": "good", "level": 3}, "p1")
    store.set_phase(
        RUN, "p1", "phase_state", {"reason": "approved"}, state=PhaseState.COMPLETE, commit_sha="abc1234def5678"
    )
    store.update_run(RUN, "run_finished", status=RunStatus.FAILED, stop_reason="phase p2 fatal")
    return store


def test_journal_header_names_run_project_goal_status_and_totals(tmp_path: Path) -> None:
    with make_store(tmp_path) as store:
        md = render_journal(store, RUN)
    assert md.startswith("# Debug journal: run-a\n")
    assert "- **Project:** calc" in md
    assert "- **Goal:** Add multiplication to calc" in md
    assert "- **Status:** FAILED (phase p2 fatal)" in md
    assert "1/2 phases complete, 3 attempts (1 approved, 2 failed)" in md


def test_journal_tells_each_attempt_with_model_outcome_category_and_gate_tail(tmp_path: Path) -> None:
    with make_store(tmp_path) as store:
        md = render_journal(store, RUN)
    assert "**Attempt 1** on `glm-4.6` (low): **failed** - import_error" in md
    assert "message: ImportError: cannot import name 'mul' from 'calc'" in md
    assert "1 error in 0.05s" in md  # the gate tail
    assert "**Attempt 3** on `claude-sonnet-4-5` (low): **approved**" in md
    assert md.index("**Attempt 1**") < md.index("**Escalation**") < md.index("**Attempt 2**")


def test_journal_shows_diagnosis_replan_diff_fix_escalation_and_rule(tmp_path: Path) -> None:
    with make_store(tmp_path) as store:
        md = render_journal(store, RUN)
    assert "**Doctor** (`glm-4.6`): `replan`, confidence 0.82" in md
    assert "rationale: mul is never exported" in md
    assert "**Re-plan** to revision 1 by doctor: approach flaw" in md
    assert "```diff\n" in md and "+scope: [src/calc.py, src/__init__.py]" in md
    assert "`git stash` refused: not whitelisted" in md
    assert "**Escalation** `glm-4.6` -> `claude-sonnet-4-5`: 2 failures" in md
    assert "**Rule learned** `r-0001`: Export new functions in __all__." in md


def test_journal_lists_unknown_event_kinds_generically(tmp_path: Path) -> None:
    with make_store(tmp_path) as store:
        md = render_journal(store, RUN)
    assert "`telepathy`: vibes=good, level=3" in md


def test_journal_ends_each_phase_and_the_run_with_its_outcome(tmp_path: Path) -> None:
    with make_store(tmp_path) as store:
        md = render_journal(store, RUN)
    p1 = md[md.index("## Phase 1: p1") : md.index("## Phase 2: p2")]
    assert "**Outcome: COMPLETE** (3 attempts, 1 re-plan, 1 Doctor call, commit `abc1234def`" in p1
    p2 = md[md.index("## Phase 2: p2") :]
    assert "nothing happened in this phase yet" in p2 and "**Outcome: QUEUED** (0 attempts)" in p2
    assert md.rstrip().endswith("**Final outcome:** run FAILED (phase p2 fatal), 1/2 phases complete.")


def test_gate_output_with_backticks_cannot_break_out_of_its_code_block(tmp_path: Path) -> None:
    with RunStore(tmp_path / "autopack.db") as store:
        store.create_run("r", "p", "g", "{}", [{"id": "x", "name": "x", "complexity": "low"}])
        aid, _ = store.start_attempt("r", "x", "m", "low")
        store.finish_attempt(aid, "failed", gate_tail="```\n# not a heading\n```")
        md = render_journal(store, "r")
    assert "````text\n" in md  # a longer fence than the one inside


def test_write_journal_writes_utf8_markdown(tmp_path: Path) -> None:
    with make_store(tmp_path) as store:
        store.add_event(RUN, "note", {"text": "naïve café ✓"}, "p1")
        path = write_journal(store, RUN, tmp_path / "out" / "journal.md")
    assert "naïve café ✓" in path.read_text(encoding="utf-8")


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test host."""

    register(app)
    return app


def test_journal_command_finds_the_run_in_any_project(tmp_path: Path) -> None:
    make_store(tmp_path).close()
    RunStore(tmp_path / ".autonomous_runs" / "other" / "autopack.db").close()
    result = CliRunner().invoke(cli_app(), ["journal", "--run-id", RUN, "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Debug journal: run-a")

    out = tmp_path / "j.md"
    written = CliRunner().invoke(cli_app(), ["journal", "--run-id", RUN, "--home", str(tmp_path), "-o", str(out)])
    assert written.exit_code == 0 and out.read_text(encoding="utf-8").startswith("# Debug journal: run-a")


def test_journal_command_reports_an_unknown_run(tmp_path: Path) -> None:
    make_store(tmp_path).close()
    result = CliRunner().invoke(cli_app(), ["journal", "--run-id", "nope", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "no run 'nope'" in result.stderr
