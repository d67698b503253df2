"""Running a batch: the scheduler, and the local engine (a pool of worker processes on this machine).

The scheduler decides what starts (the runs not finished yet, in the file's order, as many as there
are workers and as the cost caps allow: ``budget``), hands each to an engine, and handles what comes
back on one queue, in this thread only: each run's events (the live table), its start, and its outcome
(recorded in ``batch.db``). One run failing, refused or killed never stops the others. At the end, or
when interrupted, it writes ``summary.json`` and the batch report.

A run holds a worker's slot while its process lives (its results are gathered beside the next run).
The local pool (and a local Dask cluster's worker) forks runs from a server that has already imported a
run's code and the SDKs (``launch.PreloadedLauncher``), so a run's start costs little CPU. Where each
run is a fresh interpreter (a machine without ``fork``, or a server that could not start), at most as
many runs as there are cores warm up at once (start-up and the first model call are then the CPU-heavy
part of a run): N runs started together would otherwise all wait for the same cores.

An engine runs ``task.execute_run`` somewhere: ``LocalEngine`` in threads that each supervise one
``autopack run`` process, ``cluster.DaskEngine`` on the workers of a Dask cluster.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..fileio import atomic_write_text
from ..llm.shared_limits import read_stats, write_limits
from .budget import BatchBudget, Exhausted, Grant
from .launch import Launcher, PreloadedLauncher, preloading_available, spawn_run
from .spec import Batch, RunSpec, config_layer
from .state import FINISHED, BatchPaths, BatchStore, RunState
from .task import Emit, RunOutcome, RunTask, execute_run
from .view import BatchInfo, BatchView, RunLine


class Engine(Protocol):
    name: str
    slots: int
    warm_at_once: int  # how many runs may be starting (no model answer yet) at once

    def start(self, emit: Emit) -> None: ...

    def submit(self, task: RunTask) -> None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...


class LocalEngine:
    """``slots`` runs at once on this machine: a thread per run watches its ``autopack run`` process."""

    name = "this machine"

    def __init__(self, slots: int, launch: Launcher | None = None) -> None:
        self.slots = slots
        # Runs are forked from a server that has imported a run's code and the SDKs (``launch``): a
        # fresh interpreter's imports are most of a run's CPU, and N runs starting at once share the cores.
        self._launch = launch or (PreloadedLauncher() if preloading_available() else spawn_run)
        # A fresh interpreter's start is CPU-heavy: no more of them at once than there are cores.
        self.warm_at_once = slots if isinstance(self._launch, PreloadedLauncher) else max(1, os.cpu_count() or 1)
        # Twice the slots: a run whose process ended is still gathered (store rows, report, branch) in its
        # thread while the next run already goes in its slot.
        self._pool = ThreadPoolExecutor(max_workers=2 * slots, thread_name_prefix="autopack-batch")
        self._emit: Emit | None = None
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()

    def start(self, emit: Emit) -> None:
        self._emit = emit

    def submit(self, task: RunTask) -> None:
        assert self._emit is not None
        emit = self._emit

        def track(event: dict[str, Any]) -> None:
            if event.get("type") == "started":
                with self._lock:
                    self._pids[task.run_id] = int(event["pid"])
            emit(event)

        future = self._pool.submit(execute_run, task, track, self._launch)
        future.add_done_callback(lambda f: self._done(task, f))

    def _done(self, task: RunTask, future: Future[RunOutcome]) -> None:
        assert self._emit is not None
        with self._lock:
            self._pids.pop(task.run_id, None)
        exc = future.exception()
        outcome = (
            future.result()
            if exc is None
            else RunOutcome(task.run_id, RunState.ERROR.value, None, f"the batch could not run it: {exc!r}")
        )
        self._emit({"type": "outcome", "run_id": task.run_id, "outcome": outcome.to_dict()})

    def interrupt(self) -> None:
        """SIGTERM every run still going: each records itself INTERRUPTED (resumable) and exits."""
        with self._lock:
            pids = list(self._pids.values())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass
class BatchOptions:
    home: Path  # where the batch folder is
    run_home: Path | None = None  # where runs keep .autonomous_runs (None: each repository's root)
    max_cost: float | None = None
    retry_failed: bool = False
    env_file: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    remote: bool = False  # the engine's workers are other machines: ship files, bring branches back


@dataclass
class BatchResult:
    exit_code: int
    summary: dict[str, Any]


class BatchRunner:
    def __init__(
        self, batch: Batch, paths: BatchPaths, store: BatchStore, engine: Engine, view: BatchView, options: BatchOptions
    ) -> None:
        self.batch, self.paths, self.store, self.engine, self.view = batch, paths, store, engine, view
        self.options = options
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.lines: dict[str, RunLine] = {}
        cap = options.max_cost if options.max_cost is not None else batch.max_cost
        self.budget = BatchBudget(cap)
        self.running: set[str] = set()  # runs whose process lives: each holds a slot
        self.gathering: set[str] = set()  # runs whose process ended, results not back yet
        self.warming: set[str] = set()  # running, and no model answer yet: the CPU-heavy start
        self.warm_limit = engine.warm_at_once
        self.started = time.monotonic()

    # the whole batch ------------------------------------------------------------------------------
    def run(self) -> BatchResult:
        todo = self._prepare()
        self.view.started(
            BatchInfo(
                self.batch.batch_id,
                str(self.paths.root),
                self.engine.slots,
                self.engine.name,
                self.budget.cap,
                len(self.batch.runs),
                len(todo),
            ),
            self.lines,
        )
        self.engine.start(self.events.put)
        interrupted: KeyboardInterrupt | None = None
        try:
            self._loop(todo)
        except KeyboardInterrupt as exc:
            interrupted = exc
            self.engine.interrupt()
            self._drain()
        finally:
            self.engine.close()
        summary = self.finish()
        if interrupted is not None:
            raise interrupted
        return BatchResult(exit_code_for(summary), summary)

    def _prepare(self) -> list[RunSpec]:
        """Record the batch's runs; the ones to run now (not finished, or failed with --retry-failed), with
        what each has spent so far read from its own store."""
        from .task import read_store

        self.store.set_meta(
            "batch",
            {
                "id": self.batch.batch_id,
                "file": str(self.batch.path),
                "max_cost": self.budget.cap,
                "workers": self.engine.slots,
                "engine": self.engine.name,
            },
        )
        write_limits(self.paths.limits, self.batch.limits)
        todo: list[RunSpec] = []
        for position, spec in enumerate(self.batch.runs):
            self.store.add_run(spec.run_id, position, spec.source)
            row = self.store.get(spec.run_id) or {}
            line = self.lines[spec.run_id] = RunLine(spec.run_id, spec.source)
            line.state = str(row.get("state") or RunState.PENDING.value)
            line.cost_usd = float(row.get("cost_usd") or 0.0)
            line.phases_done, line.phases_total = int(row.get("phases_done") or 0), int(row.get("phases_total") or 0)
            line.elapsed_s, line.message = float(row.get("elapsed_s") or 0.0), str(row.get("message") or "")
            line.simulated, line.waits, line.waited_s = (
                bool(row.get("simulated")),
                int(row.get("waits") or 0),
                float(row.get("waited_s") or 0.0),
            )
            if row.get("home") and not self.options.remote:
                stored, _ = read_store(Path(row["home"]), spec.run_id)
                if stored is not None:
                    line.cost_usd = float(stored["totals"]["cost_usd"])
            self.budget.update(spec.run_id, line.cost_usd)
            finished = RunState(line.state) in FINISHED
            if finished and not (self.options.retry_failed and line.state != RunState.COMPLETE.value):
                continue
            if line.state == RunState.RUNNING.value:  # the batch that ran it was killed: resume it
                line.state = RunState.INTERRUPTED.value
                line.message = "the batch was stopped while it ran; resumed now"
                self.store.update(spec.run_id, state=line.state, message=line.message)
            todo.append(spec)
        return todo

    def _loop(self, todo: list[RunSpec]) -> None:
        pending = list(todo)
        while pending or self.running or self.gathering:
            pending = self._start_what_fits(pending)
            if not pending and not self.running and not self.gathering:
                break
            try:
                event = self.events.get(timeout=0.25)
            except queue.Empty:
                self.view.tick()
                continue
            self._handle(event)

    def _drain(self) -> None:
        """After an interrupt: wait for the runs still going to record themselves and end."""
        while self.running or self.gathering:
            try:
                self._handle(self.events.get(timeout=0.5))
            except queue.Empty:
                continue
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting (the runs record themselves anyway)
                break

    # starting runs ---------------------------------------------------------------------------------
    def _start_what_fits(self, pending: list[RunSpec]) -> list[RunSpec]:
        left: list[RunSpec] = []
        for spec in pending:
            if len(self.running) >= self.engine.slots or len(self.warming) >= self.warm_limit:
                left.append(spec)
                continue
            answer = self.budget.request(spec.run_id, spec.max_cost)
            if isinstance(answer, Grant):
                self._start(spec, answer.cap)
            elif isinstance(answer, Exhausted):
                line = self.lines[spec.run_id]
                line.state = RunState.STOPPED.value
                line.message = (
                    f"not started: the batch's cost cap (${answer.cap:.2f}) is spent; raise it (max_cost in "
                    "the batch file, or --max-cost) and run the same command"
                )
                self.store.update(spec.run_id, state=line.state, message=line.message)
                self.view.run_changed(line)
            else:
                left.append(spec)  # waits for a running run to give budget back
        return left

    def _start(self, spec: RunSpec, cap: float | None) -> None:
        task = self.task_for(spec, cap)
        line = self.lines[spec.run_id]
        line.state, line.cost_cap_usd, line.message, line.step = RunState.RUNNING.value, cap, "", "starting"
        line.started = time.monotonic()
        self.running.add(spec.run_id)
        self.warming.add(spec.run_id)
        row = self.store.get(spec.run_id) or {}
        self.store.update(
            spec.run_id,
            state=line.state,
            cost_cap_usd=cap,
            message=None,
            exit_code=None,
            starts=int(row.get("starts") or 0) + 1,
            started_at=time.time(),
            finished_at=None,
        )
        self.engine.submit(task)

    def task_for(self, spec: RunSpec, cap: float | None) -> RunTask:
        run_dir = self.paths.run_dir(spec.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        layer = config_layer(spec)
        config_path: str | None = None
        if layer is not None:
            import yaml

            path = run_dir / "config.yaml"
            atomic_write_text(
                path,
                f"# made by autopack batch from {spec.where}: the batch's and the run's config "
                "files and overrides\n" + yaml.safe_dump(layer, sort_keys=False),
                fsync=False,
            )
            config_path = str(path)
        local_repo = spec.local_repository()
        cloned = spec.clone is not None
        bundle = self.batch.results == "bundle" or self.options.remote
        return RunTask(
            batch_id=self.batch.batch_id,
            run_id=spec.run_id,
            plan=str(spec.plan),
            run_dir=str(run_dir),
            project_dir=str(spec.project_dir) if spec.project_dir is not None and not self.options.remote else None,
            clone=(spec.clone if cloned else str(spec.project_dir)) if cloned or self.options.remote else None,
            clone_dir=str(self.paths.clone_dir(spec.run_id)),
            ref=spec.ref,
            home=str(self.options.run_home) if self.options.run_home is not None and not self.options.remote else None,
            config=config_path,
            script=str(spec.script) if spec.script else None,
            model=spec.model,
            strong_model=spec.strong_model,
            max_attempts=spec.max_attempts,
            max_cost=cap,
            env_file=str(self.options.env_file) if self.options.env_file else None,
            limits_dir=str(self.paths.limits),
            results=self.batch.results,
            remote=self.batch.remote,
            bundle=str(self.paths.bundle(spec.run_id)) if bundle else None,
            fetch_into=str(local_repo) if local_repo is not None and (cloned or self.options.remote) else None,
            thin_bundle=local_repo is not None,
            extra_env=dict(self.options.extra_env),
        )

    # what comes back -------------------------------------------------------------------------------
    def _handle(self, message: dict[str, Any]) -> None:
        run_id = str(message.get("run_id"))
        line = self.lines.get(run_id)
        if line is None:
            return
        kind = message.get("type")
        if kind == "started":
            line.worker = str(message.get("worker") or "")
            self.store.update(
                run_id,
                pid=message.get("pid"),
                worker=line.worker,
                home=message.get("home"),
                repo_dir=message.get("repo_dir"),
            )
            self.view.run_changed(line)
        elif kind == "event":
            event = message["event"]
            if event.get("event") in ("llm_call", "run_finished"):
                self.warming.discard(run_id)
            before = (line.phase, line.phases_done, line.phases_total)
            line.apply(event)
            self.budget.update(run_id, line.cost_usd)
            if (line.phase, line.phases_done, line.phases_total) != before or event.get("event") == "llm_call":
                self.store.update(
                    run_id,
                    phase=line.phase,
                    phases_done=line.phases_done,
                    phases_total=line.phases_total,
                    cost_usd=line.cost_usd,
                    simulated=int(line.simulated),
                    waits=line.waits,
                    waited_s=line.waited_s,
                    rate_limited=line.rate_limited,
                )
            self.view.run_event(line, event)
        elif kind == "exited":
            if run_id in self.running:
                self.running.discard(run_id)
                self.warming.discard(run_id)
                self.gathering.add(run_id)
                self.budget.finished(run_id, line.cost_usd)  # what it spent, as its events said
        elif kind == "outcome":
            self._finished(line, RunOutcome(**message["outcome"]))

    def _finished(self, line: RunLine, outcome: RunOutcome) -> None:
        self.running.discard(line.run_id)
        self.warming.discard(line.run_id)
        self.gathering.discard(line.run_id)
        store = outcome.store or {}
        totals = store.get("totals") or {}
        if totals:
            line.cost_usd = float(totals.get("cost_usd") or 0.0)
        phases = store.get("phases") or []
        if phases:
            line.phases_total = len(phases)
            line.phases_done = sum(p["state"] in ("COMPLETE", "SKIPPED") for p in phases)
        line.state, line.message = outcome.state, outcome.message
        if outcome.notes:
            line.message = "; ".join([m for m in [outcome.message, *outcome.notes] if m])
        line.elapsed_s = (time.monotonic() - line.started) if line.started is not None else outcome.elapsed_s
        self.budget.finished(line.run_id, line.cost_usd)
        self.store.update(
            line.run_id,
            state=line.state,
            exit_code=outcome.exit_code,
            message=line.message,
            phases_done=line.phases_done,
            phases_total=line.phases_total,
            cost_usd=line.cost_usd,
            finished_at=time.time(),
            elapsed_s=line.elapsed_s,
            report=outcome.report,
            bundle=outcome.bundle,
            pushed=outcome.pushed,
            branch=outcome.branch,
            home=outcome.home,
            repo_dir=outcome.repo_dir,
            store_json=json.dumps(outcome.store) if outcome.store else None,
            waits=line.waits,
            waited_s=line.waited_s,
            rate_limited=line.rate_limited,
            pid=None,
        )
        self.view.run_changed(line)

    # the end -----------------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        from .report import write_batch_report

        summary = batch_summary(
            self.batch.batch_id, self.store, self.paths, self.budget.cap, wall_s=time.monotonic() - self.started
        )
        atomic_write_text(self.paths.summary, json.dumps(summary, indent=2, default=str), fsync=False)
        write_batch_report(self.paths, summary)
        self.view.finished(summary, self.lines)
        return summary


def batch_summary(
    batch_id: str, store: BatchStore, paths: BatchPaths, max_cost: float | None, wall_s: float | None = None
) -> dict[str, Any]:
    """The batch in one JSON document: every run's state, cost, branch and store rows, and the totals."""
    runs = store.runs()
    states: dict[str, int] = {}
    for r in runs:
        states[r["state"]] = states.get(r["state"], 0) + 1
    stats = read_stats(paths.limits) if paths.limits.is_dir() else {}
    meta = store.meta().get("batch", {})
    return {
        "batch": batch_id,
        "file": meta.get("file"),
        "folder": str(paths.root),
        "report": str(paths.report),
        "engine": meta.get("engine"),
        "workers": meta.get("workers"),
        "wall_s": round(wall_s, 3) if wall_s is not None else None,
        "totals": {
            "runs": len(runs),
            "states": states,
            "cost_usd": round(sum(r["cost_usd"] for r in runs), 9),
            "max_cost": max_cost,
            "simulated": any(r["simulated"] for r in runs),
            "rate_limited": sum(s.rate_limited for s in stats.values()),
            "waits": sum(s.waits for s in stats.values()),
            "waited_s": round(sum(s.waited_s for s in stats.values()), 3),
            "by_provider": {
                p: {"rate_limited": s.rate_limited, "waits": s.waits, "waited_s": round(s.waited_s, 3)}
                for p, s in stats.items()
            },
        },
        "runs": runs,
    }


def find_batch(batch: Path, home: Path) -> tuple[str, BatchPaths]:
    """The batch id and folder under ``home`` of a batch file, or of a batch id."""
    from .spec import load_batch
    from .state import batch_dir

    batch_id = load_batch(batch).batch_id if batch.is_file() else batch.name
    return batch_id, BatchPaths(batch_dir(home, batch_id))


def batch_status(batch_id: str, paths: BatchPaths) -> dict[str, Any]:
    """``autopack batch status``: the batch's summary, the process running it (None: not running) and
    the callers waiting for each provider now. A run still RUNNING in a batch nobody runs is shown
    INTERRUPTED: its batch was killed, and the same command resumes it."""
    from ..llm.shared_limits import waiting_now
    from .state import batch_running

    with BatchStore.open_existing(paths.db) as store:
        summary = batch_summary(batch_id, store, paths, (store.meta().get("batch") or {}).get("max_cost"))
    pid = batch_running(paths)
    summary["running_pid"] = pid
    summary["waiting_now"] = waiting_now(paths.limits) if paths.limits.is_dir() and pid else {}
    for r in summary["runs"]:
        if r["state"] == RunState.RUNNING.value and pid is None:
            r["state"] = RunState.INTERRUPTED.value
            r["message"] = "its batch is not running (killed?); run the same `autopack batch` command to resume it"
    return summary


def exit_code_for(summary: dict[str, Any]) -> int:
    """0 every run complete; 1 a run failed, ended partial or could not run; 3 a run stopped, was
    interrupted or was not started (the same command resumes them)."""
    states = set(summary["totals"]["states"])
    if states & {RunState.FAILED.value, RunState.PARTIAL.value, RunState.ERROR.value}:
        return 1
    if states - {RunState.COMPLETE.value}:
        return 3
    return 0
