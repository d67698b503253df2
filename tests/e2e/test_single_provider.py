"""A user with only ANTHROPIC_API_KEY, or only a local OpenAI-compatible server (Ollama), can run a plan.

The real CLI runs as a subprocess; the real SDK clients talk to a local HTTP server on 127.0.0.1 that
speaks the provider's wire format. Providers without a key are skipped and the call lands on the one
that is configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from autopack.config import SHIPPED_CONFIG, load_config, provider_for_model
from autopack.recovery.escalation import first_model
from autopack.store import RunStore

SHIPPED = load_config(SHIPPED_CONFIG)

EDIT = """calc.py
```
<<<<<<< SEARCH
def add(a, b):
    return a + b
=======
def add(a, b):
    return a + b


def double(x):
    return 2 * x
>>>>>>> REPLACE
```
"""
VERDICT = '{"approved": true, "issues": [], "summary": "ok"}'
KEY_VARS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GLM_API_KEY",
    "ZHIPUAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "GLM_API_BASE",
    "GOOGLE_GEMINI_BASE_URL",
    "AUTOPACK_CONFIG",
)


PROJECT_FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent.parent))\n"
    "from calc import double\n\n\ndef test_double():\n    assert double(4) == 8\n",
}


def _plan(tmp_path: Path) -> Path:
    plan = {
        "project": "single",
        "goal": "add double",
        "phases": [
            {
                "id": "double",
                "name": "Add double()",
                "description": "Add double(x) returning 2*x to calc.py.",
                "complexity": "high",
                "scope": ["calc.py"],
                "checks": ["python -m pytest -q tests"],
            }
        ],
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env.update(extra)
    return env


def _run(tmp_path: Path, proj: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "run",
            "--run-id",
            "r1",
            "--plan",
            str(_plan(tmp_path)),
            "--project-dir",
            str(proj),
            "--home",
            str(tmp_path / "home"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )


def _calls(tmp_path: Path) -> list[dict]:
    with RunStore(tmp_path / "home" / ".autonomous_runs" / "single" / "autopack.db") as store:
        return [dict(r) for r in store._db.execute("SELECT role, provider, model, tokens_in, cost_usd FROM llm_calls")]


def test_only_anthropic_key_runs_a_plan_with_every_call_on_anthropic(
    tmp_path: Path, httpserver: HTTPServer, git_repo
) -> None:
    seen: list[dict] = []

    def messages(request: Request) -> Response:
        body = json.loads(request.data)
        seen.append(body)
        system = body["system"] if isinstance(body["system"], str) else "".join(b["text"] for b in body["system"])
        text = EDIT if "ROLE: builder" in system else VERDICT
        return Response(
            json.dumps(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 1000,
                        "output_tokens": 100,
                        "cache_read_input_tokens": 400,
                        "cache_creation_input_tokens": 0,
                    },
                }
            ),
            content_type="application/json",
        )

    httpserver.expect_request("/v1/messages", method="POST").respond_with_handler(messages)
    env = _env(ANTHROPIC_API_KEY="sk-ant-test-SECRET-42", ANTHROPIC_BASE_URL=httpserver.url_for("").rstrip("/"))
    proc = _run(tmp_path, git_repo("proj", PROJECT_FILES), env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    calls = _calls(tmp_path)
    assert {c["provider"] for c in calls} == {"anthropic"}
    # A high phase starts on another provider's model (the shipped high chain), so its calls fall
    # back to the Anthropic fallback model; any other call is on a model the config routes to Anthropic.
    assert provider_for_model(first_model(SHIPPED, "feature", "high", "builder"), SHIPPED) != "anthropic"
    used = {c["model"] for c in calls}
    assert SHIPPED.routing.fallback_models["anthropic"] in used
    assert used <= {m for m in SHIPPED.referenced_models() if provider_for_model(m, SHIPPED) == "anthropic"}
    assert {c["role"] for c in calls} >= {"builder", "auditor"}
    assert all(c["cost_usd"] > 0 for c in calls)
    # a cache breakpoint only where the prefix reaches the model's minimum cacheable length (1,024 tokens):
    # this project's prompts are shorter, so none is marked (it would cache nothing)
    assert seen and all(isinstance(b["system"], str) for b in seen)
    # the skipped providers were recorded as fallback hops, and no secret was stored anywhere
    with RunStore(tmp_path / "home" / ".autonomous_runs" / "single" / "autopack.db") as store:
        hops = store.events("r1", "llm_fallback")
    assert hops and hops[0].data["to"] == "anthropic"
    db_bytes = (tmp_path / "home" / ".autonomous_runs" / "single" / "autopack.db").read_bytes()
    assert b"SECRET-42" not in db_bytes
    assert "SECRET-42" not in proc.stdout + proc.stderr


def test_only_a_local_ollama_server_runs_a_plan_for_free(tmp_path: Path, httpserver: HTTPServer, git_repo) -> None:
    def chat(request: Request) -> Response:
        body = json.loads(request.data)
        system = body["messages"][0]["content"]
        text = EDIT if "ROLE: builder" in system else VERDICT
        return Response(
            json.dumps(
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 500, "completion_tokens": 80, "total_tokens": 580},
                }
            ),
            content_type="application/json",
        )

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(chat)
    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "models.yaml").read_text(encoding="utf-8"))
    local = "ollama/qwen2.5-coder:7b"
    cfg["endpoints"] = [{"name": "ollama", "base_url": httpserver.url_for("/v1"), "free": True}]
    for role in ("builder", "auditor"):
        for tier in ("low", "medium", "high"):
            cfg["escalation_chains"][role][tier] = {"models": [local]}
    cfg["doctor_models"].update(cheap=local, strong=local)
    cfg["routing"].update(
        planner_model=local,
        fallback_chain=["ollama"],
        fallback_models={"ollama": local},
        tier_strategy={"low": local, "medium": local, "high": local},
    )
    cfg_path = tmp_path / "local.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")

    proc = _run(tmp_path, git_repo("proj", PROJECT_FILES), _env(), "--config", str(cfg_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = _calls(tmp_path)
    assert {c["provider"] for c in calls} == {"ollama"}
    assert {c["model"] for c in calls} == {local}
    assert sum(c["cost_usd"] for c in calls) == 0
    assert sum(c["tokens_in"] for c in calls) >= 1000
