"""A run with a recovered failure, reviewed, landed and cleaned up with autopack's own commands:
``run`` prints the next commands, ``diff`` shows the change and what failed, ``report`` writes the page,
``merge`` lands the branch on the user's branch, ``clean`` removes what the run left behind."""

from __future__ import annotations

import json

import pytest

from .conftest import ADD_MULTIPLY, APPROVE, WORD_RULE, WRONG_SEARCH, AutopackEnv, builder, phase

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'


def test_a_recovered_run_is_reviewed_merged_and_cleaned_with_autopack_alone(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    home = ("--home", str(ap.home))

    run = ap.run("rv", plan, script)
    assert run.returncode == 0, run.output
    for command in ("diff", "merge", "report"):
        assert f"autopack {command} --run-id rv --home {ap.home}" in run.stdout

    status = ap.status("rv")
    assert [(a["outcome"], a["error_category"]) for a in status["phases"][0]["attempts"]] == [
        ("failed", "patch_apply_error"),
        ("approved", None),
    ]
    assert status["phases"][0]["duration_s"] > 0

    diff = ap.cli("diff", "--run-id", "rv", *home)
    assert diff.returncode == 0, diff.output
    assert "+def multiply(a, b):\n+    return a * b" in diff.stdout
    assert "\x1b[" not in diff.stdout

    tried = ap.cli("diff", "--run-id", "rv", "--attempts", *home)
    assert "===== phase p1, attempt 1 on" in tried.stdout and "failed: patch_apply_error" in tried.stdout
    assert "the SEARCH text was not found" in tried.stdout

    page = ap.root / "rv.html"
    report = ap.cli("report", "--run-id", "rv", "-o", str(page), *home)
    assert report.returncode == 0, report.output
    html = page.read_text(encoding="utf-8")
    assert "patch_apply_error" in html and "Copy SEARCH text exactly" in html and 'id="phase-p1"' in html

    before = ap.user_tree()
    merge = ap.cli("merge", "--run-id", "rv", *home)
    assert merge.returncode == 0, merge.output
    assert "merged autopack/rv into main" in merge.stdout
    assert "def multiply(a, b):" in (ap.repo_dir / "calc.py").read_text(encoding="utf-8")
    after = ap.user_tree()
    assert after["branch"] == before["branch"] == "main" and after["status"] == ""
    assert ap.repo.head.commit.parents[1].hexsha == ap.commits("rv")[-1].hexsha

    clean = ap.cli("clean", "--run-id", "rv", *home)
    assert clean.returncode == 0, clean.output
    assert "removed branch autopack/rv (merged into main)" in clean.stdout
    assert "autopack/rv" not in [h.name for h in ap.repo.heads]
    assert not ap.run_dir("rv").exists()
    assert json.loads(ap.cli("runs", "--json", *home).stdout) == []
    assert "def multiply(a, b):" in (ap.repo_dir / "calc.py").read_text(encoding="utf-8")  # the merged work stays
