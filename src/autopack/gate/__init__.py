"""The quality gate: running a phase's checks in process groups with timeouts (``checks``), reading
what they print (``parse``: pytest summaries, syntax errors), and choosing the environment they run
in, that is which interpreter ``python`` is (``checks_env``). It knows nothing of LLMs, the store or
git. Import from the modules: this file exports nothing.
"""
