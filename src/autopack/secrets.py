"""Secrets: which environment variables hold them, and the one scrubber every writer uses.

No process autopack starts (checks, Doctor fixes) ever sees a provider key: a check that prints its
environment must not leak a key into the gate log, the run store, the journal, or the next prompt.
And no key value is ever written at rest: the run store (every parameter of every write), the gate
logs, the journal and the recordings all pass their text through ``scrub``, which replaces every
registered key value with ``MASK``. A key can reach that text in ways no one controls (a committed
``settings.py`` holding it shows up in a diff; an endpoint echoes its auth header into a reply), so
the scrubbing happens where text is written, not where it is produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The built-in providers' key variables (``llm.providers.KEY_ENV_VARS`` must stay a subset; a test checks it).
PROVIDER_KEY_VARS: frozenset[str] = frozenset(
    {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GLM_API_KEY", "ZHIPUAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"}
)
MASK = "***"
# Shorter "secrets" (a placeholder key like "none" or "x") would mask ordinary words.
MIN_SECRET_LENGTH = 6

_registered: set[str] = set()
_values: set[str] = set()
_ordered: list[str] = []


def register_secret_env(name: str) -> None:
    """Also withhold ``name`` (e.g. an endpoint's ``api_key_env``) from child processes."""
    _registered.add(name)


def secret_env_names() -> frozenset[str]:
    return PROVIDER_KEY_VARS | _registered


def register_secret_values(values: Iterable[str | None]) -> None:
    """Mask these values (API keys) in everything autopack writes from now on, in this process."""
    global _ordered
    new = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH} - _values
    if new:
        _values.update(new)
        # Longest first, so a secret that contains another is removed whole.
        _ordered = sorted(_values, key=len, reverse=True)


def scrub(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every registered secret (and every value of ``extra``) replaced by ``MASK``."""
    secrets = _ordered
    more = [v for v in extra if v and len(v) >= MIN_SECRET_LENGTH and v not in _values]
    if more:
        secrets = sorted([*_ordered, *more], key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_data(value: Any, extra: Iterable[str | None] = ()) -> Any:
    """``value`` with every string inside it (dict values and keys, lists, tuples) scrubbed."""
    extra = list(extra)
    if isinstance(value, str):
        return scrub(value, extra)
    if isinstance(value, dict):
        return {scrub_data(k, extra): scrub_data(v, extra) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(v, extra) for v in value]
    return value
