"""A run branch and its run store belong together: a branch the store does not know is never built on
again (every phase would be committed twice), and a store whose branch was deleted does not silently
carry on without the phases it recorded."""

from __future__ import annotations

import shutil

import pytest

from .conftest import ADD_MULTIPLY, APPROVE, AutopackEnv, builder, phase

pytestmark = pytest.mark.slow


def _finished_run(ap: AutopackEnv) -> tuple:
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])
    first = ap.run("r1", plan, script)
    assert first.returncode == 0, first.output
    return plan, script


def test_the_same_run_id_with_another_home_is_refused_and_commits_nothing(ap: AutopackEnv) -> None:
    plan, script = _finished_run(ap)
    commits = [c.hexsha for c in ap.commits("r1")]
    other_home = ap.root / "other-home"

    again = ap.cli(*ap.run_args("r1", plan, script)[:-4], "--home", str(other_home), "--script", str(script))

    assert again.returncode == 2, again.output
    assert "branch autopack/r1 already exists" in again.stderr and "1 commit" in again.stderr
    assert str(ap.home) in again.stderr  # names where the run's worktree (and so its home) is
    assert "Traceback" not in again.stderr
    assert [c.hexsha for c in ap.commits("r1")] == commits
    assert not (other_home / ".autonomous_runs" / "calc" / "runs" / "r1").exists()


def test_a_deleted_store_with_the_worktree_gone_is_refused_not_committed_twice(ap: AutopackEnv) -> None:
    plan, script = _finished_run(ap)
    commits = [c.hexsha for c in ap.commits("r1")]
    ap.repo.git.worktree("remove", "--force", str(ap.home / ".autonomous_runs" / "calc" / "runs" / "r1" / "worktree"))
    for p in ap.db_path.parent.glob("autopack.db*"):
        p.unlink()

    again = ap.run("r1", plan, script)

    assert again.returncode == 2, again.output
    assert "has no run 'r1'" in again.stderr and "git -C" in again.stderr and "branch -D autopack/r1" in again.stderr
    assert [c.hexsha for c in ap.commits("r1")] == commits


def test_deleting_the_branch_as_told_lets_the_run_start_afresh_from_head(ap: AutopackEnv) -> None:
    plan, script = _finished_run(ap)
    shutil.rmtree(ap.home)
    ap.repo.git.worktree("prune")
    ap.repo.git.branch("-D", "autopack/r1")

    again = ap.run("r1", plan, script)

    assert again.returncode == 0, again.output
    assert len(ap.commits("r1")) == 1


def test_a_deleted_run_branch_is_made_again_at_its_last_recorded_phase(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply"), phase("p2", name="Touch README", scope=["README.md"], checks=[])])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])
    first = ap.run("r1", plan, script)  # p2 has no reply: the run stops after p1 is committed
    assert first.returncode != 0
    (p1_commit,) = [c.hexsha for c in ap.commits("r1")]
    ap.repo.git.worktree("remove", "--force", str(ap.home / ".autonomous_runs" / "calc" / "runs" / "r1" / "worktree"))
    ap.repo.git.branch("-D", "autopack/r1")
    readme = "README.md\n```\n<<<<<<< SEARCH\nA tiny calculator.\n=======\nA small calculator.\n>>>>>>> REPLACE\n```\n"
    script = ap.script([builder("p1", ADD_MULTIPLY), builder("p2", readme), APPROVE])

    again = ap.run("r1", plan, script)

    assert again.returncode == 0, again.output
    assert [c.parents[0].hexsha for c in ap.commits("r1")][1:] == [p1_commit]
    assert "def multiply" in ap.show("r1", "calc.py")  # p1's work is on the branch, not lost


@pytest.mark.parametrize(
    "case", ["missing project dir", "not a git repository", "run id x.lock"], ids=lambda c: c.replace(" ", "-")
)
def test_a_run_refused_before_it_starts_leaves_no_run_folder_behind(ap: AutopackEnv, case: str) -> None:
    plan = ap.plan([phase("p1")])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])
    run_id, project = "r1", ap.repo_dir
    if case == "missing project dir":
        project = ap.root / "nowhere"
    elif case == "not a git repository":
        project = ap.root / "plain"
        project.mkdir()
    else:
        run_id = "x.lock"
    args = ap.run_args(run_id, plan, script)
    args[args.index("--project-dir") + 1] = str(project)

    refused = ap.cli(*args)

    assert refused.returncode == 2, refused.output
    assert "Traceback" not in refused.stderr
    runs = ap.home / ".autonomous_runs" / "calc" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
