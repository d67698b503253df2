"""``autopack merge``: the run branch lands on the user's branch, or nothing changes and the user is told why."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopack.store import RunStore
from review_world import World, git, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def user_state(world: World) -> tuple[str, str, str, dict[str, str]]:
    """What the user sees: branch tips, the checkout's status and files."""
    files = {p.name: p.read_text(encoding="utf-8") for p in world.repo.iterdir() if p.is_file()}
    return (
        git(world.repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"),
        git(world.repo, "rev-parse", "HEAD"),
        git(world.repo, "status", "--porcelain"),
        files,
    )


def test_merge_makes_a_merge_commit_on_the_checked_out_branch_and_updates_its_files(world: World) -> None:
    result = world.cli("merge", "--run-id", "r1")
    assert result.returncode == 0, result.output
    head = world.head("main")
    assert git(world.repo, "rev-parse", f"{head}^1") == world.base
    assert git(world.repo, "rev-parse", f"{head}^2") == world.p2
    message = git(world.repo, "log", "-1", "--format=%B", head)
    assert message.startswith("Merge autopack run r1 into main")
    assert "- p1: Add mul" in message and "Autopack-Run: r1" in message
    assert "def mul(a, b)" in (world.repo / "calc.py").read_text(encoding="utf-8")
    assert git(world.repo, "status", "--porcelain") == ""
    assert "merged autopack/r1 into main" in result.stdout
    assert "undo" in result.stdout and "autopack clean --run-id r1" in result.stdout


def test_merge_without_a_recorded_base_branch_says_it_uses_the_current_one(world: World) -> None:
    result = world.cli("merge", "--run-id", "r1")
    assert "does not record the branch run 'r1' started from; merging into main" in result.stderr
    assert "--into" in result.stderr


def test_merge_goes_to_the_branch_the_run_started_from_when_the_store_recorded_it(world: World) -> None:
    git(world.repo, "branch", "release", world.base)
    with RunStore(world.layout.db_path) as store:
        store.add_event("r1", "workspace_ready", {"base_branch": "release"})
    result = world.cli("merge", "--run-id", "r1")
    assert result.returncode == 0, result.output
    assert git(world.repo, "rev-parse", "release^2") == world.p2
    assert world.head("main") == world.base  # the checked-out branch did not move
    assert "does not record" not in result.stderr


def test_merge_squash_makes_one_commit_with_the_runs_change(world: World) -> None:
    result = world.cli("merge", "--run-id", "r1", "--squash")
    assert result.returncode == 0, result.output
    head = world.head("main")
    assert git(world.repo, "rev-list", "--parents", "-n", "1", head).split() == [head, world.base]
    assert git(world.repo, "diff", world.p2, head) == ""  # the same tree as the run branch
    assert git(world.repo, "log", "-1", "--format=%s", head) == "autopack run r1: Grow calc"
    assert "squashed into one commit" in result.stdout


def test_merge_into_a_branch_not_checked_out_moves_only_that_branch(world: World) -> None:
    git(world.repo, "branch", "release", world.base)
    before = user_state(world)
    result = world.cli("merge", "--run-id", "r1", "--into", "release")
    assert result.returncode == 0, result.output
    assert git(world.repo, "rev-parse", "release^2") == world.p2
    after = user_state(world)
    assert after[1:] == before[1:]  # HEAD, status and files of the user's checkout are as they were
    assert "only the branch moved" in result.stdout


def test_merge_refuses_a_checkout_with_uncommitted_changes_and_changes_nothing(world: World) -> None:
    (world.repo / "README.md").write_text("# calc, edited by the user\n", encoding="utf-8")
    before = user_state(world)
    result = world.cli("merge", "--run-id", "r1")
    assert result.returncode == 2
    assert "has uncommitted changes (README.md)" in result.stderr
    assert "commit or stash them" in result.stderr and "Nothing was changed" in result.stderr
    assert user_state(world) == before


def test_merge_refuses_a_conflict_naming_the_file_and_changes_nothing(world: World) -> None:
    (world.repo / "calc.py").write_text(
        "def add(a, b):\n    return b + a\n\n\ndef mul(x, y):\n    return y * x\n", encoding="utf-8"
    )
    git(world.repo, "commit", "-q", "-am", "user: mul of their own")
    before = user_state(world)
    result = world.cli("merge", "--run-id", "r1")
    assert result.returncode == 2
    assert "conflicts in calc.py; nothing was changed" in result.stderr
    assert user_state(world) == before
    assert not (world.repo / ".git" / "MERGE_HEAD").exists()


def test_merge_of_a_run_already_merged_says_there_is_nothing_to_merge(world: World) -> None:
    assert world.cli("merge", "--run-id", "r1").returncode == 0
    head = world.head("main")
    again = world.cli("merge", "--run-id", "r1")
    assert again.returncode == 0
    assert "already contains every commit of autopack/r1" in again.stderr
    assert world.head("main") == head


def test_merge_into_a_branch_that_does_not_exist_is_refused(world: World) -> None:
    result = world.cli("merge", "--run-id", "r1", "--into", "nowhere")
    assert result.returncode == 2
    assert "there is no branch nowhere" in result.stderr


def test_merge_is_recorded_in_the_run_store(world: World) -> None:
    world.cli("merge", "--run-id", "r1", "--squash")
    with RunStore(world.layout.db_path) as store:
        (event,) = store.events("r1", "run_merged")
    assert event.data["into"] == "main"
    assert event.data["squash"] is True
    assert event.data["branch_tip"] == world.p2
    assert event.data["commit"] == world.head("main")
