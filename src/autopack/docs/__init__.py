"""Documentation archives: ``consolidate`` sorts loose Markdown into the framework archive or a
project's archive and folds it into consolidated files without losing a line (``classify`` decides
kind and owner, ``markdown`` reads and writes the consolidated files, ``archive`` the index). The
command is ``autopack.cli.docs``. Import from the modules: this file exports nothing.
"""
