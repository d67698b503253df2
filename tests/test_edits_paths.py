"""Path safety: every refused path refuses the whole reply and leaves the tree untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autopack.edits import Edit, PathRefused, apply_edits, in_scope, parse_reply, resolve_in_workspace


def tree(tmp_path: Path) -> dict[str, bytes]:
    return {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}


def reply_touching(bad_path: str) -> str:
    """A reply whose first edit is fine and whose second names ``bad_path``."""
    return (
        "src/ok.py\n<<<<<<< SEARCH\nOK = 1\n=======\nOK = 2\n>>>>>>> REPLACE\n\n"
        f"{bad_path}\n<<<<<<< SEARCH\n=======\npwned = True\n>>>>>>> REPLACE\n"
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/ok.py").write_text("OK = 1\n", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/notes.md").write_text("# notes\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git/config").write_text("[core]\n", encoding="utf-8")
    return tmp_path


def refuse_all(workspace: Path, reply: str, scope=("src/**",)):
    before = tree(workspace)
    parsed = parse_reply(reply)
    assert len(parsed.edits) == 2, parsed.problems
    report = apply_edits(parsed.edits, workspace, list(scope))
    assert not report.ok and report.category == "scope_violation"
    assert all(r.status == "refused" and r.category == "scope_violation" for r in report.results)
    assert report.files_changed == [] and tree(workspace) == before
    return report


def test_absolute_path_refuses_the_reply(workspace, tmp_path):
    outside = tmp_path.parent / "abs-target.py"
    report = refuse_all(workspace, reply_touching(str(outside)))
    assert "absolute" in report.results[1].reason
    assert "refused path" in report.results[0].reason and "edit 2" in report.results[0].reason
    assert not outside.exists()


def test_dotdot_refuses_the_reply(workspace):
    report = refuse_all(workspace, reply_touching("src/../../escape.py"))
    assert "'..'" in report.results[1].reason


def test_git_dir_refuses_the_reply(workspace):
    report = refuse_all(workspace, reply_touching(".git/hooks/pre-commit"), scope=["**"])
    assert ".git" in report.results[1].reason


def test_symlink_leading_out_of_root_refuses_the_reply(workspace, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    os.symlink(elsewhere, workspace / "src/link")
    report = refuse_all(workspace, reply_touching("src/link/evil.py"))
    assert "outside the project directory" in report.results[1].reason
    assert list(elsewhere.iterdir()) == []


def test_symlink_inside_root_but_out_of_scope_refuses_the_reply(workspace):
    os.symlink(workspace / "docs", workspace / "src/docs_link")
    report = refuse_all(workspace, reply_touching("src/docs_link/notes.md"))
    assert "outside this phase's scope" in report.results[1].reason


def test_out_of_scope_path_refuses_the_reply(workspace):
    report = refuse_all(workspace, reply_touching("docs/notes.md"))
    assert "outside this phase's scope (src/**)" in report.results[1].reason


def test_drive_letter_is_refused(tmp_path):
    with pytest.raises(PathRefused, match="drive letter"):
        resolve_in_workspace(tmp_path, "C:\\Windows\\evil.py", ["**"])


def test_backslashes_and_dot_slash_are_normalized(tmp_path):
    assert resolve_in_workspace(tmp_path, ".\\src\\pkg\\m.py", ["src/"]) == (tmp_path / "src/pkg/m.py").resolve()


def test_symlink_inside_scope_resolves_to_its_target(tmp_path):
    (tmp_path / "src/real").mkdir(parents=True)
    os.symlink(tmp_path / "src/real", tmp_path / "src/alias")
    assert resolve_in_workspace(tmp_path, "src/alias/m.py", ["src/"]) == (tmp_path / "src/real/m.py").resolve()


@pytest.mark.parametrize(
    ("path", "scope", "expected"),
    [
        ("src/a/b/c.py", ["src/**/*.py"], True),
        ("src/c.py", ["src/**/*.py"], True),
        ("src/c.txt", ["src/**/*.py"], False),
        ("src/a/c.py", ["src/*.py"], False),
        ("src/pkg/x/y.py", ["src/pkg/"], True),
        ("src/pkg/x/y.py", ["src/pkg"], True),
        ("src/pkgextra/y.py", ["src/pkg"], False),
        ("README.md", ["README.md"], True),
        ("tests/test_a.py", ["src/**", "tests/test_?.py"], True),
        ("anything/at/all.txt", ["**"], True),
    ],
)
def test_scope_matching(path, scope, expected):
    assert in_scope(path, scope) is expected


def test_edit_to_a_directory_is_refused(tmp_path):
    (tmp_path / "pkg").mkdir()
    report = apply_edits([Edit(kind="full_file", path="pkg", index=1, content="x\n")], tmp_path, ["**"])
    assert not report.ok and "directory" in report.results[0].reason
