"""``autopack run`` on a plan whose phases all succeed the first time: commits, status, output modes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import CliResult

from .conftest import ADD_MULTIPLY, APPROVE, FIRST_BUILDER, AutopackEnv, builder, phase, sr

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'

# Phase p2 builds on p1's result: its SEARCH text only exists once p1 is committed.
ADD_DIVIDE_AFTER_MULTIPLY = sr(
    "calc.py",
    "def multiply(a, b):\n    return a * b\n",
    "def multiply(a, b):\n    return a * b\n\n\ndef divide(a, b):\n    return a / b\n",
) + sr(
    "tests/test_calc.py",
    "from calc import add, multiply, subtract\n",
    "from calc import add, divide, multiply, subtract\n\n\ndef test_divide():\n    assert divide(9, 3) == 3\n",
)


def two_phase_inputs(ap: AutopackEnv) -> tuple[Any, Any]:
    plan = ap.plan(
        [
            phase("p1", name="Add multiply"),
            phase("p2", name="Add divide", depends_on=["p1"]),
        ]
    )
    script = ap.script([builder("p1", ADD_MULTIPLY), builder("p2", ADD_DIVIDE_AFTER_MULTIPLY), APPROVE])
    return plan, script


@dataclass
class HappyRun:
    ap: AutopackEnv
    result: CliResult
    status: dict[str, Any]
    tree_before: dict[str, Any]


@pytest.fixture(scope="module")
def happy(tmp_path_factory: pytest.TempPathFactory) -> HappyRun:
    """One two-phase run, shared by the tests that read what it left behind."""
    ap = AutopackEnv(tmp_path_factory.mktemp("happy"))
    plan, script = two_phase_inputs(ap)
    before = ap.user_tree()
    result = ap.run("r1", plan, script)
    return HappyRun(ap, result, ap.status("r1"), before)


def test_a_run_whose_phases_all_pass_exits_0_with_status_complete(happy: HappyRun) -> None:
    assert happy.result.returncode == 0, happy.result.output
    assert happy.status["status"] == "COMPLETE"
    assert [(p["id"], p["state"]) for p in happy.status["phases"]] == [("p1", "COMPLETE"), ("p2", "COMPLETE")]
    for p in happy.status["phases"]:
        assert [(a["number"], a["outcome"], a["error_category"]) for a in p["attempts"]] == [(1, "approved", None)]


def test_each_phase_is_one_commit_on_the_run_branch_with_its_trailers(happy: HappyRun) -> None:
    commits = happy.ap.commits("r1")
    assert len(commits) == 2
    for commit, pid in zip(commits, ("p1", "p2"), strict=True):
        message = str(commit.message)
        assert message.startswith(f"autopack({pid}): ")
        assert f"Autopack-Phase: {pid}\n" in message
        assert "Autopack-Run: r1\n" in message
    # status names the same commits
    assert [p["commit"] for p in happy.status["phases"]] == [c.hexsha for c in commits]


def test_the_run_branch_holds_the_builders_edits(happy: HappyRun) -> None:
    calc = happy.ap.show("r1", "calc.py")
    assert "def multiply(a, b):\n    return a * b" in calc
    assert "def divide(a, b):\n    return a / b" in calc
    assert "def test_divide():" in happy.ap.show("r1", "tests/test_calc.py")


def test_the_users_checkout_is_untouched(happy: HappyRun) -> None:
    assert happy.ap.user_tree() == happy.tree_before
    assert happy.tree_before["branch"] == "main"


def test_status_counts_tokens_and_cost_per_phase(happy: HappyRun) -> None:
    for p in happy.status["phases"]:
        assert p["tokens_in"] > 0 and p["tokens_out"] > 0 and p["cost_usd"] > 0
    totals = happy.status["totals"]
    assert totals["calls"] == 4  # a Builder and an Auditor call per phase
    assert totals["cost_usd"] == pytest.approx(sum(p["cost_usd"] for p in happy.status["phases"]))
    assert {m["provider"] for m in happy.status["by_model"]} == {"scripted"}


def test_a_summary_is_printed_at_the_end(happy: HappyRun) -> None:
    out = happy.result.stdout
    assert "run r1: COMPLETE" in out
    assert "2 complete" in out
    assert "autopack/r1" in out
    # the progress lines come first, the summary table last
    assert out.index("phase 2/2 p2") < out.index("run r1: COMPLETE")


def test_the_store_logs_the_phases_in_order(happy: HappyRun) -> None:
    completed = [e.phase_id for e in happy.ap.events("r1", "phase_complete")]
    assert completed == ["p1", "p2"]
    kinds = [e.kind for e in happy.ap.events("r1")]
    assert kinds[0] == "run_created" and kinds[-1] == "run_finished"


def test_json_mode_streams_json_lines_ending_in_a_summary(ap: AutopackEnv) -> None:
    plan, script = two_phase_inputs(ap)
    result = ap.run("rj", plan, script, "--json")
    assert result.returncode == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]  # every line is one JSON object
    events = [e["event"] for e in lines]
    assert events[0] == "run_started"
    assert events.count("phase_complete") == 2
    assert events[-2] == "run_finished"
    summary = lines[-1]
    assert summary["event"] == "summary"
    assert (summary["status"], summary["exit_code"], summary["run_id"]) == ("COMPLETE", 0, "rj")
    assert [p["state"] for p in summary["phases"]] == ["COMPLETE", "COMPLETE"]


def test_dry_run_shows_the_start_model_and_writes_nothing(ap: AutopackEnv) -> None:
    plan, script = two_phase_inputs(ap)
    before = ap.user_tree()
    result = ap.run("rd", plan, script, "--dry-run")
    assert result.returncode == 0, result.output
    assert FIRST_BUILDER in result.stdout  # the model a low-complexity phase starts on
    assert "p1" in result.stdout and "p2" in result.stdout
    assert "nothing was written" in result.stdout
    assert not ap.home.exists()
    assert ap.user_tree() == before
    assert not [h for h in ap.repo.heads if h.name.startswith("autopack/")]
