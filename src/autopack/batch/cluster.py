"""The cluster engine: the same batch on a Dask cluster (``--cluster tcp://scheduler:8786``, or
``--cluster local`` for a ``LocalCluster`` of worker processes on this machine).

Why Dask (``distributed``) and not Ray: it is pure Python (two wheels and small pure-Python
dependencies, nothing compiled to build or download), a cluster is one ``dask scheduler`` and some
``dask worker ADDRESS`` processes, a ``LocalCluster`` starts in a few seconds (so the test suite runs
the real engine), and its futures, task retries on lost workers and worker event topics are all a batch
needs: each task is one coarse, long run, not a graph of small tasks or actors.

A task carries its inputs as text (plan, config layer, scripted replies, .env file): the workers need
not see the client's files. On a worker, the run works in a clone under its scratch folder
(``<scratch>/autopack-batch/<batch>/``; kept, so a run that lands on the same machine again resumes
there), with the batch's provider limits shared by the runs on that machine. Its events come back live
through a Dask event topic; at its end its store rows, its HTML report and its branch (a git bundle,
fetched into the project's repository when that is on this machine; pushed to the project's remote
too with ``results: push``) come back with the task's result.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_text
from .launch import Launcher, PreloadedLauncher, preloading_available, spawn_run
from .spec import Batch, BatchError
from .state import BatchPaths, RunState
from .task import Emit, RunOutcome, RunTask, execute_run, fetch_branch

LOCAL = "local"


class DaskEngine:
    """Runs each task on a worker of a Dask cluster; at most ``slots`` at once."""

    def __init__(
        self,
        address: str,
        slots: int,
        batch: Batch,
        paths: BatchPaths,
        *,
        scratch: str | None = None,
        sdks: Iterable[str] = (),
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise BatchError(
                "--cluster needs Dask: pip install 'autopack[cluster]' (the distributed package)"
            ) from None
        self.slots = slots
        self.sdks = sorted(set(sdks))
        self.warm_at_once = slots  # runs fork from a preloaded server: a start costs little CPU
        self.batch = batch
        self.paths = paths
        self.scratch = scratch
        self.topic = f"autopack-batch-{batch.batch_id}"
        self.cluster: Any = None
        try:
            if address == LOCAL:
                import dask

                # One worker process with a thread per run (and as many again: a finished run's results are
                # gathered while the next run goes), as `dask worker --nthreads N` would run on a machine: each
                # run is its own process already, forked from the worker's preloaded server (``remote_run``).
                # One worker per slot would start a Dask worker and a run server per slot, 2-3 s of CPU each.
                # The worker is not a daemonic process, so it may have children of its own.
                dask.config.set({"distributed.worker.daemon": False})
                self.cluster = LocalCluster(
                    n_workers=1, threads_per_worker=2 * slots, processes=True, dashboard_address=None, silence_logs=50
                )
                self.client = Client(self.cluster)
                self.name = f"a local Dask cluster ({self.cluster.scheduler_address})"
            else:
                self.client = Client(address, timeout=30)
                self.name = f"the Dask cluster at {address}"
        except (OSError, TimeoutError) as exc:
            if self.cluster is not None:
                self.cluster.close()
            raise BatchError(
                f"--cluster {address}: cannot reach the Dask scheduler ({exc}); start it "
                "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or check the address"
            ) from None
        self._emit: Emit | None = None
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()

    def start(self, emit: Emit) -> None:
        self._emit = emit
        self.client.subscribe_topic(self.topic, lambda record: emit(record[1]))

    def submit(self, task: RunTask) -> None:
        payload = ship(task, self.batch, self.topic, self.scratch)
        payload["sdks"] = self.sdks
        future = self.client.submit(
            remote_run, payload, key=f"autopack-{task.run_id}-{uuid.uuid4().hex[:8]}", pure=False
        )
        with self._lock:
            self._futures[task.run_id] = future
        future.add_done_callback(lambda f: self._done(task, f))

    def _done(self, task: RunTask, future: Any) -> None:
        assert self._emit is not None
        with self._lock:
            self._futures.pop(task.run_id, None)
        if future.status == "finished":
            outcome = receive(task, future.result())
        elif future.status == "cancelled":
            outcome = RunOutcome(
                task.run_id,
                RunState.INTERRUPTED.value,
                None,
                "the batch was stopped while it ran; the same command resumes it",
            )
        else:
            exc = future.exception()
            outcome = RunOutcome(task.run_id, RunState.ERROR.value, None, f"the cluster could not run it: {exc!r}")
        self._emit({"type": "outcome", "run_id": task.run_id, "outcome": outcome.to_dict()})

    def interrupt(self) -> None:
        with self._lock:
            futures = list(self._futures.values())
        if futures:
            self.client.cancel(futures)
        if self.cluster is not None:  # our own workers: ending them ends their runs, which record themselves
            self.cluster.close()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def ship(task: RunTask, batch: Batch, topic: str, scratch: str | None) -> dict[str, Any]:
    """What a worker gets: the task, and the text of every file it names (a worker need not see ours)."""
    files = {}
    # Not --env-file: keys stay off the wire; each worker's own environment (or .env) provides them.
    for key in ("plan", "config", "script"):
        path = getattr(task, key)
        if path is not None:
            files[key] = (Path(path).name, Path(path).read_text(encoding="utf-8"))
    return {
        "task": task.to_dict(),
        "files": files,
        "topic": topic,
        "scratch": scratch,
        "limits": {k: vars(v) for k, v in batch.limits.items()},
    }


def remote_run(payload: dict[str, Any]) -> dict[str, Any]:
    """On a Dask worker: run one task in the worker's scratch folder, stream its events to the batch's
    topic, and return its outcome with its report and its branch's bundle."""
    from distributed import get_worker

    from ..llm.shared_limits import ProviderLimit, write_limits

    worker = get_worker()
    task = dict(payload["task"])
    root = Path(payload["scratch"] or tempfile.gettempdir()) / "autopack-batch" / task["batch_id"]
    run_dir = root / "runs" / task["run_id"]
    inputs = run_dir / "inputs"
    for key, (name, text) in payload["files"].items():
        path = inputs / key / name
        atomic_write_text(path, text, fsync=False)
        task[key] = str(path)
    limits = root / "limits"
    write_limits(limits, {k: ProviderLimit(**v) for k, v in payload["limits"].items()})
    task.update(
        env_file=None,
        run_dir=str(run_dir),
        clone_dir=str(root / "clones" / task["run_id"]),
        limits_dir=str(limits),
        bundle=str(run_dir / "branch.bundle"),
        fetch_into=None,
        worker=str(worker.name or worker.address),
    )
    topic = payload["topic"]
    outcome = execute_run(
        RunTask(**task), lambda event: worker.log_event(topic, event), worker_launcher(payload.get("sdks") or ())
    )
    result = outcome.to_dict()
    result["report_html"] = Path(outcome.report).read_text(encoding="utf-8") if outcome.report else None
    result["bundle_bytes"] = Path(outcome.bundle).read_bytes() if outcome.bundle else None
    return result


def worker_launcher(sdks: Iterable[str]) -> Launcher:
    """How a worker starts its runs: forked from a server of its own that has imported a run's code and
    ``sdks`` (as the local pool does), unless the worker is a daemonic process (Dask's default for the
    workers a nanny starts: such a process may not have children of its own) or the machine has no fork;
    then each run is a fresh interpreter."""
    import multiprocessing

    if preloading_available() and not multiprocessing.current_process().daemon:
        return PreloadedLauncher(sdks)
    return spawn_run


def receive(task: RunTask, result: dict[str, Any]) -> RunOutcome:
    """On this machine: keep a finished remote run's report and bundle in the batch folder, and fetch its
    branch into the project's repository when that is here."""
    report_html = result.pop("report_html", None)
    bundle_bytes = result.pop("bundle_bytes", None)
    outcome = RunOutcome(**result)
    run_dir = Path(task.run_dir)
    outcome.report = None
    if report_html is not None:
        atomic_write_text(run_dir / "report.html", report_html, fsync=False)
        outcome.report = str(run_dir / "report.html")
    outcome.bundle = None
    if bundle_bytes is not None and task.bundle is not None:
        bundle = Path(task.bundle)
        bundle.parent.mkdir(parents=True, exist_ok=True)
        tmp = bundle.with_name(bundle.name + ".tmp")
        tmp.write_bytes(bundle_bytes)
        tmp.replace(bundle)
        outcome.bundle = str(bundle)
        if task.fetch_into and outcome.branch:
            fetch_branch(Path(task.fetch_into), str(bundle), outcome)
    return outcome
