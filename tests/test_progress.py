"""The live view and the plain log: a sentence for every event kind the run emits, messages cut at a
word boundary (never mid-word), no name said twice, colours by outcome, a phase bar and ``spent / cap``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from autopack.progress import LiveReporter, PlainReporter, RunView, clip, describe

SRC = Path(__file__).resolve().parents[1] / "src" / "autopack"
# The ways an event reaches a reporter: RunEvents.emit/phase/show (events.py), reporter.event, tee.event,
# the service's _event.
EMITTED = re.compile(
    r"(?:\.emit|\.show|\.phase|\.event|\b_event)\(\s*(?:pid,\s*|phase_id,\s*)?\"([a-z][a-z_]+)\"", re.S
)


def emitted_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in SRC.rglob("*.py"):
        kinds.update(EMITTED.findall(path.read_text(encoding="utf-8")))
    return kinds


def test_the_source_emits_the_kinds_this_test_knows_about() -> None:
    kinds = emitted_kinds()
    assert {"llm_retry", "llm_fallback", "escalation", "attempt_finished", "phase_complete", "run_started"} <= kinds


@pytest.mark.parametrize("kind", sorted(emitted_kinds()))
def test_every_emitted_event_kind_has_a_sentence_not_a_dump(kind: str) -> None:
    text = describe(kind, {"reason": "r", "message": "m", "model": "m1", "provider": "p"})
    assert text.strip(), kind
    assert text.strip() != kind.replace("_", " "), f"{kind} falls back to its bare name"
    assert not re.search(r"\b\w+=\S", text), f"{kind} dumps key=value pairs: {text}"


def test_a_retry_reads_as_a_sentence_with_the_http_status() -> None:
    text = describe(
        "llm_retry",
        {
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "kind": "rate_limit",
            "status": 429,
            "retry": 1,
            "delay_seconds": 1.18,
            "error": "slow down\nmore",
        },
    )
    assert text == "  retrying anthropic in 1.2 s after HTTP 429 (retry 1): slow down"


def test_long_messages_are_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    assert clip("alpha beta gamma delta", 12) == "alpha beta…"
    assert clip("short", 12) == "short"
    message = "quality gate failed: " + " ".join(f"word{i}" for i in range(100))
    line = describe(
        "attempt_finished", {"attempt": 2, "outcome": "failed", "error_category": "ci_fail", "message": message}
    )
    assert line.endswith("…")
    assert line[:-1].split()[-1] in message.split()  # the last word shown is a whole word


def test_an_escalation_within_a_tier_names_each_model_once() -> None:
    line = describe(
        "escalation",
        {
            "from": "glm-4.5 (low)",
            "to": "gemini-2.5-pro (low)",
            "reason": "failure on glm-4.5: escalating within low complexity to gemini-2.5-pro",
        },
    )
    assert line == "  escalating from glm-4.5 (low) to gemini-2.5-pro (low)"
    across = describe(
        "escalation",
        {
            "from": "smallmodel (low)",
            "to": "bigmodel (medium)",
            "reason": "2 counted failures at low complexity (threshold 2): escalating to medium complexity on bigmodel",
        },
    )
    assert across.count("bigmodel") == 1
    assert "after 2 counted failures at low complexity (threshold 2)" in across


def test_a_multi_line_provider_error_is_one_line_in_a_replan_failure() -> None:
    reason = (
        "no provider could answer a call for glm-4.6:\n  - glm skipped: no key\n  - ollama skipped: x\nset GLM_API_KEY"
    )
    line = describe("replan_failed", {"reason": reason})
    assert "\n" not in line and "glm skipped: no key" in line


def test_the_same_fallback_is_said_once() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out)
    hop = {"from": "glm", "to": "anthropic", "model": "claude-sonnet-4-5", "reason": "no key"}
    for _ in range(3):
        reporter.event("llm_fallback", hop)
    assert out.getvalue().count("anthropic answers for glm") == 1


def test_a_resumed_run_continues_its_counters_and_shows_spent_of_cap() -> None:
    view = RunView()
    view.update(
        "run_started",
        {
            "phases": 4,
            "done": 1,
            "spent_usd": 0.5,
            "tokens_in": 100,
            "tokens_out": 10,
            "cost_cap_usd": 10.0,
            "simulated": True,
        },
    )
    view.update("llm_call", {"tokens_in": 1, "tokens_out": 1, "cost_usd": 0.25})
    assert view.money() == "$0.7500 / $10.00 simulated"
    assert "tokens 101/11" in view.line()
    view.update("phase_complete", {"attempt": 1, "gate": "ok", "commit": "abc"})
    assert view.done_phases == 2


def live(events: list[tuple[str, dict]]) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=160, highlight=False)
    reporter = LiveReporter(console)
    for kind, data in events:
        reporter.event(kind, data)
    console.print(reporter.live.get_renderable())
    reporter.close()
    return out.getvalue()


def test_the_live_view_colours_each_outcome_and_draws_a_phase_bar() -> None:
    text = live(
        [
            (
                "run_started",
                {"run_id": "r1", "phases": 3, "branch": "autopack/r1", "cost_cap_usd": 5.0, "simulated": True},
            ),
            (
                "attempt_finished",
                {"attempt": 1, "outcome": "failed", "error_category": "ci_fail", "message": "1 failed"},
            ),
            (
                "escalation",
                {"from": "a (low)", "to": "b (low)", "reason": "failure on a: escalating within low complexity to b"},
            ),
            ("phase_complete", {"attempt": 2, "gate": "1/1 checks passed", "commit": "0123456789ab"}),
            ("phase_skipped", {"phase": "p2", "reason": "depends on p1"}),
        ]
    )
    assert "\x1b[31m  attempt 1 failed" in text  # red
    assert "\x1b[33m  escalating" in text  # yellow
    assert "\x1b[32m  complete on attempt 2" in text  # green
    assert "\x1b[35m  skipped" in text  # magenta
    assert "2/3 phases done" in text and "━" in text
    assert "$0.0000 / $5.00 simulated" in text
