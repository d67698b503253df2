"""Memory across runs: a phase that failed and was then fixed leaves a learned rule in the project's
rules.yaml, a later run's Builder is told that rule, and the run's journal tells the story."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CliResult

from .conftest import (
    ADD_MULTIPLY,
    APPROVE,
    RULE_TEXT,
    WORD_RULE,
    WRONG_SEARCH,
    AutopackEnv,
    attempts,
    builder,
    phase,
    recorded_prompts,
)

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'


@dataclass
class TwoRuns:
    ap: AutopackEnv
    first: CliResult
    second: CliResult
    first_prompts: list[str]  # Builder prompts of the run that learned the rule
    second_prompts: list[str]  # Builder prompts of the later run
    rules_after_first: dict[str, Any]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    ap = AutopackEnv(tmp_path_factory.mktemp("memory"))
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    first = ap.run("m1", plan, script, "--record", str(ap.root / "rec1"))
    rules = yaml.safe_load(ap.rules_path.read_text(encoding="utf-8")) if ap.rules_path.exists() else {}

    # A later run of the same project, with a new run id and plan: right the first time.
    later_plan = ap.plan([phase("q1", name="Add multiply again")], name="later.yaml")
    later_script = ap.script([builder("q1", ADD_MULTIPLY), APPROVE], name="later-script.yaml")
    second = ap.run("m2", later_plan, later_script, "--record", str(ap.root / "rec2"))
    return TwoRuns(
        ap,
        first,
        second,
        recorded_prompts(ap.root / "rec1", "builder"),
        recorded_prompts(ap.root / "rec2", "builder"),
        rules,
    )


def test_a_failed_then_fixed_phase_writes_a_rule_to_the_projects_rules_file(two_runs: TwoRuns) -> None:
    assert two_runs.first.returncode == 0, two_runs.first.output
    assert attempts(two_runs.ap.status("m1"), "p1") == [("failed", "patch_apply_error"), ("approved", None)]
    (rule,) = two_runs.rules_after_first["rules"]
    assert rule["text"] == RULE_TEXT
    assert rule["category"] == "patch_apply_error"
    assert rule["source_runs"] == ["m1"]
    assert rule["phase_categories"] == ["feature"]
    (learned,) = two_runs.ap.events("m1", "rule_learned")
    assert (learned["phase_id"], learned["data"]["text"], learned["data"]["source"]) == ("p1", RULE_TEXT, "model")


def test_the_rule_is_in_a_later_runs_builder_prompt(two_runs: TwoRuns) -> None:
    assert two_runs.second.returncode == 0, two_runs.second.output
    (prompt,) = two_runs.second_prompts
    assert "Learned rules for this project" in prompt
    assert RULE_TEXT in prompt
    # ... and it was not there before it was learned
    assert RULE_TEXT not in two_runs.first_prompts[0]


def test_a_phase_right_the_first_time_learns_nothing(two_runs: TwoRuns) -> None:
    assert two_runs.ap.events("m2", "rule_learned") == []
    rules = yaml.safe_load(two_runs.ap.rules_path.read_text(encoding="utf-8"))
    assert [r["text"] for r in rules["rules"]] == [RULE_TEXT]


def test_the_journal_command_lists_the_attempts_and_the_rule(two_runs: TwoRuns) -> None:
    out = two_runs.ap.invoke("journal", "--run-id", "m1", "--home", str(two_runs.ap.home))
    assert "# Debug journal: m1" in out
    attempt_lines = [line for line in out.splitlines() if "**Attempt " in line]
    assert len(attempt_lines) == 2
    assert "failed" in attempt_lines[0] and "patch_apply_error" in attempt_lines[0]
    assert "approved" in attempt_lines[1]
    assert "The closest lines really in calc.py" in out  # the failure's message
    assert "Rule learned" in out and RULE_TEXT in out


def test_the_journal_is_written_to_the_run_folder(two_runs: TwoRuns) -> None:
    journal: Path = two_runs.ap.run_dir("m1") / "journal.md"
    text = journal.read_text(encoding="utf-8")
    assert text.startswith("# Debug journal: m1")
    assert "patch_apply_error" in text
    assert RULE_TEXT in text
    assert "**Status:** COMPLETE" in text


def test_a_rule_that_says_nothing_the_error_did_not_is_not_kept(tmp_path: Path) -> None:
    ap = AutopackEnv(tmp_path)
    plan = ap.plan([phase("p1", name="Add multiply")])
    generic = {**WORD_RULE, "text": json.dumps({"rule": "Make sure the phase's checks pass before replying."})}
    script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, generic])
    result = ap.run("g1", plan, script)

    assert result.returncode == 0, result.output
    assert ap.events("g1", "rule_learned") == []
    (dropped,) = ap.events("g1", "rule_dropped")
    assert dropped["data"]["text"] == "Make sure the phase's checks pass before replying."
    assert "says nothing the error did not" in dropped["data"]["reason"]
    rules = yaml.safe_load(ap.rules_path.read_text(encoding="utf-8")) if ap.rules_path.exists() else {}
    assert not (rules or {}).get("rules")
