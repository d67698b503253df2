"""Preflight and the one-model switch, through the real CLI with real SDK clients against local servers.

Before a run writes anything, every role it can reach (Builder, Auditor, Doctor, Planner) must have a
provider that can answer; otherwise the run, ``plan validate`` and ``--dry-run`` exit 2 naming each role,
its model, the config key and the variable that fixes it. ``--model`` routes every role to one model.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from autopack.config import provider_for_model
from autopack.llm.providers import KEY_ENV_VARS
from conftest import CliResult

from .conftest import ADD_MULTIPLY, APPROVE, SHIPPED, WRONG_SEARCH, AutopackEnv, builder, phase

pytestmark = pytest.mark.slow

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
    "XDG_CONFIG_HOME",
)
LOCAL = "local/coder"
DOCTOR_HINT = {
    "action": "retry_with_fix",
    "confidence": 0.9,
    "rationale": "the SEARCH text was not copied",
    "hint": "Copy the SEARCH lines exactly from calc.py",
}
RULE = {"rule": "Copy SEARCH text exactly from the current file."}
REPLAN = {
    "description": "Add multiply(a, b) returning a * b, with a test.",
    "rationale": "same failure twice",
    "scope": ["calc.py", "tests/test_calc.py"],
    "builder_mode": "structured_edit",
}
VERDICT = {"approved": True, "issues": [], "summary": "ok"}


class FakeModels:
    """A local server speaking Anthropic's and OpenAI's wire formats; replies by role (the prompt's
    ``ROLE:`` line), in order, the last one repeating; remembers which role asked for which model."""

    def __init__(self, server: HTTPServer, replies: dict[str, list[str]]) -> None:
        self.replies = {role: list(texts) for role, texts in replies.items()}
        self.seen: dict[str, list[str]] = defaultdict(list)
        server.expect_request("/v1/messages", method="POST").respond_with_handler(self.anthropic)
        server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self.chat)
        self.url = server.url_for("").rstrip("/")

    def _reply(self, system: str, model: str) -> str:
        role = system.split("\n", 1)[0].removeprefix("ROLE: ").strip()
        self.seen[role].append(model)
        texts = self.replies[role]
        return texts.pop(0) if len(texts) > 1 else texts[0]

    def anthropic(self, request: Request) -> Response:
        body = json.loads(request.data)
        system = body["system"] if isinstance(body["system"], str) else "".join(b["text"] for b in body["system"])
        text = self._reply(system, body["model"])
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
                    "usage": {"input_tokens": 900, "output_tokens": 100},
                }
            ),
            content_type="application/json",
        )

    def chat(self, request: Request) -> Response:
        body = json.loads(request.data)
        text = self._reply(body["messages"][0]["content"], body["model"])
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


class Env(AutopackEnv):
    """The e2e environment with no provider key at all, plus whatever a test sets."""

    def __init__(self, root: Path, **extra: str) -> None:
        super().__init__(root)
        self.extra = extra

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if k not in KEY_VARS}
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg")  # no user config of the machine's owner
        return {**env, **self.extra}


def nothing_written(ap: AutopackEnv) -> None:
    assert not ap.home.exists()
    assert [h.name for h in ap.repo.heads] == ["main"]
    assert not (ap.repo_dir / ".git" / "worktrees").exists()


def assert_names_every_role(result: CliResult) -> None:
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    err = result.stderr
    for role in (
        "Builder (low)",
        "Builder (high)",
        "Auditor (low)",
        "Doctor (cheap)",
        "Doctor (strong)",
        "Planner (re-plan, low)",
        "Planner (learned rules)",
    ):
        assert role in err, f"{role} not named in:\n{err}"
    keys = [f"${KEY_ENV_VARS[p][0]}" for p in SHIPPED.routing.fallback_chain]  # each shipped provider's key
    for fix in (
        *keys,
        "escalation_chains.builder.low.models[0]",
        "doctor_models.cheap",
        "routing.tier_strategy.low",
        "--model",
    ):
        assert fix in err, f"{fix} not named in:\n{err}"


# no key at all -------------------------------------------------------------------------------------
@pytest.fixture
def bare(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_with_no_key_a_run_exits_2_naming_every_role_and_writes_nothing(bare: Env) -> None:
    result = bare.run("r1", bare.plan([phase("p1")]), None)
    assert_names_every_role(result)
    nothing_written(bare)


def test_with_no_key_plan_validate_and_dry_run_refuse_the_plan_too(bare: Env) -> None:
    plan = bare.plan([phase("p1")])
    assert_names_every_role(bare.cli("plan", "validate", str(plan)))
    dry = bare.run("r1", plan, None, "--dry-run")
    assert_names_every_role(dry)
    assert "models by role" in dry.stdout and "nobody: set" in dry.stdout
    nothing_written(bare)


def test_a_scripted_run_needs_no_key(bare: Env) -> None:
    plan = bare.plan([phase("p1")])
    result = bare.run("r1", plan, bare.script([builder("p1", ADD_MULTIPLY), APPROVE]))
    assert result.returncode == 0, result.output


# one key -------------------------------------------------------------------------------------------
def test_with_only_an_anthropic_key_the_run_reaches_every_role_on_anthropic(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    models = FakeModels(
        httpserver,
        {
            "builder": [WRONG_SEARCH, WRONG_SEARCH, ADD_MULTIPLY],
            "auditor": [json.dumps(VERDICT)],
            "doctor": [json.dumps(DOCTOR_HINT)],
            "planner": [json.dumps(RULE)],
        },
    )
    ap = Env(tmp_path, ANTHROPIC_API_KEY="sk-ant-test-key", ANTHROPIC_BASE_URL=models.url)
    plan = ap.plan([phase("p1", complexity="high")])
    assert ap.cli("plan", "validate", str(plan)).returncode == 0
    dry = ap.run("r1", plan, None, "--dry-run")
    assert dry.returncode == 0, dry.output
    # a role whose model is on another provider shows the Anthropic fallback model answering it
    high = SHIPPED.escalation_chains.builder.for_complexity("high")  # the phase's complexity
    other = next(m for m in high if provider_for_model(m, SHIPPED) != "anthropic")
    fallback = SHIPPED.routing.fallback_models["anthropic"]
    assert f"{fallback} on anthropic (fallback: {provider_for_model(other, SHIPPED)} has no key)" in dry.stdout
    # no re-plan, so the Doctor is asked after the repeated failure
    config = ap.config(replan={"max_replans_per_phase": 0})
    result = ap.run("r1", plan, None, "--config", str(config))
    assert result.returncode == 0, result.output
    assert set(models.seen) == {"builder", "auditor", "doctor", "planner"}
    assert {c["provider"] for c in ap.llm_calls("r1")} == {"anthropic"}


# a local endpoint only -----------------------------------------------------------------------------
def local_config(ap: AutopackEnv, url: str) -> Path:
    """The shipped config with one more endpoint: a keyless local server, nothing else changed."""
    return ap.config(endpoints=[{"name": "local", "base_url": url + "/v1", "free": True}])


def test_with_only_a_local_endpoint_the_shipped_roles_are_refused_by_name(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ap = Env(tmp_path)
    config = local_config(ap, httpserver.url_for("").rstrip("/"))
    result = ap.run("r1", ap.plan([phase("p1")]), None, "--config", str(config))
    assert_names_every_role(result)
    nothing_written(ap)
    assert httpserver.log == []


def test_model_routes_every_role_to_the_local_model_and_a_replan_goes_there_too(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    models = FakeModels(
        httpserver,
        {
            "builder": [WRONG_SEARCH, WRONG_SEARCH, ADD_MULTIPLY],
            "auditor": [json.dumps(VERDICT)],
            "doctor": [json.dumps(DOCTOR_HINT)],
            "planner": [json.dumps(REPLAN), json.dumps(RULE)],
        },
    )
    ap = Env(tmp_path)
    config = str(local_config(ap, models.url))
    plan = ap.plan([phase("p1")])
    dry = ap.run("r1", plan, None, "--dry-run", "--model", LOCAL, "--config", config)
    assert dry.returncode == 0, dry.output
    assert "nobody" not in dry.stdout and "glm" not in dry.stdout
    result = ap.run("r1", plan, None, "--model", LOCAL, "--config", config)
    assert result.returncode == 0, result.output
    assert models.seen["planner"][0] == "coder"  # the re-plan went to the one model, not the shipped tier's
    assert {(c["provider"], c["model"]) for c in ap.llm_calls("r1")} == {("local", LOCAL)}
    assert ap.events("r1", "phase_replanned")
    assert "no provider could answer" not in result.output


def test_strong_model_takes_escalation_and_an_unknown_model_is_refused(bare: Env) -> None:
    plan = bare.plan([phase("p1")])
    script = bare.script(
        [
            builder("p1", WRONG_SEARCH),
            builder("p1", ADD_MULTIPLY, retry=True),
            APPROVE,
            {"match": "ROLE: planner", "repeat": True, "text": json.dumps(RULE)},
        ]
    )
    result = bare.run("r1", plan, script, "--model", "gpt-5.4-mini", "--strong-model", "gpt-5.5")
    assert result.returncode == 0, result.output
    assert [a["model"] for a in bare.status("r1")["phases"][0]["attempts"]] == ["gpt-5.4-mini", "gpt-5.5"]
    bad = bare.run("r2", plan, script, "--model", "mistral-large")
    assert bad.returncode == 2 and "--model mistral-large: unknown model" in bad.stderr


# --max-attempts and --max-cost ------------------------------------------------------------------------
def test_max_attempts_limits_the_attempts_per_phase(bare: Env) -> None:
    plan = bare.plan([phase("p1")])
    script = bare.script([builder("p1", WRONG_SEARCH, repeat=True), APPROVE])
    result = bare.run("r1", plan, script, "--max-attempts", "1")
    assert result.returncode == 1, result.output
    phase_row = bare.status("r1")["phases"][0]
    assert phase_row["state"] == "FAILED" and len(phase_row["attempts"]) == 1
