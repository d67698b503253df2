"""``autopack edits apply``: exit codes, --check, --json, unreadable input, and a real subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autopack.cli.edits import edits_app

REPLY = (
    "Two changes:\n\n```diff\n--- a/src/app.py\n+++ b/src/app.py\n@@ -1,3 +1,3 @@\n def main():\n"
    "-    return 1\n+    return 2\n \n```\n"
)


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(edits_app, name="edits")
    return app


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text("def main():\n    return 1\n\n\nX = 1\n", encoding="utf-8")
    (tmp_path / "reply.md").write_text(REPLY, encoding="utf-8")
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(make_app(), ["edits", "apply", *args])


def test_apply_writes_and_exits_0(project):
    result = invoke(str(project / "reply.md"), "--dir", str(project))
    assert result.exit_code == 0, result.output
    assert "return 2" in (project / "src/app.py").read_text(encoding="utf-8")
    assert "1 applied" in result.output


def test_check_changes_nothing_and_shows_hunk_and_place(project):
    result = invoke(str(project / "reply.md"), "--dir", str(project), "--check")
    assert result.exit_code == 0, result.output
    assert "would apply" in result.output and "lines 1-3" in result.output
    assert "return 1" in (project / "src/app.py").read_text(encoding="utf-8")


def test_json_output_is_machine_readable(project):
    result = invoke(str(project / "reply.md"), "--dir", str(project), "--check", "--json")
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["mode"] == "diff" and data["dry_run"] is True
    assert data["results"][0]["hunks"][0]["location"] == "lines 1-3"


def test_refused_edit_exits_1_and_shows_closest_lines(project):
    (project / "src/app.py").write_text("def main():\n    return 7\n\n\nX = 1\n", encoding="utf-8")
    result = invoke(str(project / "reply.md"), "--dir", str(project))
    assert result.exit_code == 1
    assert "refused" in result.output and "2 |     return 7" in result.output


def test_out_of_scope_exits_1(project):
    result = invoke(str(project / "reply.md"), "--dir", str(project), "--scope", "tests/**", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["category"] == "scope_violation"
    assert "return 1" in (project / "src/app.py").read_text(encoding="utf-8")


def test_truncated_reply_exits_1_and_changes_nothing(project):
    (project / "cut.md").write_text(REPLY[: REPLY.index("+    return 2")], encoding="utf-8")
    result = invoke(str(project / "cut.md"), "--dir", str(project))
    assert result.exit_code == 1 and "cut off" in result.output
    assert "return 1" in (project / "src/app.py").read_text(encoding="utf-8")


def test_missing_reply_file_exits_2(project):
    result = invoke(str(project / "nope.md"), "--dir", str(project))
    assert result.exit_code == 2 and "no such file" in result.output


def test_non_utf8_reply_exits_2(project):
    (project / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    result = invoke(str(project / "latin1.md"), "--dir", str(project))
    assert result.exit_code == 2 and "not UTF-8" in result.output


def test_unknown_mode_exits_2(project):
    result = invoke(str(project / "reply.md"), "--dir", str(project), "--mode", "magic")
    assert result.exit_code == 2 and "--mode must be one of" in result.output


def test_real_subprocess_applies_a_reply(project):
    code = (
        "import typer\nfrom autopack.cli.edits import edits_app\n"
        "app = typer.Typer()\napp.add_typer(edits_app, name='edits')\napp()\n"
    )
    from autopack.childenv import subprocess_env

    proc = subprocess.run(
        [sys.executable, "-c", code, "edits", "apply", "reply.md", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=subprocess_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files_changed"] == ["src/app.py"]
    assert "return 2" in (project / "src/app.py").read_text(encoding="utf-8")
