"""The quality gate runs real commands in real processes and reads what they print."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from autopack.gate.checks import GateError, run_checks
from autopack.gate.parse import find_syntax_errors, parse_pytest_summary

PYTEST = "python -m pytest -q -p no:cacheprovider"


def write_project(root: Path, calc: str, tests: str) -> None:
    (root / "calc.py").write_text(calc, encoding="utf-8")
    (root / "test_calc.py").write_text(tests, encoding="utf-8")


CALC_OK = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
TESTS = (
    "from calc import add, sub\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_sub():\n    assert sub(5, 3) == 2\n"
)


def process_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (absent, or a zombie waiting for its reaper)."""
    for _ in range(100):  # the kill was sent before run_checks returned; give the kernel a moment
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_passing_pytest_run_is_parsed_and_passes(tmp_path: Path) -> None:
    write_project(tmp_path, CALC_OK, TESTS)
    gate = run_checks([PYTEST], tmp_path, timeout=60)
    assert gate.passed
    check = gate.checks[0]
    assert check.exit_code == 0 and check.passed and not check.timed_out
    assert check.pytest is not None and check.pytest.passed == 2 and check.pytest.failed == 0
    assert gate.summary() == "1/1 checks passed; pytest 2 passed"
    assert gate.tail() == ""


def test_failing_pytest_run_reports_counts_and_failed_test_names(tmp_path: Path) -> None:
    write_project(tmp_path, CALC_OK.replace("a - b", "a + b"), TESTS)
    gate = run_checks([PYTEST], tmp_path, timeout=60)
    assert not gate.passed
    summary = gate.checks[0].pytest
    assert summary is not None
    assert (summary.passed, summary.failed) == (1, 1)
    assert summary.failed_tests == ["test_calc.py::test_sub"]
    assert gate.summary() == "1 of 1 checks failed: pytest 1 failed, 1 passed"


def test_all_checks_run_after_a_failure_so_every_failure_is_seen(tmp_path: Path) -> None:
    gate = run_checks(["echo first; exit 3", "echo second"], tmp_path, timeout=30)
    assert [c.exit_code for c in gate.checks] == [3, 0]
    assert "second" in gate.checks[1].output
    assert gate.summary() == "1 of 2 checks failed: `echo first; exit 3` exited 3"


def test_syntax_error_in_tested_module_is_found(tmp_path: Path) -> None:
    write_project(tmp_path, "def add(a, b)\n    return a + b\n", TESTS)
    gate = run_checks([PYTEST], tmp_path, timeout=60)
    assert not gate.passed
    errors = gate.checks[0].syntax_errors
    assert errors, gate.checks[0].output
    assert errors[0].startswith('File "calc.py", line 1: SyntaxError: ')
    assert "syntax error" in gate.summary()


def test_syntax_error_from_plain_python_is_found(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("x = (1,\n", encoding="utf-8")
    gate = run_checks(["python bad.py"], tmp_path, timeout=30)
    assert gate.checks[0].syntax_errors == ["File \"bad.py\", line 1: SyntaxError: '(' was never closed"]


def test_timeout_kills_a_hanging_check_and_skips_the_rest(tmp_path: Path) -> None:
    gate = run_checks(["echo before; sleep 30", "echo never"], tmp_path, timeout=1)
    hung, rest = gate.checks
    assert hung.timed_out and hung.exit_code is None and not hung.passed
    assert "before" in hung.output and "timed out" in hung.output
    assert rest.skipped and not rest.passed and rest.output == ""
    assert not gate.passed
    assert (
        gate.summary()
        == "1 of 2 checks failed: `echo before; sleep 30` timed out after 1s; 1 skipped after the timeout"
    )


def test_timeout_kills_the_children_of_a_check_too(tmp_path: Path) -> None:
    spawn = (
        "python -c \"import subprocess, time; p = subprocess.Popen(['sleep', '30']); "
        "open('child.pid', 'w').write(str(p.pid)); time.sleep(30)\""
    )
    gate = run_checks([spawn], tmp_path, timeout=2)
    assert gate.checks[0].timed_out
    child = int((tmp_path / "child.pid").read_text(encoding="utf-8"))
    assert process_gone(child)


def test_a_check_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    gate = run_checks(["trap '' TERM; echo $$ > shell.pid; sleep 30"], tmp_path, timeout=1)
    assert gate.checks[0].timed_out
    assert process_gone(int((tmp_path / "shell.pid").read_text(encoding="utf-8")))


def test_background_process_left_by_a_finished_check_does_not_hang_the_gate(tmp_path: Path) -> None:
    gate = run_checks(["sleep 30 & echo $! > bg.pid; echo done"], tmp_path, timeout=20)
    check = gate.checks[0]
    assert check.passed and not check.timed_out
    assert "done" in check.output
    assert process_gone(int((tmp_path / "bg.pid").read_text(encoding="utf-8")))


def test_stdin_is_empty_so_a_reading_check_does_not_wait(tmp_path: Path) -> None:
    gate = run_checks(["cat; echo eof-reached"], tmp_path, timeout=10)
    assert not gate.checks[0].timed_out
    assert gate.checks[0].output.strip() == "eof-reached"


def test_non_ascii_output_is_kept_and_bad_bytes_are_replaced(tmp_path: Path) -> None:
    gate = run_checks(["python -c \"print('naïve café ✓')\"; printf 'raw \\377 byte\\n'"], tmp_path, timeout=30)
    output = gate.checks[0].output
    assert "naïve café ✓" in output
    assert "raw \ufffd byte" in output


def test_full_output_is_written_to_the_log_with_a_header_per_check(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "deep" / "gate.log"
    run_checks(["echo alpha-ü", "echo beta; exit 1"], tmp_path, timeout=30, log_path=log)
    text = log.read_text(encoding="utf-8")
    assert "===== check 1/2: echo alpha-ü =====" in text
    assert "===== check 2/2: echo beta; exit 1 =====" in text
    assert "alpha-ü" in text and "status: exit 1" in text
    assert text.index("alpha-ü\n") < text.index("check 2/2")


def test_children_see_pythonutf8_and_extra_env(tmp_path: Path) -> None:
    gate = run_checks(
        ["echo $PYTHONUTF8 $PYTHONDONTWRITEBYTECODE $MY_FLAG"], tmp_path, timeout=30, env_extra={"MY_FLAG": "on"}
    )
    assert gate.checks[0].output.strip() == "1 1 on"


def test_python_in_a_check_is_the_interpreter_running_autopack(tmp_path: Path) -> None:
    gate = run_checks(
        ['python -c "import sys; print(sys.executable)"'],
        tmp_path,
        timeout=30,
        env_extra={"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    printed = gate.checks[0].output.strip()
    assert os.path.dirname(printed) == os.path.dirname(sys.executable)


def test_empty_check_list_passes(tmp_path: Path) -> None:
    gate = run_checks([], tmp_path, timeout=5)
    assert gate.passed and gate.checks == []
    assert gate.summary() == "0/0 checks passed"


def test_tail_shows_only_failed_checks_headed_by_command_and_bounded(tmp_path: Path) -> None:
    noisy = "for i in $(seq 1 500); do echo line-$i; done; exit 1"
    gate = run_checks(["echo fine", noisy, "echo oops; exit 2"], tmp_path, timeout=30, tail_lines=20)
    tail = gate.tail()
    assert "$ echo fine" not in tail
    assert f"$ {noisy}  (exit 1)" in tail and "$ echo oops; exit 2  (exit 2)" in tail
    assert "line-500" in tail and "line-400" not in tail
    assert len(tail.splitlines()) <= 2 * 20 + 4
    assert len(gate.checks[1].tail.splitlines()) == 20
    assert gate.checks[1].output.count("\n") >= 500


def test_to_dict_is_json_ready(tmp_path: Path) -> None:
    write_project(tmp_path, CALC_OK.replace("a - b", "a + b"), TESTS)
    data = run_checks([PYTEST], tmp_path, timeout=60).to_dict()
    again = json.loads(json.dumps(data))
    assert again["passed"] is False
    assert again["pytest"]["failed"] == 1
    assert again["checks"][0]["pytest"]["failed_tests"] == ["test_calc.py::test_sub"]
    assert "output" not in again["checks"][0]


def test_missing_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="does not exist"):
        run_checks(["true"], tmp_path / "nope", timeout=5)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("===== 2 failed, 10 passed, 1 skipped in 0.12s =====", {"failed": 2, "passed": 10, "skipped": 1}),
        ("1 passed in 0.01s", {"passed": 1}),
        ("no tests ran in 0.01s", {}),
        ("2 failed, 3 passed in 0.05s", {"failed": 2, "passed": 3}),
        ("1 error in 0.10s", {"errors": 1}),
        ("5 passed, 2 warnings in 0.30s", {"passed": 5, "warnings": 2}),
        (
            "==== 1 failed, 2 xfailed, 1 xpassed, 3 errors in 61.20s (0:01:01) ====",
            {"failed": 1, "xfailed": 2, "xpassed": 1, "errors": 3},
        ),
        ("\x1b[31m===== \x1b[1m1 failed\x1b[0m in 0.02s =====\x1b[0m", {"failed": 1}),
    ],
)
def test_pytest_summary_lines_are_parsed(line: str, expected: dict[str, int]) -> None:
    summary = parse_pytest_summary(f"some output\n{line}\n")
    assert summary is not None
    counts = summary.to_dict()
    for key in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "warnings"):
        assert counts[key] == expected.get(key, 0), key


def test_output_without_a_pytest_summary_has_none() -> None:
    assert parse_pytest_summary("All checks passed!\nFound 0 errors in 3 files\n") is None


def test_failed_and_error_lines_give_node_ids_including_bracketed_params() -> None:
    out = (
        "FAILED tests/test_a.py::test_x[a - b] - AssertionError: assert 1 == 2\n"
        "FAILED tests/test_a.py::TestK::test_y\n"
        "ERROR tests/test_b.py - ImportError: cannot import name 'z'\n"
        "ERROR root: a log line that is not a test\n"
        "=== 2 failed, 1 error in 0.2s ===\n"
    )
    summary = parse_pytest_summary(out)
    assert summary is not None
    assert summary.failed_tests == [
        "tests/test_a.py::test_x[a - b]",
        "tests/test_a.py::TestK::test_y",
        "tests/test_b.py",
    ]


def test_tool_style_syntax_errors_are_found(tmp_path: Path) -> None:
    out = "pkg/mod.py:3:14: SyntaxError: Expected ':', found newline\npkg/other.py:7: error: invalid syntax  [syntax]\n"
    assert find_syntax_errors(out, tmp_path) == [
        "File \"pkg/mod.py\", line 3: SyntaxError: Expected ':', found newline",
        'File "pkg/other.py", line 7: SyntaxError: invalid syntax',
    ]
