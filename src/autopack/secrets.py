"""Secrets: which environment variables hold them, and the one scrubber every writer uses.

No process autopack starts (checks, Doctor fixes) ever sees a provider key: a check that prints its
environment must not leak a key into the gate log, the run store, the journal, or the next prompt.
And no key value is ever written at rest: the run store (every parameter of every write), the gate
logs, the journal and the recordings all pass their text through ``scrub``, which replaces every
registered key value with ``MASK``. A key can reach that text in ways no one controls (a committed
``settings.py`` holding it shows up in a diff; an endpoint echoes its auth header into a reply), so
the scrubbing happens where text is written, not where it is produced.

Only whole secrets are masked: an occurrence counts when the characters on either side of it are
not letters or digits, so a key that happens to be part of a word (``test`` in ``pytest``) leaves the
word alone. And only values that can be real keys are registered (``could_be_key``): a placeholder
such as ``none``, ``ollama`` or ``local-dev``, common for local endpoints, would mask ordinary words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# The built-in providers' key variables (``llm.providers.KEY_ENV_VARS`` must stay a subset; a test checks it).
PROVIDER_KEY_VARS: frozenset[str] = frozenset(
    {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GLM_API_KEY", "ZHIPUAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"}
)
MASK = "***"
# Shorter "secrets" (a placeholder key like "none" or "x") would mask ordinary words.
MIN_SECRET_LENGTH = 6
# A value this long is a key whatever it looks like; a shorter one must mix letters and digits.
LONG_SECRET_LENGTH = 20
_ALNUM = "A-Za-z0-9"

_registered: set[str] = set()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def could_be_key(value: str | None) -> bool:
    """True when ``value`` can be a real API key: at least ``LONG_SECRET_LENGTH`` characters, or at
    least ``MIN_SECRET_LENGTH`` that mix letters and digits. Plain words and short placeholders
    (``none``, ``test``, ``ollama``, ``local-dev``) cannot: masking them would mask ordinary words."""
    if not value or len(value) < MIN_SECRET_LENGTH or value.isspace():
        return False
    if len(value) >= LONG_SECRET_LENGTH:
        return True
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _compile(values: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so a secret that contains another is removed whole; bounded by characters that
    # cannot continue it, so a secret inside a longer word or token is not one.
    ordered = sorted(set(values), key=lambda v: (-len(v), v))
    if not ordered:
        return None
    alternatives = "|".join(re.escape(v) for v in ordered)
    return re.compile(f"(?<![{_ALNUM}])(?:{alternatives})(?![{_ALNUM}])")


def register_secret_env(name: str) -> None:
    """Also withhold ``name`` (e.g. an endpoint's ``api_key_env``) from child processes."""
    _registered.add(name)


def secret_env_names() -> frozenset[str]:
    return PROVIDER_KEY_VARS | _registered


def register_secret_values(values: Iterable[str | None]) -> None:
    """Mask these values (API keys) in everything autopack writes from now on, in this process;
    values that cannot be real keys (``could_be_key``) are not registered."""
    global _pattern
    new = {v for v in values if v is not None and could_be_key(v)} - _values
    if new:
        _values.update(new)
        _pattern = _compile(_values)


def scrub(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every whole occurrence of a registered secret (and of each value of ``extra``
    that can be a key) replaced by ``MASK``."""
    pattern = _pattern
    more = {v for v in extra if v is not None and v not in _values and could_be_key(v)}
    if more:
        pattern = _compile(_values | more)
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


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
