"""Normalised error messages: the same failure compares equal, different failures do not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autopack.childenv import subprocess_env
from autopack.recovery import normalize
from autopack.recovery.normalize import message_similarity, normalize_error_message

FAILING_TEST = """
import json
from pathlib import Path

def test_config_roundtrip(tmp_path):
    target = tmp_path / "settings.json"
    target.write_text(json.dumps({"retries": 3}))
    loaded = json.loads(Path(target).read_text())
    assert loaded["retries"] == 4, f"wrong retries in {target} (object {object()!r})"
"""

IMPORT_FAILURE = "import missing_dependency_pkg\n\ndef test_x():\n    pass\n"


def pytest_in(directory: Path, source: str) -> str:
    directory.mkdir(parents=True)
    (directory / "test_subject.py").write_text(textwrap.dedent(source), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_subject.py"],
        cwd=directory,
        env=subprocess_env({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),  # faster; the inner run needs none
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Real pytest output: one failing test run twice in different directories, and an import failure."""
    base = tmp_path_factory.mktemp("runs")
    return {
        "first": pytest_in(base / "attempt_one" / "ws", FAILING_TEST),
        "second": pytest_in(base / "attempt-2-elsewhere", FAILING_TEST),
        "import": pytest_in(base / "import", IMPORT_FAILURE),
    }


def test_same_failing_test_in_two_directories_is_similar(outputs: dict[str, str]) -> None:
    assert outputs["first"] != outputs["second"]  # the raw outputs really differ (paths, timings)
    assert message_similarity(outputs["first"], outputs["second"]) >= 0.8


def test_normalisation_removes_the_temp_paths_of_a_real_run(outputs: dict[str, str]) -> None:
    normalized = normalize_error_message(outputs["first"])
    assert "attempt_one" not in normalized
    assert "<path>" in normalized
    assert "assert 3 == 4" in normalized


def test_different_failures_are_not_similar(outputs: dict[str, str]) -> None:
    assert message_similarity(outputs["first"], outputs["import"]) < 0.8


@pytest.mark.parametrize(
    ("raw", "gone", "placeholder"),
    [
        ('File "/home/dev/proj/src/app.py", line 12', "/home/dev", "<path>"),
        (r"C:\Users\dev\proj\src\app.py:12:5: E501", "users", "<path>"),
        (r"error in \\fileserver\share\proj\app.py", "fileserver", "<path>"),
        ("run 123e4567-e89b-12d3-a456-426614174000 failed", "123e4567", "<uuid>"),
        ("at 2025-01-02T10:00:03.123Z the call failed", "2025-01-02", "<time>"),
        ("[Mon Jan  6 10:00:00 2025] worker crashed", "jan", "<time>"),
        ("<Client object at 0x7f3a2b1c0d90>", "0x7f3a", "<hex>"),
        ("1 failed in 0.12s", "0.12", "<dur>"),
        ("request took 123ms", "123ms", "<dur>"),
        ("gave up in 3.4 seconds", "3.4", "<dur>"),
        ("worker pid=48213 exited", "48213", "pid <n>"),
        ("cannot remove /tmp/tmpa8x_2kq9/cache: busy", "tmpa8x_2kq9", "<path>"),
        ("stale lock in tmpa8x_2kq9", "tmpa8x_2kq9", "<tmp>"),
        ("expected 1700000000123 rows", "1700000000123", "<n>"),
        ("src/app.py:42:7: F401 unused import", "42", ":<n>"),
        ("error at line 42, column 7", "42", "line <n>"),
        ("see L42 of the diff", "42", "l<n>"),
        ("HEAD is now at 3f9c2ab1 fix", "3f9c2ab1", "<hash>"),
        ("see https://example.com/run/123/log for details", "example.com", "<url>"),
    ],
)
def test_variable_content_is_replaced(raw: str, gone: str, placeholder: str) -> None:
    normalized = normalize_error_message(raw)
    assert gone.lower() not in normalized
    assert placeholder in normalized


def test_messages_that_differ_only_in_variable_content_normalise_equal() -> None:
    a = 'File "/tmp/pytest-of-ci/pytest-7/test_a0/src/app.py", line 42, in load\n  took 0.31s (pid 4411)'
    b = 'File "/tmp/pytest-of-ci/pytest-9/test_a3/src/app.py", line 57, in load\n  took 1.02s (pid 981)'
    assert normalize_error_message(a) == normalize_error_message(b)
    assert message_similarity(a, b) == 1.0


def test_whitespace_is_collapsed_and_case_lowered() -> None:
    assert normalize_error_message("  AssertionError:\n\n   Expected   TRUE\t") == "assertionerror: expected true"


def test_plain_words_with_slashes_are_not_paths() -> None:
    assert normalize_error_message("read and/or write the input/output") == "read and/or write the input/output"


def test_identifiers_that_start_with_tmp_survive() -> None:
    assert normalize_error_message("def test_x(tmp_path, tmpdir):") == "def test_x(tmp_path, tmpdir):"


def test_test_names_survive_normalisation() -> None:
    normalized = normalize_error_message("FAILED tests/test_api.py::test_login_rejects_bad_password")
    assert "test_login_rejects_bad_password" in normalized


def test_similarity_is_a_ratio_between_zero_and_one() -> None:
    assert message_similarity("", "") == 1.0
    assert message_similarity("KeyError: 'user'", "KeyError: 'user'") == 1.0
    assert 0.0 <= message_similarity("KeyError: 'user'", "ZeroDivisionError") < 0.5


def test_seed_names_are_aliases() -> None:
    assert normalize._normalize_error_message is normalize_error_message
    assert normalize._calculate_message_similarity is message_similarity
