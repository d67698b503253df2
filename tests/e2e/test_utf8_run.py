"""A run on a LANG=C terminal with non-ASCII file names, phase names and check output works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import git
import yaml

REPLY = """café.py
```
<<<<<<< SEARCH
GREETING = "bonjour"
=======
GREETING = "bonjour, ça va? ✓"
>>>>>>> REPLACE
```
"""


def test_a_run_with_non_ascii_names_and_output_under_lang_c(tmp_path: Path, git_repo) -> None:
    proj = git_repo("projé", {"café.py": 'GREETING = "bonjour"\n'})
    repo = git.Repo(proj)
    plan = {
        "project": "utf8",
        "goal": "Grüße",
        "phases": [
            {
                "id": "greet",
                "name": "Saluer en français ✓",
                "description": "Make the greeting friendlier: ça va?",
                "scope": ["café.py"],
                "checks": [
                    "python -c \"import importlib; m = importlib.import_module('café'); print('vérifié', m.GREETING)\""
                ],
            }
        ],
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    script = {
        "mode": "match",
        "responses": [
            {"match": "ROLE: builder", "text": REPLY},
            {
                "match": "ROLE: auditor",
                "repeat": True,
                "text": '{"approved": true, "issues": [], "summary": "très bien ✓"}',
            },
        ],
    }
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(script, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUTF8", "PYTHONIOENCODING", "LANGUAGE")}
    env.update(LANG="C", LC_ALL="C")

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "run",
            "--run-id",
            "u1",
            "--plan",
            str(tmp_path / "plan.yaml"),
            "--project-dir",
            str(proj),
            "--home",
            str(tmp_path / "home"),
            "--script",
            str(tmp_path / "script.yaml"),
        ],
        capture_output=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    out = proc.stdout.decode("utf-8") + proc.stderr.decode("utf-8")
    assert proc.returncode == 0, out
    assert "UnicodeEncodeError" not in out and "UnicodeDecodeError" not in out
    assert "Saluer en français ✓" in out
    branch_file = repo.git.show("autopack/u1:café.py")
    assert "ça va? ✓" in branch_file
    gate_log = next((tmp_path / "home" / ".autonomous_runs" / "utf8" / "runs" / "u1" / "gate").glob("*.log"))
    assert "vérifié bonjour, ça va? ✓" in gate_log.read_text(encoding="utf-8")
