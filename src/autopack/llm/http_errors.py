"""How a failed HTTP call becomes a ``ProviderError``: the one error mapping every adapter shares.

Each adapter catches its own SDK's exception classes and hands the facts (status, headers, body,
or the transport exception) to these functions, so that a 429 means the same thing whichever SDK
raised it: kind by status, ``retry_after`` from ``Retry-After`` (seconds or HTTP-date) or
``retry-after-ms``, and a message that says what to do and never contains the API key.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

from pydantic import ValidationError

from .types import ErrorKind, ProviderError

# Enough of a provider's error body to act on, short enough for one log line.
MAX_BODY_CHARS = 300
REDACTED = "[redacted]"
# Shorter "secrets" (like the placeholder key "none") would redact ordinary words.
MIN_SECRET_LENGTH = 6

_TIMEOUT_NAMES = frozenset({"TimeoutException", "APITimeoutError", "TimeoutError"})
_CONNECTION_NAMES = frozenset(
    {"ConnectError", "NetworkError", "ProtocolError", "ConnectionError", "ProxyError", "APIConnectionError"}
)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (longest first) replaced by a marker."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value looked up case-insensitively (httpx headers already are; plain dicts are not)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date); None if absent."""
    millis = header(headers, "retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass  # a garbled header: fall back to Retry-After
    value = header(headers, "retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; RFC 9110 dates are GMT anyway
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def kind_for_status(status: int) -> ErrorKind:
    """The error kind an HTTP status means."""
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 408:  # the server gave up waiting for us: as retryable as a client-side timeout
        return "timeout"
    if 400 <= status < 500:
        return "bad_request"
    return "server"


def body_message(body: object) -> str:
    """The human part of an error body: ``error.message`` and friends, else the body itself, cut short."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        text = body
        try:
            body = json.loads(text)
        except ValueError:
            return _cut(" ".join(text.split()))
    if isinstance(body, list) and len(body) == 1:  # Gemini wraps its error in a one-item list
        body = body[0]
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            for key in ("message", "msg", "detail"):
                if isinstance(error.get(key), str) and error[key]:
                    return _cut(error[key])
        if isinstance(error, str) and error:
            return _cut(error)
        for key in ("message", "msg", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return _cut(body[key])
    if body is None or body == "" or body == {} or body == []:
        return ""
    try:
        return _cut(json.dumps(body, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return _cut(str(body))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY_CHARS else text[: MAX_BODY_CHARS - 3] + "..."


def _what_to_do(kind: ErrorKind, status: int, provider: str, key_env_vars: Sequence[str]) -> str:
    if kind == "auth" and key_env_vars:
        return f"check the key in {' or '.join(key_env_vars)}, and that it may use this model"
    if kind == "auth":  # an endpoint configured without a key
        return (
            f"the server wants a key: set api_key_env for endpoint {provider!r} in the config, then set that variable"
        )
    if kind == "rate_limit":
        return "rate limited or out of quota; wait, or lower the request rate"
    if kind == "bad_request" and status == 404:
        return "check the model name and the base URL"
    if kind == "bad_request":
        return "the request was rejected; check the model name and the request limits"
    if kind == "timeout":
        return "the server timed out; retry or raise retries.request_timeout_seconds"
    return "the provider failed; retrying may help"


def status_error(
    provider: str,
    status: int,
    headers: Mapping[str, str] | None,
    body: object,
    *,
    key_env_vars: Sequence[str],
    secrets: Iterable[str | None] = (),
    sdk_error: str = "",
    kind: ErrorKind | None = None,
) -> ProviderError:
    """The ProviderError for an HTTP error response."""
    kind = kind or kind_for_status(status)
    said = body_message(body)
    hint = _what_to_do(kind, status, provider, key_env_vars)
    message = f"{said} ({hint})" if said else hint
    details = {"sdk_error": sdk_error} if sdk_error else {}
    request_id = header(headers, "request-id") or header(headers, "x-request-id")
    if request_id:
        details["request_id"] = request_id
    return ProviderError(
        kind,
        redact(message, secrets),
        provider,
        status=status,
        retry_after=parse_retry_after(headers) if kind in ("rate_limit", "server", "timeout") else None,
        details={k: redact(v, secrets) for k, v in details.items()},
    )


def transport_kind(exc: BaseException) -> ErrorKind | None:
    """Classify a request that got no response: "timeout", "connection", or None (not a transport failure).

    Classes are matched by name along each exception's MRO so that httpx, httpx2 and the SDKs'
    own wrappers are recognised without importing any of them.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    found: ErrorKind | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & _TIMEOUT_NAMES:
            return "timeout"  # a timeout anywhere in the chain is the most precise answer
        if found is None and names & _CONNECTION_NAMES:
            found = "connection"
        current = current.__cause__ or current.__context__
    return found


def transport_error(
    provider: str, exc: BaseException, kind: ErrorKind, *, target: str, timeout: float, secrets: Iterable[str | None]
) -> ProviderError:
    """The ProviderError for a request that got no HTTP response at all."""
    target = _without_userinfo(target)
    if kind == "timeout":
        message = (
            f"no reply from {target} within {timeout:g}s (raise retries.request_timeout_seconds if replies are slow)"
        )
    else:
        cause = _root_cause(exc)
        message = f"could not reach {target}: {cause} (is the server up and the base URL right?)"
    return ProviderError(kind, redact(message, secrets), provider, details={"sdk_error": type(exc).__name__})


def _without_userinfo(url: str) -> str:
    """``url`` minus any ``user:password@`` part, which may hold a credential."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def _root_cause(exc: BaseException) -> str:
    """The innermost exception's text ("[Errno 111] Connection refused"), the most telling part."""
    seen: set[int] = set()
    current = exc
    nxt = current.__cause__ or current.__context__
    while nxt is not None and id(nxt) not in seen:
        seen.add(id(current))
        current = nxt
        nxt = current.__cause__ or current.__context__
    text = str(current) or type(current).__name__
    return _cut(" ".join(text.split()))


def malformed(provider: str, what: str, *, secrets: Iterable[str | None] = (), raw: Any = None) -> ProviderError:
    """The ProviderError for a 200 reply that is not the JSON the API promises."""
    message = f"the reply was not a valid completion: {what}"
    if raw is not None:
        message += f"; it began with: {body_message(raw) if not isinstance(raw, str) else _cut(raw)!r}"
    return ProviderError("malformed", redact(message, secrets), provider, status=200)


def invalid_reply(
    provider: str, exc: ValidationError, body: bytes | str, *, secrets: Iterable[str | None] = ()
) -> ProviderError:
    """The ProviderError for a 200 body that failed validation against the reply schema."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return malformed(provider, f"{where}: {err['msg']}", secrets=secrets, raw=text)


def not_configured(provider: str, env_vars: Iterable[str]) -> ProviderError:
    """The ProviderError for a call to a provider whose key is not set."""
    names = " or ".join(env_vars)
    return ProviderError(
        "not_configured",
        f"no API key: set {names} (in the environment or a .env file) to use {provider}",
        provider,
    )
