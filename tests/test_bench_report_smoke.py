"""Smoke test for the run-report benchmark (scripts/bench/report.py): its real ``main`` on a 6-phase run,
without the browser. Timings are printed, never asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "report.py"


def test_the_report_benchmark_prints_a_row_per_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_report_smoke", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)

    assert module.main(["--phases", "6,8", "--out", str(tmp_path), "--no-browser"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["phases", "attempts", "store", "s", "data", "s"]
    assert [line.split()[0] for line in lines[2:4]] == ["6", "8"]
    assert (tmp_path / "report-8.html").stat().st_size > 10_000
