"""Doctor ``execute_fix``: run a few whitelisted commands in the workspace, safely.

The Doctor may answer a failure it diagnoses as infrastructure (a merge left half-done, a stale
file, a missing directory) with commands. They are opt-in (``doctor.allow_execute_fix_global``),
limited per phase (``doctor.max_execute_fix_per_phase``), typed (``doctor.allowed_fix_types``), and
each must pass ``check_command`` before anything runs:

- no shell syntax at all (separators, pipes, substitution, redirection, background ``&``,
  newlines): commands run as an argv list, never through a shell, so such syntax could only be a
  mistake or an attack;
- no privilege escalation and no executable given as a path;
- only the whitelist: ``git checkout|reset|clean|merge --abort``; ``rm`` (flags ``-r -f -R``),
  ``mkdir`` (``-p``), ``cp`` (``-r -R -f -p``), ``mv`` (``-f``); ``pip install <package>`` and ``pytest [args]``
  (also via ``python -m``);
- git only in the forms ``git_whitelist`` allows, which never leave the run branch or its last approved
  commit (``reset`` to ``HEAD``, ``checkout [HEAD] -- <paths>``, ``clean`` without ``-x``,
  ``merge --abort``) and never touch refs the user's own checkout shares (no ``git stash``);
- every path stays inside the workspace: relative, no ``..``, no glob, resolved through every
  symlink on the way and landing inside, never ``.git`` or inside it, never the workspace root
  itself for rm/mv/cp sources;
- what cp and mv would write stays inside too: every place under the destination that they would
  write to and that already exists must resolve inside (cp writes through an existing symlink), and
  no symlink they would carry may lead out, neither where it is now nor where it would land (a
  relative target means something else in another directory): cp -r/-R and mv walk each source
  tree without following its symlinks. (cp without -r copies what a symlink source points to, so
  such a source must resolve inside, like any path.) No whitelisted command makes hard links.

``run_fix`` checks the whole batch first and runs nothing when any command is refused. It then
checks each command again right before running it, against the workspace as the commands before
it left it: an earlier ``cp -r`` or ``git checkout`` can create the symlink a later path would go
through. A command refused then, or one that fails, stops the fix there; the commands before it
have run, and the outcomes say which did.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Literal

from ..childenv import git_env
from ..config import DoctorSettings
from .git_whitelist import GitRefused, check_git

FixType = Literal["git", "file", "python"]

DISABLED_REASON = "execute_fix is disabled: set doctor.allow_execute_fix_global: true in the config to allow it"
OUTPUT_TAIL_LINES = 40
OUTPUT_TAIL_CHARS = 4000

_SHELL_SYNTAX: list[tuple[str, str]] = [
    ("\n", "a newline (two commands)"),
    ("\r", "a carriage return"),
    ("\x00", "a NUL byte"),
    ("&&", "'&&' (command chaining)"),
    ("||", "'||' (command chaining)"),
    (";", "';' (command separator)"),
    ("|", "'|' (pipe)"),
    ("`", "a backtick (command substitution)"),
    ("$(", "'$(' (command substitution)"),
    ("${", "'${' (variable expansion)"),
    ("$", "'$' (variable expansion)"),
    (">", "'>' (redirection)"),
    ("<", "'<' (redirection)"),
    ("&", "'&' (background job)"),
]
_PRIVILEGED = {"sudo", "su", "doas", "pkexec", "runas", "run0"}
_FIX_TYPES: dict[str, FixType] = {"git": "git", "rm": "file", "mkdir": "file", "cp": "file", "mv": "file"}
_FIX_TYPES.update({name: "python" for name in ("pip", "pip3", "pytest", "python", "python3")})
_GIT_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_CEILING_DIRECTORIES")
_WHITELIST = "git checkout|reset|clean|merge --abort; rm, mkdir, cp, mv; pip install, pytest"
_FILE_FLAGS = {"rm": "rfR", "mkdir": "p", "cp": "rRfp", "mv": "f"}
_MAX_SYMLINK_HOPS = 40  # as Linux's ELOOP limit
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]+\])?(?:(?:==|~=|!=)[A-Za-z0-9.*+!_-]+)?$"
)


@dataclass(frozen=True)
class CommandCheck:
    """The verdict on one command: its argv when it parsed, its fix type when known, and why."""

    command: str
    argv: list[str] | None
    fix_type: FixType | None
    allowed: bool
    reason: str


@dataclass(frozen=True)
class FixOutcome:
    """What happened to one command of a fix. ``exit_code`` is None when it did not run to the end."""

    command: str
    allowed: bool
    reason: str
    exit_code: int | None = None
    output: str = ""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- paths ----------------------------------------------------------------------------------------


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _check_path(arg: str, ws: Path, *, root_ok: bool = True) -> None:
    """Refuse a path argument that could touch anything outside the workspace or its .git."""
    if not arg:
        raise _Refused("an empty path argument")
    if arg.startswith("~"):
        raise _Refused(f"path {arg!r}: '~' is not expanded (no shell runs); give a path relative to the workspace")
    if any(c in arg for c in "*?["):
        raise _Refused(
            f"path {arg!r} contains a glob character (* ? [): no shell runs to expand it, so it would name a "
            "literal file; list each path explicitly"
        )
    if arg.startswith(("/", "\\")) or PureWindowsPath(arg).is_absolute() or re.match(r"^[A-Za-z]:", arg):
        raise _Refused(f"path {arg!r} is absolute; only paths relative to the workspace are allowed")
    parts = Path(arg).parts
    if ".." in parts:
        raise _Refused(f"path {arg!r} contains '..'; paths must stay inside the workspace")
    if any(p.lower() == ".git" for p in parts):
        raise _Refused(f"path {arg!r} is or is inside .git; repository internals are never touched")
    # Every existing symlink along the way must land inside the workspace, not only the final path.
    for i in range(1, len(parts) + 1):
        prefix = ws.joinpath(*parts[:i])
        if prefix.is_symlink() and not _inside(prefix.resolve(), ws):
            raise _Refused(
                f"path {arg!r} goes through the symlink {Path(*parts[:i])} which leads outside the workspace"
            )
    resolved = (ws / arg).resolve()
    if not _inside(resolved, ws):
        raise _Refused(f"path {arg!r} resolves outside the workspace")
    if any(p.lower() == ".git" for p in resolved.relative_to(ws).parts):
        raise _Refused(f"path {arg!r} resolves into .git; repository internals are never touched")
    if not root_ok and resolved == ws:
        raise _Refused(f"path {arg!r} is the workspace root itself")


def _leads(resolved: Path, ws: Path) -> str | None:
    """Where a resolved path lands when that is not allowed: outside the workspace or into its .git."""
    if not _inside(resolved, ws):
        return "outside the workspace"
    if any(p.lower() == ".git" for p in resolved.relative_to(ws).parts):
        return "into .git"
    return None


def _resolve(path: Path, copy: tuple[Path, Path] | None = None) -> Path:
    """The absolute ``path`` with every symlink on the way resolved, like ``Path.resolve()``.

    With ``copy = (new, source)``, a path at or under ``new`` (a copy or move not made yet) is looked
    up at the same place under ``source``, so a symlink is resolved where the command would put it.
    """
    todo = list(reversed(path.parts[1:]))
    done = Path(path.anchor)
    hops = 0
    while todo:
        name = todo.pop()
        if name in ("", "."):
            continue
        if name == "..":
            done = done.parent
            continue
        step = done / name
        real = step if copy is None or not _inside(step, copy[0]) else copy[1] / step.relative_to(copy[0])
        if not real.is_symlink():
            done = step
            continue
        hops += 1
        if hops > _MAX_SYMLINK_HOPS:
            raise _Refused(f"too many levels of symlinks at {step} (a symlink loop); remove the loop first")
        target = Path(os.readlink(real))
        if target.is_absolute():
            done = Path(target.anchor)
            todo.extend(reversed(target.parts[1:]))
        else:
            todo.extend(reversed(target.parts))
    return done


def _tree(top: Path) -> Iterator[Path]:
    """``top`` and, when it is a directory and not a symlink, everything under it; no symlink is followed."""
    stack = [top]
    while stack:
        path = stack.pop()
        yield path
        if not path.is_symlink() and path.is_dir():
            stack.extend(sorted(path.iterdir(), reverse=True))


# --- files ----------------------------------------------------------------------------------------


def _check_file(argv: list[str], ws: Path) -> None:
    cmd, allowed_letters = argv[0], _FILE_FLAGS[argv[0]]
    paths: list[str] = []
    dashdash = False
    for tok in argv[1:]:
        if not dashdash and tok == "--":
            dashdash = True
        elif not dashdash and tok.startswith("-"):
            if re.fullmatch(rf"-[{allowed_letters}]+", tok) is None:
                flags = " ".join(f"-{c}" for c in allowed_letters)
                raise _Refused(f"{cmd} option {tok!r} is not allowed (allowed: {flags} and combinations)")
        else:
            paths.append(tok)
    minimum = 2 if cmd in ("cp", "mv") else 1
    if len(paths) < minimum:
        raise _Refused(f"{cmd} needs at least {minimum} path argument{'s' if minimum > 1 else ''}")
    for i, path in enumerate(paths):
        is_destination = cmd in ("cp", "mv") and i == len(paths) - 1
        _check_path(path, ws, root_ok=cmd == "mkdir" or is_destination)
    if cmd in ("cp", "mv"):
        recursive = cmd == "mv" or any(c in tok for tok in argv[1:] if tok.startswith("-") for c in "rR")
        for source in paths[:-1]:
            _check_carried(" ".join(argv), source, paths[-1], ws, recursive=recursive)


def _check_carried(command: str, source: str, destination: str, ws: Path, *, recursive: bool) -> None:
    """What ``cp``/``mv`` of ``source`` to ``destination`` would write, and every symlink it would carry
    (``recursive``: cp -r/-R and mv copy or move symlinks as they are), stays inside the workspace."""
    raw = os.path.join(ws, source)  # keeps a trailing '/', after which a final symlink is followed
    top = Path(raw) if os.path.islink(raw) else Path(os.path.realpath(raw))
    dest = ws / destination
    # Like cp and mv: an existing directory (a symlink to one included) receives the source under its name.
    landing_top = dest / os.path.basename(source.rstrip("/\\")) if dest.is_dir() else dest
    new_root = landing_top.resolve()  # where the copy really goes: cp writes through a symlink to a directory
    verb = "move" if command.startswith("mv") else "copy"
    for entry in _tree(top) if recursive else iter([top]):
        rel = entry.relative_to(top)
        shown, landing = Path(source, rel), landing_top / rel
        if os.path.lexists(landing):  # overwritten or written into, through any symlink on its way
            where = _leads(landing.resolve(), ws)
            if where is not None:
                raise _Refused(
                    f"{command!r} would write {shown} to {landing.relative_to(ws)}, which already exists and leads "
                    f"{where} through a symlink; {verb} to another place"
                )
        if not recursive or not entry.is_symlink():
            continue
        link = f"the symlink {shown} (-> {os.readlink(entry)})"
        where = _leads(_resolve(entry), ws)
        if where is not None:
            raise _Refused(
                f"{command!r} would {verb} {link}, which leads {where}: such a symlink is never carried, since "
                f"later commands would go through it; {verb} the other paths one by one, without it"
            )
        where = _leads(_resolve(new_root / rel, (new_root, top)), ws)
        if where is not None:
            raise _Refused(
                f"{command!r} would {verb} {link} to {landing.relative_to(ws)}, where its relative target would "
                f"lead {where}; {verb} it where that target stays inside, or leave it out"
            )


# --- python ---------------------------------------------------------------------------------------

_PIP_FLAGS = {"-q", "--quiet", "-U", "--upgrade", "--no-deps"}
_PIP_SOURCES = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host"}
_PYTEST_FLAGS = {"-q", "-v", "-vv", "-x", "-s", "-l", "--lf", "--ff", "--sw", "--nf", "--no-header", "--exitfirst"}
_PYTEST_VALUED = {"-k", "-m"}
_PYTEST_EQ = re.compile(r"^(--tb=(auto|short|long|line|native|no)|--maxfail=\d+|-r[a-zA-Z]+|-[qvxsl]+)$")


def _check_python(argv: list[str], ws: Path) -> None:
    if argv[0] in ("python", "python3"):
        if len(argv) < 3 or argv[1] != "-m" or argv[2] not in ("pip", "pytest"):
            raise _Refused("python may only run '-m pip install <package>' or '-m pytest [args]'")
        tool, rest = argv[2], argv[3:]
    else:
        tool, rest = ("pip" if argv[0].startswith("pip") else "pytest"), argv[1:]
    if tool == "pip":
        if not rest or rest[0] != "install":
            raise _Refused("only 'pip install <package>' is allowed")
        packages: list[str] = []
        for tok in rest[1:]:
            if tok in ("-e", "--editable"):
                raise _Refused("pip install -e is not allowed: editable installs run code from a path")
            if tok in _PIP_SOURCES or tok.split("=", 1)[0] in _PIP_SOURCES:
                raise _Refused(f"pip option {tok!r} is not allowed: packages come from the configured index only")
            if tok.startswith("-"):
                raise _Refused(f"pip option {tok!r} is not allowed (allowed: {' '.join(sorted(_PIP_FLAGS))})")
            if "://" in tok or "@" in tok:
                raise _Refused(f"pip install {tok!r}: URLs and direct references are not allowed; name a package")
            if "/" in tok or "\\" in tok or tok.startswith(".") or tok.endswith((".whl", ".zip", ".tar.gz")):
                raise _Refused(f"pip install {tok!r}: paths and archives are not allowed; name a package")
            if not _REQUIREMENT.match(tok):
                raise _Refused(f"pip install {tok!r} is not a package name (optionally name[extra]==version)")
            packages.append(tok)
        if not packages:
            raise _Refused("pip install needs at least one package name")
        return
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok in _PYTEST_VALUED:
            if i + 1 >= len(rest):
                raise _Refused(f"pytest option {tok} needs a value")
            i += 2
            continue
        if tok in _PYTEST_FLAGS or _PYTEST_EQ.match(tok):
            i += 1
            continue
        if tok.startswith("-"):
            raise _Refused(f"pytest option {tok!r} is not allowed (use -k/-m, -x, -q/-v, --lf, --tb=, --maxfail=)")
        _check_path(tok.split("::", 1)[0], ws)  # a node id's parameters may hold '[' legitimately
        i += 1


# --- the check and the run ------------------------------------------------------------------------


def _refuse(command: str, argv: list[str] | None, fix_type: FixType | None, reason: str) -> CommandCheck:
    return CommandCheck(command, argv, fix_type, False, f"refused: {reason}")


def check_command(command: str, workspace: Path, settings: DoctorSettings) -> CommandCheck:
    """Whether one Doctor command may run in ``workspace`` under ``settings``, and why (not)."""
    if not command.strip():
        return _refuse(command, None, None, "empty command")
    for token, what in _SHELL_SYNTAX:
        if token in command:
            return _refuse(command, None, None, f"{what} is shell syntax; commands run without a shell, one at a time")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return _refuse(command, None, None, f"cannot split into arguments ({exc})")
    exe = argv[0]
    if exe in _PRIVILEGED:
        return _refuse(command, argv, None, f"{exe}: privilege escalation is never allowed")
    if "/" in exe or "\\" in exe or PureWindowsPath(exe).is_absolute():
        return _refuse(command, argv, None, f"executable {exe!r} is given as a path; name a whitelisted command")
    fix_type = _FIX_TYPES.get(exe)
    if fix_type is None:
        return _refuse(command, argv, None, f"{exe!r} is not on the execute_fix whitelist ({_WHITELIST})")
    if fix_type not in settings.allowed_fix_types:
        return _refuse(
            command,
            argv,
            fix_type,
            f"fix type {fix_type!r} is not allowed: add it to doctor.allowed_fix_types in the config to allow it",
        )
    ws = workspace.resolve()
    try:
        if fix_type == "git":
            for path in check_git(argv):
                _check_path(path, ws)
        elif fix_type == "file":
            _check_file(argv, ws)
        else:
            _check_python(argv, ws)
    except (_Refused, GitRefused) as exc:
        return _refuse(command, argv, fix_type, exc.reason)
    except OSError as exc:  # a path that cannot be read cannot be shown to stay inside
        return _refuse(command, argv, fix_type, f"could not inspect its paths ({exc}); fix that first")
    return CommandCheck(command, argv, fix_type, True, "allowed")


def _tail(text: str) -> str:
    lines = text.splitlines()[-OUTPUT_TAIL_LINES:]
    return "\n".join(lines)[-OUTPUT_TAIL_CHARS:]


def _run_one(
    argv: list[str], workspace: Path, timeout: float, environ: Mapping[str, str] | None = None
) -> tuple[int | None, str, str]:
    """(exit code or None, reason, output tail). The command gets its own process group so a
    timeout kills everything it started, not only the first process. ``environ``: the project's
    environment for checks (so ``pip install`` installs where the checks import from)."""
    posix = os.name == "posix"
    env = git_env(environ)
    for var in _GIT_REDIRECTS:  # git must act on the workspace, not wherever these point
        env.pop(var, None)
    try:
        proc = subprocess.Popen(
            argv,
            shell=False,
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=posix,
        )
    except OSError as exc:
        return None, f"could not start {argv[0]!r}: {exc.strerror or exc}", ""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            if posix:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:  # it ended between the timeout and the kill
            pass
        out, _ = proc.communicate()
        return None, f"timed out after {timeout:g}s (doctor.command_timeout_seconds) and was killed", _tail(out or "")
    code = proc.returncode
    return code, ("ran" if code == 0 else f"exited with code {code}"), _tail(out or "")


def run_fix(
    commands: Sequence[str],
    workspace: Path,
    settings: DoctorSettings,
    *,
    already_used: int = 0,
    environ: Mapping[str, str] | None = None,
) -> list[FixOutcome]:
    """Check every command, then run them in order in ``workspace``, stopping at the first failure.

    ``already_used`` is how many execute_fix runs this phase has had; beyond
    ``doctor.max_execute_fix_per_phase`` nothing runs. When any command is refused, none runs. Each
    command is checked again right before it runs, against the workspace as the commands before it
    left it; one refused then stops the fix there, like a failure.
    """
    if not settings.allow_execute_fix_global:
        return [FixOutcome(c, False, DISABLED_REASON) for c in commands]
    limit = settings.max_execute_fix_per_phase
    if already_used >= limit:
        reason = (
            f"execute_fix limit reached: {already_used} of doctor.max_execute_fix_per_phase ({limit}) already used "
            "for this phase; raise it in the config to allow more"
        )
        return [FixOutcome(c, False, reason) for c in commands]
    checks = [check_command(c, workspace, settings) for c in commands]
    refused = next((i for i, c in enumerate(checks) if not c.allowed), None)
    if refused is not None:
        blocked = f"not run: command {refused + 1} ({commands[refused]!r}) was refused, so none of this fix ran"
        return [FixOutcome(c.command, c.allowed, c.reason if not c.allowed else blocked) for c in checks]
    outcomes: list[FixOutcome] = []
    stopped: str | None = None
    for i, command in enumerate(commands):
        if stopped is not None:
            outcomes.append(FixOutcome(command, True, stopped))
            continue
        # The first check saw the workspace before any command ran; an earlier command may since have
        # made a symlink (cp -r, git checkout) that this command's paths go through.
        check = check_command(command, workspace, settings)
        if not check.allowed or check.argv is None:
            before = "command 1" if i == 1 else f"commands 1-{i}"
            when = "the workspace had changed since the first check" if i == 0 else f"after {before} had run"
            found = f"{check.reason} (found when it was checked again right before running: {when})"
            outcomes.append(FixOutcome(command, False, found))
            ran = "so none of this fix ran" if i == 0 else f"after {before} had run"
            stopped = f"not run: command {i + 1} ({command!r}) was refused when its turn came, {ran}"
            continue
        code, reason, output = _run_one(check.argv, workspace.resolve(), settings.command_timeout_seconds, environ)
        outcomes.append(FixOutcome(command, True, reason, code, output))
        if code != 0:
            stopped = f"not run: an earlier command failed ({command!r})"
    return outcomes
