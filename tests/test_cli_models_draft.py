"""`autopack models`, `models check` and `plan draft` through the real CLI (scripted model, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from autopack.config import SHIPPED_CONFIG, load_config
from autopack.plan import load_plan

SHIPPED = load_config(SHIPPED_CONFIG)
# The shipped models the tests ask about, read from the shipped config rather than repeated here.
CLAUDE, GPT = SHIPPED.routing.fallback_models["anthropic"], SHIPPED.routing.fallback_models["openai"]
CHEAP = SHIPPED.doctor_models.cheap


def _script(tmp_path: Path, responses: list[dict]) -> Path:
    path = tmp_path / "script.yaml"
    path.write_text(yaml.safe_dump({"mode": "sequence", "responses": responses}), encoding="utf-8")
    return path


def test_models_lists_every_configured_model_with_provider_readiness_and_prices(run_cli) -> None:
    res = run_cli(
        "models",
        "--json",
        env={"ANTHROPIC_API_KEY": "sk-ant-x", "OPENAI_API_KEY": None, "GLM_API_KEY": None, "ZHIPUAI_API_KEY": None},
    )
    assert res.returncode == 0, res.output
    rows = {r["model"]: r for r in json.loads(res.stdout)}
    assert rows[CLAUDE]["provider"] == "anthropic" and rows[CLAUDE]["ready"] is True
    assert rows[GPT]["ready"] is False and rows[GPT]["needs"] == "$OPENAI_API_KEY"
    assert rows[CHEAP]["input_per_m"] == SHIPPED.models[CHEAP].input
    assert rows["ollama/*"]["free"] is True
    assert "sk-ant-x" not in res.output


def test_models_check_reports_who_answered_with_tokens_and_cost(run_cli, tmp_path: Path) -> None:
    script = _script(tmp_path, [{"text": "ok", "usage": {"tokens_in": 1_000_000, "tokens_out": 0}}])
    res = run_cli("models", "check", GPT, "--script", str(script), "--json")
    assert res.returncode == 0, res.output
    data = json.loads(res.stdout)
    assert data["provider"] == "scripted" and data["model"] == GPT
    assert data["tokens_in"] == 1_000_000
    assert abs(data["cost_usd"] - SHIPPED.models[GPT].input) < 1e-9  # its input price per million, as shipped


def test_models_check_of_an_unknown_model_is_a_clear_error(run_cli) -> None:
    res = run_cli("models", "check", "foo-1")
    assert res.returncode == 2
    assert "unknown model 'foo-1'" in res.stderr


def test_models_check_without_any_key_names_the_variables_to_set(run_cli) -> None:
    env = {
        k: None
        for k in (
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "GLM_API_KEY",
            "ZHIPUAI_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
        )
    }
    res = run_cli("models", "check", CLAUDE, env=env)
    assert res.returncode == 2
    assert "ANTHROPIC_API_KEY" in res.stderr and "no key" in res.stderr


def test_plan_draft_retries_an_invalid_draft_with_its_errors_and_writes_a_valid_plan(run_cli, tmp_path: Path) -> None:
    proj = tmp_path / "app"
    proj.mkdir()
    (proj / "app.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    bad = {
        "project": "app",
        "goal": "g",
        "phases": [{"id": "p1", "name": "x", "description": "d", "scope": ["../escape.py"]}],
    }
    good = {
        "project": "app",
        "goal": "Add a CLI",
        "phases": [
            {
                "id": "cli",
                "name": "Add CLI",
                "description": "Add main() to app.py",
                "scope": ["app.py"],
                "checks": ["python -c 'import app'"],
            }
        ],
    }
    script = _script(
        tmp_path,
        [
            {"text": json.dumps(bad)},
            {"match": "leaves the project", "text": "Fixed:\n```json\n" + json.dumps(good) + "\n```"},
        ],
    )
    out = tmp_path / "plan.yaml"
    res = run_cli(
        "plan", "draft", "--goal", "Add a CLI", "--project-dir", str(proj), "-o", str(out), "--script", str(script)
    )
    assert res.returncode == 0, res.output
    plan = load_plan(out)
    assert [p.id for p in plan.all_phases()] == ["cli"]
    # an existing file is not overwritten without --force
    again = run_cli("plan", "draft", "--goal", "x", "--project-dir", str(proj), "-o", str(out), "--script", str(script))
    assert again.returncode == 2 and "--force" in again.stderr
