"""Smoke tests for the edit-application benchmark (scripts/bench/edits*.py).

They check the benchmark's own judgement: how it classifies a part-of-line SEARCH, how it builds
the twin cases (the header moved away from every twin, indentation dropped only where it must be
refused), how it judges an outcome, and that a tiny real run prints every row. Timings are never
asserted.
"""

from __future__ import annotations

import ast
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench"
sys.path.insert(0, str(BENCH))

import edits  # noqa: E402
import edits_cases as cases  # noqa: E402
import edits_real as real  # noqa: E402
import edits_report  # noqa: E402
from edits_corpus import occurrences  # noqa: E402

TWINNED = """\
def first(items):
    total = 0
    for item in items:
        if item is None:
            continue
        total += item
    return total


def second(items):
    total = 0
    for item in items:
        if item is None:
            continue
        total += item
    return total * 2
""" + "".join(f"\n\ndef helper_{i}():\n    return {i}\n" for i in range(40))  # room to move a header to

NESTED = """\
class Reader:
    def read(self, buf):
        n = len(buf)
        buf[:] = self.source(n)
        return n


def read(self, buf):
    n = len(buf)
    buf[:] = self.source(n)
    return n
"""

CALLS = """\
import os


def run(path, limit, size):
    data = os.read(path, 4096)
    subtotal = limit + 1
    total = subtotal * 3
    return check(data, size=limit) + total


def check(data, size):
    return len(data) > size
"""


def test_word_places_separates_whole_words_from_text_inside_longer_words() -> None:
    text = "total = subtotal + total_cost\nx = total\ny = 1.5 + 5\n"
    assert cases.word_places(text, "total") == (2, 2)
    assert cases.word_places(text, "5") == (1, 1)  # the 5 of 1.5 is inside a number
    assert cases.word_places(text, "= total") == (1, 0)


def test_a_block_ending_in_a_blank_line_does_not_fit_after_the_final_newline() -> None:
    text = "def f():\n    return x\n\ndef g():\n    return x\n"
    assert occurrences(text, ["return x", ""]) == 1  # an applier sees no line after the final newline
    repeated = "a = 1\nb = 2\nc = 3\n\nx = 0\na = 1\nb = 2\nc = 3\n"
    assert cases.twin_runs(repeated.split("\n"), str, False) == [(0, 5, 3)]  # not 4 lines: no blank after the end


def test_judge_calls_a_changed_file_wrong_unless_it_is_the_intended_one() -> None:
    assert edits.judge(True, b"new", b"new", b"old") == "correct"
    assert edits.judge(False, b"old", b"new", b"old") == "refused"
    assert edits.judge(True, b"other", b"new", b"old") == "wrong"
    assert edits.judge(False, b"half", b"new", b"old") == "wrong"
    assert edits.judge(True, b"new", None, b"old") == "wrong"  # nothing was intended: any change is wrong


def test_twin_runs_finds_identical_lines_and_same_shape_blocks_at_other_indentation() -> None:
    lines = TWINNED.split("\n")
    assert (1, 10, 5) in cases.twin_runs(lines, str, False)
    nested = NESTED.split("\n")
    assert cases.twin_runs(nested, str, False) == []
    assert [(p, q) for p, q, _ in cases.twin_runs(nested, lambda s: " ".join(s.split()), True)] == [(1, 7)]


def test_twin_diffs_keep_the_hunk_at_one_twin_and_move_the_wrong_header_away_from_all() -> None:
    found = cases.twin_diff_cases([("m.py", TWINNED)], 1, random.Random(3))
    assert [c.kind for c in found] == [cases.TWIN_RIGHT, cases.TWIN]
    right, wrong = found
    assert right.new_text == wrong.new_text != TWINNED
    ast.parse(right.new_text)
    right_at, wrong_at = (_old_start(c.diff) for c in found)
    before = [line[1:] for line in right.diff.splitlines()[3:] if line[:1] in " -"]
    lines = TWINNED.split("\n")
    twins = [s + 1 for s in range(len(lines)) if lines[s : s + len(before)] == before]
    assert len(twins) == 2 and right_at in twins
    assert all(abs(wrong_at - t) > 3 for t in twins)


def _old_start(diff: str) -> int:
    header = next(line for line in diff.splitlines() if line.startswith("@@"))
    return int(header.split()[1][1:].split(",")[0])


def test_twin_blocks_drop_the_indentation_only_for_the_must_refuse_row() -> None:
    found = cases.twin_block_cases([("m.py", NESTED)], 1, random.Random(5))
    assert [c.kind for c in found] == [cases.SR_TWIN_KEPT, cases.SR_TWIN]  # the other twin is at column 0
    kept, dropped = found
    assert NESTED.count(kept.search) == 1
    assert _least_indent(kept.search) > 0 and _least_indent(dropped.search) == 0
    assert [line.strip() for line in kept.search.splitlines()] == [line.strip() for line in dropped.search.splitlines()]


def _least_indent(block: str) -> int:
    return min(len(line) - len(line.lstrip()) for line in block.splitlines() if line.strip())


def test_part_of_line_cases_are_classified_by_where_else_the_fragment_occurs() -> None:
    found = cases.part_cases("m.py", CALLS, random.Random(1), tries=200)
    assert found, "the module has numbers and call arguments to change"
    for case in found:
        whole, inside = cases.word_places(CALLS, case.search)
        assert "\n" not in case.search and case.search.strip() not in [s.strip() for s in CALLS.split("\n")]
        if case.kind == cases.PART_CUT:
            assert case.new_text is None and whole == 0 and inside >= 1
            continue
        expected = {cases.PART_UNIQUE: (1, 0), cases.PART_SEVERAL: (whole, inside)}.get(case.kind, (1, inside))
        assert (whole, inside) == expected and (whole > 1) == (case.kind == cases.PART_SEVERAL)
        assert case.new_text is not None and case.new_text != CALLS
        ast.parse(case.new_text)
        changed = [(a, b) for a, b in zip(CALLS.split("\n"), case.new_text.split("\n"), strict=True) if a != b]
        assert len(changed) == 1 and case.search in changed[0][0] and case.replace in changed[0][1]


def test_recoverable_rows_exclude_exactly_the_must_refuse_kinds() -> None:
    refused = {k for k, ok in edits_report.RECOVERABLE.items() if not ok}
    assert refused == {
        "elision", cases.TWIN, cases.SR_TWIN, cases.SR_TWIN_KEPT_DEEPER, cases.SR_TWIN_PARTIAL,
        cases.SR_LINE_IN_LINE, cases.PART_SEVERAL, cases.PART_CUT,
    }  # fmt: skip


def test_a_tiny_run_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert edits.main(["--cases", "2", "--twins", "2", "--autopack-only", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    for kind in edits_report.DIFF_ROWS + edits_report.SR_ROWS:
        assert kind in rows, kind
    autopack_twins = re.findall(r"\d+/\d+/\d+", rows[cases.TWIN])[0]
    assert sum(map(int, autopack_twins.split("/"))) >= 2  # both changes at repeated lines were tried
    assert "Time per undamaged diff by file size" in out


DEEP = """\
class Outer:
    class Inner:
        def read(self, buf):
            n = len(buf)
            buf[:] = self.source(n)
            return n

    def read(self, buf):
        n = len(buf)
        buf[:] = self.source(n)
        return n
"""


def test_a_block_dedented_onto_a_less_indented_twin_is_a_must_refuse_case() -> None:
    found = cases.twin_block_cases([("m.py", DEEP)], 1, random.Random(2))
    partial = [c for c in found if c.kind == cases.SR_TWIN_PARTIAL]
    assert partial and partial[0].new_text is None
    assert partial[0].search in DEEP and _least_indent(partial[0].search) == 4  # exactly the other twin


def _git_repo(root: Path, versions: list[str]) -> Path:
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x.invalid", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x.invalid", "PATH": os.environ["PATH"]}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    for n, text in enumerate(versions):
        (root / "mod.py").write_text(text, encoding="utf-8")
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(root), "commit", "-qm", f"v{n}"], check=True, env=env)
    return root


BODY = "".join(f"def f{i}(x):\n    y = x + {i}\n    z = y * 2\n    w = z - 1\n    return w\n\n\n" for i in range(12))


def test_real_commits_give_blocks_whose_damage_is_classified_from_the_file(tmp_path: Path) -> None:
    repo = _git_repo(
        tmp_path / "repo",
        [BODY, BODY.replace("    w = z - 1\n    return w\n\n\ndef f7", "    w = z - 7\n    return w\n\n\ndef f7")],
    )
    found = real.corpus([str(repo)], 5, per_file=3, seed=1)
    kinds = {c.kind for c in found}
    assert {real.NONE, real.TRAILING, real.REINDENT, real.ELIDED, real.AMBIGUOUS} <= kinds
    none = next(c for c in found if c.kind == real.NONE)
    assert none.text == BODY and none.new_text is not None and none.search in BODY
    assert none.text.replace(none.search, none.replace) == none.new_text
    for case in found:
        assert (case.new_text is None) == (case.kind in real.MUST_REFUSE), case.kind


def test_one_off_places_counts_files_not_positions() -> None:
    lines = ["a", "b", "c", "d", "e"]
    # "x" may be a wrong "a" (reading 1) or "a" left out is not possible; two readings, one result.
    assert real.one_off_places(lines, ["x", "b", "c"], ["x", "b", "C"], {0, 1}, 2, 3) == 1
    assert real.one_off_places(["a", "b", "a", "b"], ["z", "b"], ["z", "B"], {0}, 1, 2) == 2


def test_the_aider_driver_applies_through_the_module_it_is_given(tmp_path: Path) -> None:
    module = tmp_path / "editblock_coder.py"
    module.write_text(
        "DEFAULT_FENCE = ('```', '```')\n"
        "def find_original_update_blocks(content, fence, valid_fnames):\n"
        "    head, rest = content.split('<<<<<<< SEARCH\\n', 1)\n"
        "    s, rest = rest.split('=======\\n', 1)\n"
        "    yield valid_fnames[0], s, rest.split('>>>>>>> REPLACE', 1)[0]\n"
        "def do_replace(fname, content, before, after, fence=None):\n"
        "    return content.replace(before, after, 1) if before in content else None\n",
        encoding="utf-8",
    )
    (tmp_path / "m.py").write_text("a = 1\n", encoding="utf-8")
    driver = real.AiderDriver(str(module))
    try:
        assert driver.apply(tmp_path, "m.py", "m.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n")[0]
        assert not driver.apply(tmp_path, "m.py", "m.py\n<<<<<<< SEARCH\nb\n=======\nc\n>>>>>>> REPLACE\n")[0]
    finally:
        driver.close()
    assert (tmp_path / "m.py").read_text(encoding="utf-8") == "a = 2\n"
