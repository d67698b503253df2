"""What a run records for review: every Auditor verdict as an event, and each finished phase's duration
in the `--json` progress events and `status --json`."""

from __future__ import annotations

import json

import pytest

from .conftest import ADD_MULTIPLY, APPROVE, AutopackEnv, builder, phase

pytestmark = pytest.mark.slow


def test_the_auditors_verdict_is_recorded_and_each_finished_phase_says_how_long_it_took(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])

    result = ap.run("r1", plan, script, "--json")

    assert result.returncode == 0, result.output
    (verdict,) = ap.events("r1", "audit_verdict")
    assert verdict.data["approved"] is True and verdict.data["summary"] == "looks right"
    assert verdict.data["attempt"] == 1 and verdict.data["model"]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    (done,) = [e for e in events if e.get("event") == "phase_complete"]
    assert done["duration_s"] > 0
    assert ap.status("r1")["phases"][0]["duration_s"] > 0
