"""Prompt caching as the real Anthropic SDK sends it to a local Messages API that follows Anthropic's
caching rules (prefix match up to a breakpoint, minimum cacheable length, 5-minute entries): the
Builder's prompt is laid out most stable first with up to two breakpoints, no breakpoint is written
that no later request can read, and cache writes and reads are billed at Anthropic's prices."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pytest_httpserver import HTTPServer

from fake_claude import CHEAP, MID, FakeClaude, blocks, claude_config, role_of, run_plan

GUIDE = "# Style guide\n\n" + "".join(
    f"- Rule {i}: keep functions small, typed and documented ({i}).\n" for i in range(300)
)
MODULES = {
    f"pkg/m{i}.py": "".join(f"def helper_{i}_{k}(x: int) -> int:\n    return x + {k}\n\n\n" for k in range(40))
    for i in range(3)
}
FILES = {"docs/GUIDE.md": GUIDE, "pkg/__init__.py": "", **MODULES}


def add_function(i: int, body: str) -> str:
    last = f"def helper_{i}_39(x: int) -> int:\n    return x + 39\n"
    return f"pkg/m{i}.py\n```\n<<<<<<< SEARCH\n{last}=======\n{last}\n\ndef feature_{i}(x: int) -> int:\n    return {body}\n>>>>>>> REPLACE\n```\n"


def phases(n: int = 3) -> list[dict[str, object]]:
    return [
        {
            "id": f"p{i}",
            "name": f"Feature {i}",
            "description": f"Add feature_{i}(x) returning x * {i + 2}.",
            "scope": [f"pkg/m{i}.py"],
            "context": ["docs/GUIDE.md"],
            "builder_mode": "structured_edit",
            "checks": [f'python -c "from pkg.m{i} import feature_{i}; assert feature_{i}(3) == {3 * (i + 2)}"'],
        }
        for i in range(n)
    ]


def marks(body: dict[str, object]) -> list[int]:
    """Where the cache breakpoints of a request fall: the end of each marked system block, in characters."""
    out, at = [], 0
    for b in blocks(body):
        if b.role != "system":
            break
        at += len(b.text)
        if b.breakpoint:
            out.append(at)
    return out


def one_model_config(tmp_path: Path) -> Path:
    chain = {"models": [MID]}
    return claude_config(
        tmp_path / "config.yaml",
        escalation_chains={
            "builder": {"low": chain, "medium": chain, "high": chain},
            "auditor": {"low": chain, "medium": chain, "high": chain},
        },
    )


def test_phases_sharing_read_only_files_read_them_from_the_cache_and_a_retry_reads_its_scope(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue(
        "builder",
        add_function(0, "x * 2"),
        add_function(1, "x + 3"),
        add_function(1, "x * 3"),
        add_function(2, "x * 4"),
    )
    run = run_plan(tmp_path, fake, FILES, phases(), config=one_model_config(tmp_path))
    assert run.result.exit_code == 0

    builders = [(i, b) for i, b in enumerate(fake.bodies) if role_of(b) == "builder"]
    for _, body in builders:
        system = "".join(b.text for b in blocks(body) if b.role == "system")
        assert "PHASE:" not in system and "Rule 3: keep" in system  # the phase is after the cached prefix
        guide_end = system.index("Rule 299") + 80
        first, second = marks(body)
        assert first < guide_end + 40 < second == len(system)  # after the read-only files; after the scope files
    usage = [fake.usages[i] for i, _ in builders]
    assert usage[0]["cache_read_input_tokens"] == 0 and usage[0]["cache_creation_input_tokens"] > 0
    guide_prefix = marks(builders[0][1])[0] // 4
    assert usage[1]["cache_read_input_tokens"] >= guide_prefix * 0.9  # phase p1 reads what p0 wrote
    assert usage[2]["cache_read_input_tokens"] > usage[1]["cache_read_input_tokens"]  # the retry reads its scope too


def test_no_breakpoint_is_written_that_a_later_request_cannot_read(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue(
        "builder",
        add_function(0, "x + 1"),
        add_function(0, "x + 1"),
        add_function(0, "x * 2"),
        add_function(1, "x * 3"),
    )
    cfg = claude_config(tmp_path / "config.yaml", complexity_escalation={"max_attempts_per_phase": 3})
    run = run_plan(tmp_path, fake, FILES, phases(2), config=cfg)
    assert run.result.exit_code == 0

    attempts = fake.calls("builder")
    assert [b["model"] for b in attempts] == [CHEAP, MID, MID, CHEAP]
    # p0 on CHEAP: a failure moves it to MID, so its scope entry could never be read; the read-only one
    # can (p1 has the same context files and starts on CHEAP). On MID the retry stays on MID: both. The
    # last attempt allowed and p1 place breakpoints only where an earlier request wrote the prefix: reads.
    assert [len(marks(b)) for b in attempts] == [1, 2, 2, 1]
    usage = [u for u, b in zip(fake.usages, fake.bodies, strict=True) if role_of(b) == "builder"]
    assert usage[2]["cache_read_input_tokens"] > 0 and usage[2]["cache_creation_input_tokens"] == 0
    assert usage[3]["cache_read_input_tokens"] > 0 and usage[3]["cache_creation_input_tokens"] == 0


def test_a_prefix_nobody_can_read_gets_no_breakpoint(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", add_function(0, "x + 1"), add_function(0, "x * 2"))
    run = run_plan(tmp_path, fake, FILES, phases(1))  # one phase: no other shares its context files
    assert run.result.exit_code == 0

    first, retry = fake.calls("builder")
    assert (first["model"], retry["model"]) == (CHEAP, MID)  # the failure moved the phase to another model
    assert marks(first) == [] and fake.usages[0]["cache_creation_input_tokens"] == 0
    assert len(marks(retry)) == 2  # MID's retry would stay on MID


def test_cache_writes_and_reads_are_billed_at_anthropic_prices(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", add_function(0, "x * 2"), add_function(1, "x * 3"))
    run = run_plan(tmp_path, fake, FILES, phases(2), config=one_model_config(tmp_path))
    assert run.result.exit_code == 0

    with sqlite3.connect(run.db) as db:
        stored = [
            (r[0], r[1], r[2])
            for r in db.execute("SELECT tokens_in, tokens_cached, cost_usd FROM llm_calls ORDER BY call_id")
        ]
    assert len(stored) == len(fake.usages)
    for (tokens_in, cached, cost), u in zip(stored, fake.usages, strict=True):
        assert tokens_in == u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
        assert cached == u["cache_read_input_tokens"]
        expected = (
            u["input_tokens"] * 3.0
            + u["cache_creation_input_tokens"] * 3.75
            + u["cache_read_input_tokens"] * 0.30
            + u["output_tokens"] * 15.0
        ) / 1e6
        assert abs(cost - expected) < 1e-12
    assert any(u["cache_creation_input_tokens"] for u in fake.usages) and any(
        u["cache_read_input_tokens"] for u in fake.usages
    )


def test_openai_cached_prompt_tokens_are_billed_at_the_cached_input_price(httpserver: HTTPServer) -> None:
    from autopack.config import load_config
    from autopack.llm.openai_provider import OpenAIProvider
    from autopack.llm.service import LlmService
    from autopack.llm.types import Message
    from wire import OPENAI_KEY, chat_completion

    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        chat_completion("ok", prompt_tokens=2000, completion_tokens=100, cached_tokens=1500, model="gpt-5")
    )
    provider = OpenAIProvider(OPENAI_KEY, base_url=httpserver.url_for("/v1"))
    service = LlmService(load_config(), {"openai": provider})

    result = service.complete(
        role="builder", model="gpt-5", system="S", messages=[Message("user", "hi")], max_tokens=50
    )

    # gpt-5: input $1.25, cached input $0.125, output $10 per million tokens; OpenAI bills no cache writes.
    assert result.response.usage.tokens_cached == 1500 and result.response.usage.tokens_cache_write == 0
    assert abs(result.cost_usd - (500 * 1.25 + 1500 * 0.125 + 100 * 10.0) / 1e6) < 1e-12
