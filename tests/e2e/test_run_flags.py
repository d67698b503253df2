"""Bad run flags are refused before anything is written; a mid-run replay mismatch leaves the run FAILED with its reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import yaml

REPLY = "a.py\n```\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n```\n"


def _setup(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    proj = git_repo("p", {"a.py": "X = 1\n"})
    plan = {
        "project": "flags",
        "goal": "g",
        "phases": [{"id": "p1", "name": "n", "description": "d", "scope": ["a.py"]}],
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    return proj, tmp_path / "plan.yaml"


def _run(tmp_path: Path, proj: Path, plan: Path, *extra: str, run_id: str = "r1") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "run",
            "--run-id",
            run_id,
            "--plan",
            str(plan),
            "--project-dir",
            str(proj),
            "--home",
            str(tmp_path / "home"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        cwd=tmp_path,
    )


def test_bad_record_replay_and_dotenv_are_refused_before_anything_is_written(tmp_path: Path, git_repo) -> None:
    proj, plan = _setup(tmp_path, git_repo)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    res = _run(tmp_path, proj, plan, "--record", str(tmp_path / "afile"))
    assert res.returncode == 2 and "not a directory" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "empty").mkdir()
    res = _run(tmp_path, proj, plan, "--replay", str(tmp_path / "empty"))
    assert res.returncode == 2 and "calls.jsonl" in res.stderr
    (tmp_path / ".env").write_text("this is not KEY=VALUE\n", encoding="utf-8")
    res = _run(tmp_path, proj, plan, "--script", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2
    res = _run(tmp_path, proj, plan)
    assert res.returncode == 2 and ".env:1" in res.stderr
    assert not (tmp_path / "home" / ".autonomous_runs").exists()
    assert "autopack/r1" not in [h.name for h in git.Repo(proj).heads]


def test_a_replay_that_does_not_match_fails_the_run_with_its_reason(tmp_path: Path, git_repo) -> None:
    proj, plan = _setup(tmp_path, git_repo)
    script = {
        "mode": "match",
        "responses": [
            {"match": "ROLE: builder", "text": REPLY},
            {"match": "ROLE: auditor", "repeat": True, "text": '{"approved": true, "issues": [], "summary": "ok"}'},
        ],
    }
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(script), encoding="utf-8")
    rec = tmp_path / "rec"
    assert _run(tmp_path, proj, plan, "--script", str(tmp_path / "script.yaml"), "--record", str(rec)).returncode == 0
    # a different plan description changes the Builder's prompt: the recording no longer matches
    data = yaml.safe_load(plan.read_text(encoding="utf-8"))
    data["phases"][0]["description"] = "something else entirely"
    plan2 = tmp_path / "plan2.yaml"
    plan2.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = _run(tmp_path, proj, plan2, "--replay", str(rec), run_id="r2")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    status = subprocess.run(
        [sys.executable, "-m", "autopack.cli", "status", "--run-id", "r2", "--home", str(tmp_path / "home"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    data = json.loads(status.stdout)
    assert data["status"] == "FAILED" and data["stop_reason"]
    assert all(a["outcome"] != "running" for p in data["phases"] for a in p["attempts"])


def test_a_home_inside_the_project_stays_out_of_the_users_git_status(tmp_path: Path, git_repo) -> None:
    proj, plan = _setup(tmp_path, git_repo)
    script = {
        "mode": "match",
        "responses": [
            {"match": "ROLE: builder", "text": REPLY},
            {"match": "ROLE: auditor", "repeat": True, "text": '{"approved": true, "issues": [], "summary": "ok"}'},
        ],
    }
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(script), encoding="utf-8")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "run",
            "--run-id",
            "h1",
            "--plan",
            str(plan),
            "--script",
            str(tmp_path / "script.yaml"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        cwd=proj,  # home = the project itself
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert (proj / ".autonomous_runs").is_dir()
    assert git.Repo(proj).git.status("--porcelain") == ""
