"""The LLM service: one ``complete`` call for every agent, with everything around the SDK call.

It owns retries with backoff (honouring Retry-After, bounded in count and in time), fallback along
the router's candidates, usage and cost accounting per call, the run cost cap, scrubbing API keys
out of everything it reports, and recording calls for replay. Agents never see a provider.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import Config, ModelPrice, Policy
from ..errors import AutopackError, RunStopped
from ..secrets import register_secret_values, scrub, scrub_data
from ..store import CallRecord
from .record import Recorder
from .router import Candidates, Router, SkippedProvider, api_model
from .shared_limits import provider_slot
from .types import LlmRequest, LlmResponse, Message, Provider, ProviderError

# Jitter spreads retries of parallel callers; a quarter of the delay is enough to de-synchronise.
JITTER_RATIO = 0.25


class CallSink(Protocol):
    """Where the service reports what happened (the executor stores it in the run store)."""

    def on_call(self, record: CallRecord, phase_id: str | None, attempt_id: int | None) -> None: ...

    def on_event(self, kind: str, data: dict[str, Any], phase_id: str | None) -> None: ...

    def on_http_500(self) -> None: ...


def _usd(amount: float) -> str:
    """Cents for ordinary amounts; significant digits for tiny ones, so a $0.000001 cap never reads $0.00."""
    return f"{amount:.2f}" if amount >= 0.01 or amount == 0 else f"{amount:.2g}"


# The cost cap counts a call before making it, at its worst case: the prompt's tokens (estimated at one
# per this many characters, on the high side: prose runs near 4 characters a token, code near 3.5) at
# the input price, plus ``max_tokens`` at the output price. A call the cap cannot cover is not made.
CHARS_PER_TOKEN_ESTIMATE = 3


def worst_case_cost(price: ModelPrice | None, request: LlmRequest) -> float:
    """What ``request`` could cost at most (see ``CHARS_PER_TOKEN_ESTIMATE``); 0 for free or unpriced models."""
    if price is None or price.free:
        return 0.0
    chars = len(request.system) + sum(len(m.content) for m in request.messages)
    return price.cost(math.ceil(chars / CHARS_PER_TOKEN_ESTIMATE), request.max_tokens)


class CostCapReached(RunStopped):
    """The run's ``limits.run_cost_cap_usd`` cannot cover its next call; it stops cleanly and can be resumed."""

    def __init__(self, cap: float, spent: float, next_call: float = 0.0, model: str = "") -> None:
        self.cap = cap
        self.spent = spent
        self.next_call = next_call
        ahead = (
            f"; the next call ({model}) could cost up to ${_usd(next_call)} (its prompt and max_tokens at the model's "
            "prices), more than the cap has left"
            if next_call > 0 and spent < cap
            else ""
        )
        super().__init__(
            f"run cost cap reached: ${_usd(spent)} spent of the ${_usd(cap)} cap (limits.run_cost_cap_usd){ahead}. "
            "Raise the cap (--max-cost USD, or limits.run_cost_cap_usd in your config) and run the same command "
            "to resume the run: its state is saved."
        )


@dataclass(frozen=True)
class ProviderFailure:
    """One provider that was tried, and the error it ended with."""

    provider: str
    model: str
    error: ProviderError
    retries: int


class AllProvidersFailed(AutopackError):
    """Every candidate provider failed or was skipped; ``last_error`` is the last ProviderError."""

    def __init__(
        self,
        model: str,
        failures: Sequence[ProviderFailure],
        skipped: Sequence[SkippedProvider],
        key_hints: Mapping[str, str],
    ) -> None:
        self.model = model
        self.failures = list(failures)
        self.skipped = list(skipped)
        self.last_error: ProviderError | None = failures[-1].error if failures else None
        lines = [f"no provider could answer a call for {model}:"]
        for f in failures:
            retried = f" after {f.retries} retries" if f.retries else ""
            lines.append(f"  - {f.provider} ({f.model}) failed{retried}: {f.error}")
        for s in skipped:
            lines.append(f"  - {s.provider} skipped: {s.reason}")
        hints = [
            f"{key_hints[s.provider]} ({s.provider})"
            for s in skipped
            if s.reason == "no key" and s.provider in key_hints
        ]
        if hints:
            lines.append("set " + ", ".join(dict.fromkeys(hints)) + " to enable the skipped providers")
        elif not failures:
            lines.append("configure an API key for one of the providers in routing.fallback_chain")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ServiceResult:
    """A successful call: the reply, who answered, and what it cost."""

    response: LlmResponse
    provider: str
    model: str  # the model that answered (the config's name, endpoint prefix kept)
    requested_model: str
    cost_usd: float
    latency_ms: float
    fallbacks: list[str] = field(default_factory=list)  # hops taken, "from -> to"
    retries: int = 0


class Scrubber:
    """Replaces secret values with ``***`` in text, nested event data and provider errors.

    The values are registered process-wide (``autopack.secrets``), so the run store, the gate logs
    and the journal mask them too, whoever writes them."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = list(secrets)
        register_secret_values(secrets)

    def text(self, value: str) -> str:
        return scrub(value, self._secrets)

    def data(self, value: Any) -> Any:
        return scrub_data(value, self._secrets)

    def error(self, err: ProviderError) -> ProviderError:
        return dataclasses.replace(
            err,
            message=self.text(err.message),
            details={k: self.text(v) for k, v in err.details.items()},
        )


class LlmService:
    """Sends agents' calls to providers; see the module docstring for what it adds."""

    def __init__(
        self,
        config: Config,
        providers: Mapping[str, Provider],
        *,
        sink: CallSink | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        override: Provider | None = None,
        recorder: Recorder | None = None,
        spent_usd: float = 0.0,
        provider_tokens: Mapping[str, int] | None = None,
        secrets: Sequence[str] = (),
        key_hints: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.router = Router(config, providers)
        self.providers = providers
        self.sink = sink
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.override = override
        self.recorder = recorder
        self._spent = spent_usd
        self._tokens: dict[str, int] = dict(provider_tokens or {})
        self._scrub = Scrubber(secrets)
        hints = {e.name: e.api_key_env for e in config.endpoints if e.api_key_env}
        hints.update(key_hints or {})
        self.key_hints: dict[str, str] = hints
        self._unpriced_reported: set[str] = set()

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***`` (for anything stored or shown)."""
        return self._scrub.text(text)

    @property
    def spent_usd(self) -> float:
        """USD spent by this run so far (the starting spend plus every call made here)."""
        return self._spent

    @property
    def provider_tokens(self) -> dict[str, int]:
        """Tokens (in + out) used per provider this run."""
        return dict(self._tokens)

    def complete(
        self,
        *,
        role: str,
        model: str,
        system: str,
        messages: Sequence[Message],
        max_tokens: int,
        json_mode: bool = False,
        policy: Policy = Policy.PROGRESSIVE,
        phase_id: str | None = None,
        attempt_id: int | None = None,
        cache_breaks: Sequence[int] | None = None,
    ) -> ServiceResult:
        """Answer one call, retrying and falling back as configured. ``cache_breaks``: where in ``system``
        a prefix worth caching ends (see ``LlmRequest.cache_breaks``).

        Raises CostCapReached (before a call the cap cannot cover at its worst case), ProviderError for a
        ``bad_request`` (never retried), and AllProvidersFailed when no candidate answered.
        """
        base = LlmRequest(
            model=model,
            system=system,
            messages=tuple(messages),
            max_tokens=max_tokens,
            json_mode=json_mode,
            timeout_seconds=self.config.retries.request_timeout_seconds,
            cache_system=True,
            cache_breaks=None if cache_breaks is None else tuple(cache_breaks),
        )
        ctx = _CallContext(role=role, phase_id=phase_id, attempt_id=attempt_id)
        if self.override is not None:
            # Scripted demo and replay: no routing, the requested model name is kept for accounting.
            candidates = Candidates([(self.override.name, model)], [])
            providers: Mapping[str, Provider] = {self.override.name: self.override}
        else:
            candidates = self.router.candidates(model, policy=policy, provider_tokens=self._tokens)
            providers = self.providers

        fallbacks: list[str] = []
        failures: list[ProviderFailure] = []
        requested_provider = self.override.name if self.override is not None else self.router.provider_name(model)
        previous = requested_provider
        reason = next(
            (s.reason for s in candidates.skipped if s.provider == requested_provider),
            "near its token cap (limits.near_cap_ratio of limits.provider_token_caps)",
        )
        for provider_name, cand_model in candidates:
            if provider_name != previous:
                # Either the requested provider was skipped (no key, cap) or the previous one failed.
                self._hop(fallbacks, previous, provider_name, cand_model, reason, phase_id)
            provider = providers[provider_name]
            if self.override is not None:
                request = base
            else:
                request = dataclasses.replace(base, model=api_model(cand_model, provider_name))
            outcome = self._try_provider(provider, provider_name, cand_model, request, ctx)
            if isinstance(outcome, _Answer):
                if self.recorder is not None:
                    # Keyed by the requested model so a replay matches even when this call fell back.
                    self.recorder.record(dataclasses.replace(request, model=model), outcome.response)
                return ServiceResult(
                    response=outcome.response,
                    provider=provider_name,
                    model=cand_model,
                    requested_model=model,
                    cost_usd=outcome.cost_usd,
                    latency_ms=outcome.latency_ms,
                    fallbacks=fallbacks,
                    retries=outcome.retries,
                )
            failures.append(outcome)
            previous = provider_name
            reason = f"{outcome.error.kind}: {outcome.error.message}"
        raise AllProvidersFailed(model, failures, candidates.skipped, self.key_hints)

    # one provider, with retries --------------------------------------------------------------
    def _try_provider(
        self, provider: Provider, name: str, model: str, request: LlmRequest, ctx: _CallContext
    ) -> _Answer | ProviderFailure:
        retries_cfg = self.config.retries
        warm = getattr(provider, "warm", None)
        if warm is not None:
            try:
                warm(request.timeout_seconds)  # SDK import and client set-up are not the call's latency
            except Exception:  # noqa: BLE001 - a client that cannot be built fails in complete(), reported there
                pass
        started = self._clock()
        retries = 0
        malformed_retried = False
        while True:
            self._check_cost_cap(model, request)
            t0 = self._clock()
            try:
                # Provider limits shared by a batch's workers (a no-op outside a batch); waits are shown.
                with provider_slot(name, lambda wait: self._event("provider_wait", wait, ctx.phase_id)):
                    t0 = self._clock()  # the call's latency starts once it holds its slot
                    response = provider.complete(request)
            except ProviderError as raw:
                latency_ms = (self._clock() - t0) * 1000
                err = self._scrub.error(raw)
                if not err.provider:
                    err = dataclasses.replace(err, provider=name)
                self._report(ctx, name, model, latency_ms, error=err)
                if err.kind == "server" and self.sink is not None:
                    self.sink.on_http_500()
                if err.kind == "bad_request":
                    raise err from None
                retryable = err.retryable or (err.kind == "malformed" and not malformed_retried)
                if not retryable or retries >= retries_cfg.max_retries:
                    return ProviderFailure(name, model, err, retries)
                delay = self._backoff(retries, err.retry_after)
                if self._clock() - started + delay > retries_cfg.max_total_seconds:
                    return ProviderFailure(name, model, err, retries)
                if err.kind == "malformed":
                    malformed_retried = True
                self._event(
                    "llm_retry",
                    {
                        "provider": name,
                        "model": model,
                        "kind": err.kind,
                        "status": err.status,
                        "retry": retries + 1,
                        "delay_seconds": round(delay, 3),
                        "error": err.message,
                    },
                    ctx.phase_id,
                )
                self._sleep(delay)
                retries += 1
                continue
            latency_ms = (self._clock() - t0) * 1000
            # In override mode ``model`` is the requested model, so its price is the one counted.
            cost = self._cost(model, response, ctx.phase_id)
            self._spent += cost
            used = response.usage.tokens_in + response.usage.tokens_out
            self._tokens[name] = self._tokens.get(name, 0) + used
            self._report(ctx, name, model, latency_ms, response=response, cost=cost)
            return _Answer(response, cost, latency_ms, retries)

    def _backoff(self, retry: int, retry_after: float | None) -> float:
        cfg = self.config.retries
        delay = cfg.base_delay_seconds * 2**retry
        delay *= 1 + JITTER_RATIO * self._rng.random()
        delay = min(delay, cfg.max_delay_seconds)
        if retry_after is not None:
            # The server said when to come back: never sooner, even past max_delay_seconds.
            delay = max(delay, retry_after)
        return delay

    def _check_cost_cap(self, model: str, request: LlmRequest) -> None:
        """Stop before a call the cap cannot cover at its worst case (``worst_case_cost``)."""
        cap = self.config.limits.run_cost_cap_usd
        if cap is None:
            return
        ahead = worst_case_cost(self.config.price_for(model), request)
        if self._spent >= cap or self._spent + ahead > cap:
            raise CostCapReached(cap, self._spent, ahead, model)

    def _cost(self, model: str, response: LlmResponse, phase_id: str | None) -> float:
        price = self.config.price_for(model)
        if price is None:
            if model not in self._unpriced_reported:
                self._unpriced_reported.add(model)
                self._event(
                    "llm_cost_unknown",
                    {
                        "model": model,
                        "message": f"no price for {model} under 'models' in the config; its calls count as $0",
                    },
                    phase_id,
                )
            return 0.0
        u = response.usage
        return price.cost(u.tokens_in, u.tokens_out, u.tokens_cached, u.tokens_cache_write)

    # reporting -------------------------------------------------------------------------------
    def _hop(self, fallbacks: list[str], frm: str, to: str, model: str, reason: str, phase_id: str | None) -> None:
        fallbacks.append(f"{frm} -> {to}")
        self._event("llm_fallback", {"from": frm, "to": to, "model": model, "reason": reason}, phase_id)

    def _event(self, kind: str, data: dict[str, Any], phase_id: str | None) -> None:
        if self.sink is not None:
            self.sink.on_event(kind, self._scrub.data(data), phase_id)

    def _report(
        self,
        ctx: _CallContext,
        provider: str,
        model: str,
        latency_ms: float,
        *,
        response: LlmResponse | None = None,
        cost: float = 0.0,
        error: ProviderError | None = None,
    ) -> None:
        if self.sink is None:
            return
        usage = response.usage if response is not None else None
        record = CallRecord(
            role=ctx.role,
            provider=provider,
            model=model,
            tokens_in=usage.tokens_in if usage else 0,
            tokens_out=usage.tokens_out if usage else 0,
            tokens_cached=usage.tokens_cached if usage else 0,
            cost_usd=cost,
            latency_ms=latency_ms,
            stop_reason=response.stop_reason if response is not None else None,
            ok=error is None,
            error=str(error) if error is not None else None,
        )
        self.sink.on_call(record, ctx.phase_id, ctx.attempt_id)


@dataclass(frozen=True)
class _CallContext:
    role: str
    phase_id: str | None
    attempt_id: int | None


@dataclass(frozen=True)
class _Answer:
    response: LlmResponse
    cost_usd: float
    latency_ms: float
    retries: int
