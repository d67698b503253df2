"""The git room: the run branch in its own worktree (``worktree``: open, stage and diff, commit with
trailers, restore, rollback refs), repairing what a kill left (``repair``), and every git process
autopack starts, with hooks and signing off (``gitcmd``). It knows nothing of LLMs, the store or the
plan (phase ids only, in commit trailers). Import from the modules: this file exports nothing.
"""
