"""Learned rules and run hints: rules.yaml is the durable memory of what went wrong before."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autopack.cli.memory import register
from autopack.memory.rules import (
    Rule,
    RuleBook,
    RulesError,
    draw_rule_deterministic,
    render_rules_for_prompt,
    says_something,
)

IMPORT_FAILURE = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/ws/tests/test_calc.py", line 1, in <module>\n'
    "    from calc import add, mul\n"
    "ImportError: cannot import name 'mul' from 'calc' (/tmp/ws/src/calc.py)\n"
)


def rules_file(tmp_path: Path) -> Path:
    return tmp_path / ".autonomous_runs" / "calc" / "rules.yaml"


def test_missing_rules_file_is_an_empty_book(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    assert book.rules == [] and book.hints == []


def test_failure_then_fix_draws_a_rule_naming_the_module_and_the_failure(tmp_path: Path) -> None:
    text = draw_rule_deterministic("import_error", IMPORT_FAILURE, "exported mul from calc.py", ["src/calc.py"])
    assert text.startswith("Before finishing, check that every name imported from calc exists")
    assert "cannot import name 'mul'" in text
    assert "exported mul" in text
    assert "/tmp/ws" not in text  # absolute paths are noise in a rule
    assert text.count("\n") == 0 and text.endswith(".")

    book = RuleBook.load(rules_file(tmp_path))
    rule = book.add_rule(Rule(text=text, category="import_error", paths=["src/calc.py"], source_runs=["run-a"]))
    book.save()
    again = RuleBook.load(rules_file(tmp_path))
    assert again.get(rule.id) == rule
    assert rule.id == "r-0001"


def test_deterministic_rule_for_an_unknown_category_still_quotes_the_message() -> None:
    text = draw_rule_deterministic("wrong_tech_stack", "used Flask but the project is FastAPI", "", [])
    assert "wrong_tech_stack" in text and "used Flask but the project is FastAPI" in text


def test_near_duplicate_rules_merge_with_count_last_seen_and_runs(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    first = book.add_rule(
        Rule(
            text="When adding a function to calc.py, also export it in __all__.",
            category="import_error",
            phase_categories=["feature"],
            paths=["src/calc.py"],
            first_seen=date(2026, 11, 1),
            last_seen=date(2026, 11, 1),
            source_runs=["run-a"],
        )
    )
    merged = book.add_rule(
        Rule(
            text="When adding a function to src/util.py, also export it in __all__",
            category="import_error",
            phase_categories=["feature"],
            paths=["src/util.py"],
            first_seen=date(2026, 11, 20),
            last_seen=date(2026, 11, 20),
            source_runs=["run-b"],
        )
    )
    assert merged is first and len(book.rules) == 1
    assert first.count == 2
    assert first.first_seen == date(2026, 11, 1) and first.last_seen == date(2026, 11, 20)
    assert first.source_runs == ["run-a", "run-b"]
    assert first.paths == ["src/calc.py", "src/util.py"]


def test_similar_text_in_another_category_is_a_separate_rule(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    book.add_rule(Rule(text="Run the tests before finishing.", category="ci_fail"))
    book.add_rule(Rule(text="Run the tests before finishing!", category="syntax_error"))
    assert [r.id for r in book.rules] == ["r-0001", "r-0002"]


def test_save_sorts_most_seen_first_and_keeps_the_file_human_readable(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    book.add_rule(Rule(text="Keep imports sorted.", category="lint", count=1))
    book.add_rule(Rule(text="Never edit generated files under build/.", category="scope", count=5))
    book.save()
    text = rules_file(tmp_path).read_text(encoding="utf-8")
    assert text.startswith("# Learned rules")
    assert text.index("Never edit generated files") < text.index("Keep imports sorted")
    assert not list(rules_file(tmp_path).parent.glob(".rules.yaml.*"))  # no temp file left behind


def test_hint_stays_with_its_run_until_seen_in_another_run_then_becomes_a_rule(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    assert (
        book.add_hint("Call calc.mul with ints only; floats break test_mul.", "ci_fail", "run-a", ["src/calc.py"])
        is None
    )
    assert book.add_hint("Call calc.mul with ints only; floats break test_mul!", "ci_fail", "run-a") is None
    assert len(book.hints_for_run("run-a")) == 1  # the same lesson twice in one run is one hint
    assert book.hints_for_run("run-b") == [] and book.rules == []

    rule = book.add_hint("call calc.mul with ints only - floats break test_mul 2", "ci_fail", "run-b", ["src/calc.py"])
    assert rule is not None
    assert rule.source_runs == ["run-a", "run-b"] and rule.count == 2
    assert book.hints == [] and book.rules == [rule]
    book.save()
    assert RuleBook.load(rules_file(tmp_path)).rules[0].text == rule.text


def test_hint_matching_an_existing_rule_bumps_that_rule(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    rule = book.add_rule(Rule(text="Export new functions in __all__.", category="import_error", source_runs=["run-a"]))
    assert book.add_hint("Export new functions in __all__", "import_error", "run-c") is rule
    assert rule.count == 2 and rule.source_runs == ["run-a", "run-c"] and book.hints == []


def test_rules_for_filters_by_phase_category_paths_and_error_category(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    calc = book.add_rule(Rule(text="Export calc functions.", category="import_error", paths=["src/calc.py"], count=3))
    tests_only = book.add_rule(Rule(text="Name tests test_*.", category="ci_fail", phase_categories=["tests"]))
    anywhere = book.add_rule(Rule(text="Keep lines under 120 characters.", category="lint", count=7))
    web = book.add_rule(Rule(text="Escape HTML in templates.", category="logic", paths=["web/**/*.html"]))

    assert book.rules_for("feature", ["src/*.py"]) == [anywhere, calc]
    assert book.rules_for("tests", ["tests/test_calc.py"]) == [anywhere, tests_only]
    assert book.rules_for("feature", ["web/pages/index.html"]) == [anywhere, web]
    assert book.rules_for("feature", ["src/calc.py"], error_categories=["import_error"]) == [calc]
    assert book.rules_for("feature", ["src/calc.py"], limit=1) == [anywhere]


def test_remove_deletes_one_rule_and_reports_unknown_ids(tmp_path: Path) -> None:
    book = RuleBook.load(rules_file(tmp_path))
    keep = book.add_rule(Rule(text="Keep this.", category="a"))
    gone = book.add_rule(Rule(text="Remove that other thing entirely.", category="b"))
    assert book.remove(gone.id) is True
    assert book.remove(gone.id) is False
    book.save()
    assert [r.id for r in RuleBook.load(rules_file(tmp_path)).rules] == [keep.id]


def test_render_rules_for_prompt_lists_each_rule_once() -> None:
    rules = [Rule(id="r-0003", text="Export new functions.", category="import_error", count=2)]
    assert render_rules_for_prompt(rules) == "- Export new functions. [r-0003, seen 2x]"
    assert render_rules_for_prompt([]) == ""


GOOD = """\
rules:
  - id: r-0007
    text: "When adding a function to calc.py, also export it in __all__."
    category: import_error
    phase_categories: [feature]
    paths: ["src/calc.py"]
    count: 3
    first_seen: 2026-11-26
    last_seen: 2026-11-26
    source_runs: [run-a, run-b]
hints: []
"""


def write(tmp_path: Path, text: str) -> Path:
    path = rules_file(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_hand_written_rules_file_loads(tmp_path: Path) -> None:
    book = RuleBook.load(write(tmp_path, GOOD))
    rule = book.get("r-0007")
    assert rule is not None and rule.count == 3 and rule.first_seen == date(2026, 11, 26)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    count: 3", "    count: [3"))
    with pytest.raises(RulesError) as err:
        RuleBook.load(path)
    assert f"{path}:" in str(err.value) and "malformed YAML" in str(err.value)
    assert "delete the file" in str(err.value)


def test_unknown_key_names_key_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    count: 3", "    cuont: 3"))
    with pytest.raises(RulesError) as err:
        RuleBook.load(path)
    assert f"{path}:7: rules[0].cuont: unknown key" in str(err.value)


def test_wrong_type_names_key_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("count: 3", "count: three"))
    with pytest.raises(RulesError) as err:
        RuleBook.load(path)
    assert f"{path}:7: rules[0].count:" in str(err.value) and "integer" in str(err.value)


def test_duplicate_ids_are_refused_with_the_line(tmp_path: Path) -> None:
    second = GOOD.split("hints:")[0].split("rules:\n")[1].replace("When adding", "Also when adding")
    path = write(tmp_path, GOOD.replace("hints: []", second + "hints: []"))
    with pytest.raises(RulesError) as err:
        RuleBook.load(path)
    assert f"{path}:11: rules[1].id: duplicate rule id 'r-0007'" in str(err.value)


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test host."""

    register(app)
    return app


def test_rules_cli_lists_shows_and_removes(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    app, runner = cli_app(), CliRunner()
    listed = runner.invoke(app, ["rules", "list", "--project", "calc", "--home", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["id"] for r in json.loads(listed.stdout)["rules"]] == ["r-0007"]

    table = runner.invoke(app, ["rules", "list", "--home", str(tmp_path)])  # the only project is implied
    assert table.exit_code == 0 and "r-0007" in table.stdout

    shown = runner.invoke(app, ["rules", "show", "r-0007", "--project", "calc", "--home", str(tmp_path)])
    assert shown.exit_code == 0 and "import_error" in shown.stdout and "run-a, run-b" in shown.stdout

    removed = runner.invoke(app, ["rules", "remove", "r-0007", "--project", "calc", "--home", str(tmp_path)])
    assert removed.exit_code == 0
    assert RuleBook.load(rules_file(tmp_path)).rules == []

    missing = runner.invoke(app, ["rules", "remove", "r-0007", "--project", "calc", "--home", str(tmp_path)])
    assert missing.exit_code == 2 and "no rule 'r-0007'" in missing.stderr


def test_rules_cli_reports_a_broken_file_as_one_error(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("count: 3", "count: three"))
    result = CliRunner().invoke(cli_app(), ["rules", "list", "--project", "calc", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "rules[0].count" in result.stderr


def test_rule_new_is_one_sighting_today_in_one_run(tmp_path: Path) -> None:
    rule = Rule.new("Export new functions.", "import_error", ["feature"], ["src/calc.py"], run_id="run-z")
    assert (rule.count, rule.first_seen, rule.last_seen) == (1, date.today(), date.today())
    assert rule.source_runs == ["run-z"] and rule.phase_categories == ["feature"]
    book = RuleBook.load(rules_file(tmp_path))
    assert book.add_rule(rule).id == "r-0001"


def test_a_rule_typed_in_by_hand_without_an_id_gets_one(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - text: Keep it short.\n    category: style\n")
    book = RuleBook.load(path)
    assert [r.id for r in book.rules] == ["r-0001"]


def test_saved_rules_have_no_yaml_anchors_so_each_date_stays_editable(tmp_path: Path) -> None:
    from autopack.memory.rules import Rule, RuleBook

    book = RuleBook.load(tmp_path / "rules.yaml")
    book.add_rule(Rule.new(text="Always export new functions in __all__.", category="import_error", run_id="r1"))
    book.save()
    text = (tmp_path / "rules.yaml").read_text(encoding="utf-8")
    assert "&id" not in text and "*id" not in text
    assert "first_seen:" in text and "last_seen:" in text


# ----- a rule must say something the error did not (issue 15) ------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "Make sure the phase's checks pass before replying.",
        "Always run the tests.",
        "Ensure all tests pass and fix any failing test before finishing.",
        "Be careful to verify that the code works correctly.",
    ],
)
def test_a_rule_any_phase_could_be_given_says_nothing(rule: str) -> None:
    assert not says_something(rule, "AssertionError: assert topk(2, [1, 3]) == (3, 1)")


def test_a_rule_that_only_repeats_the_error_says_nothing() -> None:
    error = "ImportError: cannot import name 'slugify' from 'textutils'"
    assert not says_something("Fix the ImportError: cannot import name slugify from textutils.", error)
    assert says_something("Add slugify to __all__ in textutils/__init__.py when you define it.", error)


def test_a_specific_rule_says_something() -> None:
    rule = "When restoring `topk`, check each example of its docstring against the body before replying."
    assert says_something(rule, "AssertionError: assert topk(2, [1, 3]) == (3, 1)")
    assert says_something(
        "Copy SEARCH text exactly from the current file so every edit applies.",
        "patch_apply_error: the SEARCH block of calc.py matches no lines",
    )
