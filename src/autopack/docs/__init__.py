"""Documentation archives: ``consolidate`` sorts loose Markdown into the framework archive or a
project's archive and folds it into consolidated files without losing a line (``classify`` decides
kind and owner, ``markdown`` reads and writes the consolidated files, ``cli`` is the command).
"""

# Submodules load on first use (PEP 562), so importing one command module does not pull in the
# whole room: `autopack --help` must stay fast.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers only; at run time names load lazily
    from .consolidate import (
        ConsolidationError,
        ConsolidationPlan,
        ConsolidationReport,
        apply_consolidation,
        plan_consolidation,
    )

_EXPORTS = {
    "ConsolidationError": ".consolidate",
    "ConsolidationPlan": ".consolidate",
    "ConsolidationReport": ".consolidate",
    "apply_consolidation": ".consolidate",
    "plan_consolidation": ".consolidate",
}

__all__ = [
    "ConsolidationError",
    "ConsolidationPlan",
    "ConsolidationReport",
    "apply_consolidation",
    "plan_consolidation",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
