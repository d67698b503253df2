"""Every YAML file autopack reads (plans, config, rules.yaml, response scripts) is refused, quickly and with
a line number, when its aliases would expand without bound; ids and check commands that could only fail
mid-run are refused when the plan is validated."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from autopack.config import ConfigError, load_config
from autopack.errors import AutopackError
from autopack.llm.scripted import ScriptedProvider
from autopack.memory.rules import RuleBook
from autopack.plan import load_plan
from autopack.workspace.worktree import validate_run_id
from autopack.yamlfile import MAX_ALIAS_EXPANSION
from conftest import cli_env

PLAN_HEAD = "project: p\ngoal: g\nphases:\n  - {id: p1, name: n, description: d, scope: [a.py]}\n"


def laughs(levels: int = 9) -> str:
    """The classic 'billion laughs': each level is a list of nine aliases of the level before."""
    out = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        out.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(out) + "\n"


def merge_bomb(levels: int = 40) -> str:
    """The same through merge keys: each mapping merges the one before twice."""
    out = ["m0: &m0 {k0: v}"]
    for i in range(1, levels):
        out.append(f"m{i}: &m{i}\n  <<: [*m{i - 1}, *m{i - 1}]\n  k{i}: v")
    return "\n".join(out) + "\n"


def _limit_memory() -> None:  # an unguarded loader dies here instead of taking the machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autopack.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=cli_env(),
        preexec_fn=_limit_memory,
    )


@pytest.mark.parametrize("bomb", [laughs, merge_bomb], ids=["aliases", "merge-keys"])
def test_plan_validate_refuses_an_alias_bomb_with_the_line_and_exit_2(tmp_path: Path, bomb) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN_HEAD + bomb(), encoding="utf-8")

    proc = cli(tmp_path, "plan", "validate", "plan.yaml")

    assert proc.returncode == 2, proc.stderr
    assert "alias" in proc.stderr and "plan.yaml:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_validate_refuses_an_alias_bomb(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(laughs(), encoding="utf-8")

    proc = cli(tmp_path, "config", "validate", "models.yaml")

    assert proc.returncode == 2, proc.stderr
    assert "models.yaml:" in proc.stderr and "alias bomb" in proc.stderr


def test_rules_yaml_and_response_scripts_refuse_an_alias_bomb(tmp_path: Path) -> None:
    rules, script = tmp_path / "rules.yaml", tmp_path / "script.yaml"
    rules.write_text(laughs(), encoding="utf-8")
    script.write_text(laughs(), encoding="utf-8")
    with pytest.raises(AutopackError, match="alias"):
        RuleBook.load(rules)
    with pytest.raises(AutopackError, match="alias"):
        ScriptedProvider(script)


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("x: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="recursive"):
        load_config(path)


def test_ordinary_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    defaults = "phase_defaults: &d {description: d, scope: [a.py], checks: ['true']}\n"
    phases = "".join(f"  - {{<<: *d, id: p{i}, name: n{i}}}\n" for i in range(200))
    path = tmp_path / "plan.yaml"
    path.write_text(
        "project: p\ngoal: g\n" + defaults.replace("phase_defaults", "x-defaults") + "phases:\n" + phases,
        encoding="utf-8",
    )
    # `x-defaults` is an unknown key for the plan schema: the anchors load, then validation names that key.
    with pytest.raises(AutopackError, match="x-defaults"):
        load_plan(path)
    assert 200 * 3 < MAX_ALIAS_EXPANSION  # the reuse above is well inside the bound


def test_a_phase_id_too_long_for_a_file_name_is_refused_at_validation(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD.replace("id: p1", "id: " + "p" * 250), encoding="utf-8")
    with pytest.raises(AutopackError) as info:
        load_plan(path)
    assert "phases[0].id" in str(info.value) and "100 characters" in str(info.value)


def test_a_project_name_too_long_is_refused_at_validation(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD.replace("project: p", "project: " + "q" * 101), encoding="utf-8")
    with pytest.raises(AutopackError, match="project"):
        load_plan(path)


def test_a_run_id_too_long_for_a_file_name_is_refused() -> None:
    validate_run_id("r" * 100)
    with pytest.raises(AutopackError, match="at most 100"):
        validate_run_id("r" * 101)


@pytest.mark.parametrize("command", ["", "   "], ids=["empty", "blank"])
def test_an_empty_check_command_is_refused_in_a_plan(tmp_path: Path, command: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_HEAD.replace("scope: [a.py]", f"scope: [a.py], checks: ['{command}']"), encoding="utf-8")
    with pytest.raises(AutopackError) as info:
        load_plan(path)
    assert "phases[0].checks[0]" in str(info.value) and "empty check command" in str(info.value)


def test_an_empty_default_check_is_refused_in_plan_and_config(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_HEAD + "default_checks: ['']\n", encoding="utf-8")
    with pytest.raises(AutopackError, match="empty check command"):
        load_plan(plan)
    cfg = tmp_path / "models.yaml"
    cfg.write_text("quality_gate: {default_checks: ['']}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty check command"):
        load_config(cfg)
