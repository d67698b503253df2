"""Aider's own edit-parsing tests, translated: the reply quirks its authors collected from real models.

Source: aider-chat (Apache-2.0), tests/basic/test_editblock.py, test_wholefile.py and test_udiff.py
at commit 5dc9490b (2026-05-22). Each test keeps Aider's reply text and file content and asserts
what autopack does with them, through the real parser and applier on real files. Where Aider's
expectation is right, ours is the same; where autopack differs on purpose (it refuses what Aider
guesses: the first of several matches, a fuzzy file name, a file outside the phase scope), the
test says why. Aider's test names are in each docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from autopack.edits import ApplyReport, apply_edits, parse_reply


@dataclass
class Outcome:
    report: ApplyReport
    files: dict[str, str]
    truncated: bool = False

    def statuses(self) -> list[str]:
        return [r.status for r in self.report.results]


def run(
    root: Path,
    reply: str,
    files: Mapping[str, str] = {},  # noqa: B006 - read only
    *,
    mode: str | None = None,
    scope: Sequence[str] = ("**",),
    dry_run: bool = False,
) -> Outcome:
    """Write ``files``, parse ``reply`` as the attempt does (scope and root as path hints), apply it."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    parsed = parse_reply(reply, mode, scope=scope, root=root)
    report = apply_edits([] if parsed.truncated else parsed.edits, root, list(scope), dry_run=dry_run)
    tree = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file()}
    return Outcome(report, tree, parsed.truncated)


def sr(path_lines: str, search: str, replace: str) -> str:
    return f"{path_lines}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


# test_editblock.py: file names before a block (test_find_filename) ------------------------------------
def test_file_name_alone_on_the_line_before_the_fence(tmp_path: Path) -> None:
    """test_find_filename: ["file1.py", "```"]."""
    out = run(tmp_path, sr("file1.py\n```", "a = 1\n", "a = 2\n") + "```\n", {"file1.py": "a = 1\n"})
    assert out.report.ok, out.report.feedback()
    assert out.files["file1.py"] == "a = 2\n"


def test_base_name_inside_its_own_fence_is_the_one_file_in_scope_with_that_name(tmp_path: Path) -> None:
    """test_find_filename: ["```python", "file3.py", "```"] with dir/file3.py in the chat.

    The model dropped the directory; only one file in scope has that name and the SEARCH text is
    there, so it is that file (a SEARCH cannot create a file, so there is no other reading).
    """
    files = {"file1.py": "a = 1\n", "dir/file3.py": "c = 3\n"}
    out = run(tmp_path, sr("```python\nfile3.py\n```\n```python", "c = 3\n", "c = 4\n") + "```\n", files)
    assert out.report.ok, out.report.feedback()
    assert out.files["dir/file3.py"] == "c = 4\n" and "file3.py" not in out.files
    assert any("dir/file3.py" in note for note in out.report.results[0].fuzz)


def test_base_name_shared_by_two_files_in_scope_is_refused_naming_both(tmp_path: Path) -> None:
    """Ours only: Aider takes the first chat file with that base name; two candidates are a guess."""
    files = {"a/util.py": "x = 1\n", "b/util.py": "x = 1\n"}
    out = run(tmp_path, sr("util.py", "x = 1\n", "x = 2\n"), files)
    assert out.statuses() == ["refused"]
    assert "a/util.py" in out.report.results[0].reason and "b/util.py" in out.report.results[0].reason
    assert out.files == files


def test_unknown_file_name_between_fences_is_still_the_path(tmp_path: Path) -> None:
    """test_find_filename: ["```", "invalid_file.py", "```"] -> "invalid_file.py" (here: a new file)."""
    out = run(tmp_path, sr("```\ninvalid_file.py\n```\n```", "", "print(1)\n") + "```\n")
    assert out.report.ok, out.report.feedback()
    assert out.files == {"invalid_file.py": "print(1)\n"}


def test_the_last_of_several_fenced_file_names_counts(tmp_path: Path) -> None:
    """test_find_filename: ["```python", "file1.py", "```", "```", "file2.py", "```"] -> file2.py."""
    files = {"file1.py": "a = 1\n", "file2.py": "a = 1\n"}
    out = run(tmp_path, sr("```python\nfile1.py\n```\n```\nfile2.py\n```", "a = 1\n", "a = 2\n"), files)
    assert out.report.ok, out.report.feedback()
    assert out.files == {"file1.py": "a = 1\n", "file2.py": "a = 2\n"}


def test_file_name_after_a_hash(tmp_path: Path) -> None:
    """test_find_filename: ["# file1.py", "```"]."""
    out = run(tmp_path, sr("# file1.py\n```", "a = 1\n", "a = 2\n") + "```\n", {"file1.py": "a = 1\n"})
    assert out.report.ok and out.files["file1.py"] == "a = 2\n"


@pytest.mark.parametrize("name", ["file1_py", "\\windows__init__.py"])
def test_a_misspelt_file_name_is_refused_not_matched_fuzzily(tmp_path: Path, name: str) -> None:
    """test_find_filename: "file1_py" -> file1.py and "\\windows__init__.py" -> "\\windows\\__init__.py".

    Ours differs on purpose: Aider picks the closest chat file by edit distance; a name that is not
    a file is refused with the name quoted, so the model resends the real path.
    """
    files = {"file1.py": "a = 1\n", "windows/__init__.py": "a = 1\n"}
    out = run(tmp_path, sr(f"{name}\n```", "a = 1\n", "a = 2\n") + "```\n", files)
    assert out.statuses() == ["refused"]
    assert out.files == files


# test_editblock.py: wrapping inside SEARCH/REPLACE (strip_quoted_wrapping via do_replace) ----------
def test_search_and_replace_wrapped_in_a_file_name_and_fences_are_unwrapped(tmp_path: Path) -> None:
    """test_strip_quoted_wrapping: "filename.ext\\n```\\n...\\n```" -> the lines inside."""
    search = "filename.ext\n```\nWe just want this content\n```\n"
    replace = "filename.ext\n```\nWe just want this text\n```\n"
    files = {"filename.ext": "first\nWe just want this content\nlast\n"}
    out = run(tmp_path, sr("filename.ext", search, replace), files)
    assert out.report.ok, out.report.feedback()
    assert out.files["filename.ext"] == "first\nWe just want this text\nlast\n"


def test_search_and_replace_wrapped_in_fences_only_are_unwrapped(tmp_path: Path) -> None:
    """test_strip_quoted_wrapping_no_filename."""
    files = {"notes.txt": "We just want this content\nNot the triple quotes\n"}
    reply = sr("notes.txt", "```\nNot the triple quotes\n```\n", "```\nNot the quotes\n```\n")
    out = run(tmp_path, reply, files)
    assert out.report.ok, out.report.feedback()
    assert out.files["notes.txt"] == "We just want this content\nNot the quotes\n"


def test_fences_that_are_in_the_file_are_matched_as_they_are(tmp_path: Path) -> None:
    """test_strip_quoted_wrapping_no_wrapping, and its converse: a Markdown file's own fences are text."""
    files = {"README.md": "Run:\n```\nmake\n```\n"}
    out = run(tmp_path, sr("README.md", "```\nmake\n```\n", "```sh\nmake test\n```\n"), files)
    assert out.report.ok, out.report.feedback()
    assert out.files["README.md"] == "Run:\n```sh\nmake test\n```\n"


# test_editblock.py: finding blocks --------------------------------------------------------------------
FOO = {"foo.txt": "One\nTwo\nThree\n"}


def test_block_with_the_file_name_inside_the_fence(tmp_path: Path) -> None:
    """test_find_original_update_blocks."""
    reply = "\nHere's the change:\n\n```text\nfoo.txt\n<<<<<<< SEARCH\nTwo\n=======\nTooooo\n>>>>>>> REPLACE\n```\n\nHope you like it!\n"
    out = run(tmp_path, reply, FOO)
    assert out.report.ok and out.files["foo.txt"] == "One\nTooooo\nThree\n"


def test_block_with_the_file_name_above_the_fence(tmp_path: Path) -> None:
    """test_find_original_update_blocks_quote_below_filename."""
    reply = "\nHere's the change:\n\nfoo.txt\n```text\n<<<<<<< SEARCH\nTwo\n=======\nTooooo\n>>>>>>> REPLACE\n```\n\nHope you like it!\n"
    out = run(tmp_path, reply, FOO)
    assert out.report.ok and out.files["foo.txt"] == "One\nTooooo\nThree\n"


def test_block_without_its_replace_marker_is_a_cut_off_reply(tmp_path: Path) -> None:
    """test_find_original_update_blocks_unclosed: Aider raises "Expected >>>>>>> REPLACE"; nothing applies."""
    reply = "\nHere's the change:\n\n```text\nfoo.txt\n<<<<<<< SEARCH\nTwo\n=======\nTooooo\n\n\noops!\n"
    out = run(tmp_path, reply, FOO)
    assert out.truncated and out.files == FOO


def test_block_without_a_file_name_is_never_applied(tmp_path: Path) -> None:
    """test_find_original_update_blocks_missing_filename: Aider raises "filename".

    Its fence is never closed either, so the reply reads as cut off; closed, the block is refused
    for having no path line.
    """
    block = "<<<<<<< SEARCH\nTwo\n=======\nTooooo\n\n\noops!\n>>>>>>> REPLACE\n"
    out = run(tmp_path, "\nHere's the change:\n\n```text\n" + block, FOO)
    assert out.truncated and out.files == FOO
    out = run(tmp_path, "\nHere's the change:\n\n```text\n" + block + "```\n", FOO)
    assert out.statuses() == ["refused"] and "no file path line" in out.report.results[0].reason
    assert out.files == FOO


CODER = """\
class Coder:
    def run(self):
        try:
            self.step()
        except KeyboardInterrupt:
            self.console.print("[red]^C again to quit")
        except ValueError as err:
            self.io.tool_error("Malformed ORIGINAL/UPDATE blocks, retrying...")
            self.io.tool_error(err)
        if not self.commit():
            self.console.print("[red]Unable to get commit message from gpt-3.5-turbo. Use /commit to try again.
")
        else:
            self.console.print("[red]Skipped commit.")
"""


def test_four_blocks_the_last_without_a_final_newline(tmp_path: Path) -> None:
    """test_find_original_update_blocks_no_final_newline (its third SEARCH holds a line break inside a
    string, as Aider's test text does)."""
    edit = """
aider/coder.py
<<<<<<< SEARCH
            self.console.print("[red]^C again to quit")
=======
            self.io.tool_error("^C again to quit")
>>>>>>> REPLACE

aider/coder.py
<<<<<<< SEARCH
            self.io.tool_error("Malformed ORIGINAL/UPDATE blocks, retrying...")
            self.io.tool_error(err)
=======
            self.io.tool_error("Malformed ORIGINAL/UPDATE blocks, retrying...")
            self.io.tool_error(str(err))
>>>>>>> REPLACE

aider/coder.py
<<<<<<< SEARCH
            self.console.print("[red]Unable to get commit message from gpt-3.5-turbo. Use /commit to try again.\n")
=======
            self.io.tool_error("Unable to get commit message from gpt-3.5-turbo. Use /commit to try again.")
>>>>>>> REPLACE

aider/coder.py
<<<<<<< SEARCH
            self.console.print("[red]Skipped commit.")
=======
            self.io.tool_error("Skipped commit.")
>>>>>>> REPLACE"""
    out = run(tmp_path, edit, {"aider/coder.py": CODER}, scope=["aider/"])
    assert out.statuses() == ["applied"] * 4, out.report.feedback()
    assert out.files["aider/coder.py"] == (
        CODER.replace('self.console.print("[red]^C again to quit")', 'self.io.tool_error("^C again to quit")')
        .replace("tool_error(err)", "tool_error(str(err))")
        .replace(
            'self.console.print("[red]Unable to get commit message from gpt-3.5-turbo. Use /commit to try again.\n")',
            'self.io.tool_error("Unable to get commit message from gpt-3.5-turbo. Use /commit to try again.")',
        )
        .replace('self.console.print("[red]Skipped commit.")', 'self.io.tool_error("Skipped commit.")')
    )


REPOMAP_TESTS = """\
class TestRepoMap:
    def test_check_for_ctags_failure(self):
        with patch("subprocess.run") as mock_run:
            mock_run.side_effect = Exception("ctags not found")

    def test_check_for_ctags_success(self):
        with patch("subprocess.run") as mock_run:
            mock_run.return_value = CompletedProcess(args=["ctags", "--version"], returncode=0, stdout='''{
  "_type": "tag",
  "name": "status",
  "path": "aider/main.py",
  "pattern": "/^    status = main()$/",
  "kind": "variable"
}''')
"""


def test_second_block_without_a_file_name_uses_the_previous_blocks(tmp_path: Path) -> None:
    """test_incomplete_edit_block_missing_filename."""
    edit = """
No problem! Here are the changes to patch `subprocess.check_output` instead of `subprocess.run` in both tests:

```python
tests/test_repomap.py
<<<<<<< SEARCH
    def test_check_for_ctags_failure(self):
        with patch("subprocess.run") as mock_run:
            mock_run.side_effect = Exception("ctags not found")
=======
    def test_check_for_ctags_failure(self):
        with patch("subprocess.check_output") as mock_check_output:
            mock_check_output.side_effect = Exception("ctags not found")
>>>>>>> REPLACE

<<<<<<< SEARCH
    def test_check_for_ctags_success(self):
        with patch("subprocess.run") as mock_run:
            mock_run.return_value = CompletedProcess(args=["ctags", "--version"], returncode=0, stdout='''{
  "_type": "tag",
  "name": "status",
  "path": "aider/main.py",
  "pattern": "/^    status = main()$/",
  "kind": "variable"
}''')
=======
    def test_check_for_ctags_success(self):
        with patch("subprocess.check_output") as mock_check_output:
            mock_check_output.return_value = '''{
  "_type": "tag",
  "name": "status",
  "path": "aider/main.py",
  "pattern": "/^    status = main()$/",
  "kind": "variable"
}'''
>>>>>>> REPLACE
```

These changes replace the `subprocess.run` patches with `subprocess.check_output` patches in both `test_check_for_ctags_failure` and `test_check_for_ctags_success` tests.
"""
    out = run(tmp_path, edit, {"tests/test_repomap.py": REPOMAP_TESTS})
    assert [(r.path, r.status) for r in out.report.results] == [("tests/test_repomap.py", "applied")] * 2
    new = out.files["tests/test_repomap.py"]
    assert "subprocess.run" not in new and new.count("mock_check_output") == 4
    assert "mock_check_output.return_value = '''{" in new


# test_editblock.py: whitespace (replace_most_similar_chunk) --------------------------------------------
@pytest.mark.parametrize(
    ("whole", "part", "replace", "expected"),
    [
        pytest.param(  # test_replace_part_with_missing_varied_leading_whitespace
            "\n    line1\n    line2\n        line3\n    line4\n",
            "line2\n    line3\n",
            "new_line2\n    new_line3\n",
            "\n    line1\n    new_line2\n        new_line3\n    line4\n",
            id="missing_varied_leading_whitespace",
        ),
        pytest.param(  # test_replace_part_with_missing_leading_whitespace
            "    line1\n    line2\n    line3\n",
            "line1\nline2\n",
            "new_line1\nnew_line2\n",
            "    new_line1\n    new_line2\n    line3\n",
            id="missing_leading_whitespace",
        ),
        pytest.param(  # test_replace_part_with_just_some_missing_leading_whitespace
            "    line1\n    line2\n    line3\n",
            " line1\n line2\n",
            " new_line1\n     new_line2\n",
            "    new_line1\n        new_line2\n    line3\n",
            id="just_some_missing_leading_whitespace",
        ),
        pytest.param(  # test_replace_part_with_missing_leading_whitespace_including_blank_line (Aider issue #25)
            "    line1\n    line2\n    line3\n",
            "\n  line1\n  line2\n",
            "  new_line1\n  new_line2\n",
            "    new_line1\n    new_line2\n    line3\n",
            id="missing_leading_whitespace_including_blank_line",
        ),
    ],
)
def test_search_with_missing_leading_whitespace(
    tmp_path: Path, whole: str, part: str, replace: str, expected: str
) -> None:
    out = run(tmp_path, sr("lines.txt", part, replace), {"lines.txt": whole})
    assert out.report.ok, out.report.feedback()
    assert out.files["lines.txt"] == expected


@pytest.mark.parametrize("whole", ["line1\nline2\nline1\nline3\n", "    line1\n    line2\n    line1\n    line3\n"])
def test_search_that_matches_twice_is_refused(tmp_path: Path, whole: str) -> None:
    """test_replace_multiple_matches and test_replace_multiple_matches_missing_whitespace.

    Ours differs on purpose: Aider replaces the first occurrence ("only replace first occurrence");
    nothing in the block says which line1 the model meant, so it is refused naming both lines.
    """
    out = run(tmp_path, sr("lines.txt", "line1\n", "new_line\n"), {"lines.txt": whole})
    assert out.statuses() == ["refused"]
    assert "lines 1, 3" in out.report.results[0].reason
    assert out.files["lines.txt"] == whole


def test_part_of_a_line_whose_replace_repeats_the_rest_of_the_line_replaces_the_whole_line(tmp_path: Path) -> None:
    """__test_replace_most_similar_chunk (disabled in Aider with its fuzzy matching, v0.11.2).

    The SEARCH is the line without its final period and the REPLACE ends with the period: the
    model took the SEARCH for the whole line. It used to become "This is a replaced text.." (the
    period doubled); Aider's expected result is right.
    """
    whole = "This is a sample text.\nAnother line of text.\nYet another line.\n"
    out = run(
        tmp_path, sr("sample.txt", "This is a sample text\n", "This is a replaced text.\n"), {"sample.txt": whole}
    )
    assert out.report.ok, out.report.feedback()
    assert out.files["sample.txt"] == "This is a replaced text.\nAnother line of text.\nYet another line.\n"


def test_statement_without_its_semicolon_is_not_given_a_second_one(tmp_path: Path) -> None:
    """Issue 19's `.js` case: `return a + b` -> `return a - b;` used to give `return a - b;;`."""
    js = "function add(a, b) {\n  return a + b;\n}\n"
    out = run(tmp_path, sr("calc.js", "  return a + b\n", "  return a - b;\n"), {"calc.js": js})
    assert out.report.ok, out.report.feedback()
    assert out.files["calc.js"] == "function add(a, b) {\n  return a - b;\n}\n"
    out = run(tmp_path, sr("calc.js", "return a - b\n", "return a * b;\n"), {})
    assert out.report.ok, out.report.feedback()
    assert out.files["calc.js"] == "function add(a, b) {\n  return a * b;\n}\n"


def test_a_replace_that_closes_its_own_bracket_keeps_the_lines_bracket(tmp_path: Path) -> None:
    """The converse: `x` -> `g(x)` inside `call(x)`: the REPLACE's `)` is its own, not the line's."""
    out = run(tmp_path, sr("m.py", "call(x\n", "call(g(x)\n"), {"m.py": "value = call(x)\n"})
    assert out.report.ok, out.report.feedback()
    assert out.files["m.py"] == "value = call(g(x))\n"


def test_fuzzy_match_of_two_altered_lines_is_refused(tmp_path: Path) -> None:
    """__test_replace_most_similar_chunk_not_perfect_match (disabled in Aider).

    Ours differs on purpose: both SEARCH lines differ from the file ("was", "txt") and both are
    lines the REPLACE changes; replacing the most similar chunk would be a guess.
    """
    whole = "This is a sample text.\nAnother line of text.\nYet another line.\n"
    reply = sr(
        "sample.txt",
        "This was a sample text.\nAnother line of txt\n",
        "This is a replaced text.\nModified line of text.\n",
    )
    out = run(tmp_path, reply, {"sample.txt": whole})
    assert out.statuses() == ["refused"]
    assert out.files["sample.txt"] == whole


# test_editblock.py: whole runs through the coder -------------------------------------------------------
def test_new_file_from_an_empty_search_leaves_the_other_file_alone(tmp_path: Path) -> None:
    """test_create_new_file_with_other_file_in_chat (Aider issue #2258)."""
    reply = "\nDo this:\n\nnewfile.txt\n<<<<<<< SEARCH\n=======\ncreating a new file\n>>>>>>> REPLACE\n\n"
    out = run(tmp_path, reply, {"file.txt": "one\ntwo\nthree\n"})
    assert out.report.ok, out.report.feedback()
    assert out.files == {"file.txt": "one\ntwo\nthree\n", "newfile.txt": "creating a new file\n"}


def test_full_edit(tmp_path: Path) -> None:
    """test_full_edit."""
    reply = "\nDo this:\n\ntmpx3v1.txt\n<<<<<<< SEARCH\ntwo\n=======\nnew\n>>>>>>> REPLACE\n\n"
    out = run(tmp_path, reply, {"tmpx3v1.txt": "one\ntwo\nthree\n"})
    assert out.report.ok and out.files["tmpx3v1.txt"] == "one\nnew\nthree\n"


def test_full_edit_dry_run(tmp_path: Path) -> None:
    """test_full_edit_dry_run."""
    reply = "\nDo this:\n\ntmpx3v1.txt\n<<<<<<< SEARCH\ntwo\n=======\nnew\n>>>>>>> REPLACE\n\n"
    out = run(tmp_path, reply, {"tmpx3v1.txt": "one\ntwo\nthree\n"}, dry_run=True)
    assert out.report.ok and out.report.files_changed == ["tmpx3v1.txt"]
    assert out.files["tmpx3v1.txt"] == "one\ntwo\nthree\n"


def test_two_blocks_for_one_file_with_an_ellipsis_line_between(tmp_path: Path) -> None:
    """test_find_original_update_blocks_mupltiple_same_file."""
    reply = (
        "\nHere's the change:\n\n```text\nfoo.txt\n<<<<<<< SEARCH\none\n=======\ntwo\n>>>>>>> REPLACE\n\n...\n\n"
        "<<<<<<< SEARCH\nthree\n=======\nfour\n>>>>>>> REPLACE\n```\n\nHope you like it!\n"
    )
    out = run(tmp_path, reply, {"foo.txt": "one\nthree\n"})
    assert out.statuses() == ["applied", "applied"] and out.files["foo.txt"] == "two\nfour\n"


def test_file_name_in_a_fence_of_its_own(tmp_path: Path) -> None:
    """test_deepseek_coder_v2_filename_mangling."""
    reply = "\nHere's the change:\n\n ```python\nfoo.txt\n```\n```python\n<<<<<<< SEARCH\none\n=======\ntwo\n>>>>>>> REPLACE\n```\n\nHope you like it!\n"
    out = run(tmp_path, reply, {"foo.txt": "one\n"})
    assert out.report.ok and out.files["foo.txt"] == "two\n"


def test_new_file_in_the_folder_of_an_existing_one(tmp_path: Path) -> None:
    """test_new_file_created_in_same_folder."""
    reply = (
        "\nHere's the change:\n\npath/to/a/file2.txt\n```python\n<<<<<<< SEARCH\n=======\nthree\n>>>>>>> REPLACE\n```\n\n"
        "another change\n\npath/to/a/file1.txt\n```python\n<<<<<<< SEARCH\none\n=======\ntwo\n>>>>>>> REPLACE\n```\n\n"
        "Hope you like it!\n"
    )
    out = run(tmp_path, reply, {"path/to/a/file1.txt": "one\n"})
    assert out.report.ok, out.report.feedback()
    assert out.files == {"path/to/a/file1.txt": "two\n", "path/to/a/file2.txt": "three\n"}


def test_triple_backticks_in_a_reply_asked_for_quad_backticks(tmp_path: Path) -> None:
    """test_find_original_update_blocks_quad_backticks_with_triples_in_LLM_reply (Aider issue #2879)."""
    reply = "\nHere's the change:\n\nfoo.txt\n```text\n<<<<<<< SEARCH\n=======\nTooooo\n>>>>>>> REPLACE\n```\n\nHope you like it!\n"
    out = run(tmp_path, reply)
    assert out.report.ok and out.files == {"foo.txt": "Tooooo\n"}


def test_shell_script_created_in_an_sh_fence(tmp_path: Path) -> None:
    """test_find_original_update_blocks_with_sh_language_identifier (Aider issue #3785)."""
    script = (
        '#!/bin/bash\n# Check if exactly one argument is provided\nif [ "$#" -ne 1 ]; then\n'
        '    echo "Usage: $0 <argument>" >&2\n    exit 1\nfi\n\n# Echo the first argument\necho "$1"\n\nexit 0\n'
    )
    reply = f"\nHere's a shell script:\n\n```sh\ntest_hello.sh\n<<<<<<< SEARCH\n=======\n{script}>>>>>>> REPLACE\n```\n"
    out = run(tmp_path, reply)
    assert out.report.ok and out.files == {"test_hello.sh": script}


def test_csharp_fence(tmp_path: Path) -> None:
    """test_find_original_update_blocks_with_csharp_language_identifier."""
    reply = (
        '\nHere\'s a C# code change:\n\n```csharp\nProgram.cs\n<<<<<<< SEARCH\nConsole.WriteLine("Hello World!");\n'
        '=======\nConsole.WriteLine("Hello, C# World!");\n>>>>>>> REPLACE\n```\n'
    )
    out = run(tmp_path, reply, {"Program.cs": 'Console.WriteLine("Hello World!");\n'})
    assert out.report.ok and out.files["Program.cs"] == 'Console.WriteLine("Hello, C# World!");\n'


def test_existing_file_without_an_extension_named_alone_on_a_line(tmp_path: Path) -> None:
    """Issue 19: an existing extensionless file named alone on a line is a path."""
    out = run(tmp_path, sr("VERSION\n```", "1.0.0\n", "1.1.0\n") + "```\n", {"VERSION": "1.0.0\n"})
    assert out.report.ok, out.report.feedback()
    assert out.files["VERSION"] == "1.1.0\n"


# test_wholefile.py --------------------------------------------------------------------------------------
def test_code_block_without_a_file_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """test_no_files: Aider must not raise; ours refuses the block (no path line), writing nothing."""
    reply = (
        'To print "Hello, World!" in most programming languages, you can use the following code:\n\n'
        '```python\nprint("Hello, World!")\n```\n\nThis code will output "Hello, World!" to the console.'
    )
    out = run(tmp_path, reply, mode="full_file")
    assert out.statuses() == ["refused"] and out.files == {}


def test_new_file_outside_the_scope_is_refused(tmp_path: Path) -> None:
    """test_no_files_new_file_should_ask: Aider asks before creating foo.js and the user says no.

    Ours: the phase scope is the permission; a file outside it is refused, never created.
    """
    reply = (
        'To print "Hello, World!" in most programming languages, you can use the following code:\n\n'
        'foo.js\n```python\nprint("Hello, World!")\n```\n\nThis code will output "Hello, World!" to the console.'
    )
    out = run(tmp_path, reply, mode="full_file", scope=["src/"])
    assert out.statuses() == ["refused"] and out.report.category == "scope_violation"
    assert out.files == {}


def test_update_files(tmp_path: Path) -> None:
    """test_update_files."""
    out = run(tmp_path, "sample.txt\n```\nUpdated content\n```", {"sample.txt": "Original content\n"}, mode="full_file")
    assert out.report.ok and out.files == {"sample.txt": "Updated content\n"}


def test_a_reply_cut_off_inside_the_file_changes_nothing(tmp_path: Path) -> None:
    """test_update_files_live_diff: a partial reply, as streamed."""
    original = "\n".join(map(str, range(100)))
    out = run(tmp_path, "sample.txt\n```\n0\n\\1\n2\n", {"sample.txt": original}, mode="full_file")
    assert out.truncated and out.files == {"sample.txt": original}


def test_whole_file_in_a_longer_fence_keeps_the_files_own_fences(tmp_path: Path) -> None:
    """test_update_files_with_existing_fence (Aider picks another fence for a file holding ```)."""
    original = "\nHere is some quoted text:\n```\nQuote!\n```\n"
    out = run(tmp_path, "sample.txt\n````\nUpdated content\n````", {"sample.txt": original}, mode="full_file")
    assert out.report.ok and out.files == {"sample.txt": "Updated content\n"}
    updated = "Here is some quoted text:\n```\nQuote, updated!\n```\n"
    out = run(tmp_path, f"sample.txt\n````\n{updated}````\n", mode="full_file")
    assert out.report.ok and out.files == {"sample.txt": updated}


def test_bogus_directory_before_an_existing_file_name_is_that_file(tmp_path: Path) -> None:
    """test_update_files_bogus_path_prefix: `path/to/sample.txt` when sample.txt exists.

    It used to create path/to/sample.txt. No directory path/to exists and exactly one file in scope
    is the end of that path, so it is that file (noted in the edit's fuzz).
    """
    out = run(
        tmp_path,
        "path/to/sample.txt\n```\nUpdated content\n```",
        {"sample.txt": "Original content\n"},
        mode="full_file",
    )
    assert out.report.ok, out.report.feedback()
    assert out.files == {"sample.txt": "Updated content\n"}
    assert out.report.results[0].path == "sample.txt"
    assert any("path/to/sample.txt" in note for note in out.report.results[0].fuzz)


def test_a_new_file_whose_path_ends_with_an_existing_one_in_an_existing_directory_is_refused(tmp_path: Path) -> None:
    """Ours only: tests/conftest.py when conftest.py exists and tests/ does too: a new file there, or a
    wrong prefix on conftest.py? Both are real; refused, naming both, unless the scope names the new path."""
    files = {"conftest.py": "A = 1\n", "tests/test_a.py": "def test_a():\n    pass\n"}
    out = run(tmp_path, "tests/conftest.py\n```python\nB = 2\n```\n", files, mode="full_file")
    assert out.statuses() == ["refused"]
    reason = out.report.results[0].reason
    assert "tests/conftest.py" in reason and "'conftest.py'" in reason
    assert out.files == files
    out = run(tmp_path, "tests/conftest.py\n```python\nB = 2\n```\n", mode="full_file", scope=["tests/", "conftest.py"])
    assert out.report.ok and out.files["tests/conftest.py"] == "B = 2\n" and out.files["conftest.py"] == "A = 1\n"


def test_existing_file_outside_the_scope_is_refused(tmp_path: Path) -> None:
    """test_update_files_not_in_chat: Aider updates sample.txt although it is not in the chat.

    Ours differs on purpose: the phase scope decides which files may change.
    """
    out = run(
        tmp_path,
        "sample.txt\n```\nUpdated content\n```",
        {"sample.txt": "Original content\n"},
        mode="full_file",
        scope=["src/"],
    )
    assert out.statuses() == ["refused"] and out.files == {"sample.txt": "Original content\n"}


def test_file_named_in_backticks_in_the_prose_line_before_the_block(tmp_path: Path) -> None:
    """test_update_files_no_filename_single_file_in_chat."""
    content = "def accumulate(collection, operation):\n    return [operation(x) for x in collection]\n"
    reply = (
        "Here's the modified `accumulate.py` file that implements the `accumulate` function as per the given "
        f"instructions:\n\n```\n{content}```\n\nThis implementation uses a list comprehension to apply the "
        "`operation` function to each element of the `collection` and returns the resulting list."
    )
    out = run(tmp_path, reply, {"accumulate.py": "Original content\n"}, mode="full_file")
    assert out.report.ok and out.files["accumulate.py"] == content


def test_each_block_takes_the_file_named_in_the_prose_before_it(tmp_path: Path) -> None:
    """test_update_files_earlier_filename."""
    reply = (
        "\nHere is a new version of `a.txt` for you to consider:\n\n```\nafter a\n```\n\n"
        "And here is `b.txt`:\n\n```\nafter b\n```\n"
    )
    out = run(tmp_path, reply, {"a.txt": "before a\n", "b.txt": "before b\n"}, mode="full_file")
    assert out.report.ok and out.files == {"a.txt": "after a\n", "b.txt": "after b\n"}


def test_file_names_as_headings(tmp_path: Path) -> None:
    """test_update_hash_filename."""
    reply = "\n\n### a.txt\n```\nafter a\n```\n\n### b.txt\n```\nafter b\n```\n"
    out = run(tmp_path, reply, {"a.txt": "before a\n", "b.txt": "before b\n"}, mode="full_file")
    assert out.report.ok and out.files == {"a.txt": "after a\n", "b.txt": "after b\n"}


def test_a_command_to_run_after_the_file_is_not_a_file(tmp_path: Path) -> None:
    """test_update_named_file_but_extra_unnamed_code_block: "Run it like this:" then `python hello.py`.

    It used to be refused as a block without a path, failing an attempt whose file was right.
    """
    new_content = "new\ncontent\ngoes\nhere\n"
    reply = (
        "Here's the modified `hello.py` file that implements the `accumulate` function as per the given "
        f"instructions:\n\n```\n{new_content}```\n\nThis implementation uses a list comprehension to apply the "
        "`operation` function to each element of the `collection` and returns the resulting list.\n"
        "Run it like this:\n\n```\npython {sample_file}\n```\n\n"
    )
    out = run(tmp_path, reply, {"hello.py": "Original content\n"}, mode="full_file")
    assert out.report.ok, out.report.feedback()
    assert out.files == {"hello.py": new_content}


def test_whole_file_without_a_final_newline_gets_one(tmp_path: Path) -> None:
    """test_full_edit (whole): the fence closes right after the last line."""
    reply = "\nDo this:\n\ntmp1.txt\n```\nnew\ntwo\nthree\n```\n\n"
    out = run(tmp_path, reply, {"tmp1.txt": "one\ntwo\nthree\n"}, mode="full_file")
    assert out.report.ok and out.files["tmp1.txt"] == "new\ntwo\nthree\n"


# test_udiff.py ------------------------------------------------------------------------------------------
def test_hunk_header_without_line_numbers(tmp_path: Path) -> None:
    """test_find_diffs_single_hunk: `@@ ... @@`."""
    reply = "\nSome text...\n\n```diff\n--- file.txt\n+++ file.txt\n@@ ... @@\n-Original\n+Modified\n```\n"
    out = run(tmp_path, reply, {"file.txt": "Original\n"})
    assert out.report.ok and out.files == {"file.txt": "Modified\n"}


def test_dev_null_header_on_a_hunk_that_changes_an_existing_file(tmp_path: Path) -> None:
    """test_find_diffs_dev_null: Aider reads `--- /dev/null` with a removed line as a change to file.txt."""
    reply = "\nSome text...\n\n```diff\n--- /dev/null\n+++ file.txt\n@@ ... @@\n-Original\n+Modified\n```\n"
    out = run(tmp_path, reply, {"file.txt": "Original\n"})
    assert out.report.ok, out.report.feedback()
    assert out.files == {"file.txt": "Modified\n"}


def test_dev_null_header_with_removed_lines_for_a_missing_file_is_refused(tmp_path: Path) -> None:
    """Ours only: a file cannot be created by removing lines from it."""
    reply = "```diff\n--- /dev/null\n+++ file.txt\n@@ ... @@\n-Original\n+Modified\n```\n"
    out = run(tmp_path, reply)
    assert out.statuses() == ["refused"] and out.files == {}


def test_directory_name_with_spaces(tmp_path: Path) -> None:
    """test_find_diffs_dirname_with_spaces."""
    reply = (
        "\nSome text...\n\n```diff\n--- dir name with spaces/file.txt\n+++ dir name with spaces/file.txt\n"
        "@@ ... @@\n-Original\n+Modified\n```\n"
    )
    out = run(tmp_path, reply, {"dir name with spaces/file.txt": "Original\n"})
    assert out.report.ok and out.files == {"dir name with spaces/file.txt": "Modified\n"}


VERSIONCHECK = """\
def check_version(print_cmd):
    try:
        latest = fetch()
    except Exception as err:
        print_cmd(f"Error checking pypi for new version: {err}")

    return latest
"""

MAIN = """\
def get_parser(other_group):
    other_group.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help="Show the version number and exit",
    )
    other_group.add_argument(
        "--apply",
        metavar="FILE",
        help="Apply the changes from the given file instead of running the chat (debug)",
    )
"""


def test_two_files_in_one_diff_block_separated_by_a_blank_line(tmp_path: Path) -> None:
    """test_find_multi_diffs."""
    content = """
To implement the `--check-update` option, I will make the following changes:

1. Add the `--check-update` argument to the argument parser in `aider/main.py`.
2. Modify the `check_version` function in `aider/versioncheck.py` to return a boolean indicating whether an update is available.
3. Use the returned value from `check_version` in `aider/main.py` to set the exit status code when `--check-update` is used.

Here are the diffs for those changes:

```diff
--- aider/versioncheck.py
+++ aider/versioncheck.py
@@ ... @@
     except Exception as err:
         print_cmd(f"Error checking pypi for new version: {err}")
+        return False

--- aider/main.py
+++ aider/main.py
@@ ... @@
     other_group.add_argument(
         "--version",
         action="version",
         version=f"%(prog)s {__version__}",
         help="Show the version number and exit",
     )
+    other_group.add_argument(
+        "--check-update",
+        action="store_true",
+        help="Check for updates and return status in the exit code",
+        default=False,
+    )
     other_group.add_argument(
         "--apply",
         metavar="FILE",
```

These changes will add the `--check-update` option to the command-line interface and use the `check_version` function to determine if an update is available, exiting with status code `0` if no update is available and `1` if an update is available.
"""
    out = run(tmp_path, content, {"aider/versioncheck.py": VERSIONCHECK, "aider/main.py": MAIN})
    assert out.statuses() == ["applied", "applied"], out.report.feedback()
    assert out.files["aider/versioncheck.py"] == VERSIONCHECK.replace('{err}")\n', '{err}")\n        return False\n')
    assert '"--check-update",' in out.files["aider/main.py"]
    assert out.files["aider/main.py"].index("--check-update") < out.files["aider/main.py"].index("--apply")


# tests/fixtures/chat-history.md (test_find_or_blocks): replies from Claude 3.5 Sonnet and GPT-4o ------
ARGS = 'def get_parser(group):\n    group = parser.add_argument_group("Other Settings")\n    return group\n'


def test_path_line_before_an_html_like_fence(tmp_path: Path) -> None:
    """Aider asks for <source> fences when a file holds ```; its models then write `aider/commands.py`
    then `<source>python` then the block (12 replies in the fixture)."""
    reply = "Here is the change:\n\naider/args.py\n<source>python\n<<<<<<< SEARCH\n    return group\n=======\n    return None\n>>>>>>> REPLACE\n</source>\n"
    out = run(tmp_path, reply, {"aider/args.py": ARGS})
    assert out.report.ok, out.report.feedback()
    assert out.files["aider/args.py"] == ARGS.replace("return group", "return None")


def test_divider_written_twice_over_an_empty_replace_deletes(tmp_path: Path) -> None:
    """ "remove event(properties)": `=======` twice, then `>>>>>>> REPLACE` (3 replies in the fixture)."""
    reply = "aider/args.py\n```python\n<<<<<<< SEARCH\n    return group\n=======\n=======\n>>>>>>> REPLACE\n```\n"
    out = run(tmp_path, reply, {"aider/args.py": ARGS})
    assert out.report.ok, out.report.feedback()
    assert out.files["aider/args.py"] == ARGS.replace("    return group\n", "")


def test_divider_repeated_before_the_replace_marker_is_a_stutter(tmp_path: Path) -> None:
    """ "use rich to make the ♾️ the user input color": the REPLACE, then `=======`, then `>>>>>>> REPLACE`."""
    reply = "aider/args.py\n```python\n<<<<<<< SEARCH\n    return group\n=======\n    return None\n=======\n>>>>>>> REPLACE\n```\n"
    out = run(tmp_path, reply, {"aider/args.py": ARGS})
    assert out.report.ok and out.files["aider/args.py"] == ARGS.replace("return group", "return None")


def test_divider_in_place_of_the_replace_marker_ends_the_block(tmp_path: Path) -> None:
    """ "in /ls, just list the number of repo files not in the chat": `=======` where `>>>>>>> REPLACE`
    belongs. Aider reads it as the end; so does autopack when the reply is complete (its code fence
    closed), since nothing after that line can belong to the block. Cut off there, nothing applies."""
    block = "aider/args.py\n```python\n<<<<<<< SEARCH\n    return group\n=======\n    return None\n=======\n"
    out = run(tmp_path, block + "```\n\nThis returns None.\n", {"aider/args.py": ARGS})
    assert out.report.ok, out.report.feedback()
    assert out.files["aider/args.py"] == ARGS.replace("return group", "return None")
    out = run(tmp_path, block + "\nThis returns None.\n", {"aider/args.py": ARGS})
    assert out.truncated and out.files["aider/args.py"] == ARGS


def test_a_third_divider_is_still_refused(tmp_path: Path) -> None:
    """Ours: `a ======= b ======= c >>>>>>> REPLACE`: which part is the REPLACE is a guess."""
    reply = "aider/args.py\n<<<<<<< SEARCH\n    return group\n=======\n    x = 1\n=======\n    return None\n>>>>>>> REPLACE\n"
    out = run(tmp_path, reply, {"aider/args.py": ARGS})
    assert out.statuses() == ["refused"] and "malformed" in out.report.results[0].reason
    assert out.files["aider/args.py"] == ARGS


def test_title_underlines_in_a_text_file_are_text_not_dividers(tmp_path: Path) -> None:
    """Ours: a reStructuredText title's `=======` underline (7 characters, like the divider) stays text."""
    doc = "Install\n=======\n\nRun make.\n"
    reply = "docs/index.rst\n<<<<<<< SEARCH\nInstall\n=======\n=======\nSetup\n=====\n>>>>>>> REPLACE\n"
    out = run(tmp_path, reply, {"docs/index.rst": doc})
    assert out.report.ok, out.report.feedback()
    assert out.files["docs/index.rst"] == "Setup\n=====\n\nRun make.\n"
