"""Smoke test for the orchestration-overhead benchmark (scripts/bench/overhead.py).

It runs the benchmark's real ``main`` on a 3-phase plan (real git repo, real runner, scripted
replies, the check ``true``) and reads the tables it prints. Timings are printed, never asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "overhead.py"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_overhead", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _table_rows(output: str, first_column: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and data rows of the plain-text table whose first column is ``first_column``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split("  ")[0].strip() == first_column)
    header = [cell.strip() for cell in lines[start].split("  ") if cell.strip()]
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return header, rows


def test_three_phase_run_prints_every_column_and_completes_all_phases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load_benchmark()
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n## Edit application\n\nanother helper's section\n", encoding="utf-8")

    code = bench.main(["--phases", "3", "--help-runs", "1", "--profile", "never", "--write-doc", str(doc)])

    out = capsys.readouterr().out
    assert code == 0
    header, rows = _table_rows(out, "phases")
    assert header == bench.OVERHEAD_COLUMNS
    assert len(rows) == 1
    assert rows[0][:2] == ["3", "3/3"]  # phases, completed
    mem_header, mem_rows = _table_rows(out.split("target (<", 1)[1], "phases")
    assert mem_header == bench.MEMORY_COLUMNS
    assert [r[0] for r in mem_rows] == ["3"]
    startup_header, startup_rows = _table_rows(out, "command")
    assert startup_header == bench.STARTUP_COLUMNS
    assert startup_rows and startup_rows[0][:3] == ["python", "-m", "autopack.cli"]
    written = doc.read_text(encoding="utf-8")
    assert "another helper's section" in written
    assert "## Orchestration overhead" in written and "## Startup" in written
    assert "3/3" in written and "--phases 3" in written
    # A phase starts its check (bash) and git to stage, diff and commit, the same processes every phase;
    # GitPython's one long-lived `git cat-file` (for head()) is started once a run.
    line = next(line for line in out.splitlines() if line.startswith("processes per phase"))
    items = (item.rsplit(" ", 1) for item in line.split(": ", 1)[1].split(", "))
    per_phase = {name: float(count) for name, count in items}
    assert per_phase["bash"] == 1.0 and per_phase["git commit"] == 1.0, line
    assert per_phase["git add"] >= 1 and per_phase["git diff"] >= 1, line
    assert set(per_phase) <= {"bash", "git add", "git diff", "git commit", "git cat-file"}, line
    assert all(count.is_integer() for name, count in per_phase.items() if name != "git cat-file"), line
    assert per_phase.get("git cat-file", 0) * 3 <= 1, line
