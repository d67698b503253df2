"""A run works on its own branch in its own worktree; the user's checkout is never touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from git import Actor, Repo

from autopack.childenv import subprocess_env
from autopack.workspace.worktree import Workspace, WorkspaceError, validate_run_id
from conftest import git

USER = Actor("Test User", "test@example.com")


def make_repo(path: Path, files: dict[str, str] | None = None) -> Repo:
    path.mkdir(parents=True, exist_ok=True)
    repo = Repo.init(path)
    files = files or {"calc.py": "def add(a, b):\n    return a + b\n", "README.md": "# demo\n"}
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    repo.index.add(list(files))
    repo.index.commit("initial", author=USER, committer=USER)
    return repo


def user_state(repo: Repo) -> dict[str, Any]:
    """Everything the user could notice: HEAD, branch, index, status and every file's bytes."""
    root = Path(repo.working_tree_dir or "")
    return {
        "head": repo.head.commit.hexsha,
        "branch": repo.active_branch.name,
        "status": repo.git.status("--porcelain", "--untracked-files=all"),
        "staged": repo.git.diff("--cached"),
        "files": {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts
        },
    }


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "project")


@pytest.fixture
def ws(repo: Repo, tmp_path: Path) -> Workspace:
    return Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")


def test_open_creates_the_run_branch_and_worktree_from_head(repo: Repo, tmp_path: Path) -> None:
    ws = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "runs" / "wt")
    head = repo.head.commit.hexsha
    assert ws.created and ws.branch == "autopack/run-1"
    assert ws.base_commit == head and ws.head() == head
    assert repo.heads["autopack/run-1"].commit.hexsha == head
    assert (ws.root / "calc.py").read_text(encoding="utf-8") == "def add(a, b):\n    return a + b\n"
    assert ws.root == ws.path == (tmp_path / "runs" / "wt").resolve()
    assert not ws.is_dirty()


def test_the_users_checkout_survives_a_whole_run_untouched(repo: Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    (root / "calc.py").write_text("# user's work in progress\n", encoding="utf-8")
    (root / "staged.txt").write_text("staged but not committed\n", encoding="utf-8")
    repo.index.add(["staged.txt"])
    (root / "notes.txt").write_text("untracked notes\n", encoding="utf-8")
    before = user_state(repo)

    ws = Workspace.open(root, "run-1", tmp_path / "wt")
    (ws.root / "calc.py").write_text("def add(a, b):\n    return b + a\n", encoding="utf-8")
    (ws.root / "new.py").write_text("X = 1\n", encoding="utf-8")
    assert ws.diff() and ws.changed_files() == ["calc.py", "new.py"]
    first = ws.commit(Workspace.commit_message("run-1", "p1", "Phase one", "m", "1/1 checks passed", 1))
    assert first is not None
    (ws.root / "junk.txt").write_text("failed attempt\n", encoding="utf-8")
    ws.restore(first)
    assert ws.find_phase_commit("p1") == first
    ws.reset_branch(ws.base_commit)
    ws.remove()
    Workspace.open(root, "run-1", tmp_path / "wt")

    assert user_state(repo) == before


def test_commit_message_has_subject_body_and_trailers() -> None:
    msg = Workspace.commit_message(
        "run-1", "p2", "Add\nsubtraction", "claude-x", "3/3 checks passed; pytest 4 passed", 2
    )
    assert msg == (
        "autopack(p2): Add subtraction\n\n"
        "Model: claude-x\nAttempt: 2\nGate: 3/3 checks passed; pytest 4 passed\n\n"
        "Autopack-Run: run-1\nAutopack-Phase: p2\n"
    )


def test_commits_are_made_as_autopack_without_any_git_identity(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "nope"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    (ws.root / "calc.py").write_text("changed\n", encoding="utf-8")
    sha = ws.commit("autopack(p1): change")
    assert sha is not None and sha == ws.head() != ws.base_commit
    commit = Repo(ws.root).commit(sha)
    assert (commit.author.name, commit.author.email) == ("autopack", "autopack@localhost")
    assert (commit.committer.name, commit.committer.email) == ("autopack", "autopack@localhost")
    assert commit.message == "autopack(p1): change\n"
    assert not ws.is_dirty()


def test_commit_with_nothing_to_commit_returns_none_unless_empty_is_allowed(ws: Workspace) -> None:
    assert ws.commit("nothing") is None
    assert ws.head() == ws.base_commit
    sha = ws.commit("empty on purpose", allow_empty=True)
    assert sha is not None and sha != ws.base_commit and ws.head() == sha


def test_find_phase_commit_matches_phase_and_run_trailers(ws: Workspace) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    p1 = ws.commit(Workspace.commit_message("run-1", "p1", "A", "m", "ok", 1))
    (ws.root / "b.txt").write_text("b\n", encoding="utf-8")
    p2 = ws.commit(Workspace.commit_message("run-1", "p2", "B", "m", "ok", 1))
    ws.commit(Workspace.commit_message("other-run", "p3", "C", "m", "ok", 1), allow_empty=True)
    assert ws.find_phase_commit("p1") == p1
    assert ws.find_phase_commit("p2") == p2
    assert ws.find_phase_commit("p3") is None  # committed under another run's trailer
    assert ws.find_phase_commit("p9") is None


def test_restore_removes_modified_and_untracked_files(ws: Workspace) -> None:
    start = ws.head()
    (ws.root / "calc.py").write_text("broken(\n", encoding="utf-8")
    (ws.root / "README.md").unlink()
    (ws.root / "new.txt").write_text("new\n", encoding="utf-8")
    (ws.root / "pkg" / "deep").mkdir(parents=True)
    (ws.root / "pkg" / "deep" / "mod.py").write_text("x = 1\n", encoding="utf-8")
    assert ws.is_dirty()
    ws.restore(start)
    assert (ws.root / "calc.py").read_text(encoding="utf-8") == "def add(a, b):\n    return a + b\n"
    assert (ws.root / "README.md").exists()
    assert not (ws.root / "new.txt").exists() and not (ws.root / "pkg").exists()
    assert not ws.is_dirty() and ws.head() == start


def test_restore_goes_back_over_a_commit(ws: Workspace) -> None:
    (ws.root / "calc.py").write_text("v2\n", encoding="utf-8")
    ws.commit("phase")
    ws.restore(ws.base_commit)
    assert ws.head() == ws.base_commit
    assert (ws.root / "calc.py").read_text(encoding="utf-8").startswith("def add")


def test_restore_to_an_unknown_commit_is_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="not a commit"):
        ws.restore("0" * 40)


def test_diff_shows_modifications_and_untracked_files_without_staging_them(ws: Workspace) -> None:
    (ws.root / "calc.py").write_text("def add(a, b):\n    return b + a\n", encoding="utf-8")
    (ws.root / "new_mod.py").write_text("VALUE = 1\n", encoding="utf-8")
    diff = ws.diff()
    assert "diff --git a/calc.py b/calc.py" in diff
    assert "-    return a + b\n+    return b + a\n" in diff
    assert "diff --git a/new_mod.py b/new_mod.py" in diff and "+VALUE = 1\n" in diff
    assert ws.changed_files() == ["calc.py", "new_mod.py"]
    status = Repo(ws.root).git.status("--porcelain")
    assert "?? new_mod.py" in status and " M calc.py" in status  # nothing was staged


def test_diff_against_base_includes_committed_phases(ws: Workspace) -> None:
    (ws.root / "one.py").write_text("ONE = 1\n", encoding="utf-8")
    ws.commit("phase 1")
    (ws.root / "two.py").write_text("TWO = 2\n", encoding="utf-8")
    assert ws.changed_files() == ["two.py"]
    assert ws.changed_files(ws.base_commit) == ["one.py", "two.py"]
    assert "+ONE = 1" in ws.diff(ws.base_commit) and "+ONE = 1" not in ws.diff()


def test_reset_branch_rolls_the_run_back_to_its_start(ws: Workspace) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    ws.commit(Workspace.commit_message("run-1", "p1", "A", "m", "ok", 1))
    (ws.root / "stray.txt").write_text("x\n", encoding="utf-8")
    ws.reset_branch(ws.base_commit)
    assert ws.head() == ws.base_commit
    assert ws.find_phase_commit("p1") is None
    assert not (ws.root / "a.txt").exists() and not ws.is_dirty()


def test_resume_reuses_the_worktree_and_remembers_the_base(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    phase = ws.commit("phase 1")
    (ws.root / "wip.txt").write_text("uncommitted\n", encoding="utf-8")
    root = Path(repo.working_tree_dir or "")
    (root / "later.txt").write_text("user moved on\n", encoding="utf-8")
    repo.index.add(["later.txt"])
    repo.index.commit("user commit", author=USER, committer=USER)

    again = Workspace.open(root, "run-1", tmp_path / "wt")
    assert not again.created
    assert again.root == ws.root and again.head() == phase
    assert again.base_commit == ws.base_commit != repo.head.commit.hexsha
    assert (again.root / "wip.txt").read_text(encoding="utf-8") == "uncommitted\n"


def test_resume_adds_the_worktree_again_when_its_folder_vanished(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    phase = ws.commit("phase 1")
    shutil.rmtree(ws.root)
    again = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")
    assert again.head() == phase
    assert (again.root / "a.txt").read_text(encoding="utf-8") == "a\n"
    assert again.base_commit == ws.base_commit


def test_resume_accepts_an_explicit_base_commit_and_checks_it(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    again = Workspace.open(root, "run-1", tmp_path / "wt", base_commit=ws.base_commit)
    assert again.base_commit == ws.base_commit
    repo.index.commit("user commit", author=USER, committer=USER)
    with pytest.raises(WorkspaceError, match="not in the history"):
        Workspace.open(root, "run-1", tmp_path / "wt", base_commit=repo.head.commit.hexsha)


def test_remove_deletes_the_worktree_but_keeps_the_branch(repo: Repo, ws: Workspace) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    phase = ws.commit("phase 1")
    ws.remove()
    assert not ws.root.exists()
    assert repo.heads["autopack/run-1"].commit.hexsha == phase
    with pytest.raises(WorkspaceError, match="open the workspace again"):
        ws.head()


def test_a_folder_that_is_not_a_repository_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a git repository.*git init && git add -A && git commit -m initial"):
        Workspace.open(tmp_path / "plain", "run-1", tmp_path / "wt")


def test_a_repository_without_commits_is_refused_with_the_fix(tmp_path: Path) -> None:
    Repo.init(tmp_path / "empty")
    with pytest.raises(WorkspaceError, match="no commits yet.*git commit -m initial"):
        Workspace.open(tmp_path / "empty", "run-1", tmp_path / "wt")


def test_a_subdirectory_of_a_repository_is_refused(repo: Repo, tmp_path: Path) -> None:
    sub = Path(repo.working_tree_dir or "") / "sub"
    sub.mkdir()
    with pytest.raises(WorkspaceError, match="repository root"):
        Workspace.open(sub, "run-1", tmp_path / "wt")


@pytest.mark.parametrize(
    "run_id",
    [
        "has space",
        "a..b",
        "x~1",
        "up^",
        "a:b",
        "what?",
        "star*",
        "br[ack",
        "back\\slash",
        "-flag",
        "",
        "x.lock",
        "end/",
    ],
)
def test_run_ids_that_cannot_name_a_branch_are_refused(repo: Repo, tmp_path: Path, run_id: str) -> None:
    with pytest.raises(WorkspaceError, match="cannot name a git branch"):
        Workspace.open(Path(repo.working_tree_dir or ""), run_id, tmp_path / "wt")
    assert [h.name for h in repo.heads if h.name.startswith("autopack")] == []


def test_ordinary_run_ids_are_accepted() -> None:
    assert validate_run_id("2024-06-01_calc.v2") == "2024-06-01_calc.v2"
    assert validate_run_id("team/run-7") == "team/run-7"


def test_a_run_already_checked_out_elsewhere_is_not_checked_out_twice(
    repo: Repo, ws: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(WorkspaceError, match=f"already checked out at {ws.root}"):
        Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "second")
    assert not (tmp_path / "second").exists()


def test_a_non_empty_foreign_folder_is_not_used_as_worktree(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="exists and is not empty"):
        Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text(encoding="utf-8") == "mine\n"


def test_a_worktree_inside_the_project_stays_out_of_the_users_status(repo: Repo) -> None:
    root = Path(repo.working_tree_dir or "")
    before = repo.git.status("--porcelain", "--untracked-files=all")
    ws = Workspace.open(root, "run-1", root / ".autonomous_runs" / "demo" / "runs" / "run-1" / "wt")
    (ws.root / "x.py").write_text("x = 1\n", encoding="utf-8")
    assert repo.git.status("--porcelain", "--untracked-files=all") == before
    assert ws.changed_files() == ["x.py"]


def test_non_ascii_file_names_work_under_lang_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C")
    monkeypatch.setenv("LC_ALL", "C")
    repo = make_repo(tmp_path / "projét", {"café.py": "PRICE = 1\n"})
    ws = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wörktree")
    (ws.root / "café.py").write_text("PRICE = 2\n", encoding="utf-8")
    (ws.root / "naïve.txt").write_text("ünïcode\n", encoding="utf-8")
    assert ws.changed_files() == ["café.py", "naïve.txt"]
    diff = ws.diff()
    assert "diff --git a/café.py b/café.py" in diff and "+ünïcode" in diff
    sha = ws.commit(Workspace.commit_message("run-1", "p1", "Prix du café", "m", "ok", 1))
    assert sha is not None and ws.find_phase_commit("p1") == sha
    assert ws.changed_files(ws.base_commit) == ["café.py", "naïve.txt"]
    (ws.root / "crème.txt").write_text("tmp\n", encoding="utf-8")
    ws.restore(sha)
    assert not (ws.root / "crème.txt").exists() and not ws.is_dirty()


def test_stage_and_diff_includes_new_files_and_the_staged_commit_holds_exactly_them(ws: Workspace) -> None:
    start = ws.head()
    (ws.root / "calc.py").write_text("def add(a, b):\n    return b + a\n", encoding="utf-8")
    (ws.root / "new.py").write_text("X = 1\n", encoding="utf-8")
    diff = ws.stage_and_diff(start)
    assert "+++ b/new.py" in diff and "+    return b + a" in diff
    sha = ws.commit("phase", allow_empty=True, staged=True)
    assert sha == ws.head() and sha != start
    assert not ws.is_dirty()
    assert sorted(ws.changed_files(start)) == ["calc.py", "new.py"]


def test_changed_since_lists_what_changed_and_a_discard_keeps_it_out_of_the_staged_commit(ws: Workspace) -> None:
    start = ws.head()
    (ws.root / "calc.py").write_text("def add(a, b):\n    return b + a\n", encoding="utf-8")
    (ws.root / "README.md").write_text("# rewritten by a check\n", encoding="utf-8")
    (ws.root / "README.md").rename(ws.root / "MOVED.md")
    (ws.root / "new.py").write_text("X = 1\n", encoding="utf-8")
    (ws.root / "report.txt").write_text("written by a check\n", encoding="utf-8")

    assert ws.changed_since(start) == ["MOVED.md", "README.md", "calc.py", "new.py", "report.txt"]
    ws.discard(["MOVED.md", "README.md", "report.txt"], start)  # staged above: the next staging must drop them
    diff = ws.stage_and_diff(start)
    sha = ws.commit("phase", allow_empty=True, staged=True)

    assert "README.md" not in diff and "report.txt" not in diff and "MOVED.md" not in diff
    assert sha is not None and sorted(ws.changed_files(start)) == ["calc.py", "new.py"]
    assert (ws.root / "README.md").read_text(encoding="utf-8") == "# demo\n"
    assert not (ws.root / "report.txt").exists() and not ws.is_dirty()


def test_a_clean_filter_runs_on_what_a_phase_commits(repo: Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    git(root, "config", "filter.upper.clean", "tr a-z A-Z")
    git(root, "config", "filter.upper.smudge", "cat")
    (root / ".gitattributes").write_text("*.up filter=upper\n", encoding="utf-8")
    git(root, "add", ".gitattributes")
    git(root, "commit", "-q", "-m", "attributes")
    ws = Workspace.open(root, "run-1", tmp_path / "wt")
    (ws.root / "shout.up").write_text("quiet words\n", encoding="utf-8")

    ws.stage_and_diff(ws.base_commit)
    sha = ws.commit("phase 1", staged=True)

    assert git(root, "show", f"{sha}:shout.up") == "QUIET WORDS\n"


def test_a_worktree_with_a_split_index_is_staged_and_committed(repo: Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    ws = Workspace.open(root, "run-1", tmp_path / "wt")
    git(ws.root, "update-index", "--split-index")
    ws = Workspace.open(root, "run-1", tmp_path / "wt")
    (ws.root / "calc.py").write_text("changed = True\n", encoding="utf-8")

    assert "+changed = True" in ws.stage_and_diff(ws.base_commit)
    sha = ws.commit("phase 1", staged=True)
    assert git(root, "show", f"{sha}:calc.py") == "changed = True\n"


def test_a_file_in_another_encoding_does_not_break_the_diff(ws: Workspace) -> None:
    (ws.root / "latin.py").write_bytes("nom = 'café'\n".encode("latin-1"))
    assert "+nom = 'caf\ufffd'" in ws.stage_and_diff(ws.base_commit)


def test_the_run_worktree_honours_the_main_repositorys_info_exclude(repo: Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("*.tmp\n", encoding="utf-8")
    ws = Workspace.open(root, "run-1", tmp_path / "wt")
    (ws.root / "notes.tmp").write_text("excluded in .git/info/exclude of the main repository\n", encoding="utf-8")
    (ws.root / "kept.py").write_text("x = 1\n", encoding="utf-8")

    diff = ws.stage_and_diff(ws.base_commit)
    sha = ws.commit("phase 1", staged=True)

    assert "kept.py" in diff and "notes.tmp" not in diff
    assert "notes.tmp" not in git(root, "ls-tree", "-r", "--name-only", str(sha)).split()


@pytest.mark.parametrize("value", ["abc", "-1"])
def test_a_diff_setting_git_refuses_ends_in_a_workspace_error_not_a_traceback(
    repo: Repo, tmp_path: Path, value: str
) -> None:
    root = Path(repo.working_tree_dir or "")
    ws = Workspace.open(root, "run-1", tmp_path / "wt")
    git(root, "config", "diff.context", value)
    (ws.root / "calc.py").write_text("changed = True\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="diff"):
        ws.stage_and_diff(ws.base_commit)


def test_head_is_read_in_process_and_follows_new_commits(ws: Workspace) -> None:
    before = ws.head()
    (ws.root / "x.txt").write_text("x\n", encoding="utf-8")
    after = ws.commit("x")
    assert after is not None and after != before and ws.head() == after
    ws.restore(before)
    assert ws.head() == before


# ----- resuming after kill -9 -----------------------------------------------------------------

ZERO = "0" * 40


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=subprocess_env(), capture_output=True, text=True, encoding="utf-8", check=True
    ).stdout


def registration(repo: Repo, path: Path) -> dict[str, str] | None:
    """The ``git worktree list --porcelain`` record of ``path``, or None if it is not registered."""
    for block in repo.git.worktree("list", "--porcelain").split("\n\n"):
        record = dict(line.partition(" ")[::2] for line in block.splitlines())
        if record.get("worktree") and Path(record["worktree"]).resolve() == path.resolve():
            return record
    return None


def half_created(repo: Repo, wt: Path, *onto: str, locked: bool = True) -> Path:
    """What a ``git worktree add`` killed before its checkout leaves: registered, locked
    'initializing', a folder holding only ``.git``. Returns the worktree's own git dir."""
    root = Path(repo.working_tree_dir or "")
    lock = ["--lock", "--reason", "initializing"] if locked else []
    run_git(root, "worktree", "add", "-q", *lock, "--no-checkout", str(wt), *onto)
    return Path(run_git(wt, "rev-parse", "--absolute-git-dir").strip())


def assert_complete_checkout(ws: Workspace, repo: Repo, sha: str) -> None:
    assert ws.head() == sha == repo.heads["autopack/run-1"].commit.hexsha
    assert (ws.root / "calc.py").read_text(encoding="utf-8") == "def add(a, b):\n    return a + b\n"
    assert not ws.is_dirty()
    record = registration(repo, ws.root)
    assert record is not None and "locked" not in record and record["branch"] == "refs/heads/autopack/run-1"


def test_resume_replaces_a_worktree_killed_before_git_wrote_its_head(repo: Repo, tmp_path: Path) -> None:
    root, wt = Path(repo.working_tree_dir or ""), tmp_path / "wt"
    repo.git.branch("autopack/run-1")  # the killed open() had made the branch
    admin = half_created(repo, wt, "--detach", "HEAD")
    (admin / "HEAD").write_text(ZERO + "\n", encoding="utf-8")
    before = registration(repo, wt)
    assert before is not None and before["HEAD"] == ZERO and "detached" in before
    assert before["locked"] == "initializing" and [p.name for p in wt.iterdir()] == [".git"]

    ws = Workspace.open(root, "run-1", wt)

    assert_complete_checkout(ws, repo, repo.head.commit.hexsha)
    assert any("half-created run worktree" in note for note in ws.notes)


def test_resume_replaces_a_worktree_killed_mid_checkout_of_the_run_branch(repo: Repo, tmp_path: Path) -> None:
    root, wt = Path(repo.working_tree_dir or ""), tmp_path / "wt"
    first = Workspace.open(root, "run-1", tmp_path / "first")
    (first.root / "a.txt").write_text("a\n", encoding="utf-8")
    phase = first.commit("phase 1")
    assert phase is not None
    first.remove()
    admin = half_created(repo, wt, "autopack/run-1")
    (wt / "a.txt").write_text("a", encoding="utf-8")  # the checkout got part of the way
    (admin / "index.lock").write_text("", encoding="utf-8")

    ws = Workspace.open(root, "run-1", wt)

    assert_complete_checkout(ws, repo, phase)
    assert (ws.root / "a.txt").read_text(encoding="utf-8") == "a\n"


def test_resume_replaces_a_worktree_whose_git_file_was_never_written(repo: Repo, tmp_path: Path) -> None:
    root, wt = Path(repo.working_tree_dir or ""), tmp_path / "wt"
    repo.git.branch("autopack/run-1")
    half_created(repo, wt, "--detach", "HEAD")
    (wt / ".git").write_text("", encoding="utf-8")  # git itself refuses to remove this one
    with pytest.raises(subprocess.CalledProcessError):
        run_git(root, "worktree", "remove", "--force", "--force", str(wt))

    ws = Workspace.open(root, "run-1", wt)

    assert_complete_checkout(ws, repo, repo.head.commit.hexsha)


def test_resume_replaces_a_worktree_killed_while_git_wrote_its_git_dir(repo: Repo, tmp_path: Path) -> None:
    root, wt = Path(repo.working_tree_dir or ""), tmp_path / "wt"
    repo.git.branch("autopack/run-1")
    admin = half_created(repo, wt, "--detach", "HEAD")
    (admin / "commondir").write_text("", encoding="utf-8")  # created, not yet written
    with pytest.raises(subprocess.CalledProcessError):
        run_git(root, "worktree", "list")  # every `git worktree` command fails now

    ws = Workspace.open(root, "run-1", wt)

    assert_complete_checkout(ws, repo, repo.head.commit.hexsha)
    assert any("half-created run worktree" in note for note in ws.notes)


@pytest.mark.parametrize("zero_head", [True, False], ids=["zero HEAD", "nothing checked out"])
def test_resume_replaces_an_unlocked_worktree_that_never_got_a_checkout(
    repo: Repo, tmp_path: Path, zero_head: bool
) -> None:
    root, wt = Path(repo.working_tree_dir or ""), tmp_path / "wt"
    repo.git.branch("autopack/run-1")
    admin = half_created(repo, wt, "--detach", "HEAD", locked=False)
    if zero_head:
        (admin / "HEAD").write_text(ZERO + "\n", encoding="utf-8")

    ws = Workspace.open(root, "run-1", wt)

    assert_complete_checkout(ws, repo, repo.head.commit.hexsha)
    assert any("half-created run worktree" in note for note in ws.notes)


def test_an_empty_branch_checkout_is_not_mistaken_for_a_half_created_one(repo: Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows this one without it being stored
    empty = run_git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit-tree", empty_tree, "-m", "e")
    empty = empty.strip()
    ws = Workspace.open(root, "run-1", tmp_path / "wt", base_commit=empty)
    assert [p.name for p in ws.root.iterdir()] == [".git"]
    again = Workspace.open(root, "run-1", tmp_path / "wt")
    assert again.notes == [] and again.head() == ws.head()


def test_resume_clears_a_locked_registration_whose_folder_vanished(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    run_git(root, "worktree", "lock", str(ws.root))
    shutil.rmtree(ws.root)

    again = Workspace.open(root, "run-1", tmp_path / "wt")

    assert_complete_checkout(again, repo, ws.base_commit)


def test_a_half_created_worktree_of_another_run_elsewhere_is_left_alone(repo: Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir or "")
    repo.git.branch("other")
    half_created(repo, tmp_path / "other-wt", "other")
    Workspace.open(root, "run-1", tmp_path / "wt")
    record = registration(repo, tmp_path / "other-wt")
    assert record is not None and record["locked"] == "initializing"


@pytest.mark.parametrize("kill_when", ["locked", "index.lock"])
def test_open_killed_while_adding_the_worktree_resumes_with_a_full_checkout(tmp_path: Path, kill_when: str) -> None:
    # kill -9 of the process that opens the workspace (and its git children) the moment the
    # worktree's git dir shows `kill_when`: 'locked' is written first of all, 'index.lock' while
    # the files are being checked out. Whatever state that leaves, the next open must repair it.
    root, wt = tmp_path / "big", tmp_path / "wt"
    for i in range(200):
        (root / f"pkg{i // 100}").mkdir(parents=True, exist_ok=True)
        (root / f"pkg{i // 100}" / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 40, encoding="utf-8")
    repo = make_repo(root)
    run_git(root, "add", "-A")
    run_git(root, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "many files")
    script = "import sys\nfrom pathlib import Path\nfrom autopack.workspace.worktree import Workspace\n"
    script += "Workspace.open(Path(sys.argv[1]), 'run-1', Path(sys.argv[2]))\n"
    proc = subprocess.Popen([sys.executable, "-c", script, str(root), str(wt)], start_new_session=True)
    trigger = root / ".git" / "worktrees" / "wt" / kill_when
    deadline = time.monotonic() + 60
    while proc.poll() is None and not trigger.exists() and time.monotonic() < deadline:
        time.sleep(0.0005)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the python process and the git it started
    except ProcessLookupError:
        pass
    proc.wait()

    ws = Workspace.open(root, "run-1", wt)

    assert_complete_checkout(ws, repo, repo.head.commit.hexsha)
    assert (ws.root / "pkg1" / "mod199.py").read_text(encoding="utf-8") == "VALUE = 199\n" * 40


def test_a_clean_resume_has_nothing_to_report(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    again = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")
    assert ws.notes == [] and again.notes == []


@pytest.mark.parametrize("name", ["index.lock", "HEAD.lock"])
def test_resume_removes_a_stale_lock_in_the_run_worktrees_git_dir(
    repo: Repo, ws: Workspace, tmp_path: Path, name: str
) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    lock = Path(run_git(ws.root, "rev-parse", "--absolute-git-dir").strip()) / name
    lock.write_text("", encoding="utf-8")  # a `git add/commit/reset` killed with -9
    with pytest.raises(WorkspaceError, match=name):
        ws.commit("phase 1")

    again = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")

    assert not lock.exists()
    assert [note for note in again.notes if name in note and "stale" in note]
    assert again.commit("phase 1") is not None
    again.restore(again.base_commit)
    assert not again.is_dirty()


def test_resume_removes_a_stale_lock_on_the_run_branch(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    lock = Path(repo.git_dir) / "refs" / "heads" / "autopack" / "run-1.lock"
    lock.write_text("", encoding="utf-8")  # a `git commit` killed while moving the branch
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="run-1.lock"):
        ws.commit("phase 1")

    again = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")

    assert not lock.exists() and any("run-1.lock" in note for note in again.notes)
    sha = again.commit("phase 1")
    assert sha is not None and repo.heads["autopack/run-1"].commit.hexsha == sha


def test_re_adding_a_vanished_worktree_also_removes_a_stale_lock_on_the_run_branch(
    repo: Repo, ws: Workspace, tmp_path: Path
) -> None:
    lock = Path(repo.git_dir) / "refs" / "heads" / "autopack" / "run-1.lock"
    lock.write_text("", encoding="utf-8")
    shutil.rmtree(ws.root)

    again = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")

    assert not lock.exists()
    (again.root / "a.txt").write_text("a\n", encoding="utf-8")
    assert again.commit("phase 1") is not None


def test_resume_never_removes_the_main_repositorys_index_lock(repo: Repo, ws: Workspace, tmp_path: Path) -> None:
    lock = Path(repo.git_dir) / "index.lock"
    lock.write_text("", encoding="utf-8")  # the user's own git command may be running right now
    again = Workspace.open(Path(repo.working_tree_dir or ""), "run-1", tmp_path / "wt")
    assert lock.exists() and again.notes == []
    (again.root / "a.txt").write_text("a\n", encoding="utf-8")
    assert again.commit("phase 1") is not None  # the run worktree has its own index


def test_reset_branch_keeps_the_commits_it_takes_off_under_a_ref(ws: Workspace, repo: Repo) -> None:
    (ws.root / "a.txt").write_text("a\n", encoding="utf-8")
    first = ws.commit(Workspace.commit_message("run-1", "p1", "A", "m", "ok", 1))
    kept = ws.reset_branch(ws.base_commit)
    (ws.root / "b.txt").write_text("b\n", encoding="utf-8")
    second = ws.commit(Workspace.commit_message("run-1", "p1", "B", "m", "ok", 1))
    kept_again = ws.reset_branch(ws.base_commit)

    assert (kept, kept_again) == ("refs/autopack/rolled-back/run-1/1", "refs/autopack/rolled-back/run-1/2")
    assert repo.git.rev_parse(kept) == first and repo.git.rev_parse(kept_again) == second
    repo.git.reflog("expire", "--expire=now", "--all")
    repo.git.gc("--prune=now", "--quiet")
    assert repo.git.cat_file("-t", first) == "commit"  # survives the reflog's expiry and gc
    assert ws.reset_branch(ws.base_commit) is None  # nothing taken off, nothing kept
