"""Run plans: loading YAML and JSON, tiers and order, validation errors, and the models a plan can reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autopack.config import SHIPPED_CONFIG, Config, load_config
from autopack.errors import PlanError
from autopack.plan import Plan, check_plan_models, load_plan, plan_from_json

PLAN = """\
project: demo
goal: Add a greeting module
phases:
  - id: p1
    name: Greeting
    description: Write greet() in src/greet.py
    scope: [src/greet.py]
    checks: ["python -m pytest -q"]
  - id: p2
    name: Tests
    description: Test greet()
    category: tests
    complexity: medium
    scope: [tests/test_greet.py]
    depends_on: [p1]
"""


def write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def plan_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    return str(info.value)


def config(tmp_path: Path, chains: dict[str, list[str]], models: str = "", extra: str = "") -> Config:
    """A config whose builder and auditor chains are both ``chains`` (by complexity)."""
    tiers = "".join(f"    {c}: {{models: [{', '.join(ms)}]}}\n" for c, ms in chains.items())
    text = (
        f"models:\n{models or '  {}'}\n"
        "doctor_models: {cheap: glm-4.6, strong: glm-4.6}\n"
        "routing:\n  planner_model: glm-4.6\n"
        "  tier_strategy: {low: glm-4.6, medium: glm-4.6, high: glm-4.6}\n"
        "  fallback_models: {glm: glm-4.6}\n"
        f"escalation_chains:\n  builder:\n{tiers}  auditor:\n{tiers}" + extra
    )
    return load_config(write(tmp_path, text, "models.yaml"))


# loading ------------------------------------------------------------------------------------------
def test_yaml_plan_loads_with_defaults(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    p1 = plan.phase("p1")
    assert (plan.project, p1.category, p1.complexity, p1.builder_mode) == ("demo", "feature", "low", "structured_edit")
    assert p1.checks == ["python -m pytest -q"]
    assert plan.phase("p2").depends_on == ["p1"]


def test_json_plan_is_accepted(tmp_path: Path) -> None:
    data = {
        "project": "demo",
        "goal": "g",
        "phases": [{"id": "only", "name": "Only", "description": "d", "scope": ["x.py"], "builder_mode": "diff"}],
    }
    plan = load_plan(write(tmp_path, json.dumps(data), "plan.json"))
    assert [p.id for p in plan.all_phases()] == ["only"]
    assert plan.phase("only").builder_mode == "diff"


def test_non_ascii_text_survives_loading(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN.replace("name: Greeting", "name: Café ünïcode ✓")))
    assert plan.phase("p1").name == "Café ünïcode ✓"


def test_plan_round_trips_through_json(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    assert plan_from_json(plan.model_dump_json()) == plan


def test_scope_paths_are_normalised_to_forward_slashes(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN.replace("scope: [src/greet.py]", "scope: ['src\\greet.py']")))
    assert plan.phase("p1").scope == ["src/greet.py"]


def test_asking_for_an_unknown_phase_names_it(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    with pytest.raises(PlanError, match="no phase 'p9' in plan 'demo'"):
        plan.phase("p9")


# tiers and order ----------------------------------------------------------------------------------
TIERED = """\
project: demo
goal: g
tiers:
  - name: foundation
    phases:
      - {id: b, name: B, description: d, scope: [b.py], depends_on: [a]}
      - {id: a, name: A, description: d, scope: [a.py]}
      - {id: c, name: C, description: d, scope: [c.py]}
  - name: polish
    phases:
      - {id: d, name: D, description: d, scope: [d.py]}
"""


def test_tiers_group_phases_and_stamp_the_tier_name(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, TIERED))
    assert {p.id: p.tier for p in plan.all_phases()} == {
        "a": "foundation",
        "b": "foundation",
        "c": "foundation",
        "d": "polish",
    }


def test_all_phases_puts_dependencies_first_and_keeps_the_written_order_otherwise(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, TIERED))
    assert [p.id for p in plan.all_phases()] == ["a", "b", "c", "d"]


def test_dependencies_on_a_later_listed_phase_are_honoured_without_tiers(tmp_path: Path) -> None:
    text = PLAN.replace("    depends_on: [p1]\n", "").replace("    checks:", "    depends_on: [p2]\n    checks:")
    plan = load_plan(write(tmp_path, text))
    assert [p.id for p in plan.all_phases()] == ["p2", "p1"]


# validation errors: file, key path, line ----------------------------------------------------------
def test_unknown_key_names_file_key_path_and_line(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("    category: tests\n", "    categroy: tests\n"))
    assert f"{tmp_path / 'plan.yaml'}:12: phases[1].categroy: unknown key" in msg


def test_wrong_type_names_key_path_and_line(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("complexity: medium", "complexity: extreme"))
    assert "plan.yaml:13: phases[1].complexity: Input should be 'low', 'medium' or 'high'" in msg


def test_missing_required_field_points_at_its_phase(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("    description: Test greet()\n", ""))
    assert "plan.yaml:9: phases[1].description: Field required" in msg


def test_duplicate_phase_ids_are_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("id: p2", "id: p1").replace("depends_on: [p1]", "depends_on: []"))
    assert "plan.yaml:9: phases[1].id: duplicate phase id 'p1' (first at phases[0])" in msg


def test_unknown_dependency_is_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("depends_on: [p1]", "depends_on: [p1, p0]"))
    assert "plan.yaml:15: phases[1].depends_on[1]: unknown phase 'p0' in depends_on" in msg


def test_cyclic_dependencies_are_refused_with_the_cycle(tmp_path: Path) -> None:
    text = PLAN.replace('    checks: ["python -m pytest -q"]\n', "    depends_on: [p2]\n")
    msg = plan_error(tmp_path, text)
    assert "cyclic depends_on: p1 -> p2 -> p1" in msg
    assert "plan.yaml:8: phases[0].depends_on" in msg


def test_phase_depending_on_itself_is_a_cycle(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("depends_on: [p1]", "depends_on: [p2]"))
    assert "cyclic depends_on: p2 -> p2" in msg


@pytest.mark.parametrize(
    ("scope", "why"),
    [
        ("/etc/passwd", "'/etc/passwd' is absolute"),
        ("C:/Windows/win.ini", "'C:/Windows/win.ini' is absolute"),
        ("../outside.py", "'../outside.py' leaves the project directory"),
        ("src/../../outside.py", "leaves the project directory"),
        (".git/config", "'.git/config' points into .git/"),
    ],
)
def test_scope_that_leaves_the_project_is_refused(tmp_path: Path, scope: str, why: str) -> None:
    msg = plan_error(tmp_path, PLAN.replace("scope: [src/greet.py]", f"scope: [src/greet.py, '{scope}']"))
    assert "plan.yaml:7: phases[0].scope:" in msg
    assert why in msg


def test_context_paths_are_checked_like_scope(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("    checks:", "    context: [../secrets.env]\n    checks:"))
    assert "phases[0].context:" in msg
    assert "leaves the project directory" in msg


def test_allowed_paths_are_checked_like_scope(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN + "allowed_paths: [/tmp]\n")
    assert "allowed_paths:" in msg
    assert "is absolute" in msg


def test_empty_scope_is_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("scope: [src/greet.py]", "scope: []"))
    assert "phases[0].scope:" in msg


def test_bad_phase_id_is_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("id: p1", "id: 'p 1'").replace("[p1]", "['p 1']"))
    assert "plan.yaml:4: phases[0].id:" in msg


def test_phases_and_tiers_together_are_refused(tmp_path: Path) -> None:
    msg = plan_error(
        tmp_path, PLAN + "tiers:\n  - name: t\n    phases:\n      - {id: a, name: A, description: d, scope: [a.py]}\n"
    )
    assert "use either top-level 'phases' or 'tiers'" in msg


def test_plan_without_phases_is_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, "project: demo\ngoal: g\n")
    assert "the plan has no phases" in msg


def test_tier_phase_errors_carry_the_tier_path(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, TIERED.replace("depends_on: [a]", "depends_on: [zz]"))
    assert "plan.yaml:6: tiers[0].phases[0].depends_on[0]: unknown phase 'zz'" in msg


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("    name: Tests\n", "    name: Tests: more\n"))
    assert f"{tmp_path / 'plan.yaml'}:10: malformed YAML" in msg


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"project": "demo",\n "goal": "g",\n "phases": [,]}\n', "plan.json")
    with pytest.raises(PlanError, match=r"plan\.json:3: malformed YAML"):
        load_plan(path)


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, PLAN.replace("goal: Add a greeting module\n", "goal: one\ngoal: two\n"))
    assert "plan.yaml:3: duplicate key 'goal'" in msg


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    msg = plan_error(tmp_path, "- id: p1\n")
    assert "must be a mapping" in msg


def test_file_that_is_not_utf8_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(PLAN.replace("Greeting", "Caf\xe9").encode("latin-1"))
    with pytest.raises(PlanError, match="not valid UTF-8"):
        load_plan(path)


def test_missing_file_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"absent\.yaml: file not found"):
        load_plan(tmp_path / "absent.yaml")


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    msg = plan_error(
        tmp_path, PLAN.replace("category: tests", "colour: red").replace("complexity: medium", "complexity: 7")
    )
    assert "phases[1].colour: unknown key" in msg
    assert "phases[1].complexity:" in msg


# models a plan can reach --------------------------------------------------------------------------
def test_shipped_config_prices_every_model_a_plan_can_reach(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    assert check_plan_models(plan, load_config(SHIPPED_CONFIG)) == []


def test_unpriced_reachable_model_is_refused_by_name(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    cfg = config(
        tmp_path,
        {"low": ["glm-4.6"], "medium": ["glm-4.6", "claude-opus-9"], "high": ["glm-4.6"]},
        models="  glm-4.6: {input: 0.6, output: 2.2}",
    )
    problems = check_plan_models(plan, cfg)
    assert len(problems) == 1
    assert "model 'claude-opus-9' has no price" in problems[0]
    assert "mark it `free`" in problems[0]


def test_model_marked_free_is_accepted_without_a_price(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    cfg = config(
        tmp_path,
        {"low": ["glm-4.6"], "medium": ["claude-opus-9"], "high": ["glm-4.6"]},
        models="  glm-4.6: {input: 0.6, output: 2.2}\n  claude-opus-9: free",
    )
    assert check_plan_models(plan, cfg) == []


def test_escalation_makes_higher_tiers_reachable_from_a_low_phase(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))  # p1 is low: it may escalate to medium and high
    cfg = config(
        tmp_path,
        {"low": ["glm-4.6"], "medium": ["glm-4.6"], "high": ["gpt-9"]},
        models="  glm-4.6: {input: 0.6, output: 2.2}",
    )
    assert any("'gpt-9'" in p for p in check_plan_models(plan, cfg))


def test_lower_tiers_are_not_reachable_from_a_high_phase(tmp_path: Path) -> None:
    plan = load_plan(
        write(
            tmp_path,
            PLAN.replace("complexity: medium", "complexity: high").replace(
                "    checks:", "    complexity: high\n    checks:"
            ),
        )
    )
    cfg = config(
        tmp_path,
        {"low": ["gpt-9"], "medium": ["gpt-9"], "high": ["glm-4.6"]},
        models="  glm-4.6: {input: 0.6, output: 2.2}",
    )
    assert check_plan_models(plan, cfg) == []


def test_doctor_and_planner_models_must_be_priced_too(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    # every chain is priced; only the Doctor and planner model (glm-4.6 in this config) is not
    cfg = config(tmp_path, {"low": ["gpt-5"], "medium": ["gpt-5"], "high": ["gpt-5"]}, models="  gpt-5: free")
    problems = check_plan_models(plan, cfg)
    assert len(problems) == 1 and "model 'glm-4.6' has no price" in problems[0]


def test_endpoint_models_route_and_are_free_on_a_free_endpoint(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    cfg = config(
        tmp_path,
        {"low": ["ollama/qwen2.5-coder:7b"], "medium": ["ollama/qwen2.5-coder:7b"], "high": ["glm-4.6"]},
        models="  glm-4.6: {input: 0.6, output: 2.2}",
        extra="endpoints:\n  - {name: ollama, base_url: 'http://127.0.0.1:11434/v1', free: true}\n",
    )
    assert check_plan_models(plan, cfg) == []


def test_endpoint_models_on_a_paid_endpoint_need_a_price(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    cfg = config(
        tmp_path,
        {"low": ["vllm/big"], "medium": ["glm-4.6"], "high": ["glm-4.6"]},
        models="  glm-4.6: {input: 0.6, output: 2.2}",
        extra="endpoints:\n  - {name: vllm, base_url: 'http://127.0.0.1:8000/v1'}\n",
    )
    problems = check_plan_models(plan, cfg)
    assert len(problems) == 1 and "model 'vllm/big' has no price" in problems[0]


def test_plan_object_validates_without_a_file() -> None:
    with pytest.raises(PlanError, match="duplicate phase id 'x'"):
        Plan.model_validate(
            {
                "project": "demo",
                "goal": "g",
                "phases": [
                    {"id": "x", "name": "X", "description": "d", "scope": ["x.py"]},
                    {"id": "x", "name": "X2", "description": "d", "scope": ["y.py"]},
                ],
            }
        )


def test_fallback_models_must_be_priced_since_a_fallback_call_spends_money(tmp_path: Path) -> None:
    import yaml as _yaml

    from autopack.config import SHIPPED_CONFIG, load_config
    from autopack.plan import Plan, check_plan_models

    data = _yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["routing"]["fallback_models"]["openai"] = "gpt-4o"
    path = tmp_path / "cfg.yaml"
    path.write_text(_yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = Plan.model_validate(
        {"project": "p", "goal": "g", "phases": [{"id": "a", "name": "a", "description": "d", "scope": ["a.py"]}]}
    )
    problems = check_plan_models(plan, load_config(path))
    assert any("gpt-4o" in p and "no price" in p for p in problems)
