"""Provider limits shared across processes (``autopack.llm.shared_limits``): slots, the request rate,
the 429 cool-down, and the waits they cause, reported to the caller and counted in the folder."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from autopack.llm.shared_limits import (
    ENV_VAR,
    LimitsError,
    ProviderLimit,
    ProviderState,
    SharedLimits,
    provider_slot,
    read_stats,
    waiting_now,
    write_limits,
)
from autopack.llm.types import ProviderError


def wait_until(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def test_a_caller_waits_for_a_slot_another_holds_and_the_wait_is_reported(tmp_path: Path) -> None:
    write_limits(tmp_path, {"anthropic": ProviderLimit(concurrency=1)})
    holder, waiter = SharedLimits.open(tmp_path), SharedLimits.open(tmp_path, report_after=0)
    waits: list[dict[str, Any]] = []
    done = threading.Event()

    def second_call() -> None:
        with waiter.slot("anthropic", waits.append):
            done.set()

    with holder.slot("anthropic"):
        thread = threading.Thread(target=second_call)
        thread.start()
        wait_until(lambda: waiter.polls > 0, "the second caller to find no free slot")
        assert waiting_now(tmp_path) == {"anthropic": 1}
        assert not done.is_set()
    thread.join(timeout=30)
    assert done.is_set()
    assert len(waits) == 1 and waits[0]["provider"] == "anthropic"
    assert waits[0]["reasons"] == ["every slot in use"]
    assert "shared limit 1 at once" in waits[0]["message"]
    assert read_stats(tmp_path)["anthropic"].waits == 1
    assert waiting_now(tmp_path) == {}


def test_other_providers_are_not_held_back_by_a_full_one(tmp_path: Path) -> None:
    write_limits(tmp_path, {"anthropic": ProviderLimit(concurrency=1)})
    limits = SharedLimits.open(tmp_path)
    with limits.slot("anthropic"), limits.slot("openai"):
        pass
    assert limits.polls == 0


def test_the_star_entry_limits_every_provider_not_named(tmp_path: Path) -> None:
    write_limits(tmp_path, {"*": ProviderLimit(concurrency=2), "openai": ProviderLimit(requests_per_minute=60)})
    limits = SharedLimits.open(tmp_path)
    assert limits.limit_for("glm") == ProviderLimit(concurrency=2)
    assert limits.limit_for("openai") == ProviderLimit(requests_per_minute=60)


def test_the_request_rate_makes_calls_beyond_the_bucket_wait(tmp_path: Path) -> None:
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    write_limits(tmp_path, {"openai": ProviderLimit(requests_per_minute=30)})  # one call every 2 s
    limits = SharedLimits(tmp_path, SharedLimits.open(tmp_path).limits, clock=lambda: clock[0], sleep=sleep)
    waits: list[dict[str, Any]] = []
    for _ in range(3):
        with limits.slot("openai", waits.append):
            pass
    assert slept == [pytest.approx(2.0), pytest.approx(2.0)]
    assert [w["reasons"] for w in waits] == [["the request rate"], ["the request rate"]]


def test_a_429_holds_every_process_back_until_its_retry_after(tmp_path: Path) -> None:
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    write_limits(tmp_path, {})
    first = SharedLimits(tmp_path, {}, clock=lambda: clock[0], sleep=sleep)
    other = SharedLimits(tmp_path, {}, clock=lambda: clock[0], sleep=sleep)
    with pytest.raises(ProviderError), first.slot("anthropic"):
        raise ProviderError(kind="rate_limit", message="slow down", status=429, retry_after=3.0)
    waits: list[dict[str, Any]] = []
    with other.slot("anthropic", waits.append):
        pass
    assert sum(slept) == pytest.approx(3.0)
    assert waits[0]["reasons"] == ["a 429 cool-down"]
    assert read_stats(tmp_path)["anthropic"].rate_limited == 1


def test_other_errors_do_not_cool_the_provider_down(tmp_path: Path) -> None:
    write_limits(tmp_path, {})
    limits = SharedLimits.open(tmp_path)
    with pytest.raises(ProviderError), limits.slot("anthropic"):
        raise ProviderError(kind="server", message="boom", status=500)
    state = read_stats(tmp_path).get("anthropic", ProviderState())
    assert state.rate_limited == 0 and state.cool_down_until == 0


CHILD = """
import json, sys, time
from pathlib import Path
from autopack.llm.shared_limits import SharedLimits
limits = SharedLimits.open(Path(sys.argv[1]))
spans = []
for _ in range(4):
    with limits.slot("glm"):
        start = time.time()
        time.sleep(0.02)
        spans.append((start, time.time()))
print(json.dumps(spans))
"""


def test_processes_sharing_the_folder_never_exceed_the_concurrency(tmp_path: Path) -> None:
    write_limits(tmp_path, {"glm": ProviderLimit(concurrency=2)})
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    spans = [tuple(s) for p in procs for s in json.loads(p.communicate(timeout=60)[0])]
    assert len(spans) == 20
    # at any call's start, how many calls were in flight (its own included)
    in_flight = [sum(1 for a, b in spans if a <= start < b) for start, _ in spans]
    assert max(in_flight) <= 2


def test_without_the_variable_nothing_is_limited_or_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with provider_slot("anthropic"):
        pass


def test_a_variable_naming_a_folder_without_limits_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(LimitsError, match="has no limits.json"):
        provider_slot("anthropic")
