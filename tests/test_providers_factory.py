"""build_providers, the key and base-URL tables, and the .env reader."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from autopack.childenv import subprocess_env
from autopack.errors import AutopackError
from autopack.llm.providers import (
    BASE_URL_ENV_VARS,
    KEY_ENV_VARS,
    DotenvError,
    build_providers,
    environment_with_dotenv,
    key_source,
    load_dotenv_file,
)
from wire import (
    ANTHROPIC_KEY,
    GEMINI_KEY,
    GLM_KEY,
    OPENAI_KEY,
    anthropic_reply,
    ask,
    chat_completion,
    gemini_reply,
    make_config,
)

BUILT_INS = ["anthropic", "openai", "glm", "gemini"]


def test_one_provider_per_built_in_and_per_endpoint() -> None:
    config = make_config([{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "free": True}])

    providers = build_providers(config, env={})

    assert sorted(providers) == sorted([*BUILT_INS, "ollama"])
    assert all(providers[name].name == name for name in providers)


def test_availability_follows_the_environment() -> None:
    config = make_config([{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1"}])

    nothing = build_providers(config, env={})
    everything = build_providers(
        config,
        env={
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "OPENAI_API_KEY": OPENAI_KEY,
            "ZHIPUAI_API_KEY": GLM_KEY,
            "GOOGLE_API_KEY": GEMINI_KEY,
        },
    )

    assert {name: p.available() for name, p in nothing.items()} == {
        "anthropic": False,
        "openai": False,
        "glm": False,
        "gemini": False,
        "ollama": True,  # a keyless local endpoint needs nothing
    }
    assert all(p.available() for p in everything.values())


def test_empty_key_variable_counts_as_unset() -> None:
    providers = build_providers(make_config(), env={"OPENAI_API_KEY": ""})

    assert not providers["openai"].available()


def test_endpoint_key_variable_decides_its_availability() -> None:
    config = make_config(
        [{"name": "openrouter", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "OPENROUTER_API_KEY"}]
    )

    assert not build_providers(config, env={})["openrouter"].available()
    assert build_providers(config, env={"OPENROUTER_API_KEY": "x" * 12})["openrouter"].available()


def test_openai_base_url_variable_sends_calls_to_that_server(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/chat/completions").respond_with_json(chat_completion("routed"))
    env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": httpserver.url_for("/v1")}

    response = build_providers(make_config(), env=env)["openai"].complete(ask("gpt-4o"))

    assert response.text == "routed"
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    ("provider", "key_env", "key", "base", "path", "model", "reply"),
    [
        ("anthropic", "ANTHROPIC_API_KEY", ANTHROPIC_KEY, "/", "/v1/messages", "claude-sonnet-5", anthropic_reply()),
        ("glm", "GLM_API_KEY", GLM_KEY, "/v4", "/v4/chat/completions", "glm-4.6", chat_completion()),
        (
            "gemini",
            "GEMINI_API_KEY",
            GEMINI_KEY,
            "/",
            re.compile(r"^/v1(beta)?/models/gemini-2\.5-pro:generateContent$"),
            "gemini-2.5-pro",
            gemini_reply(),
        ),
    ],
    ids=["anthropic", "glm", "gemini"],
)
def test_each_base_url_variable_is_honoured(
    httpserver: HTTPServer,
    provider: str,
    key_env: str,
    key: str,
    base: str,
    path: str | re.Pattern[str],
    model: str,
    reply: dict[str, object],
) -> None:
    httpserver.expect_request(path).respond_with_json(reply)
    env = {key_env: key, BASE_URL_ENV_VARS[provider]: httpserver.url_for(base)}

    build_providers(make_config(), env=env)[provider].complete(ask(model))

    assert len(httpserver.log) == 1


def test_endpoint_named_like_a_built_in_is_refused() -> None:
    # Config validation refuses it first, naming the key ...
    with pytest.raises(AutopackError, match="rename the endpoint"):
        make_config([{"name": "openai", "base_url": "http://127.0.0.1:9/v1"}])
    # ... and the factory still refuses a config that skipped validation.
    from autopack.config import Endpoint

    config = make_config()
    config.endpoints.append(Endpoint(name="openai", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(AutopackError, match="rename it"):
        build_providers(config, env={})


def test_tables_name_every_built_in_provider() -> None:
    assert sorted(KEY_ENV_VARS) == sorted(BUILT_INS)
    assert sorted(BASE_URL_ENV_VARS) == sorted(BUILT_INS)
    assert KEY_ENV_VARS["glm"] == ("GLM_API_KEY", "ZHIPUAI_API_KEY")
    assert BASE_URL_ENV_VARS["openai"] == "OPENAI_BASE_URL"


def test_key_source_names_the_variable_never_the_value() -> None:
    config = make_config([{"name": "openrouter", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "OR_KEY"}])
    env = {"GOOGLE_API_KEY": GEMINI_KEY, "OR_KEY": "x" * 12}

    assert key_source("gemini", config, env) == "GOOGLE_API_KEY"
    assert key_source("openrouter", config, env) == "OR_KEY"
    assert key_source("anthropic", config, env) is None


def test_importing_the_adapters_imports_no_sdk() -> None:
    code = (
        "import sys, autopack.llm.providers\n"
        "loaded = [m for m in ('anthropic', 'openai', 'zhipuai', 'google.genai') if m in sys.modules]\n"
        "print(','.join(loaded) or 'none')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", env=subprocess_env(), check=True
    )

    assert proc.stdout.strip() == "none"


def test_dotenv_reads_comments_exports_quotes_and_escapes(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# keys for local runs\n"
        "\n"
        "OPENAI_API_KEY=sk-plain   # trailing comment\n"
        "export ANTHROPIC_API_KEY='sk-single # not a comment'\n"
        'GLM_API_KEY="line1\\nline2 \\"quoted\\""\n'
        "HASH_INSIDE=a#b\n"
        "EMPTY=\n",
        encoding="utf-8",
    )

    assert load_dotenv_file(dotenv) == {
        "OPENAI_API_KEY": "sk-plain",
        "ANTHROPIC_API_KEY": "sk-single # not a comment",
        "GLM_API_KEY": 'line1\nline2 "quoted"',
        "HASH_INSIDE": "a#b",
        "EMPTY": "",
    }


def test_dotenv_error_names_the_line_but_not_the_value(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('GOOD=1\nSECRET="sk-unterminated-0123456789\n', encoding="utf-8")

    with pytest.raises(DotenvError) as caught:
        load_dotenv_file(dotenv)

    assert ":2:" in str(caught.value)
    assert "SECRET" in str(caught.value)
    assert "sk-unterminated" not in str(caught.value)


def test_dotenv_line_without_equals_is_an_error(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("just-some-text\n", encoding="utf-8")

    with pytest.raises(DotenvError, match="expected KEY=VALUE"):
        load_dotenv_file(dotenv)


def test_missing_dotenv_file_is_an_error_when_asked_for(tmp_path: Path) -> None:
    with pytest.raises(DotenvError, match="cannot read"):
        load_dotenv_file(tmp_path / "absent.env")


def test_real_environment_wins_over_dotenv_and_a_missing_dotenv_is_ignored(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENAI_API_KEY=from-file\nGLM_API_KEY=from-file\n", encoding="utf-8")

    merged = environment_with_dotenv(dotenv, base={"OPENAI_API_KEY": "from-env"})

    assert (merged["OPENAI_API_KEY"], merged["GLM_API_KEY"]) == ("from-env", "from-file")
    assert environment_with_dotenv(tmp_path / "absent.env", base={"A": "1"}) == {"A": "1"}
