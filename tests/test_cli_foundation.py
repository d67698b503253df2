"""The command line, run for real in a subprocess: help, config, plan, runs, status, UTF-8 hardening."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autopack.config import SHIPPED_CONFIG, load_config
from autopack.layout import Layout
from autopack.store import CallRecord, PhaseState, RunStore
from conftest import CliResult, RunCli, cli_env

SDK_MODULES = ("anthropic", "openai", "zhipuai", "google.genai")

PLAN = """\
project: demo
goal: Add a greeting module
phases:
  - id: p1
    name: Greeting
    description: Write greet() in src/greet.py
    scope: [src/greet.py]
  - id: p2
    name: Tests
    description: Test greet()
    complexity: medium
    scope: [tests/test_greet.py]
    depends_on: [p1]
"""

CHAINS = """\
escalation_chains:
  builder:
    low: {models: [glm-4.6]}
    medium: {models: [glm-4.6]}
    high: {models: [claude-sonnet-4-5]}
  auditor:
    low: {models: [glm-4.6]}
    medium: {models: [glm-4.6]}
    high: {models: [claude-sonnet-4-5]}
"""

# LANG=C with an ASCII stdout and no UTF-8 mode: the terminal that breaks naive programs.
ASCII_TERMINAL: dict[str, str | None] = {"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "ascii", "PYTHONUTF8": None}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def assert_user_error(result: CliResult, *expected: str) -> None:
    """Exit code 2, one red 'error:' line with every expected fragment, and no traceback."""
    assert result.returncode == 2, result.output
    assert result.stderr.startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def populate(home: Path, project: str = "demo", run_id: str = "run-1") -> None:
    """A run with one finished phase, one phase in its second attempt, and two LLM calls."""
    with RunStore(Layout(home, project).db_path) as store:
        phases = [
            {"id": "p1", "name": "Greeting", "complexity": "low"},
            {"id": "p2", "name": "Café ünïcode ✓", "complexity": "medium"},
        ]
        store.create_run(run_id, project, "Add a greeting module", "{}", phases)
        store.update_run(run_id, branch=f"autopack/{run_id}")
        a1, _ = store.start_attempt(run_id, "p1", "glm-4.6", "low")
        store.record_call(
            run_id, CallRecord("builder", "glm", "glm-4.6", tokens_in=1000, tokens_out=200, cost_usd=0.0011), "p1", a1
        )
        store.finish_attempt(a1, "approved")
        store.set_phase(run_id, "p1", "phase_complete", state=PhaseState.COMPLETE, commit_sha="0123456789abcdef")
        a2, _ = store.start_attempt(run_id, "p2", "glm-4.6", "medium")
        store.finish_attempt(a2, "failed", error_category="ci_fail", message="1 failed, 3 passed")
        a3, _ = store.start_attempt(run_id, "p2", "claude-sonnet-4-5", "medium")
        store.record_call(
            run_id,
            CallRecord("builder", "anthropic", "claude-sonnet-4-5", tokens_in=3000, tokens_out=500, cost_usd=0.0165),
            "p2",
            a3,
        )
        store.set_phase(run_id, "p2", "phase_building", state=PhaseState.BUILDING, model="claude-sonnet-4-5")


# help, and no provider SDK at startup ------------------------------------------------------------
def test_help_lists_the_commands_without_importing_any_provider_sdk(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "autopack.cli", "--help"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("config", "plan", "runs", "status"):
        assert command in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "typer" in imported  # the log is real: it shows what --help did import
    sdk = sorted(m for m in imported if any(m == s or m.startswith(s + ".") for s in SDK_MODULES))
    assert sdk == [], f"--help imported provider SDKs: {sdk}"
    gitpython = sorted(m for m in imported if m.split(".")[0] == "git")
    assert gitpython == [], f"--help imported GitPython: {gitpython}"


# config ------------------------------------------------------------------------------------------
def test_config_validate_accepts_the_shipped_file(run_cli: RunCli) -> None:
    result = run_cli("config", "validate", str(Path(__file__).parents[1] / "config" / "models.yaml"))
    assert result.returncode == 0, result.output
    assert "ok" in result.stdout and "priced models" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            CHAINS + "replan:\n  trigger_treshold: 3\nretries:\n  max_retries: lots\n",
            [
                "cfg.yaml:11: replan.trigger_treshold: unknown key",
                "cfg.yaml:13: retries.max_retries: Input should be a valid integer",
            ],
        ),
        (
            CHAINS.replace("medium: {models: [glm-4.6]}", "medium: {models: [glm-4.6, foo-1]}", 1),
            ["cfg.yaml:4: escalation_chains.builder.medium.models[1]: unknown model 'foo-1'"],
        ),
    ],
    ids=["unknown-key-and-wrong-type", "unknown-model"],
)
def test_config_validate_reports_file_key_path_and_line(
    run_cli: RunCli, tmp_path: Path, text: str, expected: list[str]
) -> None:
    cfg = write(tmp_path / "cfg.yaml", text)
    result = run_cli("config", "validate", str(cfg), env={"AUTOPACK_HOME": str(tmp_path / "home")})
    assert_user_error(result, str(cfg), *expected)
    assert not (tmp_path / ".autonomous_runs").exists()
    assert not (tmp_path / "home").exists()


def test_config_show_prints_the_shipped_config_by_default(run_cli: RunCli) -> None:
    result = run_cli("config", "show")
    assert result.returncode == 0, result.output
    assert "# effective config from" in result.stdout and "models.yaml" in result.stdout
    assert "MAX_TOTAL_FAILURES_PER_RUN: 40" in result.stdout
    chain = load_config(SHIPPED_CONFIG).routing.fallback_chain
    assert "fallback_chain:\n" + "".join(f"  - {p}\n" for p in chain) in result.stdout


def test_autopack_config_variable_overrides_the_shipped_file(run_cli: RunCli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "env.yaml", CHAINS + "health_budget: {MAX_HTTP_500_PER_RUN: 4}\n")
    result = run_cli("config", "show", "--json", env={"AUTOPACK_CONFIG": str(cfg)})
    assert result.returncode == 0, result.output
    data = json.loads(result.stdout)
    assert data["health_budget"]["MAX_HTTP_500_PER_RUN"] == 4
    assert data["health_budget"]["MAX_PATCH_FAILURES_PER_RUN"] == 15  # defaults fill what the file leaves out


def test_config_option_wins_over_the_variable(run_cli: RunCli, tmp_path: Path) -> None:
    env_cfg = write(tmp_path / "env.yaml", CHAINS + "health_budget: {MAX_HTTP_500_PER_RUN: 4}\n")
    cli_cfg = write(tmp_path / "cli.yaml", CHAINS + "health_budget: {MAX_HTTP_500_PER_RUN: 5}\n")
    result = run_cli("config", "show", "--config", str(cli_cfg), env={"AUTOPACK_CONFIG": str(env_cfg)})
    assert result.returncode == 0, result.output
    assert f"# effective config from {cli_cfg}" in result.stdout
    assert "MAX_HTTP_500_PER_RUN: 5" in result.stdout


def test_broken_autopack_config_is_reported_not_ignored(run_cli: RunCli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "env.yaml", CHAINS + "bogus: 1\n")
    assert_user_error(run_cli("config", "show", env={"AUTOPACK_CONFIG": str(cfg)}), "env.yaml:10: bogus: unknown key")


def test_config_show_never_prints_a_secret(run_cli: RunCli, tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "cfg.yaml",
        "endpoints:\n  - {name: proxy, base_url: 'http://127.0.0.1:9/v1', api_key_env: ANTHROPIC_API_KEY}\n" + CHAINS,
    )
    result = run_cli(
        "config",
        "show",
        "--config",
        str(cfg),
        env={"ANTHROPIC_API_KEY": "sk-ant-SECRET123", "GLM_API_KEY": "glm-SECRET456"},
    )
    assert result.returncode == 0, result.output
    assert "api_key_env: ANTHROPIC_API_KEY" in result.stdout  # which variable holds the key is fine to show
    assert "SECRET123" not in result.output
    assert "SECRET456" not in result.output


# plan --------------------------------------------------------------------------------------------
BAD_PLANS = {
    "malformed-yaml": (PLAN.replace("    name: Tests\n", "    name: Tests: more\n"), ["plan.yaml:9: malformed YAML"]),
    "schema-and-scopes": (
        PLAN.replace("    complexity: medium\n", "    complexty: medium\n    checks: 5\n")
        .replace("[tests/test_greet.py]", "[/etc/passwd]")
        .replace("    scope: [src/greet.py]\n", "    scope: [../other/x.py]\n    context: [.git/config]\n"),
        [
            "plan.yaml:7: phases[0].scope: Value error, '../other/x.py' leaves the project directory",
            "plan.yaml:8: phases[0].context: Value error, '.git/config' points into .git/",
            "plan.yaml:12: phases[1].complexty: unknown key",
            "plan.yaml:13: phases[1].checks: Input should be a valid list",
            "plan.yaml:14: phases[1].scope: Value error, '/etc/passwd' is absolute",
        ],
    ),
    "duplicate-id-and-unknown-dependency": (
        PLAN.replace("id: p2", "id: p1").replace("depends_on: [p1]", "depends_on: [p0]"),
        [
            "plan.yaml:8: phases[1].id: duplicate phase id 'p1'",
            "plan.yaml:13: phases[1].depends_on[0]: unknown phase 'p0' in depends_on",
        ],
    ),
    "cyclic-dependency": (
        PLAN.replace("    scope: [src/greet.py]\n", "    scope: [src/greet.py]\n    depends_on: [p2]\n"),
        ["plan.yaml:8: phases[0].depends_on: cyclic depends_on: p1 -> p2 -> p1"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_PLANS))
def test_plan_validate_reports_file_key_path_and_line_and_writes_nothing(
    run_cli: RunCli, tmp_path: Path, case: str
) -> None:
    text, expected = BAD_PLANS[case]
    plan = write(tmp_path / "plan.yaml", text)
    result = run_cli("plan", "validate", str(plan), env={"AUTOPACK_HOME": str(tmp_path / "home")})
    assert_user_error(result, str(plan), *expected)
    assert not (tmp_path / ".autonomous_runs").exists()
    assert not (tmp_path / "home").exists()


def test_plan_validate_accepts_a_json_plan_and_writes_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    data = {
        "project": "demo",
        "goal": "g",
        "tiers": [
            {"name": "t1", "phases": [{"id": "a", "name": "A", "description": "d", "scope": ["a.py"]}]},
            {"name": "t2", "phases": [{"id": "b", "name": "B", "description": "d", "scope": ["b.py"]}]},
        ],
    }
    plan = write(tmp_path / "plan.json", json.dumps(data))
    # a key for the fallback chain: every role can then be answered (validate makes no call)
    result = run_cli("plan", "validate", str(plan), env={"ANTHROPIC_API_KEY": "sk-ant-never-sent"})
    assert result.returncode == 0, result.output
    assert "project 'demo', 2 phases" in result.stdout
    assert not (tmp_path / ".autonomous_runs").exists()


def test_plan_validate_refuses_a_plan_that_reaches_an_unpriced_model(run_cli: RunCli, tmp_path: Path) -> None:
    # layered over the shipped prices: a model none of the layers prices
    cfg = write(tmp_path / "cfg.yaml", CHAINS.replace("claude-sonnet-4-5", "claude-opus-9"))
    plan = write(tmp_path / "plan.yaml", PLAN)
    result = run_cli("plan", "validate", str(plan), "--config", str(cfg))
    assert_user_error(result, str(plan), "model 'claude-opus-9' has no price", "mark it `free`")
    assert not (tmp_path / ".autonomous_runs").exists()


def test_errors_are_not_wrapped_in_a_narrow_terminal(run_cli: RunCli, tmp_path: Path) -> None:
    plan = write(tmp_path / "plan.yaml", PLAN.replace("depends_on: [p1]", "depends_on: [p0]"))
    result = run_cli("plan", "validate", str(plan), env={"COLUMNS": "60"})
    assert "phases[1].depends_on[0]: unknown phase 'p0' in depends_on" in result.stderr, result.stderr


# runs and status ---------------------------------------------------------------------------------
def test_runs_with_no_store_says_there_are_none(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("runs")
    assert result.returncode == 0, result.output
    assert "no runs yet" in result.stdout
    assert not (tmp_path / ".autonomous_runs").exists()


def test_runs_lists_the_runs_of_every_project(run_cli: RunCli, tmp_path: Path) -> None:
    populate(tmp_path, "shop", "run-1")
    populate(tmp_path, "blog", "run-2")
    data = json.loads(run_cli("runs", "--json").stdout)
    assert sorted((r["project"], r["run_id"], r["phases"], r["complete"]) for r in data) == [
        ("blog", "run-2", 2, 1),
        ("shop", "run-1", 2, 1),
    ]
    table = run_cli("runs", "--home", str(tmp_path), cwd=tmp_path.parent)
    assert table.returncode == 0, table.output
    assert re.search(r"run-1\W+shop\W+RUNNING\W+1/2\W+0\.0176\W+autopack/run-1", table.stdout), table.stdout
    assert "run-2" in table.stdout


def test_status_json_shows_phases_attempts_tokens_and_cost(run_cli: RunCli, tmp_path: Path) -> None:
    populate(tmp_path)
    result = run_cli("status", "--run-id", "run-1", "--json")
    assert result.returncode == 0, result.output
    data = json.loads(result.stdout)
    assert (data["run_id"], data["project"], data["status"], data["branch"]) == (
        "run-1",
        "demo",
        "RUNNING",
        "autopack/run-1",
    )
    p1, p2 = data["phases"]
    assert (p1["id"], p1["state"], p1["commit"], p1["tokens_in"], p1["tokens_out"]) == (
        "p1",
        "COMPLETE",
        "0123456789abcdef",
        1000,
        200,
    )
    assert (p2["name"], p2["state"], p2["model"]) == ("Café ünïcode ✓", "BUILDING", "claude-sonnet-4-5")
    assert [(a["number"], a["model"], a["outcome"]) for a in p2["attempts"]] == [
        (1, "glm-4.6", "failed"),
        (2, "claude-sonnet-4-5", "running"),
    ]
    assert p2["attempts"][0]["error_category"] == "ci_fail"
    assert (data["totals"]["calls"], data["totals"]["tokens_in"], data["totals"]["tokens_out"]) == (2, 4000, 700)
    assert data["totals"]["cost_usd"] == pytest.approx(0.0176)
    assert {m["model"]: m["calls"] for m in data["by_model"]} == {"glm-4.6": 1, "claude-sonnet-4-5": 1}


def test_status_table_shows_phases_attempts_tokens_and_cost(run_cli: RunCli, tmp_path: Path) -> None:
    populate(tmp_path)
    result = run_cli("status", "--run-id", "run-1", "--home", str(tmp_path), cwd=tmp_path.parent)
    assert result.returncode == 0, result.output
    out = result.stdout
    assert "run-1 (demo): RUNNING" in out
    # one row per phase: state, attempts, last outcome, tokens in/out, cost, commit
    assert re.search(r"p1 Greeting\W+COMPLETE\W+1\W+approved\W+1000/200\W+0\.0011\W+0123456789", out), out
    assert re.search(r"p2 Café ünïcode ✓\W+BUILDING\W+2\W+running\W+3000/500\W+0\.0165", out), out
    assert re.search(r"total\W+2\W+4000\W+700\W+0\W+0\.0176", out), out


def test_status_of_an_unknown_run_is_a_clear_error(run_cli: RunCli, tmp_path: Path) -> None:
    populate(tmp_path)
    assert_user_error(run_cli("status", "--run-id", "nope"), "no run 'nope'", "autopack runs")


# UTF-8 on a LANG=C terminal ----------------------------------------------------------------------
def assert_prints_unicode(result: CliResult, text: str) -> None:
    assert result.returncode == 0, result.output
    assert "UnicodeEncodeError" not in result.output and "Traceback" not in result.output
    # the text itself, or replacement characters in its place: never a crash
    assert text in result.stdout or text.encode("ascii", "replace").decode() in result.stdout, result.stdout


def test_config_show_on_an_ascii_terminal_prints_non_ascii_values(run_cli: RunCli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "cfg.yaml", CHAINS + "quality_gate:\n  default_checks: ['echo Café ünïcode ✓']\n")
    assert_prints_unicode(run_cli("config", "show", "--config", str(cfg), env=ASCII_TERMINAL), "Café ünïcode ✓")


def test_plan_show_on_an_ascii_terminal_prints_non_ascii_names(run_cli: RunCli, tmp_path: Path) -> None:
    pytest.importorskip(
        "autopack.recovery.escalation", reason="plan show needs recovery.escalation.first_model, not written yet"
    )
    plan = write(tmp_path / "plan.yaml", PLAN.replace("name: Greeting", "name: Café ünïcode ✓"))
    result = run_cli("plan", "show", str(plan), env=ASCII_TERMINAL)
    assert_prints_unicode(result, "Café ünïcode ✓")
    assert "p1" in result.stdout and "p2" in result.stdout


def test_status_on_an_ascii_terminal_prints_non_ascii_names(run_cli: RunCli, tmp_path: Path) -> None:
    populate(tmp_path)
    assert_prints_unicode(run_cli("status", "--run-id", "run-1", env=ASCII_TERMINAL), "Café ünïcode ✓")


def test_errors_with_non_ascii_paths_print_on_an_ascii_terminal(run_cli: RunCli, tmp_path: Path) -> None:
    plan = write(tmp_path / "plän ✓.yaml", PLAN.replace("[src/greet.py]", "[/etc/passwd]"))
    result = run_cli("plan", "validate", str(plan), env=ASCII_TERMINAL)
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    assert "plän ✓.yaml" in result.stderr or "pl?n ?.yaml" in result.stderr
