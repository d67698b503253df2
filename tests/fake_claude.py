"""A run through the real Anthropic SDK against a local Messages API, for tests that read the prompt
as it was sent.

``FakeClaude`` answers ``/v1/messages`` on pytest-httpserver (127.0.0.1): each call is answered from
the replies queued for its role (``ROLE: builder`` ... at the top of the system text), the body of
every request is kept, and usage follows Anthropic's prompt-caching rules (``scripts/bench/messages_api.py``).
``run_plan`` runs a plan in-process with the real runner, only ``ANTHROPIC_API_KEY`` and
``ANTHROPIC_BASE_URL`` set, and a config whose every role is on a ``claude-*`` model.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from autopack.config import SHIPPED_CONFIG
from autopack.executor import RunResult
from autopack.llm.anthropic_provider import min_cacheable_tokens
from autopack.runner import RunRequest, execute
from autopack.store import AttemptRow, EventRow, RunStore
from conftest import git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from messages_api import PromptCache, blocks, message_reply, prompt_text, role_of  # noqa: E402, F401

KEY = "sk-ant-FAKE-contract-7c1d9e2f4a6b"
CHEAP, MID, STRONG = "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"
VERDICT_OK = '{"approved": true, "issues": [], "summary": "does what the phase asks"}'

Reply = str | Callable[[dict[str, Any]], str]


@dataclass
class FakeClaude:
    """Answers Messages API calls by role; keeps every request body."""

    server: HTTPServer
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    usages: list[dict[str, int]] = field(default_factory=list)  # what each call was billed for, in order
    cache: PromptCache = field(default_factory=lambda: PromptCache(min_tokens=min_cacheable_tokens))

    def __post_init__(self) -> None:
        self.server.expect_request("/v1/messages", method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def queue(self, role: str, *replies: Reply) -> None:
        """Replies for ``role``, served in order; the last one keeps being served."""
        self.replies.setdefault(role, []).extend(replies)

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.data)
        self.bodies.append(body)
        role = role_of(body)
        queue = self.replies.get(role) or [VERDICT_OK if role == "auditor" else ""]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        text = reply(body) if callable(reply) else reply
        usage = self.cache.usage(body)
        self.usages.append({**usage, "output_tokens": max(1, len(text) // 4)})
        return Response(json.dumps(message_reply(text, body["model"], usage)), content_type="application/json")

    def calls(self, role: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if role_of(b) == role]

    def prompts(self, role: str) -> list[str]:
        """The whole prompt of each call of ``role`` as sent: system blocks, then messages."""
        return [prompt_text(b) for b in self.calls(role)]


def claude_config(path: Path, **overrides: Any) -> Path:
    """The shipped config with every role on Claude models (cheap, mid, strong), ``section={...}`` merged in."""
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    # Priced here (Anthropic's list prices), whatever models the shipped config lists.
    data["models"].update(
        {
            CHEAP: {"input": 1.0, "output": 5.0, "cached_input": 0.1},
            MID: {"input": 3.0, "output": 15.0, "cached_input": 0.3},
            STRONG: {"input": 5.0, "output": 25.0, "cached_input": 0.5},
        }
    )
    data["escalation_chains"] = {
        "builder": {"low": {"models": [CHEAP, MID]}, "medium": {"models": [MID]}, "high": {"models": [STRONG]}},
        "auditor": {"low": {"models": [CHEAP, MID]}, "medium": {"models": [MID, STRONG]}, "high": {"models": [STRONG]}},
    }
    data["doctor_models"].update(cheap=CHEAP, strong=STRONG)
    data["routing"].update(
        tier_strategy={"low": CHEAP, "medium": MID, "high": STRONG},
        planner_model=MID,
        fallback_chain=["anthropic"],
        fallback_models={"anthropic": MID},
    )
    for section, values in overrides.items():
        if isinstance(data.get(section), dict) and isinstance(values, dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Contract Tests")
    git(root, "config", "user.email", "contract@autopack.invalid")
    git(root, "config", "commit.gpgsign", "false")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


class _Quiet:
    def event(self, kind: str, data: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Run:
    result: RunResult
    home: Path
    project: Path
    run_id: str

    @property
    def db(self) -> Path:
        return self.home / ".autonomous_runs" / "contract" / "autopack.db"

    def events(self, kind: str | None = None) -> list[EventRow]:
        with RunStore(self.db) as store:
            return store.events(self.run_id, kind)

    def attempts(self, phase_id: str) -> list[AttemptRow]:
        with RunStore(self.db) as store:
            return store.attempts(self.run_id, phase_id)

    def branch_log(self) -> list[str]:
        """Subjects of the run branch's commits, newest first (the starting commit excluded)."""
        return git(self.project, "log", "--format=%s", f"main..autopack/{self.run_id}").splitlines()

    def show(self, rev: str) -> str:
        return git(self.project, "show", "--format=%B", "--stat", rev)


def run_plan(
    tmp_path: Path,
    fake: FakeClaude,
    files: dict[str, str],
    phases: list[dict[str, Any]],
    *,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    run_id: str = "r1",
    context: dict[str, Any] | None = None,
) -> Run:
    """Run ``phases`` on a new repository holding ``files``, every call through the real Anthropic SDK."""
    project = tmp_path / "project"
    if not project.exists():
        make_repo(project, files)
    plan = {"project": "contract", "goal": "Improve the project.", "phases": phases, **(context or {})}
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    config = config or claude_config(tmp_path / "config.yaml")
    run_env = {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": fake.url,
        "PATH": _path(),
        "PYTHONDONTWRITEBYTECODE": "1",
        **(env or {}),
    }
    req = RunRequest(
        run_id=run_id, plan_path=plan_path, project_dir=project, home=tmp_path / "home", config_path=config, env=run_env
    )
    return Run(execute(req, _Quiet()), tmp_path / "home", project, run_id)


def _path() -> str:
    import os

    return os.environ.get("PATH", "")
