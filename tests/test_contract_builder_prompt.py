"""The Builder's prompt as the real Anthropic SDK sent it to a local Messages API: a retry sees what
failed (its own diff, a refused SEARCH block, the first traceback, the end of the output) within the
budget; each edit format comes with a worked example and its rules; the repository is outlined; a file
shown in part is shown in parts outside the fence and is never accepted whole."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from conftest import git
from fake_claude import FakeClaude, blocks, claude_config, run_plan

CALC = "def add(a, b):\n    return a + b\n"
TEST_MUL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
PYTEST = "python -m pytest -q -p no:cacheprovider tests"


def sr(path: str, search: str, replace: str) -> str:
    return f"{path}\n```\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


def mul_as(expr: str) -> str:
    return sr("calc.py", CALC, f"{CALC}\n\ndef mul(a, b):\n    return {expr}\n")


def phase(**fields: object) -> dict[str, object]:
    return {
        "id": "mul",
        "name": "Add mul",
        "description": "Add mul(a, b) to calc.py.",
        "scope": ["calc.py"],
        "checks": [PYTEST],
        "builder_mode": "structured_edit",
        **fields,
    }


def system_of(fake: FakeClaude, n: int) -> str:
    return "\n".join(b.text for b in blocks(fake.calls("builder")[n]) if b.role == "system")


def message_of(fake: FakeClaude, n: int) -> str:
    return str(fake.calls("builder")[n]["messages"][0]["content"])


# -- item 1: a retry sees what failed ------------------------------------------------------------------


def test_a_retry_sees_its_own_diff_the_first_traceback_and_the_end_of_the_output(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", mul_as("a + b"), mul_as("a * b"))
    run = run_plan(tmp_path, fake, {"calc.py": CALC, "tests/test_calc.py": TEST_MUL}, [phase()])

    assert run.result.exit_code == 0
    retry = message_of(fake, 1)
    assert "The previous attempt failed" in retry
    assert "change was undone: the files above are as they were before it" in retry
    assert "```diff" in retry and "+def mul(a, b):\n+    return a + b" in retry  # its own diff
    assert "def test_mul():" in retry and "assert 5 == 6" in retry  # the failing test's report
    assert "1 failed" in retry  # the end of the output
    assert "def mul" not in system_of(fake, 1)  # the file shown is back at the phase's start


def test_a_retry_sees_the_search_block_that_was_refused(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    wrong = sr(
        "calc.py",
        "def add(x, y):\n    return x + y\n",
        "def add(x, y):\n    return x + y\n\n\ndef mul(x, y):\n    return x * y\n",
    )
    fake.queue("builder", wrong, mul_as("a * b"))
    run = run_plan(tmp_path, fake, {"calc.py": CALC, "tests/test_calc.py": TEST_MUL}, [phase()])

    assert run.result.exit_code == 0
    retry = message_of(fake, 1)
    assert "NOT applied" in retry and "Edit 1, as you sent it:" in retry
    assert "<<<<<<< SEARCH\ndef add(x, y):\n    return x + y\n=======" in retry


def test_the_retry_section_stays_within_the_budget_with_a_huge_output_and_diff(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    big = "\n".join(f"LINE_{i} = {i}" for i in range(3000)) + "\n"
    fake.queue("builder", sr("calc.py", CALC, CALC + big), "NO_CHANGES: done")
    noisy = (
        "python -c \"import sys; print('Traceback (most recent call last):'); "
        "print('  File \\\"calc.py\\\", line 3, in <module>'); print('ValueError: the real cause'); "
        "[print('noise line', i) for i in range(20000)]; print('LAST LINE OF OUTPUT'); sys.exit(1)\""
    )
    cfg = claude_config(tmp_path / "config.yaml", builder={"context_token_budget": 6000})
    run_plan(tmp_path, fake, {"calc.py": CALC}, [phase(checks=[noisy])], config=cfg)

    retry = message_of(fake, 1)
    assert "LAST LINE OF OUTPUT" in retry and "ValueError: the real cause" in retry
    assert "First failure in the output:" in retry  # the traceback, far from the end of the output
    assert "lines cut" in retry  # the one huge hunk, cut in its middle
    assert "```diff" in retry and "+LINE_0 = 0" in retry
    assert len(retry) // 4 < 6000 * 0.4  # the retry section's share of the budget, with the phase
    assert len(system_of(fake, 1) + retry) // 4 < 6000 + 1500  # budget + the fixed instructions


# -- item 2: worked examples, the rules, no contradictions -----------------------------------------------


def test_the_instructions_as_sent_carry_a_worked_example_and_the_format_rules(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", mul_as("a * b"))
    run_plan(tmp_path, fake, {"calc.py": CALC, "tests/test_calc.py": TEST_MUL}, [phase()])

    system = system_of(fake, 0)
    assert "Example. The file `shop/cart.py` holds:" in system
    assert "must occur exactly once" in system and "Whole lines only" in system and "Deleting or renaming" in system
    assert "NEED_FILES:" in system and "NO_CHANGES" in system
    assert "edits only" not in system and "at most one line saying what you changed" in system


def test_a_builder_that_needs_a_file_asks_for_it_and_is_asked_again_with_it_shown(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue(
        "builder", "NEED_FILES: lib/rates.py", sr("calc.py", CALC, CALC + "\n\ndef mul(a, b):\n    return a * b\n")
    )
    files = {"calc.py": CALC, "tests/test_calc.py": TEST_MUL, "lib/rates.py": "RATE = 7  # the secret sauce\n"}
    run = run_plan(tmp_path, fake, files, [phase()])

    assert run.result.exit_code == 0 and len(run.attempts("mul")) == 1
    assert "RATE = 7  # the secret sauce" not in system_of(fake, 0)
    assert "RATE = 7  # the secret sauce" in system_of(fake, 1)
    assert "You asked to see: lib/rates.py" in message_of(fake, 1)


# -- item 4: outline, parts outside the fence, no whole-file rewrite of a partial file ------------------

BIG = (
    "\n\n".join(f"def f{i}(x):\n    return x + {i}" for i in range(1500))
    + "\n\n\ndef total(items):\n    return sum(items)\n"
)
TOTAL_CHECK = 'python -c "import calc; assert calc.total([1.004, 2]) == 3.0"'


def test_the_repository_outline_names_the_related_modules_definitions(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", mul_as("a * b"))
    files = {
        "calc.py": "from lib import rates\n\n" + CALC,
        "tests/test_calc.py": TEST_MUL,
        "lib/__init__.py": "",
        "lib/rates.py": "def rate_for(country: str, *, year: int = 2024) -> float:\n    return 0.2\n",
    }
    run_plan(tmp_path, fake, files, [phase(checks=[])])

    system = system_of(fake, 0)
    assert "Repository files" in system and "lib/: __init__.py, rates.py" in system
    assert "lib/rates.py:\n  def rate_for(country: str, *, year: int=2024) -> float" in system


def test_a_file_shown_in_part_has_its_parts_in_code_blocks_under_lines_outside_the_fence(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue(
        "builder",
        sr(
            "calc.py",
            "def total(items):\n    return sum(items)\n",
            "def total(items):\n    return round(sum(items), 2)\n",
        ),
    )
    cfg = claude_config(tmp_path / "config.yaml", builder={"context_token_budget": 4000})
    run = run_plan(
        tmp_path,
        fake,
        {"calc.py": BIG},
        [phase(id="t", description="Make total round to cents.", checks=[TOTAL_CHECK])],
        config=cfg,
    )

    assert run.result.exit_code == 0
    system = system_of(fake, 0)
    assert "### calc.py (in scope, partial)" in system and "# ... lines" not in system
    n = len(BIG.splitlines())
    assert f"calc.py lines {n - 1 - 20}" in system or "\ncalc.py lines " in system
    part = system.split("\ncalc.py lines ")[-1]
    assert part.split("\n", 1)[1].startswith("```py\n")  # the fence holds the file's lines only
    assert system.index("Outline of the whole file:") < system.index("\ncalc.py lines ")  # outline first


def test_a_whole_file_reply_for_a_file_shown_in_part_is_refused_and_fed_back(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    whole = "calc.py\n```python\ndef total(items):\n    return round(sum(items), 2)\n```\n"
    fake.queue(
        "builder",
        whole,
        sr(
            "calc.py",
            "def total(items):\n    return sum(items)\n",
            "def total(items):\n    return round(sum(items), 2)\n",
        ),
    )
    cfg = claude_config(tmp_path / "config.yaml", builder={"context_token_budget": 4000})
    run = run_plan(
        tmp_path,
        fake,
        {"calc.py": BIG},
        [phase(id="t", description="Make total round to cents.", checks=[TOTAL_CHECK])],
        config=cfg,
    )

    assert run.result.exit_code == 0
    first = run.attempts("t")[0]
    assert first.error_category == "destructive_output" and not first.patch
    assert "you sent calc.py whole, but it was shown only in part" in message_of(fake, 1)
    committed = git(run.project, "show", f"autopack/{run.run_id}:calc.py")
    assert "def f700(x):" in committed and "return round(sum(items), 2)" in committed  # nothing was dropped


def test_a_full_file_phase_with_a_file_shown_in_part_is_asked_for_search_replace_blocks(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue(
        "builder",
        sr(
            "calc.py",
            "def total(items):\n    return sum(items)\n",
            "def total(items):\n    return round(sum(items), 2)\n",
        ),
    )
    cfg = claude_config(tmp_path / "config.yaml", builder={"context_token_budget": 4000})
    run = run_plan(
        tmp_path,
        fake,
        {"calc.py": BIG},
        [phase(id="t", description="Make total round to cents.", checks=[TOTAL_CHECK], builder_mode="full_file")],
        config=cfg,
    )

    assert run.result.exit_code == 0
    system = system_of(fake, 0)
    assert "Edit format: search/replace blocks" in system and "Edit format: whole files" not in system


def test_need_files_names_files_and_line_ranges_in_the_forms_models_write(tmp_path: Path) -> None:
    from autopack.attempt import _needed_files

    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    files, focus, note = _needed_files("NEED_FILES: a.py b.py, c.py lines 3-9, `zz.py`, ../etc/passwd", tmp_path)
    assert files == ["a.py", "b.py", "c.py"] and focus == {"c.py": [(3, 9)]}
    assert "Not found in the repository: zz.py, ../etc/passwd" in note
    assert _needed_files("NEED_FILES: a.py:10-20", tmp_path)[1] == {"a.py": [(10, 20)]}
