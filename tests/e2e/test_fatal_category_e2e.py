"""An Auditor issue that says the approach itself is wrong (a fatal error type) re-plans the phase at once."""

from __future__ import annotations

import json

import pytest

from .conftest import ADD_MULTIPLY, APPROVE, WORD_RULE, AutopackEnv, attempts, auditor, builder, phase

pytestmark = pytest.mark.slow

REVISED = "REVISED: use plain Python arithmetic, no numpy."


def test_a_wrong_tech_stack_verdict_triggers_an_immediate_replan_then_the_phase_completes(tmp_path) -> None:
    ap = AutopackEnv(tmp_path)
    plan = ap.plan([phase("p1", description="Add multiply(a, b) to calc.py, with a test.")])
    reject = {
        "approved": False,
        "summary": "pulls in numpy for one product",
        "issues": [
            {
                "severity": "critical",
                "message": "numpy is not a dependency of this project",
                "category": "wrong_tech_stack",
            }
        ],
    }
    script = ap.script(
        [
            {**builder("p1", ADD_MULTIPLY, label="revised build"), "match": r"ROLE: builder[\s\S]*REVISED:"},
            builder("p1", ADD_MULTIPLY, label="first build"),
            {**auditor(reject, label="auditor: wrong stack"), "match": r"ROLE: auditor(?![\s\S]*REVISED:)"},
            {
                "label": "planner re-plans",
                "match": r"ROLE: planner[\s\S]*keeps failing",
                "text": json.dumps(
                    {
                        "description": REVISED,
                        "steps": [],
                        "scope": ["calc.py", "tests/test_calc.py"],
                        "rationale": "the auditor said the stack is wrong",
                    }
                ),
            },
            APPROVE,
            WORD_RULE,
        ]
    )
    res = ap.run("f1", plan, script)
    assert res.returncode == 0, res.output
    status = ap.status("f1")
    assert attempts(status, "p1") == [("failed", "wrong_tech_stack"), ("approved", None)]
    flaws = ap.events("f1", "approach_flaw")
    assert len(flaws) == 1 and flaws[0].data["kind"] == "fatal_error_type"
    replans = ap.events("f1", "phase_replanned")
    assert len(replans) == 1 and REVISED in replans[0].data["diff"]
