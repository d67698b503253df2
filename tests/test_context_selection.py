"""What the Builder sees of files too big for its budget: scope before context, whole files when they
fit, and for a file that must be cut the windows the evidence points at (names in the phase, the
traceback, the previous diff), ranked, with what is hidden said. The budget follows the model's window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autopack.agents.context import BuilderContext, build_context, context_budget
from autopack.config import Config, load_config
from autopack.plan import Phase


def _phase(description: str, scope: list[str], context: list[str] | None = None) -> Phase:
    return Phase(id="p", name="change", description=description, scope=scope, context=context or [])


def _shown(ctx: BuilderContext, rel: str, line: int) -> bool:
    return any(a <= line <= b for a, b in ctx.shown_lines.get(rel, []))


def _functions(count: int, start: int = 0) -> str:
    return "\n\n".join(f"def f{i}(x):\n    return x + {i}" for i in range(start, start + count)) + "\n"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _config(**builder: object) -> Config:
    """The shipped config with no routing fallbacks (the requested model alone bounds the window)."""
    cfg = load_config()
    routing = cfg.routing.model_copy(update={"fallback_chain": []})
    return cfg.model_copy(update={"routing": routing, "builder": cfg.builder.model_copy(update=builder)})


# -- cutting one file by evidence ------------------------------------------------------------------


def test_a_function_the_phase_names_deep_in_a_4000_line_module_is_shown(tmp_path: Path) -> None:
    head = "\n".join(f"DISCOUNT_{i} = {i}  # a discount applied to totals" for i in range(300))
    text = (
        head
        + "\n\n"
        + _functions(900)
        + "\n\ndef compute_totals(items):\n    return sum(items)\n\n"
        + _functions(340, 900)
    )
    assert len(text.splitlines()) > 4000
    (tmp_path / "shop.py").write_text(text, encoding="utf-8")
    phase = _phase("Make `compute_totals` apply the discount once to the totals.", ["shop.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=6000)
    where = _line_of(text, "def compute_totals")
    assert where > 2900 and _shown(ctx, "shop.py", where) and _shown(ctx, "shop.py", where + 1)
    assert "def compute_totals(items):\n    return sum(items)\n" in ctx.stable  # lines as they are, no numbers
    assert "\nshop.py lines " in ctx.stable and "hidden: lines" in ctx.stable
    # each part is its own code block under a line outside the fence: no marker inside the code
    assert "# ... lines" not in ctx.stable and f"shop.py lines {where - 6}" not in ctx.stable.split("```")[-2]


def test_a_common_word_near_the_top_does_not_crowd_out_the_named_symbol(tmp_path: Path) -> None:
    top = "\n".join(f"    value = value + {i}  # value" for i in range(500))
    text = "def accumulate(value):\n" + top + "\n    return value\n\n\n" + _functions(1000)
    text += "\n\ndef parse_header(line):\n    return line.split(':', 1)\n"
    (tmp_path / "proto.py").write_text(text, encoding="utf-8")
    phase = _phase("Make parse_header strip the value it returns.", ["proto.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=4000)
    assert _shown(ctx, "proto.py", _line_of(text, "def parse_header"))


def test_a_traceback_line_in_the_feedback_pulls_its_window_in(tmp_path: Path) -> None:
    body = "\n".join(f"    step_{i} = check(step_{i - 1} if {i} else 0)" for i in range(1200))
    text = _functions(400) + "\n\ndef run_all(check):\n" + body + "\n    return step_1199\n"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "steps.py").write_text(text, encoding="utf-8")
    failing = _line_of(text, "step_1000 = ")
    for feedback in (
        f'Traceback (most recent call last):\n  File "/tmp/wt/pkg/steps.py", line {failing}, in run_all\nValueError',
        f"pkg/steps.py:{failing}: ValueError",
    ):
        phase = _phase("Make run_all stop at the first failing step.", ["pkg/steps.py"])
        ctx = build_context(phase, tmp_path, goal="g", budget_tokens=4000, feedback=feedback)
        assert _shown(ctx, "pkg/steps.py", failing), feedback


def test_the_lines_the_previous_attempt_changed_are_shown_again(tmp_path: Path) -> None:
    text = _functions(1500)
    (tmp_path / "calc.py").write_text(text, encoding="utf-8")
    target = _line_of(text, "return x + 1300")
    patch = (
        f"diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -{target - 1},2 +{target - 1},2 @@\n"
        " def f1300(x):\n-    return x + 1300\n+    return x - 1300\n"
    )
    phase = _phase("Fix the arithmetic.", ["calc.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=3000, previous_patch=patch)
    assert _shown(ctx, "calc.py", target - 1) and _shown(ctx, "calc.py", target)


def test_a_window_that_does_not_fit_is_skipped_and_smaller_ones_after_it_are_still_taken(tmp_path: Path) -> None:
    # The top mentions load_rules on 200 lines in a row: one long run of hits, far over the room.
    notes = "\n".join(
        f"# load_rules note {i}: see the loader for how rule {i} is read and validated" for i in range(200)
    )
    big_def = "\n".join(f"    rule_{i} = source.read({i})  # parse and validate" for i in range(110))
    text = notes + "\n\n" + _functions(600) + "\n\ndef load_rules(source):\n" + big_def + "\n    return source\n"
    (tmp_path / "rules.py").write_text(text, encoding="utf-8")
    phase = _phase("Make `load_rules` skip blank rules.", ["rules.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=2500)
    assert _shown(ctx, "rules.py", _line_of(text, "def load_rules"))


def test_a_markdown_file_without_headings_can_be_cut(tmp_path: Path) -> None:
    text = "\n".join(f"plain line {i} of notes about the setup" for i in range(3000)) + "\nthe frobnicate switch\n"
    (tmp_path / "NOTES.md").write_text(text, encoding="utf-8")
    ctx = build_context(_phase("Document the frobnicate switch.", ["NOTES.md"]), tmp_path, goal="g", budget_tokens=3000)
    assert _shown(ctx, "NOTES.md", 3001)


# -- several files: scope before context, changelogs keep their top -------------------------------


def _changelog(entries: int) -> str:
    out = ["# Changelog", "", "## Unreleased", "", "- Support reading rules from YAML files.", "- Faster startup.", ""]
    for v in range(entries, 0, -1):
        out += (
            [f"## Version 1.{v}.0", ""]
            + [f"- Fixed the parser in load_rules for case {v}-{k}, see the docs." for k in range(8)]
            + [""]
        )
    return "\n".join(out) + "\n"


def test_a_big_changelog_is_cut_to_its_top_and_the_small_module_beside_it_is_whole(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").write_text(_changelog(600), encoding="utf-8")  # about 370 KB
    module = "def load_rules(path):\n    return open(path).read().splitlines()\n"
    (tmp_path / "rules.py").write_text(module, encoding="utf-8")
    phase = _phase("Make load_rules skip blank lines, and say so in the changelog.", ["CHANGELOG.md", "rules.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=8000)
    assert ctx.shown_lines["rules.py"] == [(1, 2)]
    assert all(_shown(ctx, "CHANGELOG.md", n) for n in range(1, 8))  # the unreleased section
    assert not _shown(ctx, "CHANGELOG.md", 2000)
    assert "hidden: lines" in ctx.stable and "sections not shown at all: Version 1.600.0" in ctx.stable


def test_a_changelog_that_would_fit_does_not_take_the_room_a_module_that_must_be_cut_needs(tmp_path: Path) -> None:
    (tmp_path / "CHANGES.md").write_text(_changelog(40), encoding="utf-8")  # about 6,000 tokens
    text = _functions(1200) + "\n\ndef load_rules(path):\n    return []\n"
    (tmp_path / "rules.py").write_text(text, encoding="utf-8")
    phase = _phase("Make load_rules read the file, and say so in the changelog.", ["CHANGES.md", "rules.py"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=9000)
    changelog = sum(b - a + 1 for a, b in ctx.shown_lines["CHANGES.md"])
    assert changelog < len(_changelog(40).splitlines()) and _shown(ctx, "CHANGES.md", 5)
    assert _shown(ctx, "rules.py", _line_of(text, "def load_rules"))


def test_a_scope_file_is_never_dropped_while_a_context_file_is_shown(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(_functions(1500), encoding="utf-8")
    # A read-only guide that alone would fill almost the whole budget.
    (tmp_path / "GUIDE.md").write_text(
        "\n".join(f"guide line {i:05d} ...." for i in range(530)) + "\n", encoding="utf-8"
    )
    phase = _phase("Tidy f3.", ["big.py"], context=["GUIDE.md"])
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=3000)
    assert "big.py" in ctx.files_shown and _shown(ctx, "big.py", _line_of(_functions(1500), "def f3("))
    if "GUIDE.md" in ctx.files_shown:  # room went to the scope first; the prompt puts read-only files first (caching)
        assert ctx.stable.index("### GUIDE.md") < ctx.stable.index("### big.py")


def test_every_scope_file_gets_its_best_window_however_many_there_are(tmp_path: Path) -> None:
    names = [f"mod{i}.py" for i in range(5)]
    labels = "\n".join(f"LABEL_{k} = 'an upper case label'" for k in range(300))
    for i, name in enumerate(names):
        (tmp_path / name).write_text(
            labels + "\n\n" + _functions(400) + f"\n\ndef target_{i}(x):\n    return x\n", encoding="utf-8"
        )
    phase = _phase("Rename " + ", ".join(f"`target_{i}`" for i in range(5)) + " to use snake case.", names)
    ctx = build_context(phase, tmp_path, goal="g", budget_tokens=6000)
    for i, name in enumerate(names):
        assert _shown(ctx, name, _line_of((tmp_path / name).read_text(), f"def target_{i}")), name


# -- the budget ------------------------------------------------------------------------------------


def test_the_budget_follows_the_model_context_window(tmp_path: Path) -> None:
    text = "\n".join(f"def handler_{i}(request):\n    return respond(request, code={i})\n" for i in range(1001))
    (tmp_path / "app.py").write_text(text, encoding="utf-8")
    assert len(text.splitlines()) >= 3000
    phase = _phase("Log each request in handler_10.", ["app.py"])
    cfg = _config()
    big = build_context(phase, tmp_path, goal="g", budget_tokens=context_budget(cfg, "gemini-2.5-pro"))
    small = build_context(phase, tmp_path, goal="g", budget_tokens=context_budget(cfg, "ollama/qwen2.5-coder"))
    assert big.shown_lines["app.py"] == [(1, len(text.splitlines()))] and "partial" not in big.stable
    assert small.shown_lines["app.py"] != big.shown_lines["app.py"] and "(in scope, partial)" in small.stable


def test_the_budget_is_a_share_of_the_smallest_window_the_request_may_land_on() -> None:
    shipped = load_config()  # fallbacks on other providers: Claude (200k, its family's window) and GPT-5.5 (272k)
    assert context_budget(shipped, "gemini-2.5-pro") == 100_000
    assert context_budget(_config(), "gemini-2.5-pro") == 524_288
    assert context_budget(_config(), "ollama/qwen2.5-coder") == 16_384
    assert context_budget(_config(context_token_budget=24_000), "gemini-2.5-pro") == 24_000


def test_a_model_context_window_in_the_config_overrides_its_family() -> None:
    cfg = _config()
    claude = cfg.routing.planner_model  # a shipped Claude model, priced without a window of its own
    price = cfg.models[claude].model_copy(update={"context_window": 1_000_000})
    cfg = cfg.model_copy(update={"models": {**cfg.models, claude: price}})
    assert cfg.context_window(claude) == 1_000_000 and context_budget(cfg, claude) == 500_000
    assert cfg.context_window("claude-haiku-4-5") == 200_000


def test_a_cut_file_gives_the_same_prompt_in_every_process(tmp_path: Path) -> None:
    # The stable part is cached by providers across attempts, and a resumed run is a new process.
    (tmp_path / "calc.py").write_text(_functions(1500), encoding="utf-8")
    script = (
        "import sys; from pathlib import Path; from autopack.agents.context import build_context; "
        "from autopack.plan import Phase; "
        "p = Phase(id='p', name='n', description='Make `f700` and f1200 return the sum of value and x', scope=['calc.py']); "
        "sys.stdout.write(build_context(p, Path(sys.argv[1]), goal='g', budget_tokens=3000).stable)"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1 and "(in scope, partial)" in outs.pop()
