"""Which git commands the Doctor's ``execute_fix`` may run, and why every other form is refused.

The run's worktree must stay on the run branch at its last approved commit, so no allowed form
moves it: ``git reset`` names no revision but ``HEAD``; ``git checkout`` only restores files
(``git checkout [HEAD] -- <paths>``: no branch switch, ``-b``/``-B``/``--detach``/``--orphan``);
``git clean`` takes only ``-f -d -n -q`` (never ``-x``/``-X``, which delete ignored files such as
.env) and no paths; ``git merge`` only ``--abort``. Every other subcommand is refused, ``git stash``
included in every form: it writes ``refs/stash``, which the run's worktree shares with the user's
own checkout (git worktrees share refs), so even a plain push would put the run's changes into the
user's stash list; ``git checkout -- <paths>``, ``git reset --hard HEAD`` and ``git clean -fd``
discard changes without touching it.

This room knows git's argument grammar only: ``check_git`` refuses a form with ``GitRefused`` (its
``reason`` says why and what to run instead) or returns the command's path arguments, which
``execute_fix`` then checks stay inside the workspace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet


class GitRefused(Exception):
    """A git command form the whitelist does not allow; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _split(
    args: Sequence[str], flags: AbstractSet[str], valued: AbstractSet[str] = frozenset()
) -> tuple[list[str], list[str], bool]:
    """(positionals before '--', arguments after '--', whether '--' was given); refuses unknown flags."""
    before: list[str] = []
    after: list[str] = []
    dashdash = False
    i = 0
    while i < len(args):
        tok = args[i]
        if dashdash:
            after.append(tok)
        elif tok == "--":
            dashdash = True
        elif tok in valued:
            if i + 1 >= len(args):
                raise GitRefused(f"option {tok} needs a value")
            i += 1
        elif tok.startswith("-"):
            if tok not in flags:
                allowed = " ".join(sorted(flags | valued)) or "none"
                raise GitRefused(f"option {tok!r} is not allowed here (allowed: {allowed})")
        else:
            before.append(tok)
        i += 1
    return before, after, dashdash


_KEEP_BRANCH = "the worktree must stay on the run branch at its last approved commit"
_RESTORE_FORMS = "to restore files use 'git checkout -- <paths>' or 'git checkout HEAD -- <paths>'"
_CHECKOUT_FLAGS = {"-f", "--force", "-q", "--quiet", "--ours", "--theirs", "-m", "--merge"}
_CHECKOUT_SWITCHES = {"-b", "-B", "--detach", "--orphan", "-t", "--track", "--no-track", "--guess", "-"}
_RESET_MODES = {"--hard", "--soft", "--mixed", "--merge", "--keep"}
_STASH_REFUSED = (
    "git stash is not allowed in any form: it writes refs/stash, which is shared with your own checkout (git "
    "worktrees share refs), so the run's changes would land in your stash list, where a 'git stash pop' of yours "
    "could apply them to your work; to discard changes use 'git checkout -- <paths>' or 'git reset --hard HEAD' "
    "(and 'git clean -fd' for untracked files)"
)


def _check_checkout(args: list[str]) -> list[str]:
    """Only file restores: ``git checkout [HEAD] -- <paths>``; never a branch switch or a detach."""
    for tok in args:
        if tok == "--":
            break
        if tok in _CHECKOUT_SWITCHES or tok.startswith(("--orphan=", "--track=")):
            raise GitRefused(
                f"git checkout {tok} switches the worktree off the run branch ({_KEEP_BRANCH}); {_RESTORE_FORMS}"
            )
    before, after, dashdash = _split(args, _CHECKOUT_FLAGS)
    if not dashdash:
        what = f"git checkout {before[0]}" if before else "git checkout without '-- <paths>'"
        raise GitRefused(f"{what} could switch branches or detach HEAD ({_KEEP_BRANCH}); {_RESTORE_FORMS}")
    if before not in ([], ["HEAD"]):
        raise GitRefused(
            f"git checkout {' '.join(before)} -- <paths> restores files from another revision; only HEAD, the last "
            f"approved commit, is allowed: {_RESTORE_FORMS}"
        )
    if not after:
        raise GitRefused("git checkout with '--' needs at least one path after it (e.g. git checkout -- .)")
    return after


def _check_reset(args: list[str]) -> list[str]:
    """Only resets to HEAD: ``git reset [--soft|--mixed|--hard|...] [HEAD]`` or ``git reset [HEAD] -- <paths>``."""
    before, after, dashdash = _split(args, _RESET_MODES | {"-q", "--quiet"})
    modes = [tok for tok in (args[: args.index("--")] if dashdash else args) if tok in _RESET_MODES]
    if len(modes) > 1:
        raise GitRefused(f"git reset takes one mode, not {' '.join(modes)}")
    if before not in ([], ["HEAD"]):
        raise GitRefused(
            f"git reset {' '.join(before)}: only HEAD may be named ({_KEEP_BRANCH}; another revision would move the "
            "run branch and drop approved phase commits); put paths after '--' (git reset HEAD -- <paths>)"
        )
    if dashdash:
        if not after:
            raise GitRefused("git reset with '--' needs at least one path after it")
        if modes:
            raise GitRefused(
                f"git reset {modes[0]} does not take paths; unstage with 'git reset -- <paths>', {_RESTORE_FORMS}"
            )
    return after


def _check_clean(args: list[str]) -> list[str]:
    """Only ``git clean`` with ``-f -d -n -q``: never ``-x``/``-X``, never paths (rm removes one path)."""
    for tok in args:
        if not tok.startswith("-"):
            raise GitRefused("git clean takes no paths here; use rm to remove a specific path")
        if tok in ("--force", "--dry-run", "--quiet"):
            continue
        if re.fullmatch(r"-[fdnq]+", tok) is None:
            if "x" in tok.lower() and not tok.startswith("--"):
                raise GitRefused(
                    "git clean -x/-X is not allowed: it deletes ignored files such as .env and virtualenvs"
                )
            raise GitRefused(f"git clean option {tok!r} is not allowed (allowed: -f -d -n -q and combinations)")
    return []


def check_git(argv: Sequence[str]) -> list[str]:
    """Refuse a git command the whitelist does not allow (``GitRefused`` says why); else its path arguments.

    ``argv`` is the whole command (``["git", "checkout", "--", "a.py"]``). The paths returned are not
    checked here: the caller must still keep each inside the workspace.
    """
    if len(argv) < 2:
        raise GitRefused("git needs a subcommand")
    sub, args = argv[1], list(argv[2:])
    if sub.startswith("-"):
        raise GitRefused(f"git options before the subcommand ({sub}) are not allowed")
    if sub == "merge":
        if args != ["--abort"]:
            raise GitRefused("only 'git merge --abort' is allowed among merge commands")
        return []
    if sub == "checkout":
        return _check_checkout(args)
    if sub == "reset":
        return _check_reset(args)
    if sub == "stash":
        raise GitRefused(_STASH_REFUSED)
    if sub == "clean":
        return _check_clean(args)
    raise GitRefused(f"git {sub} is not on the execute_fix whitelist (allowed: checkout, reset, clean, merge --abort)")
