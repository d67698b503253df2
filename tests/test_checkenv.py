"""Checks run in the project's environment: which interpreter `python` is in a check, and that the
worktree's code is the one imported, even with the project installed editable from the user's checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from autopack.gate.checks import run_checks
from autopack.gate.checks_env import ChecksEnvError, import_roots, resolve_checks_env


def make_venv(where: Path, *pth_lines: str) -> Path:
    """A real virtual environment (no pip: fast and offline); ``pth_lines`` go into a .pth file in its
    site-packages, which is what ``pip install -e .`` writes for a project (a path to its sources)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    if pth_lines:
        site = next((where / "lib").glob("python3*/site-packages"))
        (site / "_editable_autopack_test.pth").write_text("\n".join(pth_lines) + "\n", encoding="utf-8")
    return where


def python_of(env: dict[str, str], cwd: Path) -> str:
    out = subprocess.run(
        ["bash", "-c", "python -c 'import sys; print(sys.prefix)'"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def launch_env(path: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = path
    env.update(extra)
    return env


SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def test_the_projects_own_venv_is_used_when_no_venv_is_active(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "proj" / ".venv")
    checks = resolve_checks_env(tmp_path / "proj", "auto", launch_env(SYSTEM_PATH))
    assert checks.source == "the project's .venv"
    assert python_of(checks.environ(tmp_path / "proj"), tmp_path / "proj") == str(venv)


def test_an_active_virtual_environment_wins_over_the_projects_venv(tmp_path: Path) -> None:
    make_venv(tmp_path / "proj" / ".venv")
    active = make_venv(tmp_path / "active")
    launch = launch_env(f"{active}/bin:{SYSTEM_PATH}", VIRTUAL_ENV=str(active))
    checks = resolve_checks_env(tmp_path / "proj", "auto", launch)
    assert "active at launch" in checks.source
    assert python_of(checks.environ(tmp_path / "proj"), tmp_path / "proj") == str(active)


def test_a_venv_put_first_on_path_without_activating_counts_as_active(tmp_path: Path) -> None:
    first = make_venv(tmp_path / "first")
    checks = resolve_checks_env(tmp_path / "proj", "auto", launch_env(f"{first}/bin:{SYSTEM_PATH}"))
    assert python_of(checks.environ(tmp_path), tmp_path) == str(first)


def test_without_any_project_environment_autopacks_interpreter_is_used_and_said(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    checks = resolve_checks_env(tmp_path / "proj", "auto", launch_env(SYSTEM_PATH))
    assert "autopack's own interpreter" in checks.source and "checks_env" in checks.source
    assert python_of(checks.environ(tmp_path), tmp_path) == sys.prefix


def test_checks_env_setting_names_a_venv_relative_to_the_project(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "proj" / "envs" / "ci")
    checks = resolve_checks_env(tmp_path / "proj", "envs/ci", launch_env(SYSTEM_PATH))
    assert python_of(checks.environ(tmp_path), tmp_path) == str(venv)
    assert resolve_checks_env(tmp_path / "proj", str(venv / "bin" / "python"), {}).virtual_env == str(venv)


def test_a_checks_env_that_is_not_a_venv_is_refused_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    with pytest.raises(ChecksEnvError, match=r"quality_gate\.checks_env: 'nope' is not a virtual environment"):
        resolve_checks_env(tmp_path / "proj", "nope", {})


def test_inherit_keeps_the_launch_path_as_is(tmp_path: Path) -> None:
    first = make_venv(tmp_path / "first")
    checks = resolve_checks_env(tmp_path, "inherit", launch_env(f"{first}/bin:{SYSTEM_PATH}"))
    assert checks.environ(tmp_path)["PATH"] == f"{first}/bin:{SYSTEM_PATH}"


def test_src_layout_and_flat_layout_import_roots(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    assert import_roots(tmp_path) == [tmp_path / "src", tmp_path]
    flat = tmp_path / "flat"
    (flat / "pkg").mkdir(parents=True)
    assert import_roots(flat) == [flat]


def test_a_check_imports_the_worktrees_code_not_the_editable_install_of_the_checkout(tmp_path: Path) -> None:
    # The user's checkout has the old code and is installed editable into the project's .venv; the
    # worktree has the new code. `python -m pytest` (plain, as users write it) must test the new code.
    checkout, worktree = tmp_path / "proj", tmp_path / "worktree"
    for root, value in ((checkout, "old"), (worktree, "new")):
        (root / "src" / "pkg").mkdir(parents=True)
        (root / "src" / "pkg" / "__init__.py").write_text(f"VALUE = {value!r}\n", encoding="utf-8")
        (root / "tests").mkdir()
        (root / "tests" / "test_value.py").write_text(
            "from pkg import VALUE\n\ndef test_value():\n    assert VALUE == 'new'\n", encoding="utf-8"
        )
    # pytest itself comes from autopack's environment here (the test machine is offline).
    make_venv(checkout / ".venv", str(checkout / "src"), sysconfig.get_paths()["purelib"])
    checks = resolve_checks_env(checkout, "auto", launch_env(SYSTEM_PATH))

    gate = run_checks(
        ["python -m pytest -q -p no:cacheprovider tests"], worktree, timeout=120, environ=checks.environ(worktree)
    )

    assert gate.passed, gate.tail()
    wrong = run_checks(
        ["python -m pytest -q -p no:cacheprovider tests"],
        worktree,
        timeout=120,
        environ={**checks.environ(worktree), "PYTHONPATH": ""},
    )
    assert not wrong.passed  # without the worktree first, the editable install's old code is imported
