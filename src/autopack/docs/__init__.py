"""Documentation archives: ``consolidate`` sorts loose Markdown into the framework archive or a
project's archive and folds it into consolidated files without losing a line (``classify`` decides
kind and owner, ``markdown`` reads and writes the consolidated files, ``cli`` is the command).
"""

from .consolidate import (
    ConsolidationError,
    ConsolidationPlan,
    ConsolidationReport,
    apply_consolidation,
    plan_consolidation,
)

__all__ = [
    "ConsolidationError",
    "ConsolidationPlan",
    "ConsolidationReport",
    "apply_consolidation",
    "plan_consolidation",
]
