"""Destructive-output guards: each fires by name, allow_mass_deletion lifts only shrink and dropped defs."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopack.edits import apply_edits, parse_reply
from autopack.edits.guards import full_file_hits, is_placeholder_line, python_elisions

BIG = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(10))  # 40 lines, 10 functions


def whole(tmp_path: Path, name: str, old: str, new: str, **kw):
    (tmp_path / name).write_text(old, encoding="utf-8")
    reply = f"{name}\n```\n{new}```\n"
    report = apply_edits(parse_reply(reply, "full_file").edits, tmp_path, ["**"], **kw)
    return report, (tmp_path / name).read_text(encoding="utf-8")


def test_shrink_guard_fires_and_names_itself(tmp_path):
    report, text = whole(tmp_path, "m.py", BIG, "def f0(x):\n    return x\n")
    result = report.results[0]
    assert report.category == "destructive_output" and "shrink" in result.guards
    assert "from 40 to 2 lines" in result.reason and "shrink" in report.feedback()
    assert text == BIG


def test_dropped_definitions_guard_lists_the_names(tmp_path):
    new = BIG.replace("def f3(x):\n    return x + 3\n", "").replace("def f7(x):\n    return x + 7\n", "")
    report, text = whole(tmp_path, "m.py", BIG, new)
    result = report.results[0]
    assert result.guards == ["dropped_definitions"] and "f3, f7" in result.reason
    assert text == BIG


def test_removed_ok_allows_named_removals(tmp_path):
    new = BIG.replace("def f3(x):\n    return x + 3\n", "")
    report, text = whole(tmp_path, "m.py", BIG, new, removed_ok=["f3"])
    assert report.ok and "def f3" not in text


def test_allow_mass_deletion_lifts_shrink_and_dropped_definitions(tmp_path):
    report, text = whole(tmp_path, "m.py", BIG, "def f0(x):\n    return x\n", allow_mass_deletion=True)
    assert report.ok and text == "def f0(x):\n    return x\n"


def test_growth_guard_fires_even_with_allow_mass_deletion(tmp_path):
    report, text = whole(tmp_path, "m.py", BIG, BIG * 4, allow_mass_deletion=True)
    assert report.results[0].guards == ["growth"] and text == BIG


def test_elision_placeholder_fires_even_with_allow_mass_deletion(tmp_path):
    new = BIG.replace("def f5(x):\n    return x + 5\n", "# ... rest of the code ...\n")
    report, text = whole(tmp_path, "m.py", BIG, new, allow_mass_deletion=True)
    assert report.results[0].guards == ["elision_placeholder"]
    assert "'# ... rest of the code ...'" in report.results[0].reason and text == BIG


def test_regex_top_level_defs_for_other_languages(tmp_path):
    old = "export function alpha() {\n  return 1;\n}\n\nfunction beta() {\n  return 2;\n}\n" * 2
    report, _ = whole(tmp_path, "m.js", old, "export function alpha() {\n  return 1;\n}\n" * 4)
    assert "dropped_definitions" in report.results[0].guards and "beta" in report.results[0].reason


def test_bare_ellipsis_replacing_a_function_body_is_an_elision():
    old = "def f(x):\n    y = x * 2\n    return y\n"
    assert python_elisions(old, "def f(x):\n    ...\n") == [2]


def test_ellipsis_stub_bodies_and_protocols_are_legit():
    new = (
        "from typing import Protocol, overload\n\n\nclass Reader(Protocol):\n    def read(self) -> bytes: ...\n\n"
        "    def close(self) -> None:\n        ...\n\n\ndef todo():\n    ...\n\n\nif True:\n    ...\n"
    )
    assert python_elisions(None, new) == []
    assert python_elisions("class Reader:\n    pass\n", new) == []


def test_ellipsis_among_real_statements_is_an_elision_unless_it_was_there():
    old = "def f():\n    a = 1\n    b = 2\n    return a + b\n"
    new = "def f():\n    a = 1\n    ...\n    return a + b\n"
    assert python_elisions(old, new) == [3]
    assert python_elisions(new, new) == []


def test_bare_ellipsis_line_in_a_non_python_file_is_an_elision():
    old = "function a() {\n  return 1;\n}\n" * 5
    new = "function a() {\n  ...\n}\n" + "function a() {\n  return 1;\n}\n" * 4
    hits = full_file_hits("m.js", old, new)
    assert [h.name for h in hits] == ["elision_placeholder"]


def test_placeholder_already_in_the_old_file_is_not_an_elision():
    old = "x = 1\n# existing code unchanged\ny = 2\n" * 5
    assert full_file_hits("m.py", old, old.replace("x = 1", "x = 10")) == []


@pytest.mark.parametrize(
    "line",
    [
        "... rest of the code",
        "# existing code unchanged",
        "    // ... existing code ...",
        "# ... (rest unchanged)",
        "<!-- ... -->",
        "# Rest of the file unchanged",
        "...",
    ],
)
def test_placeholder_lines(line):
    assert is_placeholder_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "# rest of the arguments are passed through",
        "# TODO: handle remaining cases here",
        "x = 1  # ...",
        'print("...")',
        "def f(): ...",
        "",
    ],
)
def test_ordinary_lines_are_not_placeholders(line):
    assert not is_placeholder_line(line)


def test_small_files_may_shrink_but_not_lose_definitions(tmp_path):
    report, text = whole(tmp_path, "small.txt", "one\ntwo\nthree\nfour\nfive\nsix\n", "done\n")
    assert report.ok and text == "done\n"
    report, _ = whole(tmp_path, "small.py", "def a():\n    return 1\n\n\ndef b():\n    return 2\n", "X = 1\n")
    assert report.results[0].guards == ["dropped_definitions"]
