"""Which providers exist and where their keys come from: the factory that builds one adapter per
built-in provider and per configured endpoint from an environment, and the ``.env`` reader.

The tables ``KEY_ENV_VARS`` and ``BASE_URL_ENV_VARS`` are what the README and ``autopack models``
show users. Keys are read, never logged: nothing here prints or stores a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..config import Config
from ..errors import AutopackError
from . import anthropic_provider, gemini_provider, glm_provider, openai_provider
from .anthropic_provider import AnthropicProvider
from .gemini_provider import GeminiProvider
from .glm_provider import GlmProvider
from .openai_provider import OpenAICompatibleProvider, OpenAIProvider
from .types import Provider

# Provider -> the environment variables that hold its key, first one set wins.
KEY_ENV_VARS: dict[str, tuple[str, ...]] = {
    "anthropic": (anthropic_provider.KEY_ENV,),
    "openai": (openai_provider.KEY_ENV,),
    "glm": glm_provider.KEY_ENV_VARS,
    "gemini": gemini_provider.KEY_ENV_VARS,
}

# Provider -> the environment variable that overrides its base URL (a proxy, a gateway, a test server).
BASE_URL_ENV_VARS: dict[str, str] = {
    "anthropic": anthropic_provider.BASE_URL_ENV,
    "openai": openai_provider.BASE_URL_ENV,
    "glm": glm_provider.BASE_URL_ENV,
    "gemini": gemini_provider.BASE_URL_ENV,
}


def build_providers(config: Config, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """One provider per built-in name plus one per configured endpoint, keyed by name.

    Keys and base URLs come from ``env`` (default ``os.environ``); a provider without its key is
    still built, reports ``available() == False``, and explains what to set if called.
    """
    env = os.environ if env is None else env
    providers: dict[str, Provider] = {
        "anthropic": AnthropicProvider.from_env(env),
        "openai": OpenAIProvider.from_env(env),
        "glm": GlmProvider.from_env(env),
        "gemini": GeminiProvider.from_env(env),
    }
    for endpoint in config.endpoints:
        if endpoint.name in providers:
            raise AutopackError(
                f"endpoint name {endpoint.name!r} is taken by a built-in provider; rename it under 'endpoints' in the config"
            )
        providers[endpoint.name] = OpenAICompatibleProvider(endpoint, env)
    return providers


def key_env_vars(provider: str, config: Config | None = None) -> tuple[str, ...]:
    """The environment variables that hold ``provider``'s key (empty for a keyless endpoint)."""
    if provider in KEY_ENV_VARS:
        return KEY_ENV_VARS[provider]
    endpoint = config.endpoint(provider) if config is not None else None
    if endpoint is not None and endpoint.api_key_env:
        return (endpoint.api_key_env,)
    return ()


def key_source(provider: str, config: Config | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The name of the variable that supplies ``provider``'s key in ``env``, or None (never the value)."""
    env = os.environ if env is None else env
    return next((name for name in key_env_vars(provider, config) if env.get(name)), None)


class DotenvError(AutopackError):
    """A .env file could not be read or has a line that is not KEY=VALUE."""


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def load_dotenv_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` pairs from a .env file.

    Blank lines and ``#`` comments are skipped, ``export KEY=VALUE`` is accepted, values may be
    bare (an inline `` # comment`` is dropped), 'single-quoted' (taken literally) or
    "double-quoted" (with \\n, \\t, \\" and \\\\ escapes). Errors name the line, never a value.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate the BOM some editors write
    except OSError as exc:
        raise DotenvError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DotenvError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, rest = stripped.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise DotenvError(f"{path}:{number}: expected KEY=VALUE (a name, '=', then the value)")
        try:
            values[key] = _value(rest.strip())
        except ValueError as exc:
            raise DotenvError(f"{path}:{number}: the value of {key} {exc}") from None
    return values


def _value(raw: str) -> str:
    if raw.startswith("'"):
        end = raw.find("'", 1)
        if end < 0:
            raise ValueError("has no closing single quote")
        _only_comment_after(raw[end + 1 :])
        return raw[1:end]
    if raw.startswith('"'):
        out: list[str] = []
        i = 1
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
                continue
            if ch == '"':
                _only_comment_after(raw[i + 1 :])
                return "".join(out)
            out.append(ch)
            i += 1
        raise ValueError("has no closing double quote")
    # A bare value ends at a comment that follows whitespace ("a#b" keeps its '#').
    match = re.search(r"\s#", raw)
    return (raw[: match.start()] if match else raw).strip()


def _only_comment_after(tail: str) -> None:
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        raise ValueError("has text after its closing quote")


def environment_with_dotenv(dotenv: Path | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment providers should read: ``base`` (default ``os.environ``) over the .env file's
    values, so a variable really set in the environment wins. A missing .env file is ignored."""
    merged: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        merged.update(load_dotenv_file(dotenv))
    merged.update(os.environ if base is None else base)
    return merged
