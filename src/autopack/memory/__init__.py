"""Self-healing memory: learned rules and run hints (``rules``) and the debug journal (``journal``);
their commands are ``autopack.cli.memory``. The executor feeds it; nothing here knows executor
internals. Import from the modules: this file exports nothing.
"""
