"""``autopack diff``: the run branch's change against its base, one phase's commit, and what failed attempts tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopack.review.diff import colorize
from review_world import FAILED_PATCH, GATE_TAIL, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_diff_shows_the_run_branch_against_the_commit_it_started_from(world: World) -> None:
    result = world.cli("diff", "--run-id", "r1")
    assert result.returncode == 0, result.output
    assert "diff --git a/calc.py b/calc.py" in result.stdout
    assert "+def mul(a, b):\n+    return a * b" in result.stdout
    assert "+- mul(a, b): the product" in result.stdout  # p2's change too


def test_piped_diff_is_plain_text_that_git_apply_accepts(world: World) -> None:
    result = world.cli("diff", "--run-id", "r1")
    assert "\x1b[" not in result.stdout
    patch = world.root / "run.patch"
    patch.write_text(result.stdout, encoding="utf-8")
    import subprocess

    check = subprocess.run(["git", "apply", "--check", str(patch)], cwd=world.repo, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_diff_with_colour_paints_like_git(world: World) -> None:
    out = world.cli("diff", "--run-id", "r1", "--color", "always").stdout
    assert "\x1b[1mdiff --git a/calc.py b/calc.py\x1b[m" in out
    assert "\x1b[32m+def mul(a, b):\x1b[m" in out
    assert "\x1b[36m@@ -1,2 +1,6 @@\x1b[m" in out


def test_colorize_keeps_removed_header_lookalikes_inside_a_hunk_red() -> None:
    text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,1 @@ def f():\n--- a line that starts with dashes\n keep\n"
    out = colorize(text)
    assert "\x1b[1m--- a/x\x1b[m" in out
    assert "\x1b[31m--- a line that starts with dashes\x1b[m" in out
    assert "\x1b[36m@@ -1,2 +1,1 @@\x1b[m def f():" in out  # function context stays plain
    assert " keep\n" in out


def test_diff_of_one_phase_shows_only_its_commit(world: World) -> None:
    out = world.cli("diff", "--run-id", "r1", "--phase", "p2").stdout
    assert "README.md" in out
    assert "calc.py" not in out


def test_diff_attempts_shows_each_failed_attempts_patch_error_and_gate_output(world: World) -> None:
    out = world.cli("diff", "--run-id", "r1", "--phase", "p1", "--attempts").stdout
    assert "+def mul(a, b):\n+    return a * b" in out  # the phase's approved commit first
    assert "===== phase p1, attempt 1 on cheap-model (low): failed: ci_fail" in out
    assert FAILED_PATCH in out
    assert GATE_TAIL in out
    assert out.count(GATE_TAIL) == 1  # the error message's copy of the gate output is not repeated
    assert "attempt 2" not in out  # approved attempts are the commit itself


def test_diff_attempts_of_a_run_whose_attempts_all_passed_says_so(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    out = world.cli("diff", "--run-id", "r1", "--phase", "p2", "--attempts").stdout
    assert "(no failed attempt in phase p2)" in out


def test_diff_of_an_unknown_phase_names_the_phases_there_are(world: World) -> None:
    result = world.cli("diff", "--run-id", "r1", "--phase", "nope")
    assert result.returncode == 2
    assert "run 'r1' has no phase 'nope'; its phases are: p1, p2" in result.stderr


def test_diff_of_a_phase_without_a_commit_points_to_attempts(world: World) -> None:
    with world.store() as store:
        store.set_phase("r1", "p2", "phase_failed", {"reason": "gave up"}, state="FAILED", commit_sha=None)
    result = world.cli("diff", "--run-id", "r1", "--phase", "p2")
    assert result.returncode == 2
    assert "phase p2 has no commit (state FAILED)" in result.stderr
    assert "--attempts" in result.stderr


def test_diff_of_a_run_whose_branch_is_gone_says_what_to_do(world: World) -> None:
    import subprocess

    subprocess.run(["git", "worktree", "remove", "--force", str(world.worktree)], cwd=world.repo, check=True)
    subprocess.run(["git", "branch", "-D", "autopack/r1"], cwd=world.repo, check=True, capture_output=True)
    result = world.cli("diff", "--run-id", "r1")
    assert result.returncode == 2
    assert "branch autopack/r1 is gone" in result.stderr
    assert "autopack clean --run-id r1" in result.stderr
