"""The run cost cap holds: each call is counted at its worst case (prompt at the input price, max_tokens at
the output price) before it is made, so the spend never passes the cap; a resume continues the counters."""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import ADD_MULTIPLY, APPROVE, AutopackEnv, builder, phase, sr

pytestmark = pytest.mark.slow

# Priced so the arithmetic is exact: only output tokens cost, $100 per million (a 1,000-token Builder
# reply at most: $0.10; a 2,048-token Auditor reply at most: $0.2048); every scripted reply says 100
# output tokens: $0.01.
PAID = "paid/m"
CONFIG = {
    "endpoints": [{"name": "paid", "base_url": "http://127.0.0.1:9/v1", "models": {"m": {"input": 0, "output": 100}}}],
    "builder": {"max_output_tokens": 1000},
}
USAGE = {"tokens_in": 1000, "tokens_out": 100}


def _inputs(ap: AutopackEnv) -> tuple[str, str, str]:
    def add(name: str, after: str) -> str:
        return sr("calc.py", after, after + f"\n\ndef {name}(a, b):\n    return a\n")

    plan = ap.plan([phase("p1"), phase("p2", checks=[]), phase("p3", checks=[])])
    replies = [
        {**builder("p1", ADD_MULTIPLY), "usage": USAGE},
        {**builder("p2", add("two", "def multiply(a, b):\n    return a * b\n")), "usage": USAGE},
        {**builder("p3", add("three", "def two(a, b):\n    return a\n")), "usage": USAGE, "repeat": True},
        {**APPROVE, "usage": USAGE},
    ]
    config = ap.root / "cap.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return str(plan), str(ap.script(replies)), str(config)


def _spent(ap: AutopackEnv, run_id: str) -> float:
    return round(sum(c["cost_usd"] for c in ap.llm_calls(run_id)), 6)


def test_the_cap_stops_before_a_call_it_cannot_cover_and_a_resume_continues_the_count(ap: AutopackEnv) -> None:
    plan, script, config = _inputs(ap)
    common = ["--config", config, "--model", PAID]
    stopped = ap.cli(*ap.run_args("c1", plan, script, *common, "--max-cost", "0.25"))
    # p1 and p2 (two calls each, $0.04); p3's Builder call ($0.04 + $0.10 worst case) fits, its Auditor's
    # ($0.05 + $0.2048) does not: it is never made, and the spend stays under the cap
    assert stopped.returncode == 3, stopped.output
    assert [c["role"] for c in ap.llm_calls("c1")] == ["builder", "auditor"] * 2 + ["builder"]
    assert _spent(ap, "c1") == 0.05
    assert "run cost cap reached: $0.05 spent of the $0.25 cap" in stopped.output
    assert "the next call (paid/m) could cost up to $0.20" in stopped.output
    assert "--max-cost" in stopped.output

    resumed = ap.cli(*ap.run_args("c1", plan, script, *common, "--max-cost", "1", "--json"))
    assert resumed.returncode == 0, resumed.output
    events = [json.loads(line) for line in resumed.stdout.splitlines() if line.startswith("{")]
    started = next(e for e in events if e["event"] == "run_started")
    assert started["spent_usd"] == pytest.approx(0.05)  # the count goes on from the stored calls
    assert started["cost_cap_usd"] == 1.0 and started["simulated"] is True
    assert _spent(ap, "c1") == 0.07  # p3's Builder again, then its Auditor


def test_max_cost_stops_the_run_before_a_call_it_cannot_afford(ap: AutopackEnv) -> None:
    plan, script, config = _inputs(ap)
    result = ap.run("r1", plan, script, "--config", config, "--model", PAID, "--max-cost", "0.05")
    assert result.returncode == 3, result.output
    assert ap.llm_calls("r1") == []  # the Builder's call could cost $0.10: never made
    assert [c.hexsha for c in ap.commits("r1")] == []
