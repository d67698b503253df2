"""The live view on a real terminal (a pseudo-terminal), and the plain log otherwise, through the CLI: coloured
outcomes, a phase progress bar, ``spent / cap`` marked simulated for scripted replies, sentences not dumps."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from pytest_httpserver import HTTPServer

from .conftest import (
    ADD_MULTIPLY,
    APPROVE,
    AUTOPACK,
    FIRST_BUILDER,
    WORD_RULE,
    WRONG_SEARCH,
    AutopackEnv,
    builder,
    phase,
)

pytestmark = pytest.mark.slow


def _on_a_terminal(ap: AutopackEnv, args: list[str]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdout and stderr; return its exit code and everything it drew."""
    master, slave = os.openpty()
    env = {**ap.env(), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [*AUTOPACK, *args], cwd=ap.root, env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_outcomes_are_coloured_under_a_phase_bar_with_spent_of_cap(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    code, screen = _on_a_terminal(ap, ap.run_args("t1", plan, script))
    assert code == 0, screen
    assert "\x1b[31m  attempt 1 failed (patch_apply_error)" in screen  # red
    assert "\x1b[32m  complete on attempt 2" in screen  # green
    assert "phases done" in screen and "━" in screen  # the bar
    assert re.search(r"\$0\.\d{4} / \$10\.00 simulated", screen)


def test_the_plain_log_speaks_in_sentences(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    result = ap.run("p1run", plan, script)
    assert result.returncode == 0, result.output
    lines = [
        ln for ln in result.stdout.splitlines() if ln.strip() and not ln.startswith(("┃", "│", "┏", "┡", "└", "┗"))
    ]
    dumps = [ln for ln in lines if re.search(r"^\s*[a-z_]+: \w+=", ln)]
    assert dumps == []
    assert any("escalating from" in ln for ln in lines)
    assert any("costs are simulated" in ln for ln in lines)
    assert all(ln.count(FIRST_BUILDER) <= 1 for ln in lines)


def test_an_endpoint_model_is_named_once_not_with_its_endpoint_twice(ap: AutopackEnv, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "coder",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
    )
    config = ap.root / "local.yaml"
    config.write_text(
        yaml.safe_dump({"endpoints": [{"name": "local", "base_url": httpserver.url_for("/v1"), "free": True}]}),
        encoding="utf-8",
    )
    result = ap.cli("models", "check", "local/coder", "--config", str(config))
    assert result.returncode == 0, result.output
    assert "answered by local/coder in" in result.stdout
    assert "local/local" not in result.output
