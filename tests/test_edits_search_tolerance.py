"""SEARCH blocks as models damage them: lines elided with '...', one wrong or left-out line.

An elided SEARCH applies when its pieces occur in order, close together, at one place, and the
REPLACE elides at the same points; the elided lines stay. One wrong context line, or one file line
the SEARCH leaves out, is tolerated when the rest pins one place and the line is not one the REPLACE
changes. Everything else is refused naming what to fix. Real files in ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

from autopack.edits import ApplyReport, apply_edits, parse_reply

MODULE = """\
import os


class Store:
    def __init__(self, root):
        self.root = root
        self.cache = {}
        self.hits = 0
        self.misses = 0

    def get(self, key):
        if key in self.cache:
            self.hits += 1
            return self.cache[key]
        self.misses += 1
        value = self.load(key)
        self.cache[key] = value
        return value

    def load(self, key):
        with open(os.path.join(self.root, key)) as fh:
            return fh.read()
"""


def run(tmp_path: Path, search: str, replace: str, text: str = MODULE) -> tuple[ApplyReport, str]:
    path = tmp_path / "store.py"
    path.write_text(text, encoding="utf-8")
    reply = f"store.py\n```python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"
    report = apply_edits(parse_reply(reply).edits, tmp_path, ["**"])
    return report, path.read_text(encoding="utf-8")


# elided SEARCH ------------------------------------------------------------------------------------------
def test_elided_search_applies_its_pieces_and_keeps_the_lines_between(tmp_path: Path) -> None:
    search = "    def get(self, key):\n        # ...\n        value = self.load(key)\n"
    replace = "    def get(self, key):\n        # ...\n        value = self.load(key.strip())\n"
    report, text = run(tmp_path, search, replace)
    assert report.ok, report.feedback()
    assert text == MODULE.replace("self.load(key)\n", "self.load(key.strip())\n")
    assert any("pieces" in note for note in report.results[0].fuzz)


def test_elided_search_with_changes_in_two_pieces(tmp_path: Path) -> None:
    search = "    def get(self, key):\n        if key in self.cache:\n        ...\n        return value\n"
    replace = "    def get(self, key, default=None):\n        if key in self.cache:\n        ...\n        return value or default\n"
    report, text = run(tmp_path, search, replace)
    assert report.ok, report.feedback()
    expected = MODULE.replace("def get(self, key):", "def get(self, key, default=None):")
    assert text == expected.replace("        return value\n", "        return value or default\n")


def test_elided_search_whose_replace_does_not_elide_is_refused(tmp_path: Path) -> None:
    search = "    def get(self, key):\n        # ...\n        return value\n"
    replace = "    def get(self, key):\n        return None\n"
    report, text = run(tmp_path, search, replace)
    assert not report.ok and text == MODULE
    assert "'...' at 1 point(s) and the REPLACE at 0" in report.results[0].reason


def test_elided_piece_that_is_not_in_the_file_is_named(tmp_path: Path) -> None:
    search = "    def get(self, key):\n        # ...\n        value = self.fetch(key)\n"
    replace = "    def get(self, key):\n        # ...\n        value = self.fetch(key, 1)\n"
    report, text = run(tmp_path, search, replace)
    assert not report.ok and text == MODULE
    assert "piece 2 of the SEARCH (starting 'value = self.fetch(key)') is not in the file" in report.results[0].reason


def test_elided_pieces_in_the_wrong_order_are_refused(tmp_path: Path) -> None:
    search = "        return value\n        # ...\n        self.misses += 1\n"
    replace = "        return value\n        # ...\n        self.misses += 2\n"
    report, text = run(tmp_path, search, replace)
    assert not report.ok and text == MODULE
    assert "piece 2" in report.results[0].reason and "within 60 lines after piece 1" in report.results[0].reason


def test_elided_pieces_that_fit_two_places_in_order_are_refused(tmp_path: Path) -> None:
    twice = MODULE + "\n    def peek(self, key):\n        if key in self.cache:\n            return self.cache[key]\n"
    search = "        if key in self.cache:\n        ...\n            return self.cache[key]\n"
    replace = "        if key in self.cache:\n        ...\n            return dict(self.cache)[key]\n"
    report, text = run(tmp_path, search, replace, twice)
    assert not report.ok and text == twice
    assert "piece 2 of the SEARCH (starting 'return self.cache[key]') fits 2 places" in report.results[0].reason


def test_a_real_ellipsis_line_is_matched_literally_first(tmp_path: Path) -> None:
    stub = "class P:\n    def f(self):\n        ...\n\n    def g(self):\n        return 1\n"
    report, text = run(tmp_path, "    def f(self):\n        ...\n", "    def f(self):\n        return 0\n", stub)
    assert report.ok and text == stub.replace("        ...\n", "        return 0\n", 1)


# one wrong or left-out line -----------------------------------------------------------------------------
def test_one_wrong_context_line_is_tolerated_and_the_files_line_kept(tmp_path: Path) -> None:
    search = "        self.misses += 1\n        value = self.lode(key)\n        self.cache[key] = value\n        return value\n"
    replace = "        self.misses += 1\n        value = self.lode(key)\n        self.cache[key] = value\n        return value or None\n"
    report, text = run(tmp_path, search, replace)
    assert report.ok, report.feedback()
    assert text == MODULE.replace("        return value\n", "        return value or None\n")
    assert any("'value = self.lode(key)' differs from line 16" in note for note in report.results[0].fuzz)


def test_a_wrong_line_the_replace_changes_is_refused(tmp_path: Path) -> None:
    search = "        self.misses += 1\n        value = self.lode(key)\n        self.cache[key] = value\n"
    replace = "        self.misses += 1\n        value = self.load(key, 1)\n        self.cache[key] = value\n"
    report, text = run(tmp_path, search, replace)
    assert not report.ok and text == MODULE


def test_a_line_the_search_leaves_out_is_kept(tmp_path: Path) -> None:
    search = "        self.misses += 1\n        self.cache[key] = value\n        return value\n"
    replace = "        self.misses += 1\n        self.cache[key] = value\n        return value or None\n"
    report, text = run(tmp_path, search, replace)
    assert report.ok, report.feedback()
    assert text == MODULE.replace("        return value\n", "        return value or None\n")
    assert any("omits line 16" in note for note in report.results[0].fuzz)


def test_a_foreign_line_among_lines_of_little_substance_is_refused(tmp_path: Path) -> None:
    # Another file's block: only a quote line and `def __init__(` match here; not evidence enough.
    text = 'class A:\n    """Doc.\n\n    More.\n    """\n\n    def __init__(\n        self,\n    ):\n        pass\n'
    search = '    :param name: the name of the thing.\n    """\n\n    def __init__(\n'
    replace = '    :param name: the name of the thing.\n    """\n\n    name: str\n\n    def __init__(\n'
    report, result = run(tmp_path, search, replace, text)
    assert not report.ok and result == text


def test_two_wrong_lines_are_refused(tmp_path: Path) -> None:
    search = "        self.misses += 2\n        value = self.lode(key)\n        self.cache[key] = value\n        return value\n"
    replace = "        self.misses += 2\n        value = self.lode(key)\n        self.cache[key] = value\n        return value or None\n"
    report, text = run(tmp_path, search, replace)
    assert not report.ok and text == MODULE


def test_one_wrong_line_that_fits_two_places_is_refused(tmp_path: Path) -> None:
    body = "    total = compute(x)\n    scaled = total * factor\n    return scaled\n"
    twice = f"def a(x, factor):\n{body}\n\ndef b(x, factor):\n{body}"
    search = "def c(x, factor):\n" + body
    replace = "def c(x, factor):\n" + body.replace("return scaled", "return scaled + 1")
    report, text = run(tmp_path, search, replace, twice)
    assert not report.ok and text == twice
    assert "matches 2 places" in report.results[0].reason


# a block that fits exactly and, re-indented, a more indented place ---------------------------------------
NESTED = """\
def read(self, buf):
    if buf:
        n = len(buf)
        buf[:] = self.source(n)
    return n


class Reader:
    def read(self, buf):
        if buf:
            n = len(buf)
            buf[:] = self.source(n)
        return n
"""


def test_a_block_exactly_at_a_shallower_twin_of_a_deeper_one_is_refused(tmp_path: Path) -> None:
    # Meant for Reader.read, sent with 4 of its 12 spaces dropped: it is then exactly the function's
    # lines. Nothing tells the two readings apart, so it is refused (it was applied to the function).
    search = "        n = len(buf)\n        buf[:] = self.source(n)\n"
    replace = "        n = len(buf) + 1\n        buf[:] = self.source(n)\n"
    report, text = run(tmp_path, search, replace, NESTED)
    assert not report.ok and text == NESTED
    assert "matches line 3 exactly but also, with other indentation, line 11" in report.results[0].reason


def test_a_block_exactly_at_the_deeper_twin_applies(tmp_path: Path) -> None:
    search = "            n = len(buf)\n            buf[:] = self.source(n)\n"
    replace = "            n = len(buf) + 1\n            buf[:] = self.source(n)\n"
    report, text = run(tmp_path, search, replace, NESTED)
    assert report.ok, report.feedback()
    assert text == NESTED.replace("            n = len(buf)\n", "            n = len(buf) + 1\n")


def test_blank_edges_are_not_dropped_when_one_line_would_be_left(tmp_path: Path) -> None:
    # Another file's import block: without its blank lines, `import os` alone would place it anywhere.
    search = "\nimport os\n\n\n"
    replace = "\nimport os\nimport sys\n\n\n"
    report, text = run(tmp_path, search, replace)
    assert not report.ok and text == MODULE
