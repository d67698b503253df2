"""Smoke test for the finishing-power benchmark (scripts/bench/finishing.py).

``--smoke`` generates a tiny package with tests in a temporary folder (no download), validates its
six tasks, and runs three policies on its plan through autopack's real runner with the simulated
provider. The test reads the printed tables and the figures written with ``--json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autopack.childenv import subprocess_env

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "finishing.py"


def test_smoke_runs_three_policies_through_the_real_runner(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--workdir", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for heading in ("== results ==", "== recovery detail ==", "== calibration ==", "== assumptions =="):
        assert heading in proc.stdout
    assert "policy            complete  stopped runs  cost $  $/complete" in proc.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    summary = data["summary"]
    assert list(summary) == ["plain loop", "always strongest", "shipped"]
    for name, s in summary.items():
        assert s["phases"] == 6 and s["runs"] == 1, name
        assert 0 <= s["complete"] <= 6
        assert s["errors_run"] == [], name  # every run ended as autopack ends runs, not with an exception
    for run in data["runs"]:
        # every call the service recorded lines up with one call the simulated provider answered
        assert "log mismatch" not in run["notes"] and "calls without a log entry" not in run["notes"]
        assert run["calls"].get("builder", 0) >= 1
        assert run["cost"] > 0
    plain = next(r for r in data["runs"] if r["policy"] == "plain loop")
    assert plain["calls"].get("doctor", 0) == 0  # the plain loop has no Doctor
    assert plain["events"].get("phase_replanned", 0) == 0 and plain["events"].get("escalation", 0) == 0
    assert summary["always strongest"]["cost"] > summary["plain loop"]["cost"]


def test_smoke_runs_the_shipped_deepseek_profile_and_its_plain_loop(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--candidates", "--policies", "deepseek profile,deepseek plain loop",
         "--workdir", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=subprocess_env(), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "deepseek/deepseek-flash  DeepSeek-V3.2-Exp (Reasoner)" in proc.stdout  # calibrated on its row
    assert "deepseek profile vs deepseek plain loop:" in proc.stdout
    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    assert list(summary) == ["deepseek profile", "deepseek plain loop"]
    for name, s in summary.items():
        assert s["phases"] == 6 and s["errors_run"] == [], name
        assert s["cost"] > 0, name  # the profile's endpoint prices its model: a cap that can count
    assert summary["deepseek plain loop"]["calls"].get("doctor", 0) == 0
