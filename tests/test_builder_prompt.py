"""The Builder's prompt: the phase and its files form a stable, cacheable system prefix; only the
hint and the last error change between attempts. Continuations of cut-off replies are joined."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopack.agents.base import CallContext
from autopack.agents.builder import Builder
from autopack.agents.context import build_context
from autopack.config import BuilderSettings
from autopack.llm.types import LlmResponse, Usage
from autopack.plan import Phase

PHASE = Phase(id="p1", name="Add f", description="Add f() to m.py", scope=["m.py"], context=["README.md"])


@dataclass
class Result:
    response: LlmResponse
    provider: str
    model: str
    cost_usd: float = 0.0


class Recorder:
    """A Completer that records each request and answers from a list (cut off when asked)."""

    def __init__(self, replies: list[tuple[str, str]], provider: str = "anthropic") -> None:
        self.replies = replies
        self.provider = provider
        self.calls: list[dict[str, Any]] = []

    def complete(self, **kw: Any) -> Result:
        self.calls.append(kw)
        text, stop = self.replies.pop(0)
        return Result(LlmResponse(text, Usage(10, 5), stop, self.provider, kw["model"]), self.provider, kw["model"])


def _project(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text("def g():\n    return 1\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# the readme\n", encoding="utf-8")
    return tmp_path


def test_the_phase_and_files_are_identical_across_attempts_and_the_error_is_separate(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first = build_context(PHASE, root, goal="g", budget_tokens=5000)
    retry = build_context(PHASE, root, goal="g", budget_tokens=5000, feedback="NameError: f", hint="define f")
    assert first.stable == retry.stable and first.task == retry.task
    assert "def g():" in first.scope and "# the readme" in first.readonly and "PHASE: p1" in first.task
    assert "NameError: f" in retry.request and "define f" in retry.request and "NameError" not in retry.stable


def test_the_builder_sends_instructions_and_files_as_system_text_and_the_phase_rules_and_error_as_the_message(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path)
    service = Recorder([("edits", "end")])
    ctx = build_context(PHASE, root, goal="g", budget_tokens=5000, feedback="it failed: X")
    Builder(service, BuilderSettings()).build(
        model="claude-sonnet-4-5", mode="structured_edit", context=ctx, rules_text="- rule one", ctx=CallContext()
    )
    call = service.calls[0]
    system, message = call["system"], call["messages"][0].content
    assert system.startswith("ROLE: builder") and "def g():" in system and "# the readme" in system
    assert system.index("# the readme") < system.index("def g():")  # read-only files, then the scope
    assert "- rule one" not in system and "PHASE: p1" not in system
    assert message.index("PHASE: p1") < message.index("- rule one") < message.index("it failed: X")


def test_a_cut_off_reply_is_continued_from_its_prefix_and_joined(tmp_path: Path) -> None:
    root = _project(tmp_path)
    service = Recorder([("part one   ", "max_tokens"), (" part two", "end")])
    ctx = build_context(PHASE, root, goal="g", budget_tokens=5000)
    reply = Builder(service, BuilderSettings()).build(
        model="claude-sonnet-4-5", mode="diff", context=ctx, rules_text="", ctx=CallContext()
    )
    assert reply.text == "part one part two" and not reply.truncated and reply.continuations == 1
    follow = service.calls[1]["messages"]
    assert [m.role for m in follow] == ["user", "assistant"] and follow[1].content == "part one"


def test_a_reply_still_cut_off_after_the_allowed_continuations_is_marked_truncated(tmp_path: Path) -> None:
    root = _project(tmp_path)
    service = Recorder([("a", "max_tokens"), ("b", "max_tokens"), ("c", "max_tokens")], provider="openai")
    ctx = build_context(PHASE, root, goal="g", budget_tokens=5000)
    reply = Builder(service, BuilderSettings(max_continuations=2)).build(
        model="gpt-5", mode="full_file", context=ctx, rules_text="", ctx=CallContext()
    )
    assert reply.truncated and reply.continuations == 2
    # without prefill support, the model is asked to continue in a new user message
    assert [m.role for m in service.calls[1]["messages"]] == ["user", "assistant", "user"]


def test_over_budget_a_small_file_stays_whole_and_a_big_one_shows_the_parts_the_phase_names(tmp_path: Path) -> None:
    big = "\n\n".join(f"def f{i}(x):\n    return x + {i}" for i in range(400))
    big += "\n\ndef total_price(items):\n    return sum(items)\n"
    (tmp_path / "calc.py").write_text(big, encoding="utf-8")
    (tmp_path / "test_calc.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    phase = Phase(id="p", name="n", description="Make total_price round to cents", scope=["calc.py", "test_calc.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=1500)
    assert "def test_one():" in ctx.stable  # the small file is whole
    assert "def total_price(items):" in ctx.stable  # the named part of the big one is shown
    assert "def f200(x):" not in ctx.stable.split("# outline")[0]  # not the whole file
    assert any("calc.py: only lines" in note for note in ctx.omitted)
    # the whole prompt respects the budget (roughly: 4 characters a token), outline included
    assert len(ctx.text) // 4 <= 1500 * 1.1


def test_the_system_text_says_the_line_headers_of_a_partial_file_are_not_in_the_file() -> None:
    system = Builder.system_prompt("structured_edit")
    assert "`path lines A-B:` that is not in the file" in system and "never send a partial file whole" in system


def test_each_edit_format_has_one_worked_example_and_the_rules_models_need() -> None:
    sr, diff, whole = (Builder.system_prompt(m) for m in ("structured_edit", "diff", "full_file"))
    assert sr.count("<<<<<<< SEARCH") == 2 and "exactly once" in sr and "Whole lines only" in sr
    assert "new file" in sr.lower() and "Deleting or renaming a file" in sr
    assert "may be approximate" in diff and "+++ /dev/null" in diff and "rename" in diff
    assert "partial" in whole and "Deleting or renaming" in whole
    for text in (sr, diff, whole):
        assert "Example." in text and "NEED_FILES:" in text and "NO_CHANGES" in text
        assert "edits only" not in text  # no "edits only" beside "one line of explanation"
