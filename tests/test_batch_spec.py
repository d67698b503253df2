"""The batch file (``autopack.batch.spec``) and the batch's cost caps (``autopack.batch.budget``): what a
file resolves to, the errors a user sees (one red line, exit 2, naming file, line and key), and how the
batch sets each run's cap aside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autopack.batch.budget import BatchBudget, Exhausted, Grant, Wait
from autopack.batch.spec import BatchError, check_batch, load_batch
from conftest import RunCli, cli_env

PLAN = """\
project: calc
goal: Grow calc.
phases:
  - id: p1
    name: One
    description: Do one.
    scope: [calc.py]
"""


def repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "plan.yaml", PLAN)
    write(tmp_path / "replies.yaml", "responses:\n  - text: ok\n")
    repo(tmp_path / "svc-a")
    repo(tmp_path / "svc-b")
    return tmp_path


def test_one_plan_and_a_list_of_projects_makes_one_run_per_project(folder: Path) -> None:
    batch = load_batch(
        write(
            folder / "upgrade.yaml",
            "plan: plan.yaml\nprojects: [svc-a, svc-b, "
            "'https://example.invalid/acme/svc-c.git']\nmax_cost_per_run: 2\n",
        )
    )
    assert batch.batch_id == "upgrade"
    assert [r.run_id for r in batch.runs] == ["upgrade-svc-a", "upgrade-svc-b", "upgrade-svc-c"]
    assert batch.runs[0].project_dir == folder / "svc-a" and batch.runs[0].clone is None
    assert batch.runs[2].clone == "https://example.invalid/acme/svc-c.git" and batch.runs[2].project_dir is None
    assert all(r.plan == folder / "plan.yaml" and r.max_cost == 2 for r in batch.runs)


def test_a_run_inherits_the_batchs_settings_and_its_overrides_merge_over_the_batchs(folder: Path) -> None:
    batch = load_batch(
        write(
            folder / "b.yaml",
            """\
plan: plan.yaml
model: claude-haiku-4-5
overrides: {retries: {max_retries: 1}, quality_gate: {tail_lines: 10}}
runs:
  - id: r1
    project_dir: svc-a
    overrides: {retries: {base_delay_seconds: 0.5}}
    max_cost: 1.5
""",
        )
    )
    run = batch.runs[0]
    assert run.model == "claude-haiku-4-5" and run.max_cost == 1.5
    assert run.overrides == {
        "retries": {"max_retries": 1, "base_delay_seconds": 0.5},
        "quality_gate": {"tail_lines": 10},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plan: plan.yaml\nprojects: [svc-a]\nworkerz: 3\n", "b.yaml:3: workerz: unknown key"),
        (
            "runs:\n  - id: r1\n    plan: plan.yaml\n",
            "b.yaml:2: runs[0]: Value error, a run needs exactly one of `project_dir`",
        ),
        (
            "plan: plan.yaml\nruns:\n  - {id: r1, project_dir: svc-a}\n  - {id: r1, project_dir: svc-b}\n",
            "b.yaml:4: runs[1].id: run id 'r1' is used twice",
        ),
        ("projects: [svc-a]\n", "`projects:` needs `plan:`"),
    ],
)
def test_a_malformed_batch_file_is_named_with_its_line(folder: Path, text: str, expected: str) -> None:
    with pytest.raises(BatchError) as err:
        load_batch(write(folder / "b.yaml", text))
    assert expected in str(err.value)


def test_every_run_that_cannot_start_is_named_before_any_starts(folder: Path) -> None:
    batch = load_batch(
        write(
            folder / "b.yaml",
            """\
script: replies.yaml
runs:
  - {id: ok, plan: plan.yaml, project_dir: svc-a}
  - {id: no-plan, plan: missing.yaml, project_dir: svc-a}
  - {id: no-repo, plan: plan.yaml, project_dir: nowhere}
  - id: bad-override
    plan: plan.yaml
    project_dir: svc-b
    overrides:
      retries: {max_retries: -1}
""",
        )
    )
    with pytest.raises(BatchError) as err:
        check_batch(batch, {})
    text = str(err.value)
    assert text.startswith("3 of the batch's 4 runs cannot start")
    assert "b.yaml:4: run no-plan: plan" in text and "missing.yaml: no such file" in text
    assert "b.yaml:5: run no-repo: project_dir" in text
    assert "b.yaml:10: overrides.retries.max_retries: Input should be greater than or equal to 0" in text


def test_the_cli_prints_one_red_line_and_exits_2_for_a_bad_batch(folder: Path, run_cli: RunCli) -> None:
    bad = write(folder / "b.yaml", "plan: plan.yaml\nprojects: [svc-a]\nwokers: 2\n")
    result = run_cli("batch", str(bad), "--home", str(folder))
    assert result.returncode == 2, result.output
    assert result.stderr.startswith("error: invalid batch:") and "b.yaml:3: wokers: unknown key" in result.stderr
    assert "Traceback" not in result.output
    assert not (folder / ".autonomous_runs").exists()  # nothing written


def test_batch_status_of_a_batch_that_never_ran_says_so(folder: Path, run_cli: RunCli) -> None:
    result = run_cli("batch", "status", "nightly", "--home", str(folder))
    assert result.returncode == 2 and "no batch at" in result.stderr


def test_help_imports_neither_the_cluster_engine_nor_a_provider_sdk(tmp_path: Path) -> None:
    for args in (["--help"], ["batch", "--help"], ["batch", "run", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "autopack.cli", *args],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            errors="replace",
        )
        assert proc.returncode == 0, proc.stderr
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")}
        heavy = sorted(
            m
            for m in imported
            if m.split(".")[0] in ("dask", "distributed", "anthropic", "openai", "zhipuai")
            or m.startswith("google.genai")
        )
        assert heavy == [], f"autopack {' '.join(args)} imported {heavy}"
    assert (
        "batch"
        in subprocess.run(
            [sys.executable, "-m", "autopack.cli", "--help"],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
        ).stdout
    )


# the batch's cost caps ------------------------------------------------------------------------------
def test_without_a_batch_cap_each_run_gets_its_own_cap() -> None:
    budget = BatchBudget(None)
    assert budget.request("a", 2.0) == Grant(2.0)
    assert budget.request("b", None) == Grant(None)


def test_runs_start_while_the_batch_can_set_their_whole_cap_aside() -> None:
    budget = BatchBudget(5.0)
    assert budget.request("a", 2.0) == Grant(2.0)
    assert budget.request("b", 2.0) == Grant(2.0)
    assert isinstance(budget.request("c", 2.0), Wait)  # 1.0 left, and a running run may give some back
    budget.finished("a", 0.5)  # a spent 0.5 of its 2.0
    assert budget.request("c", 2.0) == Grant(2.0)  # 5 - 0.5 - 2 (b) = 2.5 left


def test_with_nothing_running_a_run_starts_with_what_is_left_and_none_once_it_is_spent() -> None:
    budget = BatchBudget(1.0)
    budget.update("a", 0.7)  # spent before, in an earlier invocation
    assert budget.request("b", 2.0) == Grant(pytest.approx(0.3))
    budget.finished("b", 0.3)
    assert budget.request("c", 2.0) == Exhausted(1.0, pytest.approx(1.0))


def test_a_resumed_run_keeps_what_it_spent_inside_its_cap() -> None:
    budget = BatchBudget(3.0)
    budget.update("a", 1.0)
    assert budget.request("a", 2.0) == Grant(2.0)  # 1.0 spent + 1.0 more, all inside the batch's 3.0
    assert budget.left() == pytest.approx(1.0)
