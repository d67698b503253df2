"""Error categories are decided from real evidence: real pytest, Python, shell, git and provider errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autopack.childenv import subprocess_env
from autopack.edits.paths import PathRefused, resolve_in_workspace
from autopack.llm.types import ProviderError
from autopack.recovery.categories import (
    ErrorCategory,
    categorize_gate_output,
    categorize_patch_message,
    categorize_provider_error,
    is_high_risk,
)
from conftest import MakeRepo, git


def run(argv: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    # Plugin autoload off: the inner pytest needs none, and loading them dominates its run time.
    env = subprocess_env({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def pytest_output(tmp_path: Path, source: str) -> tuple[int, str]:
    (tmp_path / "test_subject.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_subject.py"], tmp_path)


def test_failing_pytest_assertion_is_ci_fail(tmp_path: Path) -> None:
    code, out = pytest_output(tmp_path, "def test_sum():\n    assert 1 + 1 == 3\n")
    assert code == 1
    assert categorize_gate_output(out, code) is ErrorCategory.ci_fail


def test_test_failure_is_an_alias_of_ci_fail() -> None:
    assert ErrorCategory.TEST_FAILURE is ErrorCategory.ci_fail
    assert ErrorCategory("ci_fail") is ErrorCategory.TEST_FAILURE


def test_pytest_collection_import_error_is_import_error(tmp_path: Path) -> None:
    code, out = pytest_output(tmp_path, "import no_such_module_anywhere\n\ndef test_x():\n    pass\n")
    assert code != 0
    assert categorize_gate_output(out, code) is ErrorCategory.import_error


def test_cannot_import_name_is_import_error(tmp_path: Path) -> None:
    code, out = pytest_output(tmp_path, "from os import no_such_name\n\ndef test_x():\n    pass\n")
    assert "cannot import name" in out
    assert categorize_gate_output(out, code) is ErrorCategory.import_error


def test_syntax_error_in_a_test_module_is_syntax_error(tmp_path: Path) -> None:
    code, out = pytest_output(tmp_path, "def test_x(:\n    pass\n")
    assert code != 0
    assert categorize_gate_output(out, code) is ErrorCategory.syntax_error


def test_python_c_syntax_error_is_syntax_error(tmp_path: Path) -> None:
    code, out = run([sys.executable, "-c", "def broken(:\n    pass"], tmp_path)
    assert "SyntaxError" in out
    assert categorize_gate_output(out, code) is ErrorCategory.syntax_error


def test_indentation_error_is_syntax_error(tmp_path: Path) -> None:
    code, out = run([sys.executable, "-c", "if True:\nprint(1)"], tmp_path)
    assert "IndentationError" in out
    assert categorize_gate_output(out, code) is ErrorCategory.syntax_error


def test_killed_check_is_timeout(tmp_path: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.2, env=subprocess_env())
    assert categorize_gate_output(str(info.value)) is ErrorCategory.timeout


def test_missing_command_is_infra(tmp_path: Path) -> None:
    code, out = run(["bash", "-c", "no_such_tool_autopack --check"], tmp_path)
    assert code == 127
    assert categorize_gate_output(out, code) is ErrorCategory.infra
    assert categorize_gate_output(out) is ErrorCategory.infra  # the words alone are enough


def test_non_executable_script_is_infra(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    script.chmod(0o644)
    code, out = run(["bash", "-c", "./check.sh"], tmp_path)
    assert "Permission denied" in out
    assert categorize_gate_output(out, code) is ErrorCategory.infra


def test_git_merge_conflict_is_infra(git_repo: MakeRepo) -> None:
    repo = git_repo(files={"a.txt": "base\n"})
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "a.txt").write_text("other\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("main\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "main")
    code, out = run(["git", "merge", "other"], repo)
    assert code != 0 and "CONFLICT" in out
    assert categorize_gate_output(out, code) is ErrorCategory.infra


def test_conflict_markers_left_in_python_are_infra_not_syntax(git_repo: MakeRepo) -> None:
    repo = git_repo()
    (repo / "m.py").write_text("<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> other\n", encoding="utf-8")
    code, out = run([sys.executable, "m.py"], repo)
    assert "SyntaxError" in out
    assert categorize_gate_output(out, code) is ErrorCategory.infra


def test_git_index_lock_is_infra(git_repo: MakeRepo) -> None:
    repo = git_repo()
    (repo / ".git" / "index.lock").write_text("", encoding="utf-8")
    (repo / "new.txt").write_text("x\n", encoding="utf-8")
    code, out = run(["git", "add", "new.txt"], repo)
    assert code != 0
    assert categorize_gate_output(out, code) is ErrorCategory.infra


def test_nonzero_exit_without_markers_is_ci_fail() -> None:
    assert categorize_gate_output("checking style...\n3 files would be reformatted\n", 1) is ErrorCategory.ci_fail


def test_output_without_evidence_is_unknown() -> None:
    assert categorize_gate_output("all good here\n") is ErrorCategory.unknown


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("server", 500, ErrorCategory.http_500),
        ("server", 503, ErrorCategory.http_500),
        ("server", None, ErrorCategory.http_500),
        ("bad_request", 502, ErrorCategory.http_500),  # the status wins when it is a 5xx
        ("rate_limit", 429, ErrorCategory.rate_limit),
        ("server", 429, ErrorCategory.rate_limit),
        ("timeout", None, ErrorCategory.timeout),
        ("connection", None, ErrorCategory.infra),
        ("auth", 401, ErrorCategory.infra),
        ("not_configured", None, ErrorCategory.infra),
        ("malformed", 200, ErrorCategory.malformed_output),
        ("something_new", None, ErrorCategory.unknown),
    ],
)
def test_provider_errors_map_to_categories(kind: str, status: int | None, expected: ErrorCategory) -> None:
    err = ProviderError(kind=kind, message="Internal Server Error", provider="anthropic", status=status)  # type: ignore[arg-type]
    assert categorize_provider_error(err.kind, err.status) is expected


def test_git_apply_of_a_stale_patch_is_patch_apply_error(git_repo: MakeRepo) -> None:
    repo = git_repo(files={"mod.py": "def f():\n    return 1\n"})
    patch = repo / "fix.diff"
    patch.write_text(
        "--- a/mod.py\n+++ b/mod.py\n@@ -1,2 +1,2 @@\n def f():\n-    return 42\n+    return 2\n", encoding="utf-8"
    )
    code, out = run(["git", "apply", "fix.diff"], repo)
    assert code != 0 and "patch does not apply" in out
    assert categorize_patch_message(out) is ErrorCategory.patch_apply_error


def test_git_apply_with_missing_file_is_patch_apply_error(git_repo: MakeRepo) -> None:
    repo = git_repo()
    (repo / "fix.diff").write_text(
        "--- a/nothere.py\n+++ b/nothere.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n", encoding="utf-8"
    )
    code, out = run(["git", "apply", "fix.diff"], repo)
    assert code != 0
    assert categorize_patch_message(out) is ErrorCategory.patch_apply_error


@pytest.mark.parametrize(
    "message",
    [
        "hunk 2 FAILED: the lines to replace did not match mod.py near line 10",
        "SEARCH block did not match any lines of src/app.py",
        "the edit's location in src/app.py is ambiguous: 3 places match",
    ],
)
def test_applier_mismatch_messages_are_patch_apply_error(message: str) -> None:
    assert categorize_patch_message(message) is ErrorCategory.patch_apply_error


@pytest.mark.parametrize(
    "message",
    [
        "refused: src/other.py is outside the phase scope",
        "refused: ../../etc/passwd escapes the workspace",
        "refused: /etc/passwd is an absolute path",
        "refused: link/x.py goes through a symlink leading out of the workspace",
        "path traversal in 'a/../../b'",
    ],
)
def test_applier_refusals_are_scope_violation(message: str) -> None:
    assert categorize_patch_message(message) is ErrorCategory.scope_violation


@pytest.mark.parametrize(
    "rel", ["../secrets.txt", "/etc/passwd", "C:/boot.ini", ".git/config", "docs/other.md", "link/x.py"]
)
def test_the_edit_applier_path_refusals_are_scope_violation(tmp_path: Path, rel: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "ws" / "src").mkdir(parents=True)
    (tmp_path / "ws" / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(PathRefused) as info:
        resolve_in_workspace(tmp_path / "ws", rel, ["src", "link"])
    assert categorize_patch_message(str(info.value)) is ErrorCategory.scope_violation


def test_import_family_covers_import_errors() -> None:
    assert is_high_risk("import_error", ["import", "logic"])
    assert is_high_risk(ErrorCategory.import_error, ["import"])


def test_logic_family_covers_failing_checks_and_auditor_rejects() -> None:
    assert is_high_risk("ci_fail", ["logic"])
    assert is_high_risk("auditor_reject", ["logic"])
    assert not is_high_risk("import_error", ["logic"])


def test_low_risk_categories_are_not_high_risk() -> None:
    assert not is_high_risk("patch_apply_error", ["import", "logic"])
    assert not is_high_risk("http_500", ["import", "logic"])


def test_a_phase_category_named_in_the_list_is_high_risk() -> None:
    assert is_high_risk("security", ["import", "security"])
    assert not is_high_risk("docs", ["import", "security"])
