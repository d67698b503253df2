"""``autopack clean`` removes what runs left behind (keeping unmerged work unless forced); ``runs`` marks stale runs."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from autopack.review.clean import parse_age
from autopack.review.runref import ReviewError
from autopack.store import RunStatus, RunStore
from review_world import World, git, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def run_ids(world: World) -> list[str]:
    with RunStore(world.layout.db_path) as store:
        return [r.run_id for r in store.list_runs()]


def test_clean_of_a_merged_run_removes_worktree_branch_folder_log_and_records(world: World) -> None:
    world.cli("merge", "--run-id", "r1")
    result = world.cli("clean", "--run-id", "r1")
    assert result.returncode == 0, result.output
    assert not world.worktree.exists()
    assert not world.layout.run_dir("r1").exists()
    assert not world.layout.log_path("r1").exists()
    assert "autopack/r1" not in world.branches()
    assert git(world.repo, "for-each-ref", "refs/autopack/") == ""
    assert git(world.repo, "worktree", "list").count("\n") == 0  # only the user's own checkout is left
    assert run_ids(world) == []
    assert "removed branch autopack/r1 (merged into main)" in result.stdout


def test_clean_keeps_a_branch_that_is_not_merged(world: World) -> None:
    result = world.cli("clean", "--run-id", "r1")
    assert result.returncode == 0, result.output
    assert "autopack/r1" in world.branches()
    assert world.head("autopack/r1") == world.p2
    assert not world.worktree.exists()
    assert run_ids(world) == []
    assert "kept branch autopack/r1: not merged into any branch" in result.stdout
    assert "--force deletes it" in result.stdout


def test_clean_force_deletes_a_branch_that_is_not_merged(world: World) -> None:
    result = world.cli("clean", "--run-id", "r1", "--force")
    assert result.returncode == 0, result.output
    assert "autopack/r1" not in world.branches()
    assert "not merged; --force" in result.stdout


def test_a_squash_merged_branch_counts_as_merged(world: World) -> None:
    world.cli("merge", "--run-id", "r1", "--squash")
    result = world.cli("clean", "--run-id", "r1")
    assert "autopack/r1" not in world.branches()
    assert "(merged into main (squashed))" in result.stdout


def test_clean_dry_run_says_what_it_would_remove_and_removes_nothing(world: World) -> None:
    world.cli("merge", "--run-id", "r1")
    result = world.cli("clean", "--run-id", "r1", "--dry-run")
    assert result.returncode == 0, result.output
    for what in (
        "would remove worktree",
        "would remove branch autopack/r1",
        "would remove run folder",
        "would remove its records in the run store",
        "dry run: nothing was removed",
    ):
        assert what in result.stdout
    assert world.worktree.exists() and "autopack/r1" in world.branches() and run_ids(world) == ["r1"]


def test_clean_keeps_rolled_back_commits_unless_forced(world: World) -> None:
    git(world.repo, "update-ref", "refs/autopack/rolled-back/r1/1", world.p1)
    world.cli("merge", "--run-id", "r1")
    kept = world.cli("clean", "--run-id", "r1")
    assert "refs/autopack/rolled-back/r1/*: approved phases a Doctor rollback took off" in kept.stdout
    assert git(world.repo, "rev-parse", "refs/autopack/rolled-back/r1/1") == world.p1


def test_clean_all_finished_leaves_a_run_that_is_still_running(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with RunStore(world.layout.db_path) as store:
        store.create_run("r2", "demo", "More", "{}", [{"id": "q", "name": "Q", "complexity": "low"}])
    result = world.cli("clean", "--all-finished", "--force")
    assert result.returncode == 0, result.output
    assert run_ids(world) == ["r2"]


def test_clean_older_than_picks_runs_by_their_last_update(world: World) -> None:
    assert "no runs last updated more than 7d ago" in world.cli("clean", "--older-than", "7d").stdout
    assert run_ids(world) == ["r1"]
    time.sleep(0.01)
    world.cli("clean", "--older-than", "0s")
    assert run_ids(world) == []


def test_clean_without_a_selector_or_with_a_bad_age_is_refused(world: World) -> None:
    none = world.cli("clean")
    assert none.returncode == 2 and "say which runs to clean" in none.stderr
    both = world.cli("clean", "--run-id", "r1", "--all-finished")
    assert both.returncode == 2 and "--run-id names one run" in both.stderr
    bad = world.cli("clean", "--older-than", "a week")
    assert bad.returncode == 2 and "write a number and a unit" in bad.stderr
    assert run_ids(world) == ["r1"]


def test_ages_are_read_in_seconds() -> None:
    assert [parse_age(t) for t in ("90s", "30m", "12h", "7d", "2w", "1.5d")] == [
        90,
        1800,
        43200,
        604800,
        1209600,
        129600,
    ]
    with pytest.raises(ReviewError):
        parse_age("7 days")


def test_clean_of_a_run_whose_project_is_gone_removes_the_rest(world: World) -> None:
    subprocess.run(["rm", "-rf", str(world.repo)], check=True)
    result = world.cli("clean", "--run-id", "r1")
    assert result.returncode == 0, result.output
    assert "no git clean-up: its project" in result.stdout
    assert not world.layout.run_dir("r1").exists()
    assert run_ids(world) == []


def test_runs_marks_a_run_whose_worktree_is_missing_or_branch_is_gone(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    assert world.cli("runs").stdout.count("stale") == 0
    subprocess.run(["rm", "-rf", str(world.worktree)], check=True)
    git(world.repo, "worktree", "prune")
    git(world.repo, "branch", "-D", "autopack/r1")
    table = world.cli("runs")
    assert table.returncode == 0, table.output
    assert "branch gone, worktree missing" in table.stdout
    assert "autopack clean --run-id ID" in table.stdout
    rows = json.loads(world.cli("runs", "--json").stdout)
    assert rows[0]["stale"] == ["branch gone", "worktree missing"]


def test_runs_status_of_an_unmarked_run_is_an_empty_list(world: World) -> None:
    world.cli("merge", "--run-id", "r1")
    rows = json.loads(world.cli("runs", "--json").stdout)
    assert rows[0]["stale"] == [] and rows[0]["status"] == RunStatus.COMPLETE.value
