"""Provider keys never reach the processes autopack starts, nor anything it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from autopack.llm.providers import KEY_ENV_VARS
from autopack.secrets import PROVIDER_KEY_VARS

KEY = "sk-ant-LEAKME-424242"
REPLY = "a.py\n```\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n```\n"


def test_every_provider_key_variable_is_withheld_from_child_processes() -> None:
    assert {v for vs in KEY_ENV_VARS.values() for v in vs} <= PROVIDER_KEY_VARS


def test_a_check_that_prints_its_environment_never_sees_the_key(tmp_path: Path, git_repo) -> None:
    proj = git_repo("p", {"a.py": "X = 1\n"})
    plan = {
        "project": "sec",
        "goal": "g",
        "phases": [
            {
                "id": "p1",
                "name": "n",
                "description": "d",
                "scope": ["a.py"],
                "checks": [
                    "echo key=${ANTHROPIC_API_KEY:-unset} custom=${MY_ENDPOINT_KEY:-unset}; env | grep -c sk-ant || true"
                ],
            }
        ],
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    script = {
        "mode": "match",
        "responses": [
            {"match": "ROLE: builder", "text": REPLY},
            {"match": "ROLE: auditor", "repeat": True, "text": '{"approved": true, "issues": [], "summary": "ok"}'},
        ],
    }
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(script), encoding="utf-8")
    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "models.yaml").read_text(encoding="utf-8"))
    cfg["endpoints"].append(
        {"name": "mine", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_ENDPOINT_KEY", "free": True}
    )
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    env = dict(os.environ, ANTHROPIC_API_KEY=KEY, MY_ENDPOINT_KEY=KEY + "-endpoint")

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "run",
            "--run-id",
            "s1",
            "--plan",
            str(tmp_path / "plan.yaml"),
            "--project-dir",
            str(proj),
            "--home",
            str(tmp_path / "home"),
            "--script",
            str(tmp_path / "script.yaml"),
            "--config",
            str(tmp_path / "cfg.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = tmp_path / "home" / ".autonomous_runs" / "sec" / "runs" / "s1"
    gate_log = (run_dir / "gate" / "p1-attempt1.log").read_text(encoding="utf-8")
    assert "key=unset custom=unset" in gate_log
    written = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert b"LEAKME" not in written
    assert "LEAKME" not in proc.stdout + proc.stderr


def test_a_key_held_in_a_project_file_never_reaches_the_store_logs_or_journal(tmp_path: Path, git_repo) -> None:
    # A committed settings.py holds the key: it shows up in every diff of that file and in a check's output.
    proj = git_repo("p", {"settings.py": f'API_KEY = "{KEY}"\nX = 1\n'})
    plan = {
        "project": "sec",
        "goal": "g",
        "phases": [
            {
                "id": "p1",
                "name": "n",
                "description": "d",
                "scope": ["settings.py"],
                "checks": ["cat settings.py", "grep -q 'X = 2' settings.py"],
            }
        ],
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    wrong = "settings.py\n```\n<<<<<<< SEARCH\nX = 1\n=======\nX = 3\n>>>>>>> REPLACE\n```\n"
    right = "settings.py\n```\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n```\n"
    script = {
        "mode": "match",
        "responses": [
            {"match": "ROLE: builder", "text": wrong},
            {"match": "ROLE: builder", "text": right},
            {"match": "ROLE: auditor", "repeat": True, "text": '{"approved": true, "issues": [], "summary": "ok"}'},
        ],
    }
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(script), encoding="utf-8")
    home = tmp_path / "home"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "run",
            "--run-id",
            "s2",
            "--plan",
            str(tmp_path / "plan.yaml"),
            "--project-dir",
            str(proj),
            "--home",
            str(home),
            "--script",
            str(tmp_path / "script.yaml"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, ANTHROPIC_API_KEY=KEY),
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = subprocess.run(
        [sys.executable, "-m", "autopack.cli", "journal", "--run-id", "s2", "--home", str(home)],
        capture_output=True,
        text=True,
        env=dict(os.environ, ANTHROPIC_API_KEY=KEY),
        timeout=60,
        cwd=tmp_path,
    )
    run_dir = home / ".autonomous_runs" / "sec" / "runs" / "s2"
    worktree = run_dir / "worktree"
    # The worktree is the user's own checkout of the file (the key is theirs to keep there); nothing else may hold it.
    written = {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and worktree not in p.parents}
    leaks = sorted(str(p.relative_to(home)) for p, data in written.items() if b"LEAKME" in data)
    assert leaks == []
    assert any(p.suffix == ".db" for p in written)  # the store was looked at, not missed
    assert b"X = 3" in b"".join(written.values())  # the failed attempt's patch is kept, with the key masked
    assert "LEAKME" not in proc.stdout + proc.stderr + journal.stdout + journal.stderr
