"""What the installed provider SDKs say about model names (current, deprecated, unknown), read from
the real installed SDKs; `autopack models` showing it and warning about routed models; the shipped
config routing only to models the installed SDKs call current."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from autopack.childenv import subprocess_env
from autopack.config import SHIPPED_CONFIG, load_config, provider_for_model
from autopack.llm import catalog
from autopack.llm.catalog import SdkCatalog, literal_names, model_status, openai_deprecations, sdk_catalog

SHIPPED = load_config(SHIPPED_CONFIG)
INVENTED = {
    "anthropic": "claude-invented-9",
    "openai": "gpt-invented-9",
    "gemini": "gemini-invented-9",
    "glm": "glm-invented-9",
}
SDKS = {"anthropic": "anthropic", "openai": "openai", "gemini": "google-genai", "glm": "zhipuai"}


def _anthropic_tables() -> tuple[frozenset[str], dict[str, str]]:
    import anthropic.types
    from anthropic._data import DEPRECATED_MODELS

    return literal_names(anthropic.types.Model) or frozenset(), dict(DEPRECATED_MODELS)


# statuses from the real installed SDKs -------------------------------------------------------------
def test_a_name_the_anthropic_sdk_lists_and_does_not_retire_is_current() -> None:
    names, retiring = _anthropic_tables()
    current = sorted(names - set(retiring))
    assert current, "the installed anthropic SDK lists no current model"
    assert all(model_status("anthropic", name).kind == "current" for name in current)
    assert model_status("anthropic", current[0]).detail == "current"


def test_a_model_in_anthropics_deprecation_table_is_deprecated_with_its_end_of_life_date() -> None:
    _, retiring = _anthropic_tables()
    assert retiring, "the installed anthropic SDK ships an empty DEPRECATED_MODELS table"
    for name, when in retiring.items():
        status = model_status("anthropic", name)
        year = re.search(r"\d{4}", when)
        assert status.kind == "deprecated" and year and year.group() in status.detail, (name, when, status)
    if retiring.get("claude-opus-4-5") == "January 22nd, 2027":  # the table's spelling, as an ISO date
        assert model_status("anthropic", "claude-opus-4-5").detail.startswith("deprecated, end of life 2027-01-22")


def test_openai_chat_models_are_current_unless_the_sdk_notes_a_shutdown_date() -> None:
    import openai.types

    listed = literal_names(openai.types.ChatModel) or frozenset()
    retiring = sdk_catalog("openai").retiring
    assert retiring, "no 'Deprecated values' note was read from the installed openai SDK"
    current = sorted(listed - set(retiring))
    assert current and all(model_status("openai", m).kind == "current" for m in current)
    dated = {m: d for m, d in retiring.items() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)}
    assert dated and all(f"end of life {d}" in model_status("openai", m).detail for m, d in dated.items())


def test_a_name_google_genai_lists_is_current() -> None:
    from google.genai import interactions

    listed = sorted(n for n in literal_names(interactions.ModelParam) or () if n.startswith("gemini-"))
    assert listed and all(model_status("gemini", m).kind == "current" for m in listed)


@pytest.mark.parametrize("provider", sorted(INVENTED))
def test_an_invented_name_is_unknown_to_the_installed_sdk_named_with_its_version(provider: str) -> None:
    status = model_status(provider, INVENTED[provider])
    version = importlib.metadata.version(SDKS[provider])
    assert status.kind == "unknown"
    assert status.detail.startswith(f"unknown to the installed {SDKS[provider]} {version}")


def test_glm_names_are_unknown_because_zhipuai_lists_none() -> None:
    assert model_status("glm", "glm-4.6").detail.endswith("(it lists no model names)")


def test_an_endpoint_model_is_not_checked() -> None:
    assert model_status("ollama", "qwen2.5-coder:7b") == catalog.ENDPOINT
    assert catalog.ENDPOINT.detail == "endpoint model: not checked"


# versions without the tables ----------------------------------------------------------------------
def test_an_sdk_without_a_name_list_or_not_installed_gives_unknown_never_an_error() -> None:
    bare = SdkCatalog("anthropic", "0.40.0", None)
    assert bare.status("claude-x").detail == "unknown to the installed anthropic 0.40.0 (it lists no model names)"
    assert SdkCatalog("google-genai", None, None).status("gemini-x").detail == (
        "not checked: the google-genai SDK is not installed"
    )


@pytest.fixture
def fresh_catalog() -> Iterator[None]:
    sdk_catalog.cache_clear()
    yield
    sdk_catalog.cache_clear()


def test_an_sdk_whose_tables_moved_is_read_as_listing_nothing(
    monkeypatch: pytest.MonkeyPatch, fresh_catalog: None
) -> None:
    def moved() -> catalog.Tables:
        raise AttributeError("module 'anthropic.types' has no attribute 'Model'")

    monkeypatch.setitem(catalog._READERS, "anthropic", ("anthropic", moved))
    status = model_status("anthropic", "claude-sonnet-5-5")
    assert status.kind == "unknown" and "(it lists no model names)" in status.detail


def test_an_end_of_life_date_already_past_says_so() -> None:
    old = SdkCatalog("openai", "9.9.9", frozenset(), {"gpt-old": "2020-01-01"})
    assert (
        old.status("gpt-old", today=datetime.date(2026, 1, 1)).detail == "deprecated, end of life 2020-01-01 (passed)"
    )
    assert old.status("gpt-old", today=datetime.date(2019, 1, 1)).detail == "deprecated, end of life 2020-01-01"


def test_openais_deprecation_note_is_read_from_the_source_it_generates() -> None:
    source = '''
ChatModel: TypeAlias = Literal["gpt-a", "gpt-b", "gpt-c", "gpt-d"]
"""Deprecated values:

- "gpt-a", "gpt-b": Announced shutdown date: 2027-04-01. See
  https://example.invalid/deprecations for details.
- "gpt-c": Not a supported model ID. Retained for SDK compatibility.
- "gpt-d", "gpt-e", "gpt-f": Announced shutdown
  date: 2026-08-10. See https://example.invalid/deprecations.
"""
'''
    assert openai_deprecations(source) == {
        "gpt-a": "2027-04-01",
        "gpt-b": "2027-04-01",
        "gpt-c": "Not a supported model ID",
        "gpt-d": "2026-08-10",
        "gpt-e": "2026-08-10",
        "gpt-f": "2026-08-10",
    }
    assert openai_deprecations('ChatModel = Literal["x"]\n') == {}


# the shipped defaults -------------------------------------------------------------------------------
def test_the_shipped_config_routes_only_to_models_the_installed_sdks_call_current() -> None:
    # The point of this test: an SDK upgrade that deprecates or drops a shipped model fails it, and the
    # fix is a current model (with its published price) in config/models.yaml.
    stale = {}
    for model in SHIPPED.referenced_models():
        status = model_status(provider_for_model(model, SHIPPED), model)
        if status.kind != "current":
            stale[model] = status.detail
    assert stale == {}


def test_every_model_the_shipped_config_routes_to_is_priced() -> None:
    assert SHIPPED.unpriced_models(SHIPPED.referenced_models()) == []


# `autopack models` ----------------------------------------------------------------------------------
def _user_config(tmp_path: Path, deprecated: str, unknown: str) -> Path:
    """A user config (``$XDG_CONFIG_HOME/autopack/config.yaml``) routing to a deprecated and an unknown model."""
    path = tmp_path / "xdg" / "autopack" / "config.yaml"
    path.parent.mkdir(parents=True)
    builder = SHIPPED.escalation_chains.builder
    path.write_text(
        yaml.safe_dump(
            {
                "escalation_chains": {
                    "builder": {
                        "low": {"models": builder.for_complexity("low")},
                        "medium": {"models": [deprecated]},
                        "high": {"models": [deprecated, unknown]},
                    }
                },
                "doctor_models": {"strong": unknown},
            }
        ),
        encoding="utf-8",
    )
    return path.parent.parent


def _deprecated_openai_model() -> tuple[str, str]:
    retiring = sdk_catalog("openai").retiring
    return next((m, d) for m, d in sorted(retiring.items()) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d))


def test_models_shows_each_models_sdk_status_in_a_column(run_cli) -> None:
    res = run_cli("models")
    assert res.returncode == 0, res.output
    assert "SDK status" in res.stdout
    line = next(ln for ln in res.stdout.splitlines() if f" {SHIPPED.routing.planner_model} " in ln)
    assert "current" in line
    assert "endpoint model: not checked" in res.stdout  # ollama/*
    assert "warning" not in res.output  # the shipped config routes to current models only


def test_models_warns_once_per_routed_deprecated_or_unknown_model_naming_where_it_is_routed(
    run_cli, tmp_path: Path
) -> None:
    deprecated, date = _deprecated_openai_model()
    xdg = _user_config(tmp_path, deprecated, "claude-invented-9")
    res = run_cli("models", env={"XDG_CONFIG_HOME": str(xdg)})
    assert res.returncode == 0, res.output
    warnings = {ln.split()[1]: ln for ln in res.stderr.splitlines() if ln.startswith("warning:")}
    assert sorted(warnings) == sorted([deprecated, "claude-invented-9"]), res.stderr
    assert warnings[deprecated].startswith(f"warning: {deprecated} is deprecated, end of life {date}")
    assert "routes builder medium, builder high to it: name a current model there" in warnings[deprecated]
    version = importlib.metadata.version("anthropic")
    unknown = warnings["claude-invented-9"]
    assert unknown.startswith(f"warning: claude-invented-9 is unknown to the installed anthropic {version};")
    assert "routes doctor strong, builder high to it: check the name" in unknown


def test_models_json_carries_status_routes_and_warning(run_cli, tmp_path: Path) -> None:
    deprecated, date = _deprecated_openai_model()
    xdg = _user_config(tmp_path, deprecated, "claude-invented-9")
    res = run_cli("models", "--json", env={"XDG_CONFIG_HOME": str(xdg)})
    assert res.returncode == 0, res.output
    rows = {r["model"]: r for r in json.loads(res.stdout)}
    row = rows[deprecated]
    assert row["status"] == "deprecated" and row["status_detail"].startswith(f"deprecated, end of life {date}")
    assert row["routed_by"] == ["builder medium", "builder high"] and row["warning"].startswith(deprecated)
    assert rows["claude-invented-9"]["status"] == "unknown" and rows["claude-invented-9"]["warning"]
    first = SHIPPED.escalation_chains.builder.for_complexity("low")[0]
    assert (rows[first]["status"], rows[first]["warning"]) == ("current", None)
    assert rows["ollama/*"]["status"] == "unchecked"
    # a deprecated model the config only prices, and routes nowhere, gets its status and no warning
    unrouted = [r for r in rows.values() if r["status"] == "deprecated" and not r["routed_by"]]
    assert all(r["warning"] is None for r in unrouted)


def test_help_imports_no_provider_sdk() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['autopack', '--help']\n"
        "from autopack.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "import autopack.llm.catalog\n"
        "loaded = [m for m in ('anthropic', 'openai', 'zhipuai', 'google.genai') if m in sys.modules]\n"
        "print('LOADED=' + (','.join(loaded) or 'none'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", env=subprocess_env(), check=True
    )
    assert "Usage" in proc.stdout and proc.stdout.strip().endswith("LOADED=none")
