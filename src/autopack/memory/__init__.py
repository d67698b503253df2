"""Self-healing memory: learned rules and run hints (``rules``), the debug journal (``journal``)
and their commands (``cli``). The executor feeds it; nothing here knows executor internals.
"""

# Submodules load on first use (PEP 562), so importing one command module does not pull in the
# whole room: `autopack --help` must stay fast.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers only; at run time names load lazily
    from .journal import render_journal, write_journal
    from .rules import Hint, Rule, RuleBook, RulesError, draw_rule_deterministic, render_rules_for_prompt

_EXPORTS = {
    "Hint": ".rules",
    "Rule": ".rules",
    "RuleBook": ".rules",
    "RulesError": ".rules",
    "draw_rule_deterministic": ".rules",
    "render_journal": ".journal",
    "render_rules_for_prompt": ".rules",
    "write_journal": ".journal",
}

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
