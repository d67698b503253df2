"""A normal install: the demo's example ships inside the package (found with importlib.resources), the
demo runs from any directory and removes what it made unless --keep; --version; shell completion."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
from pathlib import Path

import git
import pytest

import autopack
from conftest import RunCli

pytestmark = pytest.mark.slow


def test_the_demos_example_is_package_data_found_with_importlib_resources() -> None:
    example = importlib.resources.files("autopack").joinpath("examples", "calc")
    for name in ("plan.yaml", "script.yaml", "project/calc.py", "project/tests/test_calc.py"):
        assert example.joinpath(*name.split("/")).is_file(), name
    # inside the package itself, so a wheel (pipx, uv tool) carries it
    assert Path(str(example)).is_relative_to(Path(autopack.__file__).parent)


def test_the_demo_runs_from_an_unrelated_directory_and_leaves_nothing_behind(run_cli: RunCli, tmp_path: Path) -> None:
    elsewhere, temp = tmp_path / "elsewhere", tmp_path / "tmp"
    elsewhere.mkdir()
    temp.mkdir()
    result = run_cli("demo", cwd=elsewhere, env={"TMPDIR": str(temp), "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert result.returncode == 0, result.output
    assert "SCRIPTED" in result.stdout and "COMPLETE" in result.stdout
    assert "costs are simulated" in result.stdout
    assert "the demo's files are removed" in result.stdout
    assert list(elsewhere.iterdir()) == []  # nothing written where it was run
    assert list(temp.iterdir()) == []  # its temporary home is gone too


def test_the_demo_with_keep_leaves_the_run_to_look_at(run_cli: RunCli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_cli(
        "demo",
        "--keep",
        "--run-id",
        "d1",
        "--home",
        str(home),
        "--json",
        env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")},
    )
    assert result.returncode == 0, result.output
    status = run_cli("status", "--run-id", "d1", "--home", str(home), "--json")
    assert json.loads(status.stdout)["status"] == "COMPLETE"
    copy = home / ".autonomous_runs" / "calc" / "demo-projects" / "d1"
    commits = list(git.Repo(copy).iter_commits("autopack/d1"))
    assert len(commits) == 5  # the starting point and one commit per phase


def test_version_prints_the_installed_version(run_cli: RunCli) -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.output
    assert result.stdout.strip() == f"autopack {importlib.metadata.version('autopack')}"


def test_shell_completion_is_on(run_cli: RunCli) -> None:
    assert "--install-completion" in run_cli("--help").stdout
    script = run_cli("--show-completion", "bash")
    assert script.returncode == 0 and "COMPREPLY" in script.stdout and "complete -o default" in script.stdout
