"""Smoke test for the batch benchmark (scripts/bench/batch.py): its real ``main`` on 2 runs of 1 phase with a
tiny simulated latency, 1 and 2 workers on the local pool and the storm rows. Timings are printed, never asserted;
what is checked is that every run completed and every phase has exactly one commit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "batch.py"

pytestmark = pytest.mark.slow


def test_the_batch_benchmark_prints_a_row_per_batch_with_no_commit_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    spec = importlib.util.spec_from_file_location("bench_batch_smoke", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)

    assert (
        module.main(
            [
                "--runs",
                "2",
                "--phases",
                "1",
                "--latency",
                "0.05",
                "--workers",
                "2",
                "--engines",
                "pool",
                "--keep",
                str(tmp_path),
            ]
        )
        == 0
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| pool")]
    assert len(rows) == 4 * 2  # each row printed as it comes, then the table: 1 and 2 workers, two storm rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[8] == "2/2" and cells[9] == "2 (2)" and cells[10] == "0"
