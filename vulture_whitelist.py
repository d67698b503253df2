"""Names vulture (``vulture``, run by ``.ci/run`` with the settings in pyproject.toml) would call unused,
and why they are not: each is used by a framework, by name at run time, or by the tests and scripts
(which vulture does not read). This file is parsed, never run or imported. A name that really is
dead is removed from the code, not added here.
"""

# ruff: noqa
# fmt: off

# Typer: commands and callbacks registered by decorator (autopack.cli).
_options, batch_run, batch_status, batch_report, config_show, config_validate, config_init, demo_cmd
consolidate_cmd, doctor_diagnose, apply_cmd, rules_list, rules_show, rules_remove, models_list, models_check
plan_validate, plan_show, plan_draft, diff_cmd, merge_cmd, clean_cmd, report_cmd, run_cmd, runs_cmd, status_cmd

# pydantic: model settings and validators (called by the model, never by name).
model_config
_._normalise, _._one_source, _._has_runs, _._free_shorthand, _._names_route, _._regex_compiles
_._text_or_error, _._match_mode_entries_match, _._id, _._dates, _._unique_ids, _._graph

# pydantic fields read only through the model (model_dump, attribute access by key from YAML).
medium, high  # config: escalation chains and tier strategy per complexity
MAX_HTTP_500_PER_RUN, MAX_PATCH_FAILURES_PER_RUN, MAX_TOTAL_FAILURES_PER_RUN  # config.HealthBudgetLimits

# Dataclass fields written for asdict/JSON or for readers outside src (tests, scripts/bench).
fetched_into, _.fetched_into  # batch.task.RunOutcome, in the batch's JSON
new_start  # edits.reply.Hunk: the hunk header, kept whole
guards, _.guards  # edits.report.EditResult: which guards refused an edit (to_dict, tests)
deselected  # gate.parse.PytestSummary: set from pytest's summary line by key
files_shown, shown_lines  # agents.context.BuilderContext (tests, scripts/bench/context.py)
requested_model  # llm.service.ServiceResult (tests)
raw_stop_reason  # llm.types.LlmResponse: the provider's own stop reason (adapter tests)
call_id, event_id  # store.rows.CallRow, EventRow: a row's key (to_dict)
spec_json  # store.rows.RevisionRow: the phase spec a revision stored (to_dict, tests)

# Enum members named by value (config files, the store), or aliases the tests pin.
TEST_FAILURE, wrong_tech_stack, api_contract_wrong  # recovery.categories.ErrorCategory
APPLYING, GATING, AUDITING, COMMITTING  # store.schema.PhaseState: steps stored and shown by value

# Protocols and hooks called by their library: sqlite3, PyYAML, PEP 562 module __getattr__, __exit__.
_.row_factory
_.ignore_aliases
__getattr__
et, tb

# Read by the tests only: counters and helpers kept as public API of their room.
_.polls  # llm.shared_limits: how often a caller found no free slot
_.succeeded  # recovery.execute_fix.FixOutcome
known_projects  # layout
BASE_URL_ENV_VARS, key_source, environment_with_dotenv  # llm.providers
_.route  # llm.router.Router
categorize_patch_message  # recovery.categories
attempts_exhausted  # recovery.escalation
supports_prefill  # llm adapters: the tests pin which can continue a reply (the Builder reads agents.builder.PREFILL_PROVIDERS)
