"""An edit that applied only by tolerant matching leaves a trace: an event, a line in the journal and an
``Autopack-Inexact`` trailer on the phase's commit, naming the file and how it was placed."""

from __future__ import annotations

import pytest

from .conftest import APPROVE, PYTEST, AutopackEnv, builder, phase, sr

pytestmark = pytest.mark.slow

# The SEARCH line carries trailing spaces the file does not have: placed by ignoring them.
DRIFTED = sr(
    "calc.py",
    "def subtract(a, b):   \n    return a - b\n",
    "def subtract(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    return a * b\n",
)


def test_an_inexactly_applied_edit_is_recorded_in_events_journal_and_commit(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply", checks=[PYTEST])])
    script = ap.script([builder("p1", DRIFTED), APPROVE])

    result = ap.run("r1", plan, script)

    assert result.returncode == 0, result.output
    (commit,) = ap.commits("r1")
    assert "Autopack-Inexact: calc.py: matched ignoring trailing whitespace" in commit.message
    (event,) = ap.events("r1", "edits_inexact")
    assert event.data["edits"] == ["calc.py: matched ignoring trailing whitespace"]
    journal = ap.cli("journal", "--run-id", "r1", "--home", str(ap.home))
    assert (
        "Edits applied inexactly" in journal.stdout
        and "calc.py: matched ignoring trailing whitespace" in journal.stdout
    )


def test_an_exact_edit_leaves_no_inexact_trace(ap: AutopackEnv) -> None:
    exact = DRIFTED.replace("def subtract(a, b):   \n", "def subtract(a, b):\n", 1)
    plan = ap.plan([phase("p1", name="Add multiply", checks=[PYTEST])])
    script = ap.script([builder("p1", exact), APPROVE])

    assert ap.run("r1", plan, script).returncode == 0
    assert "Autopack-Inexact" not in ap.commits("r1")[0].message
    assert ap.events("r1", "edits_inexact") == []
