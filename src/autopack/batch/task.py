"""One run of a batch, on whichever machine it lands: make its repository ready (clone it when asked),
run ``autopack run ... --json`` as its own process (so a crash or a kill of one run never touches
another, and the same command resumes it), pass each event it prints on, then gather what it left:
its store rows (``autopack status --json``'s data), its HTML report, and its branch (where it ran, a
git bundle, or pushed to the project's remote).

Nothing here knows whether the caller is the local pool or a Dask worker: both hand ``execute_run`` a
``RunTask`` and a thread-safe ``emit`` for the events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..llm.shared_limits import ENV_VAR
from .launch import Launcher, spawn_run

Emit = Callable[[dict[str, Any]], None]
BRANCH_PREFIX = "autopack/"
# The run's last error line is kept for the batch's table; its whole stderr stays in the run folder.
ERROR_TAIL = 2_000


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to run one run; paths are the worker's own."""

    batch_id: str
    run_id: str
    plan: str
    run_dir: str  # the batch's folder for this run: output, stderr, report
    project_dir: str | None = None  # work in place
    clone: str | None = None  # or clone this (URL or path) ...
    clone_dir: str | None = None  # ... into this folder (reused on a resume)
    ref: str | None = None
    home: str | None = None  # default: the root of the repository the run works in
    config: str | None = None  # a config layer (--config)
    script: str | None = None
    model: str | None = None
    strong_model: str | None = None
    max_attempts: int | None = None
    max_cost: float | None = None
    env_file: str | None = None
    limits_dir: str | None = None  # $AUTOPACK_PROVIDER_LIMITS for the run
    results: str = "branch"  # branch | bundle | push
    remote: str = "origin"
    bundle: str | None = None  # where to write the bundle (results: bundle, and always on a cluster)
    fetch_into: str | None = None  # a repository on this machine that should get the run's branch too
    thin_bundle: bool = False  # whoever reads the bundle has the project (and so the run's base commit)
    worker: str = "local"
    extra_env: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunOutcome:
    """What came of a run: its state in the batch and what it left behind."""

    run_id: str
    state: str
    exit_code: int | None
    message: str = ""
    repo_dir: str | None = None
    home: str | None = None
    branch: str | None = None
    store: dict[str, Any] | None = None  # the run's rows, as `autopack status --json` gives them
    report: str | None = None  # path of its HTML report
    bundle: str | None = None
    pushed: str | None = None
    fetched_into: str | None = None
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TaskError(Exception):
    """The run could not be made ready (a clone failed): the run is an ERROR, the batch goes on."""


def execute_run(task: RunTask, emit: Emit, launch: Launcher = spawn_run) -> RunOutcome:
    """Run ``task`` to its end (or its process's death) in a process ``launch`` starts, and gather its
    results; never raises for a run that went wrong: that is the outcome's state."""
    started = time.time()
    run_dir = Path(task.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        repo = prepare_repository(task)
    except TaskError as exc:
        return RunOutcome(task.run_id, "ERROR", None, str(exc), elapsed_s=time.time() - started)
    home = Path(task.home) if task.home else repo
    env = dict(os.environ)
    env.update(task.extra_env)
    env.pop("AUTOPACK_HOME", None)  # --home says it
    if task.limits_dir:
        env[ENV_VAR] = task.limits_dir
    stderr_path = run_dir / "stderr.log"
    proc = launch(run_args(task, repo, home), repo, env, stderr_path)
    worker = task.worker if task.worker != "local" else _local_worker_name()
    emit(
        {
            "type": "started",
            "run_id": task.run_id,
            "pid": proc.pid,
            "worker": worker,
            "repo_dir": str(repo),
            "home": str(home),
            "cost_cap_usd": task.max_cost,
        }
    )
    with proc.stdout, open(run_dir / "events.jsonl", "ab") as log:
        for raw in proc.stdout:
            log.write(raw)
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") != "summary":
                emit({"type": "event", "run_id": task.run_id, "event": event})
    code = proc.wait()
    # The worker's slot is free now: its results are gathered beside the next run.
    emit({"type": "exited", "run_id": task.run_id, "exit_code": code})
    outcome = gather(task, repo, home, code, _tail(stderr_path))
    outcome.elapsed_s = time.time() - started
    return outcome


def _local_worker_name() -> str:
    """``local-N`` for the pool's N-th thread (``autopack-batch_<N-1>``)."""
    import threading

    name = threading.current_thread().name
    index = name.rsplit("_", 1)[-1]
    return f"local-{int(index) + 1}" if index.isdigit() else "local"


def prepare_repository(task: RunTask) -> Path:
    """The repository the run works in: its project folder, or its clone (made once, reused on a resume)."""
    if task.project_dir is not None:
        from ..layout import project_root

        return project_root(Path(task.project_dir)) or Path(task.project_dir)
    assert task.clone is not None and task.clone_dir is not None
    target = Path(task.clone_dir)
    if (target / ".git").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    _git(None, "clone", "--quiet", "--no-tags", task.clone, str(partial))
    if task.ref:
        _git(
            partial,
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "--quiet",
            "-B",
            f"batch-start-{task.run_id}",
            task.ref,
        )
    os.replace(partial, target)  # a clone cut short by a kill is made again, never half used
    return target


def run_args(task: RunTask, repo: Path, home: Path) -> list[str]:
    """``autopack``'s arguments for the run."""
    argv = [
        "run",
        "--run-id",
        task.run_id,
        "--plan",
        task.plan,
        "--project-dir",
        str(repo),
        "--home",
        str(home),
        "--json",
    ]
    for flag, value in (
        ("--config", task.config),
        ("--script", task.script),
        ("--model", task.model),
        ("--strong-model", task.strong_model),
        ("--max-attempts", task.max_attempts),
        ("--max-cost", task.max_cost),
        ("--env-file", task.env_file),
    ):
        if value is not None:
            argv += [flag, str(value)]
    return argv


def gather(task: RunTask, repo: Path, home: Path, code: int, stderr: str) -> RunOutcome:
    """The outcome of a finished (or killed) run process: its store rows, report and branch."""
    store, base = read_store(home, task.run_id)
    status = store["status"] if store else None
    error = _last_error(stderr)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        state, message = "INTERRUPTED", f"its process was killed ({name}); the batch's same command resumes it"
    elif status in ("COMPLETE", "PARTIAL", "FAILED", "STOPPED", "INTERRUPTED"):
        state, message = status, (store or {}).get("stop_reason") or ""
        if status == "FAILED" and error and not message:
            message = error
    elif status == "RUNNING":
        state, message = "INTERRUPTED", "its process ended without recording why; the batch's same command resumes it"
    else:
        state, message = "ERROR", error or f"autopack run exited {code}"
    outcome = RunOutcome(task.run_id, state, code, message, repo_dir=str(repo), home=str(home), store=store)
    if store is None:
        return outcome
    outcome.branch = store.get("branch")
    outcome.report = write_report(home, task.run_id, Path(task.run_dir) / "report.html", outcome.notes)
    if outcome.branch:
        deliver_branch(task, repo, outcome, base)
    return outcome


def read_store(home: Path, run_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The run's rows as ``autopack status --json`` gives them, and its base commit (None, None when the
    run never got into a store)."""
    from ..errors import AutopackError
    from ..review.status import run_status
    from ..store import find_run

    try:
        _layout, store = find_run(home, run_id, check=False)
    except AutopackError:
        return None, None
    with store:
        data = run_status(store, run_id)
        base = store.require_run(run_id).base_commit
    return json.loads(json.dumps(data, default=str)), base


def write_report(home: Path, run_id: str, path: Path, notes: list[str]) -> str | None:
    """The run's HTML report (as `autopack report` writes it) at ``path``."""
    from ..errors import AutopackError
    from ..fileio import atomic_write_text
    from ..report import build_report, render_report
    from ..secrets import scrub
    from ..store import find_run

    try:
        layout, store = find_run(home, run_id, check=False)
        with store:
            data = build_report(store, layout, run_id)
        atomic_write_text(path, scrub(render_report(data)), fsync=False)
    except (AutopackError, OSError) as exc:
        notes.append(f"no report: {exc}")
        return None
    return str(path)


def deliver_branch(task: RunTask, repo: Path, outcome: RunOutcome, base: str | None) -> None:
    """Bring the run's branch where the batch said: a bundle, a push, and the local repository it was
    cloned from. A failure is a note on the run, not a failed run: its branch is still in ``repo``."""
    branch = f"refs/heads/{outcome.branch}"
    if task.bundle:
        bundle = Path(task.bundle)
        bundle.parent.mkdir(parents=True, exist_ok=True)
        tmp = bundle.with_name(bundle.name + ".tmp")
        # Thin when the receiver has the base (it has the project), whole otherwise.
        args = ["bundle", "create", str(tmp), branch] + ([f"^{base}"] if base and task.thin_bundle else [])
        try:
            _git(repo, *args)
            os.replace(tmp, bundle)
            outcome.bundle = str(bundle)
        except TaskError as exc:
            if "empty bundle" in str(exc).lower():
                outcome.notes.append("no bundle: the branch has no commit beyond its base")
            else:
                outcome.notes.append(f"no bundle: {exc}")
    if task.results == "push":
        try:
            _git(repo, "push", "--quiet", task.remote, f"{branch}:{branch}")
            outcome.pushed = f"{task.remote} {outcome.branch}"
        except TaskError as exc:
            outcome.notes.append(f"not pushed: {exc}")
    if task.fetch_into and Path(task.fetch_into).resolve() != repo.resolve():
        fetch_branch(Path(task.fetch_into), outcome.bundle or str(repo), outcome)


def fetch_branch(into: Path, source: str, outcome: RunOutcome) -> None:
    """Fetch the run's branch from ``source`` (a repository or a bundle) into the repository ``into``, as
    a branch of the same name. Never forced: a branch there that the run's does not continue is left as
    it is, and said (the run's branch is still in ``source``)."""
    branch = f"refs/heads/{outcome.branch}"
    try:
        _git(into, "fetch", "--quiet", source, f"{branch}:{branch}")
        outcome.fetched_into = str(into)
    except TaskError as exc:
        outcome.notes.append(f"branch not fetched into {into}: {exc}")


def _git(cwd: Path | None, *args: str) -> str:
    from ..childenv import git_env

    proc = subprocess.run(["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise TaskError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - ERROR_TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_error(stderr: str) -> str:
    """The red line an ``autopack run`` that refused or failed printed last (``error: ...``)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln.removeprefix("error:").strip() for ln in lines if ln.startswith("error:")]
    return errors[-1] if errors else (lines[-1] if lines else "")
