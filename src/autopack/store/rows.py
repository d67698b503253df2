"""The shapes of the run store's rows: what its queries return and what its writers take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallRecord:
    """One LLM call as the service reports it: what ``RunStore.record_call`` writes."""

    role: str
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    stop_reason: str | None = None
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True)
class CallRow:
    """One stored LLM call (a row of ``llm_calls``)."""

    call_id: int
    phase_id: str | None
    attempt_id: int | None
    role: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
    latency_ms: float
    ok: bool
    error: str | None
    created_at: float
