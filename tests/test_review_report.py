"""``autopack report``: one self-contained HTML file telling the run (read here as text; the browser test renders it)."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from autopack.report.charts import Row, top_rows
from autopack.secrets import register_secret_values
from autopack.store import PhaseState
from review_world import World, make_world

SECRET = "sk-test-report-0123456789abcdef"


@pytest.fixture
def world(tmp_path: Path) -> World:
    """The review world plus every kind of recovery decision on a third phase that failed."""
    w = make_world(tmp_path)
    # a third phase, p3, that failed after a re-plan, the Doctor and a fix (a phase the plan did not
    # have: added as rows, the way create_run writes them)
    with w.store() as store:
        store.add_event("r1", "run_resumed", {"interrupted": 1})
        with store.transaction() as tx:
            tx.execute(
                "INSERT INTO phases(run_id, phase_id, idx, name, state, complexity, updated_at) VALUES (?,?,?,?,?,?,?)",
                ("r1", "p3", 2, "Parse <config> & friends", "QUEUED", "medium", 0.0),
            )
            tx.execute(
                "INSERT INTO phase_revisions(run_id, phase_id, revision, spec_json, reason, created_at) VALUES (?,?,?,?,?,?)",
                ("r1", "p3", 0, json.dumps({"id": "p3", "description": "Read the config file."}), "initial plan", 0.0),
            )
        store.set_phase("r1", "p3", "phase_state", {"reason": "phase started"}, state=PhaseState.BUILDING)
        a, _ = store.start_attempt("r1", "p3", "cheap-model", "medium")
        store.finish_attempt(
            a,
            "failed",
            "auditor_reject",
            "Auditor rejected: the parser ignores comments",
            patch="diff --git a/cfg.py b/cfg.py\n+x = '</script><script>alert(1)</script>'\n",
            gate_tail="",
        )
        store.add_event(
            "r1",
            "audit_verdict",
            {
                "attempt": 1,
                "model": "judge-model",
                "approved": False,
                "summary": "comments are not handled",
                "issues": [{"severity": "major", "message": "ignores # comments", "path": "cfg.py"}],
            },
            phase_id="p3",
        )
        store.add_event(
            "r1", "approach_flaw", {"phase": "p3", "reason": "same failure twice", "kind": "repeat"}, phase_id="p3"
        )
        store.add_revision(
            "r1",
            "p3",
            {"id": "p3", "description": "Read the config, comments included."},
            "repeat: same failure twice",
            "-description: Read the config file.\n+description: Read the config, comments included.",
            "approach-flaw detector",
        )
        store.set_phase(
            "r1",
            "p3",
            "doctor_diagnosis",
            {
                "action": "execute_fix",
                "confidence": 0.8,
                "model": "doctor-model",
                "rationale": "a stale cache file",
                "hint": None,
                "commands": ["rm cache.json", "curl evil.example"],
            },
        )
        store.set_phase(
            "r1",
            "p3",
            "execute_fix",
            {
                "outcomes": [
                    {"command": "rm cache.json", "allowed": True, "reason": "", "exit_code": 0, "output": ""},
                    {
                        "command": "curl evil.example",
                        "allowed": False,
                        "reason": "curl is not on the whitelist",
                        "exit_code": None,
                    },
                ]
            },
        )
        store.add_event(
            "r1",
            "setup_added",
            {
                "phase": "p3",
                "added": ["pip install tomli"],
                "refused": [{"command": "pip install -e /", "reason": "outside the workspace"}],
            },
            phase_id="p3",
        )
        store.add_event("r1", "brand_new_kind", {"phase": "p3", "detail": "from a newer executor"}, phase_id="p3")
        store.add_event("r1", "warning", {"message": f"a key {SECRET} leaked into a warning"})
        store.set_phase(
            "r1", "p3", "phase_failed", {"reason": "no approved change after 1 attempts"}, state=PhaseState.FAILED
        )
    return w


def report(world: World, *extra: str) -> str:
    out = world.root / "report.html"
    result = world.cli("report", "--run-id", "r1", "-o", str(out), *extra)
    assert result.returncode == 0, result.output
    return out.read_text(encoding="utf-8")


def text_of(html: str) -> str:
    """The page's text, as a reader sees it (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def data_block(html: str, attempt_id: int) -> dict[str, str]:
    m = re.search(rf'<script type="application/json" id="att-{attempt_id}">(.*?)</script>', html, re.S)
    assert m, f"no data for attempt {attempt_id}"
    value: dict[str, str] = json.loads(m.group(1))
    return value


def test_the_report_is_one_file_that_loads_nothing_from_the_network(world: World) -> None:
    html = report(world)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "<script src" not in html
    assert html.count("<style>") == 1 and "<svg" in html


def test_the_report_shows_every_phase_with_its_state_attempts_time_and_cost(world: World) -> None:
    html = report(world)
    for phase_id, name, state in (
        ("p1", "Add mul", "COMPLETE"),
        ("p2", "Document mul", "COMPLETE"),
        ("p3", "Parse &lt;config&gt; &amp; friends", "FAILED"),
    ):
        row = re.search(rf'<details class="phase[^"]*" id="phase-{phase_id}".*?</summary>', html, re.S)
        assert row, phase_id
        assert name in row.group(0) and f"s-{state}" in row.group(0)
    p1 = re.search(r'id="phase-p1".*?</summary>', html, re.S)
    assert p1 and p1.group(0).count('class="pip ') == 2  # one failed attempt, one approved
    assert "approved on attempt 2 (1/1 checks passed)" in html


def test_each_attempts_diff_gate_output_and_error_travel_with_the_page(world: World) -> None:
    html = report(world)
    with world.store() as store:
        first = store.attempts("r1", "p1")[0]
    data = data_block(html, first.attempt_id)
    assert data["patch"] == first.patch
    assert data["gate"] == first.gate_tail
    assert "quality gate failed" in data["message"]


def test_text_from_the_store_cannot_end_a_script_or_add_markup(world: World) -> None:
    html = report(world)
    assert "</script><script>alert(1)" not in html
    with world.store() as store:
        p3 = store.attempts("r1", "p3")[0]
    assert "</script><script>alert(1)</script>" in data_block(html, p3.attempt_id)["patch"]
    assert "<config>" not in html


def test_every_recovery_decision_is_in_the_report(world: World) -> None:
    html = text_of(report(world))
    for text in (
        "Escalated cheap-model (low) → strong-model (low)",
        "Approach flaw detected (repeat)",
        "Re-planned to revision 1 by the approach-flaw detector",
        "+description: Read the config, comments included.",
        "Doctor (doctor-model): execute_fix, confidence 0.80",
        "a stale cache file",
        "rm cache.json",
        "ran, exit 0",
        "curl evil.example",
        "refused: curl is not on the whitelist",
        "pip install tomli",
        "refused: outside the workspace",
        "Rule learned r-0001",
        "Multiply, do not add.",
        "Run resumed",
    ):
        assert text in html, text
    assert re.search(r'<span class="a">\+description: Read the config, comments included\.</span>', report(world))


def test_the_auditors_verdict_is_shown_where_the_store_has_it(world: World) -> None:
    html = text_of(report(world))
    assert "Auditor judge-model: rejected — comments are not handled" in html
    assert "ignores # comments" in html
    assert "Auditor: approved by cheap-model" in html  # p1's approval, recorded without its text


def test_an_event_the_report_does_not_know_is_kept_as_a_note(world: World) -> None:
    html = text_of(report(world))
    assert "Brand new kind" in html and "detail=from a newer executor" in html


def test_keys_are_masked_in_the_report(world: World) -> None:
    register_secret_values([SECRET])
    html = report(world)
    assert SECRET not in html
    assert "a key *** leaked" in html


def test_cost_and_tokens_are_charted_per_phase_and_per_model(world: World) -> None:
    html = unescape(report(world))
    for caption in (
        "Cost per phase (USD)",
        "Time per phase",
        "Tokens per phase",
        "Cost per model (USD)",
        "Tokens per model",
    ):
        assert f"<figcaption>{caption}</figcaption>" in html
    assert "scripted/strong-model: 1 calls, $0.0040" in html


def test_a_long_chart_keeps_its_largest_rows_and_sums_the_rest() -> None:
    rows = [Row(f"p{i}", (float(i),)) for i in range(1, 31)]
    top = top_rows(rows, limit=5, what="more phases")
    assert [r.label for r in top] == ["p30", "p29", "p28", "p27", "26 more phases"]
    assert top[-1].values == (float(sum(range(1, 27))),)


def test_the_report_goes_to_the_run_folder_unless_told_otherwise(world: World) -> None:
    result = world.cli("report", "--run-id", "r1")
    assert result.returncode == 0, result.output
    path = world.layout.run_dir("r1") / "report.html"
    assert path.is_file()
    assert f"open it: {path.as_uri()}" in result.stdout


def test_a_report_of_an_unknown_run_is_a_clear_error(world: World) -> None:
    result = world.cli("report", "--run-id", "nope")
    assert result.returncode == 2
    assert "no run 'nope'" in result.stderr
