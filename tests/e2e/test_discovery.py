"""Discovery: commands work from any folder of a project (the git root is the default project and home),
.env files are read from the project root, the current directory and --env-file, and the config is
layered (shipped < user < project < --config); ``config init`` writes a commented starting config."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import CliResult

from .conftest import ADD_MULTIPLY, APPROVE, AUTOPACK, PROJECT, SHIPPED, AutopackEnv, builder, phase

pytestmark = pytest.mark.slow

KEY_VARS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GLM_API_KEY", "ZHIPUAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


class Env(AutopackEnv):
    """No provider key, no user config of the machine's owner, and the CLI run from any folder."""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if k not in KEY_VARS}
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg")
        return env

    def cli_in(self, cwd: Path, *args: str) -> CliResult:
        proc = subprocess.run([*AUTOPACK, *args], cwd=cwd, env=self.env(), capture_output=True, timeout=120)
        return CliResult(
            proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )


@pytest.fixture
def ap(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_run_status_and_journal_work_from_any_folder_of_the_project(ap: Env) -> None:
    plan = ap.plan([phase("p1")])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])
    sub = ap.repo_dir / "tests"
    result = ap.cli_in(sub, "run", "--run-id", "r1", "--plan", str(plan), "--script", str(script))
    assert result.returncode == 0, result.output
    # the project is the repository around the folder, and so is the home
    assert (ap.repo_dir / ".autonomous_runs" / PROJECT / "autopack.db").is_file()
    assert not (sub / ".autonomous_runs").exists()
    assert "def multiply" in ap.show("r1", "calc.py")
    status = ap.cli_in(sub, "status", "--run-id", "r1", "--json")
    assert status.returncode == 0, status.output
    assert json.loads(status.stdout)["status"] == "COMPLETE"
    worktree = Path(json.loads(status.stdout)["worktree"])
    # inside the run's own worktree, the project is still the user's repository
    inside = ap.cli_in(worktree, "journal", "--run-id", "r1")
    assert inside.returncode == 0, inside.output
    assert "r1" in inside.stdout


def test_a_key_in_the_projects_env_file_is_found_from_a_subfolder(ap: Env) -> None:
    plan = ap.plan([phase("p1")])
    sub = ap.repo_dir / "tests"
    assert ap.cli_in(sub, "plan", "validate", str(plan)).returncode == 2  # no key anywhere yet
    (ap.repo_dir / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-from-project-env\n", encoding="utf-8")
    result = ap.cli_in(sub, "plan", "validate", str(plan))
    assert result.returncode == 0, result.output


def test_env_file_names_another_file_and_a_missing_one_is_refused(ap: Env) -> None:
    plan = ap.plan([phase("p1")])
    keys = ap.root / "keys.env"
    keys.write_text("export OPENAI_API_KEY='sk-from-env-file'\n", encoding="utf-8")
    assert ap.cli_in(ap.root, "plan", "validate", str(plan), "--env-file", str(keys)).returncode == 0
    missing = ap.cli_in(ap.root, "plan", "validate", str(plan), "--env-file", str(ap.root / "nope.env"))
    assert missing.returncode == 2 and "--env-file" in missing.stderr and "no such file" in missing.stderr


def test_config_layers_user_then_project_then_config_option(ap: Env) -> None:
    user = ap.root / "xdg" / "autopack" / "config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("limits: {run_cost_cap_usd: 5.0}\nhealth_budget: {MAX_HTTP_500_PER_RUN: 7}\n", encoding="utf-8")
    (ap.repo_dir / "autopack.yaml").write_text("health_budget: {MAX_HTTP_500_PER_RUN: 8}\n", encoding="utf-8")
    cli_cfg = ap.root / "cli.yaml"
    cli_cfg.write_text("retries: {max_retries: 1}\n", encoding="utf-8")

    shown = ap.cli_in(ap.repo_dir / "tests", "config", "show", "--json", "--config", str(cli_cfg))
    assert shown.returncode == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["limits"]["run_cost_cap_usd"] == 5.0  # from the user config
    assert data["health_budget"]["MAX_HTTP_500_PER_RUN"] == 8  # the project's wins over the user's
    assert data["health_budget"]["MAX_PATCH_FAILURES_PER_RUN"] == 15  # untouched keys: shipped
    assert data["retries"]["max_retries"] == 1  # --config, over all of them
    assert data["routing"]["fallback_chain"] == SHIPPED.routing.fallback_chain  # untouched: shipped

    header = ap.cli_in(ap.repo_dir, "config", "show", "--config", str(cli_cfg)).stdout
    assert f"user {user}" in header and f"project {ap.repo_dir / 'autopack.yaml'}" in header


def test_an_error_in_the_project_config_names_that_file_and_line(ap: Env) -> None:
    (ap.repo_dir / "autopack.yaml").write_text("limits:\n  run_cost_cap: 3\n", encoding="utf-8")
    result = ap.cli_in(ap.repo_dir, "config", "show")
    assert result.returncode == 2
    assert f"{ap.repo_dir / 'autopack.yaml'}:2: limits.run_cost_cap: unknown key" in result.stderr


def test_config_init_writes_a_commented_starting_config_at_the_project_root(ap: Env) -> None:
    result = ap.cli_in(ap.repo_dir / "tests", "config", "init")
    assert result.returncode == 0, result.output
    written = ap.repo_dir / "autopack.yaml"
    text = written.read_text(encoding="utf-8")
    assert all(not line.strip() or line.startswith("#") for line in text.splitlines())
    assert "--model" in text and "endpoints:" in text and "run_cost_cap_usd" in text
    assert ap.cli_in(ap.root, "config", "validate", str(written)).returncode == 0
    # uncommenting a block gives a valid layer
    limits = "limits:\n  run_cost_cap_usd: 2.5\n"
    written.write_text(text + limits, encoding="utf-8")
    shown = json.loads(ap.cli_in(ap.repo_dir, "config", "show", "--json").stdout)
    assert shown["limits"]["run_cost_cap_usd"] == 2.5
    again = ap.cli_in(ap.repo_dir, "config", "init")
    assert again.returncode == 2 and "--force" in again.stderr
    assert yaml.safe_load(written.read_text(encoding="utf-8")) == {"limits": {"run_cost_cap_usd": 2.5}}


def test_config_init_user_writes_the_xdg_file_and_outside_a_repository_asks_where(ap: Env) -> None:
    outside = ap.root / "elsewhere"
    outside.mkdir()
    refused = ap.cli_in(outside, "config", "init")
    assert refused.returncode == 2 and "--user" in refused.stderr
    assert ap.cli_in(outside, "config", "init", "--user").returncode == 0
    assert (ap.root / "xdg" / "autopack" / "config.yaml").is_file()


def test_config_init_profile_writes_a_shipped_profile_that_takes_effect_as_written(ap: Env) -> None:
    result = ap.cli_in(ap.repo_dir, "config", "init", "--profile", "deepseek")
    assert result.returncode == 0, result.output
    assert "in effect now" in result.stdout
    shown = json.loads(ap.cli_in(ap.repo_dir, "config", "show", "--json").stdout)
    flash = "deepseek/deepseek-flash"
    assert shown["escalation_chains"]["builder"]["low"]["models"] == [flash]
    assert shown["escalation_chains"]["builder"]["high"]["models"][-1] == "gpt-5.5"
    assert shown["routing"]["planner_model"] == flash and shown["doctor_models"]["cheap"] == flash
    endpoint = next(e for e in shown["endpoints"] if e["name"] == "deepseek")
    assert endpoint["api_key_env"] == "DEEPSEEK_API_KEY" and endpoint["models"]["deepseek-flash"]["output"] > 0
    assert any(e["name"] == "ollama" for e in shown["endpoints"])  # the shipped endpoint is kept
    assert shown["limits"] == SHIPPED.limits.model_dump(mode="json")  # what the profile does not name: shipped


def test_config_init_refuses_an_unknown_profile_and_writes_nothing(ap: Env) -> None:
    result = ap.cli_in(ap.repo_dir, "config", "init", "--profile", "cheapest")
    assert result.returncode == 2
    assert "--profile cheapest: no such profile" in result.stderr and "deepseek" in result.stderr
    assert not (ap.repo_dir / "autopack.yaml").exists()
