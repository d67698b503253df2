"""The syntax check of an edited Python file: whole-file verdicts, and the quick check of the statements
around the change, which may accept an edit only when the whole file would accept it too."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest

from autopack.edits import apply_edits, parse_reply
from autopack.edits.syntax import changed_span, part_compiles, syntax_error


def _module(functions: int = 60) -> list[str]:
    """A long module: a docstring, a multi-line string with column-0 text, then many functions."""
    lines = ['"""A module."""', "", "TEMPLATE = '''", "def not_code(:", "'''", ""]
    for i in range(functions):
        lines += [f"def f{i}(x):", f"    if x > {i}:", f"        return x - {i}", "    return x", "", ""]
    return lines


def _edit(lines: list[str], at: int, replacement: list[str], remove: int = 1) -> list[str]:
    return lines[:at] + replacement + lines[at + remove :]


@pytest.mark.parametrize(
    ("old", "new", "span"),
    [
        (["a", "b", "c"], ["a", "B", "c"], (1, 2)),
        (["a", "b", "c"], ["a", "b", "x", "c"], (2, 3)),
        (["a", "b", "c"], ["a", "c"], (1, 1)),
        (["a", "b"], ["a", "b"], (2, 2)),
        (["d", "b", "d", "b"], ["d", "d", "b", "d", "b"], (1, 2)),
    ],
)
def test_changed_span_leaves_out_the_common_head_and_tail(
    old: list[str], new: list[str], span: tuple[int, int]
) -> None:
    assert changed_span(old, new) == span


def test_a_valid_edit_inside_one_function_is_settled_by_its_part() -> None:
    old = _module()
    at = old.index("def f30(x):") + 2
    new = _edit(old, at, ["        return x - 31  # changed"])
    assert part_compiles(new, *changed_span(old, new))
    assert syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new)) is None


def test_a_broken_function_is_reported_with_its_line_in_the_whole_file() -> None:
    old = _module()
    at = old.index("def f30(x):") + 1
    new = _edit(old, at, ["    if x > 30"])  # the colon is gone
    err = syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new))
    assert err is not None and err[0] == at + 1 and err[1] == "    if x > 30"


def test_a_def_left_without_its_body_by_a_duplicated_line_is_seen() -> None:
    old = _module()
    at = old.index("def f30(x):")
    new = _edit(old, at, ["def f30(x):", "def f30(x):"])
    err = syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new))
    assert err is not None and "expected an indented block" in err[2]


def test_a_part_starting_inside_a_triple_quoted_string_is_not_trusted() -> None:
    # Column-0 lines inside TEMPLATE look like statement starts; cut there, the string's closing
    # quotes would open a new string that hides the broken line.
    old = _module()
    at = old.index("def f0(x):")
    new = _edit(old, at, ["def f0(x)::"])
    lines = ["x = '''", *[f"line {i}" for i in range(200)], *new[3:]]
    base = ["x = '''", *[f"line {i}" for i in range(200)], *old[3:]]
    err = syntax_error("m.py", "\n".join(lines), "\n".join(base), changed=changed_span(base, lines))
    assert err is not None and err[1] == "def f0(x)::"


def test_a_future_import_added_below_the_top_is_checked_against_the_whole_file() -> None:
    old = _module()
    at = old.index("def f30(x):")
    new = _edit(old, at, ["from __future__ import annotations", "def f30(x):"])
    err = syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new))
    assert err is not None and "__future__" in err[2]


def test_a_file_broken_before_the_edit_is_not_blamed_on_it() -> None:
    old = [*_module(), "def broken(:"]
    at = old.index("def f30(x):") + 2
    new = _edit(old, at, ["        return None"])
    assert syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new)) is None


def test_applying_an_edit_that_breaks_a_long_module_is_refused(tmp_path: Path) -> None:
    text = "\n".join(_module()) + "\n"
    (tmp_path / "m.py").write_text(text, encoding="utf-8")
    reply = "m.py\n<<<<<<< SEARCH\n    if x > 30:\n=======\n    if x > 30\n>>>>>>> REPLACE\n"
    report = apply_edits(parse_reply(reply).edits, tmp_path, ["m.py"])
    assert report.results[0].status == "refused" and "does not parse as Python" in (report.results[0].reason or "")
    assert (tmp_path / "m.py").read_text(encoding="utf-8") == text


def test_the_quick_check_never_refuses_what_the_whole_file_accepts_on_the_stdlib() -> None:
    """Random one-line damage to stdlib modules: the verdicts of the quick check and of compiling the
    whole file. A refusal the whole file would not make must never happen; an error the part does
    not see is left to the gate and must stay rare."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size > 8_000)
    rng = random.Random(4)
    errors = missed = 0
    for path in rng.sample(files, min(40, len(files))):
        text = path.read_text(encoding="utf-8", errors="replace")
        old = text.split("\n")
        for _ in range(8):
            i = rng.randrange(len(old))
            op = rng.choice(["delete", "duplicate", "dedent", "indent", "colon", "comment"])
            replacement = {
                "delete": [],
                "duplicate": [old[i], old[i]],
                "dedent": [old[i].lstrip()],
                "indent": ["    " + old[i]],
                "colon": [old[i] + ":"],
                "comment": [old[i] + "  # note" if old[i].strip() else old[i]],
            }[op]
            new = _edit(old, i, replacement)
            whole = syntax_error("m.py", "\n".join(new), text)
            quick = syntax_error("m.py", "\n".join(new), text, changed=changed_span(old, new))
            if whole is None:
                assert quick is None, (path.name, op, i + 1)
            else:
                errors += 1
                missed += quick is None
                assert quick in (None, whole)
    assert errors > 50
    assert missed <= errors // 100, f"{missed} of {errors} errors missed"


def test_closing_a_multi_line_string_on_its_first_line_is_checked_against_the_whole_file() -> None:
    # Found in review (timeit.py's `template = """`): the part around the change is balanced and
    # compiles, while the rest of the old string's lines are now code and the file does not.
    old = _module()
    at = old.index("def f30(x):")
    old = [*old[:at], 'HELP = """', "usage: tool [options]", "", "Options:", "  -h  show this help", '"""', *old[at:]]
    new = _edit(old, at, ['HELP = """usage: tool [options]"""'])
    err = syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new))
    assert err is not None


def test_an_opened_bracket_is_checked_against_the_whole_file() -> None:
    old = _module()
    at = old.index("def f30(x):") + 2
    new = _edit(old, at, ["        return max(x - 30,"])
    err = syntax_error("m.py", "\n".join(new), "\n".join(old), changed=changed_span(old, new))
    assert err is not None
