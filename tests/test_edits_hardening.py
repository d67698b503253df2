"""Hardening: no edit block is dropped silently, mass deletion through any format, NUL bytes.

Every edit block in a reply is either applied or refused with a reason naming it; a reply that
would take away most of the phase scope is refused whole; no edit may put a NUL byte into a text
file. Each test runs a real reply against real files in ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopack.edits import ApplyReport, apply_edits, parse_reply

APP = "def main():\n    return 1\n"
APP_WHOLE = "src/app.py\n```python\ndef main():\n    return 2\n```\n\n"
APP_SR = "src/app.py\n```python\n<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n```\n\n"
APP_DIFF = "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def main():\n-    return 1\n+    return 2\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text(APP, encoding="utf-8")
    return tmp_path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(
    root: Path, reply: str, scope: Sequence[str] = ("**",), mode: str | None = None, *, hints: bool = True, **kw
) -> ApplyReport:
    """Parse ``reply`` (with the scope and root as path hints, as the caller passes them) and apply it."""
    parsed = parse_reply(reply, mode, scope=scope, root=root) if hints else parse_reply(reply, mode)
    assert not parsed.truncated, parsed.problems
    return apply_edits(parsed.edits, root, list(scope), **kw)


def app_changed(root: Path) -> bool:
    return (root / "src/app.py").read_text(encoding="utf-8") == APP.replace("return 1", "return 2")


# whole-file blocks and their path lines -------------------------------------------------------------
@pytest.mark.parametrize(
    "path_line", ["VERSION", "**VERSION**", "`VERSION`", "VERSION:", "### VERSION", "- **VERSION**", "**VERSION:**"]
)
def test_whole_file_after_a_path_line_the_scope_names_is_applied(project, path_line):
    report = run(project, APP_WHOLE + f"{path_line}\n```\n1.2.3\n```\n", ["src/**", "VERSION"], "full_file")
    assert report.ok, report.feedback()
    assert (project / "VERSION").read_text(encoding="utf-8") == "1.2.3\n" and app_changed(project)


def test_whole_file_after_a_name_a_scope_glob_matches_is_applied(project):
    report = run(project, APP_WHOLE + "Earthfile\n```\nVERSION 0.8\n```\n", ["src/**", "*file"], "full_file")
    assert report.ok, report.feedback()
    assert (project / "Earthfile").read_text(encoding="utf-8") == "VERSION 0.8\n"


def test_whole_file_after_the_name_of_an_existing_file_is_applied(project):
    (project / "VERSION").write_text("1.0.0\n", encoding="utf-8")
    report = run(project, APP_WHOLE + "VERSION\n```\n1.2.3\n```\n", ["**"], "full_file")
    assert report.ok, report.feedback()
    assert (project / "VERSION").read_text(encoding="utf-8") == "1.2.3\n"


@pytest.mark.parametrize("name", ["CODEOWNERS", "Jenkinsfile", "Vagrantfile", ".gitattributes", "**Makefile:**"])
def test_well_known_file_names_are_path_lines_without_scope_hints(project, name):
    report = run(project, APP_WHOLE + f"{name}\n```\nline\n```\n", mode="full_file", hints=False)
    assert report.ok, report.feedback()
    assert (project / name.strip("*:")).read_text(encoding="utf-8") == "line\n"


def test_a_file_label_ties_a_block_to_a_name_without_an_extension(project):
    report = run(project, APP_WHOLE + "File: BUILD_ID\n```\n42\n```\n", ["**"], "full_file")
    assert report.ok, report.feedback()
    assert (project / "BUILD_ID").read_text(encoding="utf-8") == "42\n"


def test_block_after_an_unknown_name_is_refused_while_the_other_edit_applies(project):
    # The case: the phase used to be approved and committed without VERSION.
    report = run(project, APP_WHOLE + "VERSION\n```\n1.2.3\n```\n", mode="full_file", hints=False)
    assert [r.status for r in report.results] == ["applied", "refused"]
    assert not report.ok and report.category == "patch_apply_error"
    reason = report.results[1].reason
    assert "reply line 8" in reason and "'VERSION'" in reason and "path alone on the line right before" in reason
    assert "edit 2 (the block at reply line 8)" in report.feedback()
    assert not (project / "VERSION").exists() and app_changed(project)


def test_a_catch_all_scope_does_not_make_a_label_before_a_block_a_file(project):
    report = run(project, APP_WHOLE + "Output:\n```\n3 passed\n```\n", ["**"], "full_file")
    assert report.results[1].status == "refused" and "no file path line" in report.results[1].reason
    assert not (project / "Output").exists()


def test_code_block_after_prose_in_a_whole_file_reply_is_refused_naming_its_first_line(project):
    reply = APP_WHOLE + "And the new version file:\n```text\n1.2.3\n```\n"
    report = run(project, reply, ["**"], "full_file")
    assert report.results[1].status == "refused" and "(first line '1.2.3')" in report.results[1].reason


def test_terminal_session_in_a_whole_file_reply_stays_harmless(project):
    # Passes before and after the fix: the prose tolerance this change keeps.
    report = run(project, APP_WHOLE + "Check it with:\n```console\n$ pytest -q\n1 passed\n```\n", ["**"], "full_file")
    assert report.ok and [r.kind for r in report.results] == ["full_file"]


def test_search_replace_inside_a_whole_file_block_is_refused_not_dropped(project):
    (project / "src/b.py").write_text("B = 1\n", encoding="utf-8")
    reply = APP_WHOLE + "src/b.py\n```python\n<<<<<<< SEARCH\nB = 1\n=======\nB = 2\n>>>>>>> REPLACE\n```\n"
    report = run(project, reply, ["**"], "full_file")
    assert report.results[1].status == "refused" and "not the whole file" in report.results[1].reason
    assert (project / "src/b.py").read_text(encoding="utf-8") == "B = 1\n"


def test_diff_in_a_whole_file_reply_is_refused_not_dropped(project):
    (project / "src/b.py").write_text("B = 1\n", encoding="utf-8")
    reply = APP_WHOLE + "--- a/src/b.py\n+++ b/src/b.py\n@@ -1 +1 @@\n-B = 1\n+B = 2\n"
    report = run(project, reply, ["**"], "full_file")
    assert report.results[1].status == "refused" and "read as whole files" in report.results[1].reason
    assert (project / "src/b.py").read_text(encoding="utf-8") == "B = 1\n"


# SEARCH/REPLACE blocks ----------------------------------------------------------------------------
def test_search_replace_block_with_no_path_line_is_refused_while_the_other_edit_applies(project):
    reply = "<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n\n" + APP_SR
    report = run(project, reply, ["**"])
    assert [r.status for r in report.results] == ["refused", "applied"]
    assert "reply line 1" in report.results[0].reason and "no file path line" in report.results[0].reason


def test_search_replace_block_after_a_scope_named_name_edits_that_file_not_the_previous_one(project):
    (project / "VERSION").write_text("1.0.0\n", encoding="utf-8")
    reply = APP_SR + "VERSION\n<<<<<<< SEARCH\n1.0.0\n=======\n1.2.3\n>>>>>>> REPLACE\n"
    report = run(project, reply, ["src/**", "VERSION"])
    assert report.ok, report.feedback()
    assert (project / "VERSION").read_text(encoding="utf-8") == "1.2.3\n"


def test_search_replace_block_after_an_unknown_name_does_not_borrow_the_previous_path(project):
    reply = APP_SR + "VERSION\n<<<<<<< SEARCH\n=======\n1.2.3\n>>>>>>> REPLACE\n"
    report = run(project, reply, hints=False)
    refused = report.results[1]
    assert refused.status == "refused" and refused.path == "" and "'VERSION'" in refused.reason
    assert app_changed(project) and not (project / "VERSION").exists()


def test_search_replace_block_without_its_divider_is_refused_not_dropped(project):
    reply = "src/app.py\n<<<<<<< SEARCH\ndef main():\n>>>>>>> REPLACE\n\n" + APP_SR
    report = run(project, reply)
    assert report.results[0].status == "refused" and "no ======= line" in report.results[0].reason


def test_search_replace_block_with_a_marker_inside_replace_is_refused_not_dropped(project):
    reply = "src/app.py\n<<<<<<< SEARCH\nA\n=======\nB\n=======\nC\n>>>>>>> REPLACE\n\n" + APP_SR
    report = run(project, reply)
    assert report.results[0].status == "refused" and "malformed" in report.results[0].reason


def test_whole_file_block_in_a_search_replace_reply_is_refused_not_dropped(project):
    reply = APP_SR + "src/new.py\n```python\nX = 1\n```\n"
    report = run(project, reply, ["**"], "structured_edit")
    refused = report.results[1]
    assert refused.status == "refused" and refused.path == "src/new.py"
    assert "read as SEARCH/REPLACE blocks" in refused.reason and "empty SEARCH creates a file" in refused.reason
    assert not (project / "src/new.py").exists()


def test_code_block_after_prose_in_a_search_replace_reply_stays_harmless(project):
    # Passes before and after the fix: an illustration in prose is not an edit.
    reply = "The bug is in `src/app.py`:\n```python\n    return 1\n```\n\n" + APP_SR
    report = run(project, reply, ["**"], "structured_edit")
    assert report.ok and [r.kind for r in report.results] == ["search_replace"]


# unified diffs ------------------------------------------------------------------------------------
def test_hunk_without_its_plus_plus_plus_header_is_refused_while_the_other_file_applies(project):
    (project / "src/b.py").write_text("B = 1\n", encoding="utf-8")
    reply = "```diff\n" + APP_DIFF + "```\n\n```diff\n--- a/src/b.py\n@@ -1 +1 @@\n-B = 1\n+B = 2\n```\n"
    report = run(project, reply, ["**"], "diff")
    assert [r.status for r in report.results] == ["applied", "refused"]
    assert "reply line 12" in report.results[1].reason and "no ---/+++ file header" in report.results[1].reason
    assert (project / "src/b.py").read_text(encoding="utf-8") == "B = 1\n"


def test_diff_header_without_hunks_is_refused_not_dropped(project):
    reply = "```diff\n--- a/src/b.py\n+++ b/src/b.py\n```\n\n```diff\n" + APP_DIFF + "```\n"
    report = run(project, reply, ["**"], "diff")
    assert report.results[0].status == "refused" and "no @@ hunks" in report.results[0].reason


def test_rename_diff_is_refused_while_the_other_file_applies(project):
    (project / "src/old.py").write_text("A = 1\n", encoding="utf-8")
    reply = APP_DIFF + "--- a/src/old.py\n+++ b/src/new.py\n@@ -1 +1 @@\n-A = 1\n+A = 2\n"
    report = run(project, reply, ["**"], "diff")
    assert report.results[1].status == "refused" and "renames src/old.py to src/new.py" in report.results[1].reason
    assert not (project / "src/new.py").exists()


def test_new_file_diff_without_hunks_creates_an_empty_file(project):
    reply = "```diff\n--- /dev/null\n+++ b/src/pkg/__init__.py\n```\n\n```diff\n" + APP_DIFF + "```\n"
    report = run(project, reply, ["**"], "diff")
    assert report.ok, report.feedback()
    assert (project / "src/pkg/__init__.py").read_bytes() == b""


def test_search_replace_block_in_a_diff_reply_is_refused_not_dropped(project):
    (project / "src/b.py").write_text("B = 1\n", encoding="utf-8")
    reply = APP_DIFF + "\nsrc/b.py\n<<<<<<< SEARCH\nB = 1\n=======\nB = 2\n>>>>>>> REPLACE\n"
    report = run(project, reply, ["**"], "diff")
    assert report.results[1].status == "refused" and "read as a unified diff" in report.results[1].reason
    assert (project / "src/b.py").read_text(encoding="utf-8") == "B = 1\n"


def test_whole_file_block_in_a_diff_reply_is_refused_not_dropped(project):
    reply = "```diff\n" + APP_DIFF + "```\n\nsrc/new.py\n```python\nX = 1\n```\n"
    report = run(project, reply, ["**"], "diff")
    assert report.results[1].status == "refused" and "whole file for src/new.py" in report.results[1].reason


# mass deletion ------------------------------------------------------------------------------------
def five_line_files(root: Path, names: Sequence[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("".join(f"{name} line {i}\n" for i in range(5)), encoding="utf-8")


def deletion_diff(root: Path, name: str) -> str:
    lines = (root / name).read_text(encoding="utf-8").splitlines()
    return f"--- a/{name}\n+++ /dev/null\n@@ -1,{len(lines)} +0,0 @@\n" + "".join(f"-{t}\n" for t in lines)


def test_diff_deleting_every_file_in_scope_is_refused_whole_and_changes_nothing(tmp_path):
    names = ["lib/a.txt", "lib/b.txt", "lib/c.txt"]
    five_line_files(tmp_path, names)
    before = tree(tmp_path)
    reply = (
        "".join(deletion_diff(tmp_path, n) for n in names) + "--- /dev/null\n+++ b/lib/NOTE.md\n@@ -0,0 +1 @@\n+gone\n"
    )
    report = run(tmp_path, reply, ["lib/**"], "diff")
    assert not report.ok and report.category == "destructive_output"
    assert [r.guards for r in report.results[:3]] == [["mass_deletion"]] * 3
    assert "deleting lib/a.txt, lib/b.txt, lib/c.txt" in report.results[0].reason
    assert report.results[3].status == "refused" and "guard mass_deletion" in report.results[3].reason
    assert tree(tmp_path) == before and report.files_changed == []


def test_search_replace_emptying_most_of_the_scope_is_refused(tmp_path):
    five_line_files(tmp_path, ["lib/a.txt", "lib/b.txt", "lib/c.txt"])
    before = tree(tmp_path)
    reply = "".join(
        f"{n}\n<<<<<<< SEARCH\n{(tmp_path / n).read_text(encoding='utf-8')}=======\n>>>>>>> REPLACE\n"
        for n in ("lib/a.txt", "lib/b.txt")
    )
    report = run(tmp_path, reply, ["lib/**"])
    assert [r.guards for r in report.results] == [["mass_deletion"]] * 2
    assert "emptying lib/a.txt, lib/b.txt" in report.results[0].reason and tree(tmp_path) == before


def test_whole_file_replies_emptying_many_small_files_are_a_mass_deletion(tmp_path):
    # Each file is under the per-file shrink threshold (10 lines); together they are the scope.
    names = ["lib/a.txt", "lib/b.txt", "lib/c.txt"]
    five_line_files(tmp_path, names)
    before = tree(tmp_path)
    report = run(tmp_path, "".join(f"{n}\n```\n```\n\n" for n in names), ["lib/**"], "full_file")
    assert report.category == "destructive_output" and tree(tmp_path) == before


def test_allow_mass_deletion_lets_a_diff_delete_every_file_in_scope(tmp_path):
    # Passes before and after the fix: the phase's explicit permission still works.
    names = ["lib/a.txt", "lib/b.txt", "lib/c.txt"]
    five_line_files(tmp_path, names)
    report = run(tmp_path, "".join(deletion_diff(tmp_path, n) for n in names), ["lib/**"], allow_mass_deletion=True)
    assert report.ok and not any((tmp_path / n).exists() for n in names)


def test_deleting_a_small_part_of_the_scope_is_not_a_mass_deletion(tmp_path):
    # Passes before and after the fix: files the reply does not touch count in the scope.
    names = [f"lib/m{i}.txt" for i in range(6)]
    five_line_files(tmp_path, names)
    report = run(tmp_path, deletion_diff(tmp_path, "lib/m0.txt"), ["lib/**"])
    assert report.ok and not (tmp_path / "lib/m0.txt").exists()


# NUL bytes ----------------------------------------------------------------------------------------
def test_search_replace_putting_a_nul_byte_into_a_text_file_is_refused(project):
    report = run(project, "src/app.py\n<<<<<<< SEARCH\n    return 1\n=======\n    return '\x00'\n>>>>>>> REPLACE\n")
    result = report.results[0]
    assert result.guards == ["nul_byte"] and "line 2" in result.reason and "NUL byte" in result.reason
    assert (project / "src/app.py").read_text(encoding="utf-8") == APP


def test_diff_putting_a_nul_byte_into_a_text_file_is_refused(project):
    report = run(project, APP_DIFF.replace("+    return 2", "+    return '\x00'"), mode="diff")
    assert report.results[0].guards == ["nul_byte"]
    assert (project / "src/app.py").read_text(encoding="utf-8") == APP


def test_new_file_holding_a_nul_byte_is_refused_and_not_created(project):
    report = run(project, "src/data.txt\n```\nkey\x00value\n```\n", mode="full_file")
    assert report.results[0].guards == ["nul_byte"] and not (project / "src/data.txt").exists()


def test_a_file_that_already_holds_nul_bytes_can_still_be_edited(project):
    # Passes before and after the fix: such a file was not text, so the guard leaves it alone.
    (project / "src/blob.txt").write_text("a\x00b\nc\n", encoding="utf-8")
    report = run(project, "src/blob.txt\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n")
    assert report.ok and (project / "src/blob.txt").read_text(encoding="utf-8") == "a\x00b\nd\n"


# the edits command --------------------------------------------------------------------------------
def test_edits_apply_command_recognises_path_lines_its_scope_names(project):
    import typer

    from autopack.cli.edits import edits_app

    app = typer.Typer()
    app.add_typer(edits_app, name="edits")
    (project / "reply.md").write_text("VERSION\n```\n1.2.3\n```\n", encoding="utf-8")
    args = ["edits", "apply", str(project / "reply.md"), "--dir", str(project), "--scope", "VERSION"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (project / "VERSION").read_text(encoding="utf-8") == "1.2.3\n"
