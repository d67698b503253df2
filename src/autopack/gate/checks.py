"""The quality gate: run a phase's checks as real subprocesses and read what they say.

Each check is a user-authored shell command from the run plan, run with ``bash -c`` in the
workspace, in its own process group so that a timeout (or Ctrl-C) takes down everything the check
started. All checks run, in order, so the Builder sees every failure at once; only a timeout stops
the sequence (the rest are marked skipped), because a hanging check usually means the next ones
would hang too. When a check exits, whatever it left running in the background of its process
group is stopped as well, so a forgotten server cannot keep the gate waiting. Each check's output
is read for a pytest summary and for syntax errors by ``gate.parse``. This room knows nothing about LLMs; it returns data (``GateResult``) that the executor shows
to the Builder and Auditor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..childenv import python_first, subprocess_env
from ..errors import AutopackError
from ..secrets import scrub
from .parse import PytestSummary, find_syntax_errors, parse_pytest_summary

__all__ = [
    "CheckResult",
    "GateError",
    "GateResult",
    "check_env",
    "end_orphaned_check",
    "run_checks",
]

# Time a check gets to exit after SIGTERM before its whole process group is SIGKILLed.
KILL_GRACE_S = 3.0
# Output beyond this is cut from the middle: the start (what ran) and the end (the verdict) matter.
MAX_OUTPUT_BYTES = 8 * 1024 * 1024
_HEAD_BYTES = 512 * 1024


class GateError(AutopackError):
    """A check could not be started at all (missing directory, no bash)."""


@dataclass
class CheckResult:
    """What one check command did."""

    command: str
    exit_code: int | None  # None when the check timed out or was skipped
    timed_out: bool
    duration_s: float
    output: str  # stdout and stderr, merged, in full (up to MAX_OUTPUT_BYTES)
    tail: str  # the last ``tail_lines`` lines of output
    pytest: PytestSummary | None = None
    syntax_errors: list[str] = field(default_factory=list)
    skipped: bool = False  # not run because an earlier check timed out
    timeout_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.skipped

    def status(self) -> str:
        """A few words: ``passed``, ``exit 1``, ``timed out after 5s``, ``skipped``."""
        if self.skipped:
            return "skipped after an earlier timeout"
        if self.timed_out:
            return f"timed out after {self.timeout_s:g}s" if self.timeout_s is not None else "timed out"
        return "passed" if self.exit_code == 0 else f"exit {self.exit_code}"

    def to_dict(self, *, include_output: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": self.command,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "skipped": self.skipped,
            "duration_s": round(self.duration_s, 3),
            "pytest": self.pytest.to_dict() if self.pytest else None,
            "syntax_errors": list(self.syntax_errors),
            "tail": self.tail,
        }
        if include_output:
            data["output"] = self.output
        return data


@dataclass
class GateResult:
    """The outcome of a phase's checks, in the order they ran."""

    checks: list[CheckResult]
    tail_lines: int = 60

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed and not c.skipped]

    @property
    def syntax_errors(self) -> list[str]:
        return [e for c in self.checks for e in c.syntax_errors]

    def pytest_totals(self) -> PytestSummary | None:
        """Pytest counts summed over every check that ran pytest, or None if none did."""
        found = [c.pytest for c in self.checks if c.pytest is not None]
        if not found:
            return None
        total = PytestSummary()
        for s in found:
            total = total.merged(s)
        return total

    def summary(self) -> str:
        """One line, e.g. ``3/3 checks passed; pytest 12 passed`` or
        ``1 of 2 checks failed: pytest 2 failed, 10 passed``."""
        n = len(self.checks)
        if self.passed:
            totals = self.pytest_totals()
            return f"{n}/{n} checks passed" + (f"; pytest {totals.describe()}" if totals else "")
        failed = self.failed_checks
        details = "; ".join(_failure_detail(c) for c in failed)
        text = f"{len(failed)} of {n} checks failed: {details}"
        skipped = sum(1 for c in self.checks if c.skipped)
        if skipped:
            text += f"; {skipped} skipped after the timeout"
        return text

    def tail(self) -> str:
        """The tails of the failed checks, each headed by its command; about ``tail_lines * 2``
        lines in all, so that many failing checks do not flood the Builder's prompt."""
        failed = self.failed_checks
        if not failed:
            return ""
        per_check = max(5, (self.tail_lines * 2) // len(failed) - 2)
        sections: list[str] = []
        for c in failed:
            head = [f"$ {c.command}  ({c.status()})"]
            head += [f"syntax error: {e}" for e in c.syntax_errors[:3]]
            lines = c.tail.splitlines()[-per_check:]
            sections.append("\n".join(head + lines))
        skipped = [c.command for c in self.checks if c.skipped]
        if skipped:
            sections.append("not run after the timeout: " + ", ".join(skipped))
        return "\n\n".join(sections)

    def to_dict(self, *, include_output: bool = False) -> dict[str, Any]:
        """A JSON-ready record of the gate (full outputs only on request; they live in the log)."""
        totals = self.pytest_totals()
        return {
            "passed": self.passed,
            "summary": self.summary(),
            "pytest": totals.to_dict() if totals else None,
            "checks": [c.to_dict(include_output=include_output) for c in self.checks],
        }


def check_env(env_extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment checks run in when the caller chose none: ``subprocess_env()`` plus ``env_extra``,
    with the running interpreter's directory first on PATH and no ``.pyc`` litter in the workspace.
    A run passes the project's environment instead (``checks_env.resolve_checks_env``)."""
    return python_first(subprocess_env(env_extra), [os.path.dirname(sys.executable)])


def run_checks(
    checks: Sequence[str],
    cwd: Path,
    *,
    timeout: float,
    log_path: Path | None = None,
    tail_lines: int = 60,
    env_extra: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    pid_file: Path | None = None,
) -> GateResult:
    """Run each check with ``bash -c`` in ``cwd``; ``timeout`` (seconds) applies to each check.

    Runs them all, in order, unless one times out (the rest are then skipped). If ``log_path`` is
    given, the full output of every check is written there, each under a header. ``environ`` is the
    whole environment to run them in (a run passes the project's); else ``check_env(env_extra)``.
    ``pid_file``: the running check's process group id is kept there while it runs, so that a run
    killed with ``kill -9`` can end the check it left behind when it resumes (``end_orphaned_check``).
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    if not Path(cwd).is_dir():
        raise GateError(f"cannot run checks: directory {cwd} does not exist; check the workspace path")
    env = dict(environ) if environ is not None else check_env(env_extra)
    results: list[CheckResult] = []
    stop = False
    for command in checks:
        if stop:
            results.append(CheckResult(command, None, False, 0.0, "", "", skipped=True, timeout_s=timeout))
            continue
        result = _run_one(command, Path(cwd), env, timeout, tail_lines, pid_file)
        results.append(result)
        stop = result.timed_out
    gate = GateResult(results, tail_lines=tail_lines)
    if log_path is not None:
        _write_log(gate, Path(cwd), Path(log_path))
    return gate


def _failure_detail(c: CheckResult) -> str:
    short = c.command if len(c.command) <= 60 else c.command[:57] + "..."
    if c.timed_out:
        text = f"`{short}` {c.status()}"
    elif c.pytest is not None:
        text = f"pytest {c.pytest.describe()}"
    else:
        text = f"`{short}` exited {c.exit_code}"
    if c.syntax_errors:
        n = len(c.syntax_errors)
        text += f" ({n} syntax error{'s' if n > 1 else ''})"
    return text


def _run_one(
    command: str, cwd: Path, env: dict[str, str], timeout: float, tail_lines: int, pid_file: Path | None = None
) -> CheckResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills everything it started
        )
    except OSError as exc:
        raise GateError(f"could not start check {command!r} with bash in {cwd}: {exc}; is bash installed?") from exc
    assert proc.stdout is not None
    if pid_file is not None:
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{proc.pid} {cwd}\n", encoding="utf-8")
    reader = _OutputReader(proc.stdout)
    reader.start()
    try:
        exited = _wait_for_exit(proc.pid, start + timeout)
    finally:
        # Also on normal exit: stragglers left in the background (a server, a `sleep &`) would
        # keep the output pipe open and outlive the gate. The leader is not reaped yet, so the
        # group id cannot have been reused by an unrelated process.
        _stop_group(proc.pid, reader)
        proc.wait()
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
    reader.join(KILL_GRACE_S)
    duration = time.monotonic() - start
    output = reader.text()
    if not exited:
        output += f"\n[autopack: check timed out after {timeout:g}s; its process group was killed]\n"
    lines = output.splitlines()
    return CheckResult(
        command=command,
        exit_code=proc.returncode if exited else None,
        timed_out=not exited,
        duration_s=duration,
        output=output,
        tail="\n".join(lines[-tail_lines:]) if tail_lines > 0 else "",
        pytest=parse_pytest_summary(output),
        syntax_errors=find_syntax_errors(output, cwd),
        timeout_s=timeout,
    )


def end_orphaned_check(pid_file: Path) -> list[int]:
    """End the check a killed run left running (its process group, as recorded in ``pid_file``), so it
    cannot write into the worktree the resumed run is about to restore and commit. Only processes of
    that group whose working directory is the recorded one are signalled (a reused group id belongs
    to someone else); returns their pids. Linux reads them from /proc; elsewhere the group is ended."""
    try:
        pgid_text, _, cwd_text = pid_file.read_text(encoding="utf-8").strip().partition(" ")
        pgid = int(pgid_text)
    except (OSError, ValueError):
        return []
    cwd = Path(cwd_text).resolve() if cwd_text else None
    members = _group_members(pgid)
    if members is None:  # no /proc: trust the record
        ended = [pgid] if _signal_group(pgid, signal.SIGKILL) else []
    else:
        ended = []
        for pid in members:
            try:
                where = Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
            except OSError:
                continue
            if cwd is None or where == cwd or where.is_relative_to(cwd):
                try:
                    os.kill(pid, signal.SIGKILL)
                    ended.append(pid)
                except ProcessLookupError:
                    pass
    pid_file.unlink(missing_ok=True)
    return ended


def _group_members(pgid: int) -> list[int] | None:
    """Pids whose process group is ``pgid`` (from /proc), or None where /proc is not there."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if len(fields) > 2 and fields[2] == str(pgid):
            members.append(int(entry.name))
    return members


def _wait_for_exit(pid: int, deadline: float) -> bool:
    """Wait until ``pid`` exits or the deadline passes, WITHOUT reaping it (WNOWAIT)."""
    delay = 0.002
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def _stop_group(pgid: int, reader: _OutputReader) -> None:
    """SIGTERM the group, give it KILL_GRACE_S to close its output, then SIGKILL what is left."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    reader.join(KILL_GRACE_S)
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class _OutputReader(threading.Thread):
    """Drains the check's merged output so a chatty check never blocks on a full pipe; keeps the
    first and the last part when the output is larger than MAX_OUTPUT_BYTES."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            while chunk := read(65536):
                self._add(chunk)
        except (OSError, ValueError):
            pass
        finally:
            self._stream.close()

    def _add(self, chunk: bytes) -> None:
        with self._lock:
            if len(self._head) < _HEAD_BYTES:
                room = _HEAD_BYTES - len(self._head)
                self._head += chunk[:room]
                chunk = chunk[room:]
            if not chunk:
                return
            self._tail.append(chunk)
            self._tail_size += len(chunk)
            while self._tail_size > MAX_OUTPUT_BYTES - _HEAD_BYTES and len(self._tail) > 1:
                old = self._tail.popleft()
                self._tail_size -= len(old)
                self._dropped += len(old)

    def text(self) -> str:
        with self._lock:
            head = bytes(self._head)
            tail = b"".join(self._tail)
            dropped = self._dropped
        middle = f"\n[autopack: {dropped} bytes of output dropped here]\n".encode() if dropped else b""
        return (head + middle + tail).decode("utf-8", errors="replace").replace("\r\n", "\n")


def _write_log(gate: GateResult, cwd: Path, log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    total = len(gate.checks)
    parts = [f"# autopack gate log\n# cwd: {cwd}\n# result: {gate.summary()}\n"]
    for i, c in enumerate(gate.checks, 1):
        parts.append(f"\n===== check {i}/{total}: {c.command} =====\n")
        parts.append(f"status: {c.status()}   duration: {c.duration_s:.2f}s\n")
        if not c.skipped:
            parts.append("----- output -----\n")
            parts.append(c.output if c.output.endswith("\n") or not c.output else c.output + "\n")
    log_path.write_text(scrub("".join(parts)), encoding="utf-8")  # a check can print a key a file holds
