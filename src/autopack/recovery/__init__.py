"""Recovery: what happens after a phase attempt fails.

Error categories and their classifiers (``categories``), message normalisation and similarity
(``normalize``), approach-flaw and stuck detection (``approach``), the run health budget
(``budget``), the model escalation ladder (``escalation``), the one decision after a failed attempt
(``policy``) and the Doctor's guarded command execution (``execute_fix``, with the allowed git forms
in ``git_whitelist``). Pure decisions from data, except ``execute_fix`` which runs whitelisted
commands; nothing here knows about provider SDKs or the executor. Import from the modules: this
file exports nothing.
"""
