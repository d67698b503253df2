"""Self-healing memory: learned rules and run hints (``rules``), the debug journal (``journal``)
and their commands (``cli``). The executor feeds it; nothing here knows executor internals.
"""

from .journal import render_journal, write_journal
from .rules import Hint, Rule, RuleBook, RulesError, draw_rule_deterministic, render_rules_for_prompt

__all__ = [
    "Hint",
    "Rule",
    "RuleBook",
    "RulesError",
    "draw_rule_deterministic",
    "render_journal",
    "render_rules_for_prompt",
    "write_journal",
]
