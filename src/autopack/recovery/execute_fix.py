"""Doctor ``execute_fix``: run a few whitelisted commands in the workspace, safely.

The Doctor may answer a failure it diagnoses as infrastructure (a merge left half-done, a stale
file, a missing directory) with commands. They are opt-in (``doctor.allow_execute_fix_global``),
limited per phase (``doctor.max_execute_fix_per_phase``), typed (``doctor.allowed_fix_types``), and
each must pass ``check_command`` before anything runs:

- no shell syntax at all (separators, pipes, substitution, redirection, background ``&``,
  newlines): commands run as an argv list, never through a shell, so such syntax could only be a
  mistake or an attack;
- no privilege escalation and no executable given as a path;
- only the whitelist: ``git checkout|reset|stash|clean|merge --abort``; ``rm`` (flags ``-r -f -R``),
  ``mkdir`` (``-p``), ``cp`` (``-r -R -f -p``), ``mv`` (``-f``); ``pip install <package>`` and ``pytest [args]``
  (also via ``python -m``);
- git only in the forms ``fix_git`` allows, which never leave the run branch or its last approved
  commit (``reset`` to ``HEAD``, ``checkout [HEAD] -- <paths>``, ``stash`` push/save, ``clean``
  without ``-x``, ``merge --abort``);
- every path stays inside the workspace: relative, no ``..``, no glob, no symlink on the way that
  leads out, never ``.git`` or inside it, never the workspace root itself for rm/mv/cp sources.

``run_fix`` checks the whole batch first and runs nothing when any command is refused, so a fix
is never half applied; it stops at the first command that fails.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Literal

from ..config import DoctorSettings
from ..encoding import subprocess_env
from .fix_git import GitRefused, check_git

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
_WHITELIST = "git checkout|reset|stash|clean|merge --abort; rm, mkdir, cp, mv; pip install, pytest"
_FILE_FLAGS = {"rm": "rfR", "mkdir": "p", "cp": "rRfp", "mv": "f"}
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
    return CommandCheck(command, argv, fix_type, True, "allowed")


def _tail(text: str) -> str:
    lines = text.splitlines()[-OUTPUT_TAIL_LINES:]
    return "\n".join(lines)[-OUTPUT_TAIL_CHARS:]


def _run_one(argv: list[str], workspace: Path, timeout: float) -> tuple[int | None, str, str]:
    """(exit code or None, reason, output tail). The command gets its own process group so a
    timeout kills everything it started, not only the first process."""
    posix = os.name == "posix"
    env = subprocess_env({"GIT_TERMINAL_PROMPT": "0"})
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
    commands: Sequence[str], workspace: Path, settings: DoctorSettings, *, already_used: int = 0
) -> list[FixOutcome]:
    """Check every command, then run them in order in ``workspace``, stopping at the first failure.

    ``already_used`` is how many execute_fix runs this phase has had; beyond
    ``doctor.max_execute_fix_per_phase`` nothing runs. When any command is refused, none runs.
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
    failed: str | None = None
    for check in checks:
        assert check.argv is not None  # an allowed check always carries its argv
        if failed is not None:
            outcomes.append(FixOutcome(check.command, True, f"not run: an earlier command failed ({failed!r})"))
            continue
        code, reason, output = _run_one(check.argv, workspace.resolve(), settings.command_timeout_seconds)
        outcomes.append(FixOutcome(check.command, True, reason, code, output))
        if code != 0:
            failed = check.command
    return outcomes
