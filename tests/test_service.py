"""LlmService: retries with backoff, fallback, usage and cost, the cost cap, secret scrubbing, override."""

from __future__ import annotations

import random
from typing import Any

import pytest

from autopack.config import Config
from autopack.errors import RunStopped
from autopack.llm.service import AllProvidersFailed, CostCapReached, LlmService
from autopack.llm.types import ErrorKind, LlmRequest, LlmResponse, Message, ProviderError, Usage
from autopack.store import CallRecord

CHAIN = {"models": ["claude-sonnet-4-5"]}
SECRET = "sk-ant-THIS-IS-A-SECRET-0123456789"


def make_config(**sections: Any) -> Config:
    data: dict[str, Any] = {
        "models": {
            "claude-sonnet-4-5": {"input": 3.0, "output": 15.0, "cached_input": 0.30},
            "glm-4.6": {"input": 0.6, "output": 2.2},
            "gpt-5": {"input": 1.25, "output": 10.0},
        },
        "escalation_chains": {
            "builder": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
            "auditor": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
        },
        "retries": {"max_retries": 3, "base_delay_seconds": 1.0, "max_delay_seconds": 30.0, "max_total_seconds": 120.0},
        **sections,
    }
    return Config.model_validate(data)


class FakeTime:
    """A clock and a sleep that only move when told: sleeps are recorded, never waited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedBehaviour:
    """A Provider that raises the given errors in turn, then answers every call."""

    def __init__(
        self,
        name: str,
        errors: list[ProviderError] | None = None,
        *,
        fail_forever: ProviderError | None = None,
        usage: Usage = Usage(100, 20, 0),
        available: bool = True,
        time: FakeTime | None = None,
        call_seconds: float = 0.0,
    ) -> None:
        self.name = name
        self.errors = list(errors or [])
        self.fail_forever = fail_forever
        self.usage = usage
        self._available = available
        self.requests: list[LlmRequest] = []
        self.time = time
        self.call_seconds = call_seconds

    def available(self) -> bool:
        return self._available

    def complete(self, request: LlmRequest) -> LlmResponse:
        self.requests.append(request)
        if self.time is not None:
            self.time.now += self.call_seconds
        if self.errors:
            raise self.errors.pop(0)
        if self.fail_forever is not None:
            raise self.fail_forever
        return LlmResponse(
            text=f"answer from {self.name}",
            usage=self.usage,
            stop_reason="end",
            provider=self.name,
            model=request.model,
        )


def err(kind: ErrorKind, message: str = "boom", **kw: Any) -> ProviderError:
    return ProviderError(kind=kind, message=message, **kw)


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[CallRecord, str | None, int | None]] = []
        self.events: list[tuple[str, dict[str, Any], str | None]] = []
        self.http_500 = 0

    def on_call(self, record: CallRecord, phase_id: str | None, attempt_id: int | None) -> None:
        self.calls.append((record, phase_id, attempt_id))

    def on_event(self, kind: str, data: dict[str, Any], phase_id: str | None) -> None:
        self.events.append((kind, data, phase_id))

    def on_http_500(self) -> None:
        self.http_500 += 1

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.events]


def make_service(
    config: Config, *providers: ScriptedBehaviour, time: FakeTime | None = None, **kw: Any
) -> tuple[LlmService, Sink, FakeTime]:
    t = time or FakeTime()
    sink = Sink()
    service = LlmService(
        config, {p.name: p for p in providers}, sink=sink, sleep=t.sleep, clock=t.clock, rng=random.Random(7), **kw
    )
    return service, sink, t


def ask(service: LlmService, model: str = "claude-sonnet-4-5", **kw: Any) -> Any:
    return service.complete(
        role="builder", model=model, system="You build.", messages=[Message("user", "do it")], max_tokens=500, **kw
    )


def test_a_rate_limited_call_is_retried_with_exponential_backoff_then_answers() -> None:
    anthropic = ScriptedBehaviour("anthropic", [err("rate_limit"), err("rate_limit")])
    service, sink, t = make_service(make_config(), anthropic)
    result = ask(service)
    assert result.response.text == "answer from anthropic"
    assert result.retries == 2
    assert len(anthropic.requests) == 3
    # base 1 s then 2 s, each with up to 25 % jitter on top.
    assert 1.0 <= t.sleeps[0] <= 1.25
    assert 2.0 <= t.sleeps[1] <= 2.5
    assert [rec.ok for rec, _, _ in sink.calls] == [False, False, True]


def test_backoff_is_capped_at_max_delay_seconds() -> None:
    config = make_config(
        retries={"max_retries": 5, "base_delay_seconds": 4.0, "max_delay_seconds": 10.0, "max_total_seconds": 500}
    )
    anthropic = ScriptedBehaviour("anthropic", [err("server")] * 4)
    service, _, t = make_service(config, anthropic)
    ask(service)
    assert t.sleeps[2:] == [10.0, 10.0]


def test_retry_after_is_honoured_as_a_minimum_sleep() -> None:
    anthropic = ScriptedBehaviour("anthropic", [err("rate_limit", retry_after=42.0)])
    service, _, t = make_service(make_config(), anthropic)
    ask(service)
    assert t.sleeps == [42.0]


def test_retries_stop_after_max_retries_and_the_error_kind_survives() -> None:
    config = make_config(retries={"max_retries": 2}, routing={"fallback_chain": []})
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("server", status=503))
    service, _, t = make_service(config, anthropic)
    with pytest.raises(AllProvidersFailed) as info:
        ask(service)
    assert len(anthropic.requests) == 3
    assert len(t.sleeps) == 2
    assert info.value.last_error is not None and info.value.last_error.kind == "server"


def test_retries_never_run_past_max_total_seconds() -> None:
    # Each call times out after 30 s: after the second one 61 s have passed, so no third call starts.
    config = make_config(retries={"max_retries": 10, "max_total_seconds": 60.0}, routing={"fallback_chain": []})
    t = FakeTime()
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("timeout"), time=t, call_seconds=30.0)
    service, _, _ = make_service(config, anthropic, time=t)
    with pytest.raises(AllProvidersFailed):
        ask(service)
    assert len(anthropic.requests) == 2
    assert len(t.sleeps) == 1


def test_a_retry_after_longer_than_the_budget_moves_on_instead_of_sleeping() -> None:
    config = make_config(retries={"max_total_seconds": 60.0})
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("rate_limit", retry_after=3600.0))
    glm = ScriptedBehaviour("glm")
    service, _, t = make_service(config, anthropic, glm)
    result = ask(service)
    assert t.sleeps == []
    assert result.provider == "glm"


def test_every_server_error_is_reported_to_the_health_budget() -> None:
    anthropic = ScriptedBehaviour(
        "anthropic", [err("server", status=500), err("server", status=502), err("rate_limit")]
    )
    service, sink, _ = make_service(make_config(), anthropic)
    ask(service)
    assert sink.http_500 == 2


def test_a_fallback_hop_is_recorded_as_an_event_and_in_the_result() -> None:
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("auth", "invalid x-api-key", status=401))
    glm = ScriptedBehaviour("glm")
    service, sink, t = make_service(make_config(), anthropic, glm)
    result = ask(service, phase_id="p1")
    assert len(anthropic.requests) == 1  # auth errors are not retried
    assert t.sleeps == []
    assert (result.provider, result.model, result.requested_model) == ("glm", "glm-4.6", "claude-sonnet-4-5")
    assert result.fallbacks == ["anthropic -> glm"]
    assert glm.requests[0].model == "glm-4.6"
    fallback = [(d, p) for k, d, p in sink.events if k == "llm_fallback"]
    assert len(fallback) == 1
    data, phase = fallback[0]
    assert (data["from"], data["to"], phase) == ("anthropic", "glm", "p1")
    assert "auth" in data["reason"]


def test_a_provider_that_keeps_failing_hands_over_after_its_retries() -> None:
    config = make_config(retries={"max_retries": 1})
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("rate_limit"))
    glm = ScriptedBehaviour("glm")
    service, sink, _ = make_service(config, anthropic, glm)
    result = ask(service)
    assert len(anthropic.requests) == 2
    assert result.provider == "glm"
    assert [(r.provider, r.ok) for r, _, _ in sink.calls] == [("anthropic", False), ("anthropic", False), ("glm", True)]


def test_a_malformed_reply_is_retried_once_only() -> None:
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("malformed", "no content block"))
    glm = ScriptedBehaviour("glm")
    service, _, _ = make_service(make_config(), anthropic, glm)
    assert ask(service).provider == "glm"
    assert len(anthropic.requests) == 2


def test_a_bad_request_is_raised_without_retry_or_fallback() -> None:
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("bad_request", "prompt is too long", status=400))
    glm = ScriptedBehaviour("glm")
    service, sink, t = make_service(make_config(), anthropic, glm)
    with pytest.raises(ProviderError) as info:
        ask(service)
    assert info.value.kind == "bad_request"
    assert "prompt is too long" in str(info.value)
    assert len(anthropic.requests) == 1 and glm.requests == [] and t.sleeps == []
    assert sink.calls[0][0].ok is False


def test_when_every_provider_fails_the_error_lists_each_and_the_keys_to_set() -> None:
    config = make_config(retries={"max_retries": 0})
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("server", "overloaded", status=529))
    glm = ScriptedBehaviour("glm", available=False)
    openai = ScriptedBehaviour("openai", fail_forever=err("rate_limit", "quota exceeded", status=429))
    service, _, _ = make_service(config, anthropic, glm, openai, key_hints={"glm": "ZHIPUAI_API_KEY"})
    with pytest.raises(AllProvidersFailed) as info:
        ask(service)
    text = str(info.value)
    assert "anthropic (claude-sonnet-4-5) failed" in text and "overloaded" in text
    assert "openai (gpt-5) failed" in text and "quota exceeded" in text
    assert "glm skipped: no key" in text
    assert "ZHIPUAI_API_KEY" in text
    assert info.value.last_error is not None and info.value.last_error.kind == "rate_limit"
    assert glm.requests == []


def test_when_no_provider_has_a_key_the_error_says_so_without_calling_anything() -> None:
    anthropic = ScriptedBehaviour("anthropic", available=False)
    service, sink, _ = make_service(
        make_config(routing={"fallback_chain": []}), anthropic, key_hints={"anthropic": "ANTHROPIC_API_KEY"}
    )
    with pytest.raises(AllProvidersFailed, match="set ANTHROPIC_API_KEY") as info:
        ask(service)
    assert info.value.last_error is None
    assert sink.calls == []


def test_cost_is_computed_from_config_prices_including_cached_tokens() -> None:
    anthropic = ScriptedBehaviour(
        "anthropic", usage=Usage(tokens_in=1_000_000, tokens_out=100_000, tokens_cached=400_000)
    )
    service, sink, _ = make_service(make_config(), anthropic)
    result = ask(service, phase_id="p1", attempt_id=9)
    # 600k uncached * $3 + 400k cached * $0.30 + 100k out * $15, per million.
    assert result.cost_usd == pytest.approx(1.8 + 0.12 + 1.5)
    assert service.spent_usd == pytest.approx(3.42)
    assert service.provider_tokens == {"anthropic": 1_100_000}
    record, phase, attempt = sink.calls[0]
    assert (record.role, record.provider, record.model) == ("builder", "anthropic", "claude-sonnet-4-5")
    assert (record.tokens_in, record.tokens_out, record.tokens_cached) == (1_000_000, 100_000, 400_000)
    assert record.cost_usd == pytest.approx(3.42)
    assert (phase, attempt) == ("p1", 9)


def test_an_unpriced_model_costs_zero_and_is_reported_once() -> None:
    anthropic = ScriptedBehaviour("anthropic")
    service, sink, _ = make_service(make_config(), anthropic)
    ask(service, model="claude-unpriced-9")
    ask(service, model="claude-unpriced-9")
    assert service.spent_usd == 0.0
    unknown = [d for k, d, _ in sink.events if k == "llm_cost_unknown"]
    assert len(unknown) == 1 and unknown[0]["model"] == "claude-unpriced-9"


def test_the_cost_cap_stops_the_run_before_calling_a_provider() -> None:
    anthropic = ScriptedBehaviour("anthropic")
    service, _, _ = make_service(make_config(limits={"run_cost_cap_usd": 5.0}), anthropic, spent_usd=5.0)
    with pytest.raises(CostCapReached) as info:
        ask(service)
    assert isinstance(info.value, RunStopped)
    assert anthropic.requests == []
    message = str(info.value)
    assert "$5.00 cap" in message and "limits.run_cost_cap_usd" in message and "resume" in message


def test_spend_accumulates_until_the_cap_is_reached() -> None:
    anthropic = ScriptedBehaviour("anthropic", usage=Usage(tokens_in=1_000_000, tokens_out=0))
    service, _, _ = make_service(make_config(limits={"run_cost_cap_usd": 5.0}), anthropic, spent_usd=1.0)
    ask(service)  # $1 + $3 = $4, under the cap
    ask(service)  # starts at $4, ends at $7
    with pytest.raises(CostCapReached):
        ask(service)
    assert len(anthropic.requests) == 2
    assert service.spent_usd == pytest.approx(7.0)


def test_secrets_are_scrubbed_from_errors_events_and_call_records() -> None:
    leak = err("auth", f"invalid key {SECRET} for this org", status=401)
    anthropic = ScriptedBehaviour("anthropic", fail_forever=leak)
    glm = ScriptedBehaviour("glm", fail_forever=err("server", f"upstream said {SECRET}"))
    config = make_config(routing={"fallback_chain": ["glm"]}, retries={"max_retries": 1})
    service, sink, _ = make_service(config, anthropic, glm, secrets=[SECRET])
    with pytest.raises(AllProvidersFailed) as info:
        ask(service)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    assert info.value.last_error is not None and SECRET not in info.value.last_error.message
    assert all(SECRET not in (rec.error or "") for rec, _, _ in sink.calls)
    assert SECRET not in repr(sink.events)
    assert any("***" in repr(d) for _, d, _ in sink.events)


def test_a_bad_request_is_raised_with_secrets_scrubbed() -> None:
    anthropic = ScriptedBehaviour("anthropic", fail_forever=err("bad_request", f"bad header {SECRET}"))
    service, _, _ = make_service(make_config(), anthropic, secrets=[SECRET])
    with pytest.raises(ProviderError) as info:
        ask(service)
    assert SECRET not in str(info.value)


def test_override_sends_every_call_to_one_provider_and_prices_the_requested_model() -> None:
    scripted = ScriptedBehaviour("scripted", usage=Usage(tokens_in=1_000_000, tokens_out=0))
    t = FakeTime()
    sink = Sink()
    service = LlmService(make_config(), {}, sink=sink, sleep=t.sleep, clock=t.clock, override=scripted)
    result = ask(service, model="gpt-5")
    assert scripted.requests[0].model == "gpt-5"
    assert (result.provider, result.model, result.requested_model) == ("scripted", "gpt-5", "gpt-5")
    assert result.cost_usd == pytest.approx(1.25)
    assert (sink.calls[0][0].provider, sink.calls[0][0].model) == ("scripted", "gpt-5")
    assert service.provider_tokens == {"scripted": 1_000_000}


def test_the_request_carries_the_configured_timeout_caching_and_api_model_name() -> None:
    config = make_config(
        endpoints=[{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "free": True}],
        retries={"request_timeout_seconds": 33.0},
        routing={"fallback_chain": []},
    )
    ollama = ScriptedBehaviour("ollama")
    service, _, _ = make_service(config, ollama)
    result = service.complete(
        role="auditor",
        model="ollama/qwen2.5-coder:7b",
        system="sys",
        messages=[Message("user", "q"), Message("assistant", "{")],
        max_tokens=64,
        json_mode=True,
    )
    req = ollama.requests[0]
    assert req.model == "qwen2.5-coder:7b"
    assert (req.system, req.max_tokens, req.json_mode, req.timeout_seconds, req.cache_system) == (
        "sys",
        64,
        True,
        33.0,
        True,
    )
    assert req.messages == (Message("user", "q"), Message("assistant", "{"))
    assert result.model == "ollama/qwen2.5-coder:7b"
    assert result.cost_usd == 0.0  # a free endpoint


def test_a_requested_provider_without_a_key_hands_over_with_an_event() -> None:
    anthropic = ScriptedBehaviour("anthropic", available=False)
    glm = ScriptedBehaviour("glm")
    service, sink, _ = make_service(make_config(), anthropic, glm)
    result = ask(service)
    assert result.provider == "glm"
    assert [(d["from"], d["to"], d["reason"]) for k, d, _ in sink.events if k == "llm_fallback"] == [
        ("anthropic", "glm", "no key")
    ]


class SlowToStart(ScriptedBehaviour):
    """A provider whose client takes 4 s to build (an SDK import) and whose call takes 12 ms."""

    def warm(self, timeout: float) -> None:
        assert self.time is not None
        self.time.now += 4.0


def test_latency_is_the_calls_own_not_the_sdks_start_up() -> None:
    t = FakeTime()
    provider = SlowToStart("anthropic", time=t, call_seconds=0.012)
    service, sink, _ = make_service(make_config(), provider, time=t)
    result = ask(service)
    assert abs(result.latency_ms - 12.0) < 0.01
    assert abs(sink.calls[0][0].latency_ms - 12.0) < 0.01
