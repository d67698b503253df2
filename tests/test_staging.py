"""In-process staging (libgit2): it must record exactly what ``git add -A`` records, show the diff git
shows, commit the message git would store, and hand over to git where libgit2 would differ."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autopack.staging import Stager, clean_message
from autopack.workspace import Workspace, WorkspaceError
from conftest import MakeRepo, git


def _stager(repo: Path) -> Stager:
    stager = Stager.open(repo)
    assert stager is not None
    return stager


def _staged_diff(repo: Path) -> tuple[str, str]:
    """Stage the worktree in process; (its diff from HEAD, git's diff of the same index)."""
    base = git(repo, "rev-parse", "HEAD").strip()
    stager = _stager(repo)
    staged = stager.stage()
    assert staged is not None
    return stager.diff(base, staged), git(repo, "-c", "core.quotepath=false", "diff", "--cached", base)


def _git_tree_after_add(repo: Path) -> str:
    git(repo, "add", "-A")
    return git(repo, "write-tree").strip()


def _change_everything(repo: Path) -> None:
    """A phase's worth of changes of every kind git distinguishes."""
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b  # changed\n", encoding="utf-8")
    (repo / "old.txt").unlink()
    (repo / "pkg" / "deep").mkdir(parents=True)
    (repo / "pkg" / "deep" / "new.py").write_text("x = 1\n", encoding="utf-8")
    (repo / "café.py").write_text("nom = 'café'\n", encoding="utf-8")
    (repo / "run.sh").chmod(0o755)
    os.symlink("calc.py", repo / "link.py")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_bytes(b"\x00\x01")  # ignored by .gitignore
    (repo / "scratch.tmp").write_text("excluded\n", encoding="utf-8")  # ignored by info/exclude
    (repo / "win.txt").write_bytes(b"one\r\ntwo\r\n")  # text eol=lf: stored with LF
    git(repo, "mv", "moved_from.txt", "moved_to.txt")  # already in the index: stays staged


@pytest.fixture
def project(git_repo: MakeRepo) -> Path:
    repo = git_repo(
        files={
            "calc.py": "def add(a, b):\n    return a + b\n",
            "old.txt": "to be deleted\n",
            "run.sh": "#!/bin/sh\necho hi\n",
            "moved_from.txt": "".join(f"line {i}\n" for i in range(20)),
            ".gitignore": "build/\n",
            ".gitattributes": "*.txt text eol=lf\n",
        }
    )
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("*.tmp\n", encoding="utf-8")
    return repo


@pytest.mark.parametrize("autocrlf", [None, "true", "input"])
def test_staging_records_the_same_tree_as_git_add_all(project: Path, autocrlf: str | None) -> None:
    if autocrlf:
        git(project, "config", "core.autocrlf", autocrlf)
    _change_everything(project)
    (project / "dos.py").write_bytes(b"a = 1\r\nb = 2\r\n")  # no attribute: core.autocrlf decides
    staged = _stager(project).stage()
    assert staged is not None

    assert staged.tree == _git_tree_after_add(project)
    assert "build/out.o" not in staged.paths and "scratch.tmp" not in staged.paths
    assert {"café.py", "link.py", "old.txt", "pkg/deep/new.py", "run.sh", "win.txt"} <= set(staged.paths)


def test_the_diff_is_the_one_git_shows_with_renames_and_plain_non_ascii_names(project: Path) -> None:
    base = git(project, "rev-parse", "HEAD").strip()
    _change_everything(project)
    stager = _stager(project)
    staged = stager.stage()
    assert staged is not None

    ours = stager.diff(base, staged)
    theirs = git(project, "-c", "core.quotepath=false", "diff", "--cached", "-M", base)
    assert ours == theirs
    assert "rename from moved_from.txt" in ours and "+++ b/café.py" in ours


def test_a_name_with_a_quote_stays_quoted_as_git_quotes_it(project: Path) -> None:
    (project / 'say "hi".txt').write_text("hi\n", encoding="utf-8")
    ours, theirs = _staged_diff(project)
    assert ours == theirs
    assert 'diff --git "a/say \\"hi\\".txt"' in ours


def test_a_file_in_another_encoding_does_not_break_the_diff(project: Path) -> None:
    base = git(project, "rev-parse", "HEAD").strip()
    (project / "latin.py").write_bytes("nom = 'café'\n".encode("latin-1"))
    stager = _stager(project)
    staged = stager.stage()
    assert staged is not None
    assert "+nom = 'caf\ufffd'" in stager.diff(base, staged)


def test_a_path_with_a_clean_filter_is_left_to_git_and_the_index_is_untouched(project: Path) -> None:
    git(project, "config", "filter.upper.clean", "tr a-z A-Z")
    git(project, "config", "filter.upper.smudge", "cat")
    (project / ".gitattributes").write_text("*.txt text eol=lf\n*.up filter=upper\n", encoding="utf-8")
    git(project, "add", ".gitattributes")
    git(project, "commit", "-q", "-m", "attributes")
    index = project / ".git" / "index"
    before = index.read_bytes()
    (project / "shout.up").write_text("quiet words\n", encoding="utf-8")

    assert _stager(project).stage() is None
    assert index.read_bytes() == before


def test_the_workspace_commits_a_filtered_file_through_git(project: Path, tmp_path: Path) -> None:
    git(project, "config", "filter.upper.clean", "tr a-z A-Z")
    git(project, "config", "filter.upper.smudge", "cat")
    (project / ".gitattributes").write_text("*.up filter=upper\n", encoding="utf-8")
    git(project, "add", ".gitattributes")
    git(project, "commit", "-q", "-m", "attributes")
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    assert ws.in_process
    (ws.root / "shout.up").write_text("quiet words\n", encoding="utf-8")

    ws.stage_and_diff(ws.base_commit)
    sha = ws.commit("phase 1", staged=True)

    assert git(project, "show", f"{sha}:shout.up") == "QUIET WORDS\n"  # the clean filter ran


def test_a_nested_repository_is_left_to_git(project: Path) -> None:
    nested = project / "vendor" / "lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    (nested / "f.txt").write_text("f\n", encoding="utf-8")
    assert _stager(project).stage() is None


def test_an_index_libgit2_cannot_read_is_left_to_git(project: Path, tmp_path: Path) -> None:
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    git(ws.root, "update-index", "--split-index")  # the 'link' extension libgit2 does not read
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    (ws.root / "calc.py").write_text("changed = True\n", encoding="utf-8")

    assert not ws.in_process
    assert "+changed = True" in ws.stage_and_diff(ws.base_commit)
    sha = ws.commit("phase 1", staged=True)
    assert git(project, "show", f"{sha}:calc.py") == "changed = True\n"


def test_a_phase_commit_spawns_no_git_process(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    (ws.root / "calc.py").write_text("changed = True\n", encoding="utf-8")
    spawned: list[list[str]] = []
    real_init = subprocess.Popen.__init__

    def counting_init(self: subprocess.Popen[bytes], args: list[str], *a: object, **kw: object) -> None:
        spawned.append(list(args))
        real_init(self, args, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess.Popen, "__init__", counting_init)
    diff = ws.stage_and_diff(ws.base_commit)
    sha = ws.commit(Workspace.commit_message("run-1", "p1", "change", "m", "ok", 1), allow_empty=True, staged=True)
    monkeypatch.undo()

    assert spawned == []
    assert "+changed = True" in diff and sha == ws.head() != ws.base_commit
    assert git(project, "log", "-1", "--format=%an <%ae>%n%B", sha).startswith("autopack <autopack@localhost>\n")
    assert "Autopack-Phase: p1" in git(project, "log", "-1", "--format=%B", sha)
    assert git(ws.root, "status", "--porcelain") == ""  # the index git reads agrees with the commit
    assert git(project, "reflog", "-1", "--format=%H", "refs/heads/autopack/run-1").strip() == sha


def test_nothing_to_commit_is_none_unless_an_empty_commit_is_asked_for(project: Path, tmp_path: Path) -> None:
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    assert ws.commit("nothing") is None
    assert ws.head() == ws.base_commit
    sha = ws.commit("empty on purpose", allow_empty=True)
    assert sha is not None and git(project, "rev-parse", f"{sha}^").strip() == ws.base_commit


@pytest.mark.parametrize(
    "message",
    [
        "subject\n\nbody\n",
        "subject   \n\n\n\nbody line  \n\n\n",
        "\n\nleading blank lines\n",
        "no newline at end",
        "tabs\t\t\n\tindented body\n",
        "   \n   \n",
        "# not a comment with -m\n",
    ],
)
def test_messages_are_stored_as_git_commit_m_stores_them(message: str, tmp_path: Path) -> None:
    proc = subprocess.run(["git", "stripspace"], input=message, capture_output=True, text=True, check=True)
    assert clean_message(message) == proc.stdout


def test_a_name_with_a_space_gets_gits_tab_after_it(project: Path) -> None:
    (project / "my notes.md").write_text("n\n", encoding="utf-8")
    (project / "calc.py").write_text("x = 2\n", encoding="utf-8")
    ours, theirs = _staged_diff(project)
    assert ours == theirs
    assert "+++ b/my notes.md\t\n" in ours and "+++ b/calc.py\n" in ours


def test_the_run_worktree_honours_the_main_repositorys_info_exclude(project: Path, tmp_path: Path) -> None:
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    assert ws.in_process
    (ws.root / "notes.tmp").write_text("excluded in .git/info/exclude of the main repository\n", encoding="utf-8")
    (ws.root / "kept.py").write_text("x = 1\n", encoding="utf-8")

    diff = ws.stage_and_diff(ws.base_commit)
    sha = ws.commit("phase 1", staged=True)

    assert "kept.py" in diff and "notes.tmp" not in diff
    assert git(project, "ls-tree", "-r", "--name-only", str(sha)).split().count("notes.tmp") == 0


@pytest.mark.parametrize("value", ["abc", "-1"])
def test_a_diff_setting_libgit2_rejects_ends_in_gits_clean_error_not_a_traceback(
    project: Path, tmp_path: Path, value: str
) -> None:
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    git(project, "config", "diff.context", value)
    (ws.root / "calc.py").write_text("changed = True\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="diff"):
        ws.stage_and_diff(ws.base_commit)


def test_staging_returns_to_libgit2_once_a_restore_removed_a_negating_gitignore(project: Path, tmp_path: Path) -> None:
    ws = Workspace.open(project, "run-1", tmp_path / "wt")
    (ws.root / "sub").mkdir()
    (ws.root / "sub" / ".gitignore").write_text("!keep.log\n", encoding="utf-8")
    stager = Stager.open(ws.root)
    assert stager is not None and stager.stage() is None  # a nested negation: git stages
    ws.restore(ws.base_commit)  # the failed attempt's files are gone
    (ws.root / "calc.py").write_text("changed = True\n", encoding="utf-8")
    staged = stager.stage()
    assert staged is not None and staged.paths == ("calc.py",)
