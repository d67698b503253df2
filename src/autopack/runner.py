"""Starting and resuming a run: validate everything before writing anything, take the run lock, open
(or reopen) the store and the git worktree, wire the LLM service, run the executor, and leave a
journal and a summary behind. The same command resumes a run that was killed or stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .attempt import CHECK_PID_FILE
from .config import Config, config_diff, load_effective_config
from .errors import AutopackError, DiskFull, PlanError, RunStopped
from .executor import Executor, RunResult, StoreSink
from .gate.checks import end_orphaned_check
from .gate.checks_env import import_roots, resolve_checks_env
from .layout import Layout, archive_old_logs, home_dir, project_root
from .lock import RunLock
from .overrides import RunOverrides
from .plan import Plan, check_plan_models, load_plan, plan_from_json
from .preflight import preflight
from .progress import PlainReporter, Reporter
from .recovery.budget import HealthBudget
from .store import AttemptStatus, PhaseState, RunStatus, RunStore
from .workspace.worktree import Workspace, validate_run_id

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
INTERRUPTED_HINT = "interrupted; run the same command to resume"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM reached a run. A KeyboardInterrupt, so no ``except Exception`` on the
    way swallows it; the run is marked INTERRUPTED and its open phase rolled back on the way out.
    ``exit_code`` is 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + int(signum)
        super().__init__(f"{INTERRUPTED_HINT} ({self.signal_name})")


@contextlib.contextmanager
def interrupt_signals() -> Iterator[None]:
    """While a run executes, SIGINT and SIGTERM raise RunInterrupted (SIGTERM would otherwise end the
    process with no chance to record anything). Only the main thread can take signals; elsewhere this
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupt(signum: int, _frame: object) -> None:
        raise RunInterrupted(signum)

    previous = {sig: signal.signal(sig, raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """A second Ctrl-C while an interrupted run is being recorded would leave it half-recorded: ignore
    SIGINT/SIGTERM for that moment (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class RunRequest:
    run_id: str
    plan_path: Path
    project_dir: Path | None = None
    home: Path | None = None
    config_path: Path | None = None
    script: Path | None = None  # scripted provider: answers every call from this YAML file
    record: Path | None = None
    replay: Path | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    overrides: RunOverrides = field(default_factory=RunOverrides)  # --model, --strong-model, --max-cost, --max-attempts
    env_file: Path | None = None  # --env-file: read after the project's and the current directory's .env

    def project_root(self) -> Path:
        """--project-dir, else the git repository around the current directory, else the current directory."""
        if self.project_dir is not None:
            return self.project_dir.resolve()
        cwd = Path.cwd().resolve()
        return project_root(cwd) or cwd


class TeeReporter:
    """Progress to the user and, as plain lines, to the human log under logs/."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def event(self, kind: str, data: dict[str, Any]) -> None:
        for r in self.reporters:
            r.event(kind, data)

    def close(self) -> None:
        for r in self.reporters:
            r.close()


def prepare(req: RunRequest, *, dry_run: bool = False) -> tuple[Config, Plan, Any]:
    """Everything that can be checked before the store is touched: run id, config, plan, models and
    prices, the reply source (--script / --replay), the --record folder and the .env files.
    Returns the config, the plan and the provider that answers every call (or None). ``dry_run``
    leaves the --record folder alone. Whether every role has a provider is ``preflight``'s question."""
    if not RUN_ID.match(req.run_id):
        raise AutopackError(
            f"run id {req.run_id!r} is not usable: use letters, digits, '.', '_' and '-' (it names a git branch)"
        )
    config = req.overrides.apply(load_effective_config(req.config_path, project_dir=req.project_root()))
    plan = load_plan(req.plan_path)
    problems = check_plan_models(plan, config)
    if problems:
        raise PlanError(f"{req.plan_path}: " + "\n  ".join(problems))
    for flag, path in (("--script", req.script), ("--replay", req.replay)):
        if path is not None and not path.exists():
            raise AutopackError(f"{flag} {path}: no such file or directory")
    if req.script and req.replay:
        raise AutopackError("--script and --replay cannot be combined: choose one source of model replies")
    if req.record is not None:
        if req.record.exists() and not req.record.is_dir():
            raise AutopackError(
                f"--record {req.record}: exists and is not a directory; name a folder for the recording"
            )
        if not dry_run:
            try:
                req.record.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AutopackError(f"--record {req.record}: cannot create the folder ({exc.strerror})") from None
    req.env = run_environment(
        req.env, project_dir=req.project_root(), env_file=req.env_file
    )  # a malformed .env is an error now, not mid-run
    override: Any = None
    if req.script:
        from .llm.scripted import ScriptedProvider

        override = ScriptedProvider(req.script)
    elif req.replay:
        from .llm.record import ReplayProvider

        override = ReplayProvider(req.replay)
    return config, plan, override


def check_providers(plan: Plan, config: Config, env: dict[str, str], override: Any) -> None:
    """The preflight: every role the run can reach has a provider with a key (or a keyless endpoint);
    PreflightError (exit 2) names the ones that do not. Replies from --script or --replay need no key."""
    if override is None:
        preflight({p.complexity for p in plan.all_phases()}, config, env)


def run_environment(
    base: dict[str, str], *, project_dir: Path | None = None, env_file: Path | None = None
) -> dict[str, str]:
    """The process environment plus the .env files: the project's (at the root of the git repository
    around ``project_dir``, default the current directory), the current directory's, then ``env_file``
    (--env-file), each later file winning over the earlier ones and real variables over all of them.
    A missing .env is fine; a missing --env-file is an error."""
    from .llm.providers import load_dotenv_file

    if env_file is not None and not env_file.is_file():
        raise AutopackError(f"--env-file {env_file}: no such file; name a file of KEY=VALUE lines")
    cwd = Path.cwd().resolve()
    root = project_root(project_dir or cwd)
    files = [f for f in (root / ".env" if root else None, cwd / ".env", env_file) if f is not None and f.is_file()]
    merged: dict[str, str] = {}
    for dotenv in dict.fromkeys(f.resolve() for f in files):
        merged.update(load_dotenv_file(dotenv))
    merged.update(base)
    return merged


def make_service(
    config: Config,
    env: dict[str, str],
    *,
    sink: Any,
    override: Any = None,
    record: Path | None = None,
    spent: float = 0.0,
    tokens: dict[str, int] | None = None,
) -> Any:
    """The one way an LLM service is built (runs, `models check`, `plan draft`, `doctor diagnose`):
    real providers with keys from ``env``, or ``override`` for every call; every key variable is
    withheld from child processes and every key value scrubbed from what is stored or shown."""
    from .llm.providers import KEY_ENV_VARS, build_providers
    from .llm.record import Recorder
    from .llm.service import LlmService
    from .secrets import register_secret_env

    secret_vars = {v for vs in KEY_ENV_VARS.values() for v in vs} | {
        e.api_key_env for e in config.endpoints if e.api_key_env
    }
    for name in secret_vars:
        register_secret_env(name)
    secrets = [env[v] for v in secret_vars if env.get(v)]
    return LlmService(
        config,
        build_providers(config, env),
        sink=sink,
        override=override,
        recorder=Recorder(record, secrets) if record else None,
        spent_usd=spent,
        provider_tokens=tokens,
        secrets=secrets,
        key_hints={k: " or ".join(v) for k, v in KEY_ENV_VARS.items()},
    )


def _budget_from_store(config: Config, store: RunStore, run_id: str) -> HealthBudget:
    budget = HealthBudget(config.health_budget)
    for a in store.attempts(run_id):
        if a.outcome is AttemptStatus.FAILED:
            budget.record_failure(a.error_category or "unknown")
    for _ in range(store.count_events(run_id, "http_500")):
        budget.record_http_500()
    return budget


def execute(req: RunRequest, reporter: Reporter) -> RunResult:
    """Run (or resume) ``req``; Ctrl-C and SIGTERM raise RunInterrupted after the run is recorded as
    INTERRUPTED with its open phase rolled back (see ``_mark_interrupted``)."""
    with interrupt_signals():
        return _execute(req, reporter)


def _execute(req: RunRequest, reporter: Reporter) -> RunResult:
    validate_run_id(req.run_id)  # it names folders and files: refused before any is made
    config, plan, override = prepare(req)
    check_providers(plan, config, req.env, override)
    home = home_dir(req.home)
    layout = Layout(home, plan.project)
    run_dir = layout.run_dir(req.run_id)
    from .memory.rules import RuleBook

    RuleBook.load(layout.rules_path)  # a hand-broken rules.yaml is an error before anything is written
    if not _store_knows(layout, req.run_id):
        # A run that cannot start (no repository, a branch of that name the store does not know, a bad
        # run id, a checks_env that is no environment) is refused here, before any folder, lock, log or
        # store row is made for it.
        project_dir = req.project_root()
        Workspace.check_new(project_dir, req.run_id, layout.db_path)
        resolve_checks_env(project_dir, config.quality_gate.checks_env)
    new_dir = not run_dir.exists()
    try:
        return _execute_locked(req, reporter, config, plan, override, layout, run_dir)
    except BaseException:
        if new_dir and not _store_knows(layout, req.run_id, unreadable=True):
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing of a run that never started stays behind
        raise


def _store_knows(layout: Layout, run_id: str, *, unreadable: bool = False) -> bool:
    """True when the project's run store exists and has ``run_id`` (opened only if the file exists);
    ``unreadable`` is the answer when the store cannot be read."""
    if not layout.db_path.is_file():
        return False
    try:
        with RunStore(layout.db_path) as store:
            return store.get_run(run_id) is not None
    except (AutopackError, sqlite3.Error):
        if unreadable:
            return True
        raise


def _execute_locked(
    req: RunRequest, reporter: Reporter, config: Config, plan: Plan, override: Any, layout: Layout, run_dir: Path
) -> RunResult:
    home = home_dir(req.home)
    archive_old_logs(layout.logs_dir)
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    with (
        RunLock(run_dir / "executor.lock", req.run_id),
        RunStore(layout.db_path) as store,
        open(layout.log_path(req.run_id), "a", encoding="utf-8") as log,
    ):
        tee = TeeReporter(reporter, PlainReporter(log))
        ws: Workspace | None = None
        try:
            run = store.get_run(req.run_id)
            if run is None:
                project_dir = req.project_root()
                ws = Workspace.open(project_dir, req.run_id, run_dir / "worktree", unknown_to=layout.db_path)
                phases = [p.model_dump(exclude={"tier"}) for p in plan.all_phases()]
                store.create_run(
                    req.run_id,
                    plan.project,
                    plan.goal,
                    plan.model_dump_json(),
                    phases,
                    plan_path=str(req.plan_path.resolve()),
                    project_dir=str(project_dir),
                )
                shutil.copyfile(req.plan_path, run_dir / ("plan" + (req.plan_path.suffix or ".yaml")))
                # The branch the run started from: where `autopack merge` lands it by default.
                store.update_run(
                    req.run_id,
                    "workspace_ready",
                    {"worktree": str(ws.root), "base_branch": _current_branch(project_dir)},
                    branch=ws.branch,
                    base_commit=ws.base_commit,
                    worktree=str(ws.root),
                )
                tee.event(
                    "run_started",
                    {
                        "run_id": req.run_id,
                        "phases": len(phases),
                        "branch": ws.branch,
                        **_money(store, req.run_id, config, override),
                    },
                )
                _record_config(store, req.run_id, config, tee)
                _warn_if_dirty(project_dir, ws.base_commit, tee)
                _exclude_runtime_dirs(project_dir, home)
            else:
                if run.status is RunStatus.COMPLETE:
                    tee.event("run_finished", {"status": "COMPLETE", "reason": "already complete; nothing to do"})
                    return RunResult(req.run_id, "COMPLETE", None, 0)
                stored = plan_from_json(run.plan_json)
                if stored.model_dump() != plan.model_dump():
                    tee.event(
                        "plan_changed",
                        {
                            "note": "the plan file changed since the run started; continuing with the stored plan "
                            "(start a new run id to use the new plan)"
                        },
                    )
                plan = stored
                assert run.project_dir is not None  # the runner records it with the run
                if req.project_dir is not None and req.project_dir.resolve() != Path(run.project_dir).resolve():
                    tee.event(
                        "warning",
                        {
                            "message": f"--project-dir {req.project_dir} ignored: run {req.run_id} belongs to "
                            f"{run.project_dir} (start a new run id for another project)"
                        },
                    )
                # A kill between creating the run and recording its worktree leaves these empty: the
                # worktree's place is fixed, and the branch remembers its base.
                worktree = Path(run.worktree) if run.worktree else run_dir / "worktree"
                ws = Workspace.open(
                    Path(run.project_dir),
                    req.run_id,
                    worktree,
                    base_commit=run.base_commit or None,
                    tip=_last_phase_commit(store, req.run_id),
                )
                if not run.worktree:
                    store.update_run(
                        req.run_id,
                        "workspace_ready",
                        {"worktree": str(ws.root)},
                        branch=ws.branch,
                        base_commit=ws.base_commit,
                        worktree=str(ws.root),
                    )
                for note in ws.notes:
                    tee.event("warning", {"message": f"repaired after an interrupted run: {note}"})
                # A check the killed executor left running would keep writing into the worktree.
                ended = end_orphaned_check(run_dir / CHECK_PID_FILE)
                if ended:
                    tee.event(
                        "warning",
                        {
                            "message": f"ended {len(ended)} process(es) of a check the interrupted run left "
                            f"running (pids {', '.join(map(str, ended))}); its files are rolled back"
                        },
                    )
                interrupted = store.abandon_open_attempts(req.run_id)
                store.update_run(
                    req.run_id, "run_resumed", {"interrupted": interrupted}, status=RunStatus.RUNNING, stop_reason=None
                )
                tee.event("run_resumed", {"run_id": req.run_id, "interrupted": interrupted})
                _record_config(store, req.run_id, config, tee)
                tee.event(
                    "run_started",
                    {
                        "run_id": req.run_id,
                        "phases": len(store.phases(req.run_id)),
                        "branch": ws.branch,
                        "done": sum(
                            p.state in (PhaseState.COMPLETE, PhaseState.SKIPPED) for p in store.phases(req.run_id)
                        ),
                        **_money(store, req.run_id, config, override),
                    },
                )
            budget = _budget_from_store(config, store, req.run_id)
            sink = StoreSink(store, req.run_id, budget, tee)
            totals = store.totals(req.run_id)
            service = make_service(
                config,
                req.env,
                sink=sink,
                override=override,
                record=req.record,
                spent=float(totals.cost_usd),
                tokens=store.provider_tokens(req.run_id),
            )
            checks_env = resolve_checks_env(ws.repo_dir, config.quality_gate.checks_env)
            tee.event(
                "checks_env",
                {
                    "python": checks_env.python(),
                    "source": checks_env.source,
                    "import_roots": [str(p) for p in import_roots(ws.root)],
                },
            )
            executor = Executor(config, plan, store, layout, ws, service, budget, tee, req.run_id, checks_env)
            try:
                result = executor.run()
            except RunStopped as exc:
                store.update_run(req.run_id, "run_stopped", {}, status=RunStatus.STOPPED, stop_reason=str(exc))
                tee.event("run_finished", {"status": "STOPPED", "reason": str(exc)})
                result = RunResult(req.run_id, "STOPPED", str(exc), exc.exit_code)
            except AutopackError as exc:
                # e.g. a replay that does not match: say so in the store, then let the CLI print it (exit 2)
                store.abandon_open_attempts(req.run_id)
                start = _open_phase_start(store, req.run_id)
                if start:
                    ws.restore(start)  # no half-applied edit stays in the worktree
                # A full disk is a clean stop like the budget's (exit 3): the same command resumes once there is space.
                status = RunStatus.STOPPED if isinstance(exc, DiskFull) else RunStatus.FAILED
                with contextlib.suppress(AutopackError, OSError):  # recording it may need the space that is missing
                    store.update_run(req.run_id, "run_failed", {"error": str(exc)}, status=status, stop_reason=str(exc))
                    tee.event("run_finished", {"status": status.value, "reason": str(exc)})
                raise
            finally:
                _write_journal(store, req.run_id, run_dir)
            return result
        except KeyboardInterrupt as exc:
            _mark_interrupted(store, req.run_id, ws, tee, exc)
            raise


def _mark_interrupted(
    store: RunStore, run_id: str, ws: Workspace | None, tee: TeeReporter, exc: KeyboardInterrupt
) -> None:
    """Record an interrupted run: open attempts marked interrupted, the open phase's edits rolled back,
    the run INTERRUPTED (resumable with the same command). Nothing to record before the run exists."""
    name = exc.signal_name if isinstance(exc, RunInterrupted) else "SIGINT"
    with _signals_held():
        store._rollback()  # noqa: SLF001 - the signal may have landed between BEGIN and the transaction's guard
        if store.get_run(run_id) is None:
            return
        store.abandon_open_attempts(run_id)
        start = _open_phase_start(store, run_id)
        if start and ws is not None:
            with contextlib.suppress(AutopackError, OSError):
                ws.restore(start)
        reason = f"interrupted by {name}; run the same command to resume"
        store.update_run(run_id, "run_interrupted", {"signal": name}, status=RunStatus.INTERRUPTED, stop_reason=reason)
        tee.event("run_finished", {"status": RunStatus.INTERRUPTED.value, "reason": reason})


def _money(store: RunStore, run_id: str, config: Config, override: Any) -> dict[str, Any]:
    """What the run has spent so far (a resume continues from it), its cap, and whether the replies (and
    so the costs) are simulated by --script or --replay: for the live view's ``spent / cap``."""
    totals = store.totals(run_id)
    return {
        "spent_usd": float(totals.cost_usd),
        "tokens_in": int(totals.tokens_in),
        "tokens_out": int(totals.tokens_out),
        "cost_cap_usd": config.limits.run_cost_cap_usd,
        "simulated": override is not None,
    }


def _record_config(store: RunStore, run_id: str, config: Config, tee: TeeReporter) -> None:
    """Keep the effective config with the run (a ``run_config`` event, hashed); on a resume whose config
    differs from the one the run last ran with, say which keys changed (a ``config_changed`` event)."""
    data = config.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    previous = store.events(run_id, "run_config")
    if previous:
        last = previous[-1].data
        if last.get("hash") == digest:
            return
        changes = config_diff(last.get("config") or {}, data)
        if changes:
            event = {"changes": changes, "message": "the config changed since this run last ran: " + "; ".join(changes)}
            store.add_event(run_id, "config_changed", event)
            tee.event("config_changed", event)
    store.add_event(run_id, "run_config", {"hash": digest, "config": data})


def _write_journal(store: RunStore, run_id: str, run_dir: Path) -> None:
    try:
        from .memory.journal import write_journal

        write_journal(store, run_id, run_dir / "journal.md")
    except (AutopackError, OSError):  # e.g. a full disk: the run's own outcome matters more than its journal
        pass


def _current_branch(project_dir: Path) -> str | None:
    """The branch checked out in the user's repository (None when HEAD is detached)."""
    import git

    try:
        repo = git.Repo(project_dir)
        return None if repo.head.is_detached else str(repo.active_branch.name)
    except (git.GitError, TypeError, ValueError):
        return None


def _warn_if_dirty(project_dir: Path, base: str, reporter: Reporter) -> None:
    """The run starts from HEAD: say so when the user's working tree holds changes it will not see."""
    import git

    try:
        dirty = git.Repo(project_dir).is_dirty(untracked_files=False)
    except git.GitError:
        return
    if dirty:
        reporter.event(
            "warning",
            {
                "message": f"{project_dir} has uncommitted changes; the run starts from commit "
                f"{base[:10]} and does not see them (commit them first if it should)"
            },
        )


def _last_phase_commit(store: RunStore, run_id: str) -> str | None:
    """The newest commit a phase of the run was recorded with (where its branch must at least be)."""
    done = [p for p in store.phases(run_id) if p.state is PhaseState.COMPLETE and p.commit_sha]
    return max(done, key=lambda p: p.updated_at).commit_sha if done else None


# Phase states with no attempt under way (the others are the steps of one).
_NOT_OPEN = {PhaseState.QUEUED, PhaseState.COMPLETE, PhaseState.SKIPPED, PhaseState.FAILED, PhaseState.FATAL}


def _open_phase_start(store: RunStore, run_id: str) -> str | None:
    """The starting commit of the phase that was in progress, if any (to roll its edits back)."""
    for p in store.phases(run_id):
        if p.state not in _NOT_OPEN and p.start_commit:
            return p.start_commit
    return None


def _exclude_runtime_dirs(project_dir: Path, home: Path) -> None:
    """When autopack's home is inside the project, keep its folders out of the user's `git status`
    (in .git/info/exclude, which is local and never committed)."""
    try:
        rel = home.resolve().relative_to(project_dir.resolve())
    except ValueError:
        return
    info = project_dir / ".git" / "info"
    if not info.parent.is_dir():
        return
    prefix = "" if str(rel) == "." else rel.as_posix() + "/"
    wanted = [f"/{prefix}.autonomous_runs/", f"/{prefix}logs/"]
    exclude = info / "exclude"
    have = exclude.read_text(encoding="utf-8").splitlines() if exclude.is_file() else []
    missing = [w for w in wanted if w not in have]
    if missing:
        info.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a", encoding="utf-8") as fh:
            fh.write("".join(f"{w}\n" for w in ["# autopack runtime data", *missing]))
