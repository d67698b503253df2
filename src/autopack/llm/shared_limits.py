"""Provider limits shared by every autopack process of a batch, so N workers calling one provider do
not turn into a 429 storm: at most ``concurrency`` calls in flight to a provider, at most
``requests_per_minute`` calls started a minute, and a 429 seen by any process holding every process
back from that provider until its Retry-After has passed.

The state lives in the folder named by ``$AUTOPACK_PROVIDER_LIMITS`` (``autopack batch`` sets it for
its runs: the batch folder's ``limits/``), shared through the file system with ``flock``:

- ``limits.json``: the limits, by provider name (``*`` for any other provider);
- ``<provider>.slot<i>``: one file per concurrency slot, locked while a call is in flight (the kernel
  lets go of the lock when its process dies, even on ``kill -9``: a killed worker never keeps a slot);
- ``<provider>.state``: the provider's token bucket, cool-down and counters (429s seen, waits), read
  and written under ``<provider>.lock``;
- ``waiting/``: one file per caller waiting right now (``autopack batch status`` counts them).

Without the variable nothing is limited and nothing is read: a plain ``autopack run`` is unchanged.
The LLM service wraps each provider call in ``provider_slot`` and reports a wait longer than
``REPORT_AFTER_SECONDS`` as a ``provider_wait`` event (shown in the run's log and the batch's table).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import AutopackError
from ..fileio import atomic_write_text

ENV_VAR = "AUTOPACK_PROVIDER_LIMITS"
LIMITS_FILE = "limits.json"
ANY_PROVIDER = "*"
# Shorter waits are not worth a line in the log (the file locks alone take a few milliseconds).
REPORT_AFTER_SECONDS = 0.05
# A 429 without Retry-After still holds the provider back this long for everyone.
DEFAULT_COOL_DOWN_SECONDS = 2.0
POLL_SECONDS = 0.02

OnWait = Callable[[dict[str, Any]], None]


class LimitsError(AutopackError):
    """The shared limits folder named by $AUTOPACK_PROVIDER_LIMITS cannot be used."""


@dataclass(frozen=True)
class ProviderLimit:
    concurrency: int | None = None  # calls in flight at once, across every process sharing the folder
    requests_per_minute: float | None = (
        None  # calls started per minute (a token bucket holding one second's worth, at least 1)
    )

    def describe(self) -> str:
        parts = []
        if self.concurrency is not None:
            parts.append(f"{self.concurrency} at once")
        if self.requests_per_minute is not None:
            parts.append(f"{self.requests_per_minute:g}/min")
        return ", ".join(parts) or "no limit"


@dataclass
class ProviderState:
    """What ``<provider>.state`` holds."""

    tokens: float = -1.0  # -1: a full bucket (not read yet)
    refilled_at: float = 0.0
    cool_down_until: float = 0.0
    rate_limited: int = 0  # 429s seen by any process
    waits: int = 0  # calls that waited long enough to be reported
    waited_s: float = 0.0


def write_limits(folder: Path, limits: dict[str, ProviderLimit]) -> None:
    """Create ``folder`` (and ``waiting/``) and write its ``limits.json``; counters already there stay."""
    (folder / "waiting").mkdir(parents=True, exist_ok=True)
    # writers may race (cluster tasks): each writes its own temporary file
    atomic_write_text(
        folder / LIMITS_FILE, json.dumps({k: asdict(v) for k, v in limits.items()}, indent=2), fsync=False
    )


def read_stats(folder: Path) -> dict[str, ProviderState]:
    """Each provider's state (429s seen, waits) as the processes left it."""
    out: dict[str, ProviderState] = {}
    for path in sorted(folder.glob("*.state")):
        out[path.stem] = _read_state(path)
    return out


def waiting_now(folder: Path) -> dict[str, int]:
    """provider -> callers waiting for it right now (files a killed waiter left behind are not counted)."""
    counts: dict[str, int] = {}
    for marker in (folder / "waiting").glob("*"):
        provider, _, rest = marker.name.rpartition(".")
        pid = rest.split("-")[0]
        if pid.isdigit() and (Path(f"/proc/{pid}").exists() or not Path("/proc").exists()):
            counts[provider] = counts.get(provider, 0) + 1
    return counts


def _read_state(path: Path) -> ProviderState:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return ProviderState()
    known = {k: v for k, v in data.items() if k in ProviderState.__dataclass_fields__}
    return ProviderState(**known)


class SharedLimits:
    """The limits of one folder; ``slot`` wraps a call. Safe across processes and threads (each slot
    and lock is its own open file description)."""

    def __init__(
        self,
        folder: Path,
        limits: dict[str, ProviderLimit],
        *,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        report_after: float = REPORT_AFTER_SECONDS,
    ) -> None:
        self.folder = folder
        self.report_after = report_after
        self.limits = limits
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._sleep = sleep
        self.polls = 0  # times a caller found no free slot, token or cool-down (tests read it)

    @classmethod
    def open(cls, folder: Path, **options: Any) -> SharedLimits:
        path = folder / LIMITS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            limits = {str(k): ProviderLimit(**v) for k, v in data.items()}
        except FileNotFoundError:
            raise LimitsError(
                f"${ENV_VAR} names {folder}, which has no {LIMITS_FILE}; unset the variable "
                "(it is set by `autopack batch` for its runs)"
            ) from None
        except (OSError, ValueError, TypeError) as exc:
            raise LimitsError(f"{path}: cannot be read as provider limits ({exc}); unset ${ENV_VAR}") from None
        return cls(folder, limits, **options)

    def limit_for(self, provider: str) -> ProviderLimit:
        return self.limits.get(provider) or self.limits.get(ANY_PROVIDER) or ProviderLimit()

    @contextlib.contextmanager
    def slot(self, provider: str, on_wait: OnWait | None = None) -> Iterator[None]:
        """Hold one of ``provider``'s slots (and one of its tokens) around a call. A ProviderError of kind
        ``rate_limit`` raised by the call holds every process back from ``provider`` until its Retry-After
        (or ``DEFAULT_COOL_DOWN_SECONDS``) has passed, and is counted."""
        limit = self.limit_for(provider)
        started = self._clock()
        fd, reasons = self._acquire(provider, limit)
        waited = self._clock() - started
        if waited >= self.report_after:
            self._update(provider, lambda s: _count_wait(s, waited))
            if on_wait is not None:
                on_wait(
                    {
                        "provider": provider,
                        "waited_s": round(waited, 3),
                        "reasons": reasons,
                        "limit": limit.describe(),
                        "message": f"waited {waited:.1f} s for {provider} ({' and '.join(reasons)}; "
                        f"shared limit {limit.describe()})",
                    }
                )
        try:
            yield
        except Exception as exc:
            if getattr(exc, "kind", None) == "rate_limit":
                retry_after = getattr(exc, "retry_after", None)
                until = self._clock() + (retry_after if retry_after else DEFAULT_COOL_DOWN_SECONDS)
                self._update(provider, lambda s: _count_429(s, until))
            raise
        finally:
            if fd is not None:
                os.close(fd)  # lets go of the slot's lock

    # waiting ---------------------------------------------------------------------------------------
    def _acquire(self, provider: str, limit: ProviderLimit) -> tuple[int | None, list[str]]:
        reasons: list[str] = []
        marker: Path | None = None
        try:
            while True:
                cool = self._state(provider).cool_down_until - self._clock()
                if cool > 0:
                    delay, why = min(cool, 1.0), "a 429 cool-down"
                else:
                    fd = self._take_slot(provider, limit)
                    if fd is not None or limit.concurrency is None:
                        delay = self._take_token(provider, limit)
                        if delay <= 0:
                            return fd, reasons
                        if fd is not None:
                            os.close(fd)
                        why = "the request rate"
                    else:
                        delay, why = self.poll_seconds * (1 + random.random()), "every slot in use"
                if why not in reasons:
                    reasons.append(why)
                if marker is None:
                    marker = self._mark_waiting(provider)
                self.polls += 1
                self._sleep(delay)
        finally:
            if marker is not None:
                with contextlib.suppress(OSError):
                    marker.unlink()

    def _take_slot(self, provider: str, limit: ProviderLimit) -> int | None:
        if limit.concurrency is None:
            return None
        order = list(range(limit.concurrency))
        random.shuffle(order)
        for i in order:
            fd = os.open(self.folder / f"{provider}.slot{i}", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def _take_token(self, provider: str, limit: ProviderLimit) -> float:
        """0 when a call may start now (a token taken), else the seconds until the next token."""
        rpm = limit.requests_per_minute
        if rpm is None:
            return 0.0
        rate = rpm / 60.0
        capacity = max(1.0, rate)  # at most one second's worth at once: no burst of a minute's calls
        delay = 0.0

        def take(s: ProviderState) -> None:
            nonlocal delay
            now = self._clock()
            tokens = capacity if s.tokens < 0 else min(capacity, s.tokens + (now - s.refilled_at) * rate)
            s.refilled_at = now
            if tokens >= 1.0:
                s.tokens = tokens - 1.0
            else:
                s.tokens = tokens
                delay = (1.0 - tokens) / rate

        self._update(provider, take)
        return delay

    def _mark_waiting(self, provider: str) -> Path | None:
        marker = self.folder / "waiting" / f"{provider}.{os.getpid()}-{threading.get_ident()}"
        try:
            marker.touch()
        except OSError:
            return None
        return marker

    # state -----------------------------------------------------------------------------------------
    def _state(self, provider: str) -> ProviderState:
        return _read_state(self.folder / f"{provider}.state")

    def _update(self, provider: str, change: Callable[[ProviderState], None]) -> None:
        """Read, change and write ``provider``'s state under its lock (replaced atomically)."""
        fd = os.open(self.folder / f"{provider}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = self.folder / f"{provider}.state"
            state = _read_state(path)
            change(state)
            atomic_write_text(path, json.dumps(asdict(state)), fsync=False)
        finally:
            os.close(fd)


def _count_wait(s: ProviderState, waited: float) -> None:
    s.waits += 1
    s.waited_s += waited


def _count_429(s: ProviderState, until: float) -> None:
    s.rate_limited += 1
    s.cool_down_until = max(s.cool_down_until, until)


_opened: dict[str, SharedLimits] = {}


def provider_slot(provider: str, on_wait: OnWait | None = None) -> AbstractContextManager[None]:
    """The slot to hold around one call to ``provider``: shared limits when ``$AUTOPACK_PROVIDER_LIMITS``
    names a folder, else nothing at all."""
    folder = os.environ.get(ENV_VAR)
    if not folder:
        return contextlib.nullcontext()
    limits = _opened.get(folder)
    if limits is None:
        limits = _opened[folder] = SharedLimits.open(Path(folder))
    return limits.slot(provider, on_wait)
