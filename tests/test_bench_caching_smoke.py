"""Smoke test for the prompt-caching benchmark (scripts/bench/caching.py): one small scenario through
the real CLI and the real Anthropic SDK against the benchmark's local Messages API; no network."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "caching.py"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_caching", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_a_small_run_reads_from_the_cache_and_is_billed_as_autopack_counts_it() -> None:
    bench = _load_benchmark()
    lines: list[str] = []
    (bill,) = bench.run(2, None, ["one model"], out=lines.append)

    assert bill.ok and bill.builder_calls == 3  # p1 fails its check once
    assert bill.read > 0 and bill.cost < bill.cost_uncached
    assert bill.recorded is not None and abs(bill.recorded - bill.billed) < 1e-9
    assert "| one model | this checkout |" in bench.table([bill]) and lines
