"""Smaller slips of the model contract, read from the requests the real Anthropic SDK sent to a local
Messages API: a re-plan uses the model the phase escalated to, the Doctor reads errors as the checks
wrote them, and only whole secrets that can be real keys are masked."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from autopack.secrets import MASK, could_be_key, register_secret_values, scrub
from fake_claude import CHEAP, KEY, MID, FakeClaude, claude_config, run_plan

CALC = "def add(a, b):\n    return a + b\n"
CHECK_MUL = 'python -c "import calc; assert calc.mul(2, 3) == 6, calc.mul(2, 3)"'


def mul_as(expr: str) -> str:
    return f"calc.py\n```\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n=======\ndef add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return {expr}\n>>>>>>> REPLACE\n```\n"


def test_a_replan_after_escalation_uses_the_escalated_model_not_the_cheapest_tier(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", mul_as("a + b"), mul_as("a + b"), mul_as("a * b"))
    fake.queue(
        "planner",
        json.dumps(
            {
                "description": "Multiply: return a * b.",
                "steps": [],
                "scope": ["calc.py"],
                "builder_mode": "structured_edit",
                "rationale": "both attempts added",
            }
        ),
    )
    run = run_plan(
        tmp_path,
        fake,
        {"calc.py": CALC},
        [
            {
                "id": "mul",
                "name": "Add mul",
                "description": "Add mul(a, b).",
                "complexity": "low",
                "scope": ["calc.py"],
                "checks": [CHECK_MUL],
                "builder_mode": "structured_edit",
            }
        ],
    )

    assert run.result.exit_code == 0
    builders = [b["model"] for b in fake.calls("builder")]
    assert builders[:2] == [CHEAP, MID]  # escalated within the low tier, then to medium
    planner = fake.calls("planner")
    assert len(planner) == 1 and planner[0]["model"] == MID != CHEAP  # tier_strategy.low would be CHEAP


def test_the_doctor_reads_each_error_as_the_check_wrote_it_and_beyond_600_characters(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", mul_as("a + b"))
    fake.queue("doctor", json.dumps({"action": "skip_phase", "confidence": 0.9, "rationale": "cannot pass"}))
    noise = "x" * 700
    check = f"python -c \"print('{noise}'); print('ValueError: Expected CamelCaseName in Config.Path'); raise SystemExit(1)\""
    cfg = claude_config(
        tmp_path / "config.yaml", replan={"trigger_threshold": 10}, doctor_models={"call_after_failures": 2}
    )
    run_plan(
        tmp_path,
        fake,
        {"calc.py": CALC},
        [
            {
                "id": "p",
                "name": "P",
                "description": "Add mul(a, b).",
                "scope": ["calc.py"],
                "checks": [check],
                "builder_mode": "structured_edit",
            }
        ],
        config=cfg,
    )

    doctor = fake.prompts("doctor")
    assert doctor, "the Doctor was consulted"
    attempts = json.loads(doctor[0].split("Attempts so far:\n", 1)[1].split("\n\nLast patch:", 1)[0])
    error = attempts[0]["error"]
    assert "ValueError: Expected CamelCaseName in Config.Path" in error  # case kept, past 600 characters
    assert len(error) > 700


def test_a_placeholder_key_does_not_mask_words_and_a_real_key_is_masked_whole(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", mul_as("a + b"), mul_as("a * b"))
    check = (
        "python -c \"import calc, settings; print('while testing: pytesting found', settings.TOKEN); "
        'assert calc.mul(2, 3) == 6"'
    )
    cfg = claude_config(
        tmp_path / "config.yaml",
        endpoints=[{"name": "local", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "LOCAL_KEY", "free": True}],
    )
    run = run_plan(
        tmp_path,
        fake,
        {"calc.py": CALC, "settings.py": f'TOKEN = "{KEY}"\n'},
        [
            {
                "id": "p",
                "name": "P",
                "description": "Add mul(a, b).",
                "scope": ["calc.py"],
                "checks": [check],
                "builder_mode": "structured_edit",
            }
        ],
        config=cfg,
        env={"LOCAL_KEY": "testing"},
    )

    assert run.result.exit_code == 0
    retry = fake.prompts("builder")[1]
    assert f"while testing: pytesting found {MASK}" in retry
    assert all(KEY not in json.dumps(b) for b in fake.bodies)


def test_only_values_that_can_be_keys_are_registered() -> None:
    assert not could_be_key("test") and not could_be_key("ollama") and not could_be_key("local-dev")
    assert not could_be_key("password")  # a plain word: it would mask "password_hash"
    assert could_be_key("s3cr3t-9") and could_be_key("sk-ant-api03-abcdefghijklmnop")


def test_a_key_is_masked_only_where_it_stands_whole() -> None:
    register_secret_values(["tok123"])
    assert scrub("key=tok123; Bearer tok123") == f"key={MASK}; Bearer {MASK}"
    assert scrub("mytok123x and tok1234") == "mytok123x and tok1234"
    assert scrub('"tok123"\n-tok123-') == f'"{MASK}"\n-{MASK}-'
