"""Which environment variables hold secrets, so that no process autopack starts (checks, Doctor
fixes) ever sees a provider key: a check that prints its environment must not leak a key into the
gate log, the run store, the journal, or the next prompt.
"""

from __future__ import annotations

# The built-in providers' key variables (``llm.providers.KEY_ENV_VARS`` must stay a subset; a test checks it).
PROVIDER_KEY_VARS: frozenset[str] = frozenset(
    {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GLM_API_KEY", "ZHIPUAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"}
)
_registered: set[str] = set()


def register_secret_env(name: str) -> None:
    """Also withhold ``name`` (e.g. an endpoint's ``api_key_env``) from child processes."""
    _registered.add(name)


def secret_env_names() -> frozenset[str]:
    return PROVIDER_KEY_VARS | _registered
