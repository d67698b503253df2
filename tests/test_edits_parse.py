"""Parsing Builder replies: the three formats as models really write them, and cut-off replies."""

from __future__ import annotations

from autopack.edits import detect_mode, parse_reply

DIFF_WITH_PROSE = """\
Sure! The bug is in `compute`. Here is the patch:

```diff
--- a/src/calc.py
+++ b/src/calc.py
@@ -10,4 +10,4 @@ def compute(x):
     total = 0
-    total += x
+    total += x * 2
     return total
```

This doubles the input before summing.
"""


def test_diff_in_prose_yields_one_edit_with_its_hunk():
    reply = parse_reply(DIFF_WITH_PROSE)
    assert reply.mode == "diff" and not reply.truncated and not reply.problems
    (edit,) = reply.edits
    assert (edit.kind, edit.path, edit.index) == ("diff", "src/calc.py", 1)
    (hunk,) = edit.hunks
    assert hunk.before == ["    total = 0", "    total += x", "    return total"]
    assert hunk.after == ["    total = 0", "    total += x * 2", "    return total"]
    assert (hunk.old_start, hunk.old_count) == (10, 4)


def test_crlf_reply_parses_like_lf():
    crlf = DIFF_WITH_PROSE.replace("\n", "\r\n")
    assert parse_reply(crlf).edits[0].hunks[0].lines == parse_reply(DIFF_WITH_PROSE).edits[0].hunks[0].lines


def test_paths_without_a_b_prefixes_are_kept_as_written():
    reply = parse_reply("--- src/x.py\n+++ src/x.py\n@@ -1 +1 @@\n-a\n+b\n")
    assert reply.edits[0].path == "src/x.py"


def test_one_sided_prefix_is_stripped_when_the_rest_matches():
    reply = parse_reply("--- a/src/x.py\n+++ src/x.py\n@@ -1 +1 @@\n-a\n+b\n")
    assert reply.edits[0].path == "src/x.py"


def test_two_files_in_one_diff_block_and_a_second_block():
    text = (
        "```diff\n--- a/one.py\n+++ b/one.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"
        "--- a/two.py\n+++ b/two.py\n@@ -5,2 +5,2 @@\n a = 1\n-b = 2\n+b = 4\n```\n"
        "And also:\n```diff\n--- a/three.py\n+++ b/three.py\n@@ @@\n-old\n+new\n```\n"
    )
    reply = parse_reply(text)
    assert [e.path for e in reply.edits] == ["one.py", "two.py", "three.py"]
    assert [e.index for e in reply.edits] == [1, 2, 3]
    assert reply.edits[2].hunks[0].old_start is None


def test_unfenced_diff_with_git_headers_parses():
    text = (
        "diff --git a/m.py b/m.py\nindex 83db48f..bf269f4 100644\n--- a/m.py\n+++ b/m.py\n"
        "@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n"
    )
    (edit,) = parse_reply(text).edits
    assert edit.hunks[0].before == ["a", "b", "d"]


def test_bare_empty_lines_inside_a_hunk_are_blank_context_and_trailing_ones_are_dropped():
    text = "```diff\n--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,4 @@\n def f():\n\n-    return 1\n+    return 2\n\n```\n"
    hunk = parse_reply(text).edits[0].hunks[0]
    assert hunk.lines == [(" ", "def f():"), (" ", ""), ("-", "    return 1"), ("+", "    return 2")]


def test_context_line_missing_its_leading_space_is_kept_as_context():
    text = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\nimport os\n-import sys\n+import re\n print(os)\n"
    hunk = parse_reply(text).edits[0].hunks[0]
    assert hunk.lines[0] == (" ", "import os")


def test_wrong_hunk_counts_do_not_cut_a_fenced_hunk_short():
    text = "```diff\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n a\n b\n-c\n+C\n d\n e\n```\n"
    reply = parse_reply(text)
    assert not reply.truncated
    assert reply.edits[0].hunks[0].before == ["a", "b", "c", "d", "e"]


def test_new_and_deleted_files_via_dev_null():
    text = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-z = 3\n"
    new, old = parse_reply(text).edits
    assert (new.path, new.new_file, new.delete_file) == ("new.py", True, False)
    assert (old.path, old.new_file, old.delete_file) == ("old.py", False, True)


def test_git_quoted_non_ascii_path_is_decoded():
    text = '--- "a/caf\\303\\251.py"\n+++ "b/caf\\303\\251.py"\n@@ -1 +1 @@\n-a\n+b\n'
    assert parse_reply(text).edits[0].path == "café.py"


def test_rename_is_refused_not_guessed():
    reply = parse_reply("--- a/old.py\n+++ b/new.py\n@@ -1 +1 @@\n-a\n+b\n", mode="diff")
    (edit,) = reply.edits
    assert edit.kind == "unusable" and "renames old.py to new.py" in edit.problem


def test_diff_cut_off_inside_its_fence_is_truncated():
    text = "```diff\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n a\n-b\n+c"
    reply = parse_reply(text)
    assert reply.truncated
    assert any("never closed" in p for p in reply.problems)


def test_unfenced_hunk_ending_before_its_announced_lines_is_truncated():
    text = "--- a/m.py\n+++ b/m.py\n@@ -1,6 +1,6 @@\n a\n-b\n+c\n d"
    assert parse_reply(text).truncated


def test_unfenced_miscounted_hunk_ending_on_a_full_context_line_is_not_truncated():
    reply = parse_reply("--- a/m.py\n+++ b/m.py\n@@ -1,9 +1,9 @@\n a\n-b\n+c\n d\n")
    assert not reply.truncated and len(reply.edits) == 1
    assert any("miscount" in p for p in reply.problems)


def test_unfenced_hunk_ending_on_a_changed_line_short_of_its_count_is_truncated():
    assert parse_reply("--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,4 @@\n a\n-b\n-c\n").truncated


def test_header_without_hunks_at_the_end_is_truncated():
    assert parse_reply("Patch:\n--- a/m.py\n+++ b/m.py\n", mode="diff").truncated


def test_whole_files_after_each_kind_of_path_line():
    text = (
        "src/a.py\n```python\nA = 1\n```\n\n"
        "`src/b.py`\n```python\nB = 2\n```\n\n"
        "### src/c.py\n```\nC = 3\n```\n\n"
        "File: src/d.py\n```python\nD = 4\n```\n\n"
        "Here is the updated `src/e.py`:\n```python\nE = 5\n```\n"
    )
    reply = parse_reply(text, mode="full_file")
    assert [(e.path, e.content) for e in reply.edits] == [
        ("src/a.py", "A = 1\n"),
        ("src/b.py", "B = 2\n"),
        ("src/c.py", "C = 3\n"),
        ("src/d.py", "D = 4\n"),
        ("src/e.py", "E = 5\n"),
    ]
    assert all(e.kind == "full_file" for e in reply.edits)


def test_whole_file_with_nested_language_fence_keeps_inner_block():
    text = "docs/guide.md\n````markdown\n# Guide\n```python\nprint(1)\n```\nEnd.\n````\n"
    (edit,) = parse_reply(text, mode="full_file").edits
    assert edit.content == "# Guide\n```python\nprint(1)\n```\nEnd.\n"


def test_code_block_without_path_in_a_whole_file_reply_is_an_unusable_edit_naming_its_line():
    reply = parse_reply("Example usage:\n\n```python\nprint('hi')\n```\n", mode="full_file")
    (edit,) = reply.edits
    assert edit.kind == "unusable" and "reply line 3" in edit.problem and "no file path line" in edit.problem


def test_whole_file_cut_off_is_truncated():
    reply = parse_reply("src/a.py\n```python\ndef f():\n    return", mode="full_file")
    assert reply.truncated and reply.edits == []


def test_search_replace_blocks_with_path_before_fence_and_reused_path():
    text = (
        "I'll make two changes.\n\nsrc/app.py\n```python\n<<<<<<< SEARCH\ndef a():\n    return 1\n=======\n"
        "def a():\n    return 2\n>>>>>>> REPLACE\n\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n```\n"
    )
    reply = parse_reply(text)
    assert reply.mode == "structured_edit" and not reply.truncated
    first, second = reply.edits
    assert (first.path, first.search, first.replace) == (
        "src/app.py",
        "def a():\n    return 1\n",
        "def a():\n    return 2\n",
    )
    assert (second.path, second.search, second.replace) == ("src/app.py", "X = 1\n", "X = 2\n")


def test_search_replace_with_path_inside_the_fence():
    text = "```python\nsrc/app.py\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n```\n"
    assert parse_reply(text).edits[0].path == "src/app.py"


def test_empty_search_section_is_kept_empty():
    text = "new/mod.py\n```python\n<<<<<<< SEARCH\n=======\nVALUE = 1\n>>>>>>> REPLACE\n```\n"
    (edit,) = parse_reply(text).edits
    assert (edit.search, edit.replace) == ("", "VALUE = 1\n")


def test_search_replace_cut_off_in_replace_is_truncated():
    text = "src/app.py\n```python\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n"
    reply = parse_reply(text)
    assert reply.truncated and reply.edits == []


def test_search_replace_with_unclosed_fence_after_complete_block_is_truncated():
    text = "src/app.py\n```python\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n"
    assert parse_reply(text).truncated


def test_mode_is_a_preference_and_the_detected_format_is_used_when_it_finds_nothing():
    reply = parse_reply(DIFF_WITH_PROSE, mode="structured_edit")
    assert reply.mode == "diff" and len(reply.edits) == 1
    assert "asked for structured_edit" in reply.problems[0]


def test_detect_mode():
    assert detect_mode(DIFF_WITH_PROSE) == "diff"
    assert detect_mode("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n") == "structured_edit"
    assert detect_mode("a.py\n```python\nx = 1\n```\n") == "full_file"


def test_whole_file_after_a_bullet_with_a_backticked_path():
    (edit,) = parse_reply("Changes:\n\n- `src/f.py`\n```python\nF = 6\n```\n", mode="full_file").edits
    assert (edit.path, edit.content) == ("src/f.py", "F = 6\n")
