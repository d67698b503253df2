"""autopack: an orchestrator that drives LLM Builder/Auditor agents through a phased run plan.

The package is split into rooms (see DESIGN.md); this module only holds the version so that
importing it stays cheap (``autopack --help`` must not pull in provider SDKs).
"""

__version__ = "0.3.0"
