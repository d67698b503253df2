"""The child side of the overhead benchmark (scripts/bench/overhead.py): build the N-phase fixture
and run it once through the real runner in this process, timing each phase from the run's events
with observers on the gate, git and process spawning (each calls the real function and returns its
result unchanged). Prints nothing itself: ``run_child`` returns the figures as a dict.
"""

from __future__ import annotations

import cProfile
import gc
import io
import os
import pstats
import resource
import sqlite3
import subprocess
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autopack.childenv import subprocess_env

END_MARKER = "# end of generated functions"


# fixture ------------------------------------------------------------------------------------
@dataclass
class Fixture:
    project: Path
    plan: Path
    script: Path
    home: Path


def _git(cwd: Path, *args: str) -> None:
    env = subprocess_env(
        {
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@autopack.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@autopack.invalid",
        }
    )
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_fixture(root: Path, n: int) -> Fixture:
    """A git repo with ``mod.py``, an N-phase plan and the scripted replies that complete it."""
    project = root / "project"
    project.mkdir(parents=True)
    (project / "mod.py").write_text(f'"""Functions added by the benchmark."""\n\n\n{END_MARKER}\n', encoding="utf-8")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "mod.py")
    _git(project, "commit", "-q", "-m", "start")
    phases = [{"id": f"p{i}", "name": f"Add f{i}", "description": f"Append a function f{i}() returning {i} to mod.py.",
               "category": "feature", "complexity": "low", "scope": ["mod.py"], "checks": ["true"],
               "builder_mode": "structured_edit"} for i in range(1, n + 1)]  # fmt: skip
    plan = root / "plan.yaml"
    plan.write_text(
        yaml.safe_dump(
            {
                "project": "bench",
                "goal": f"Append {n} functions to mod.py.",
                "allowed_paths": ["mod.py"],
                "phases": phases,
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    # The auditor entry comes first: its prompt also says `PHASE: p<i>`, and match mode serves the
    # first unused entry that matches, so the builder entries must not be reachable from it.
    responses: list[dict[str, Any]] = [
        {
            "label": "auditor approves",
            "match": "ROLE: auditor",
            "repeat": True,
            "text": '{"approved": true, "issues": [], "summary": "ok"}',
        }
    ]
    for i in range(1, n + 1):
        reply = (
            f"mod.py\n```\n<<<<<<< SEARCH\n{END_MARKER}\n=======\ndef f{i}() -> int:\n    return {i}\n\n\n"
            f"{END_MARKER}\n>>>>>>> REPLACE\n```\n"
        )
        responses.append({"label": f"builder p{i}", "match": rf"PHASE: p{i}\b", "text": reply})
    script = root / "script.yaml"
    script.write_text(yaml.safe_dump({"mode": "match", "responses": responses}, sort_keys=False), encoding="utf-8")
    home = root / "home"
    home.mkdir()
    return Fixture(project, plan, script, home)


# the child: one run, measured in-process ------------------------------------------------------
class StampReporter:
    """A quiet reporter that timestamps the events the measurement needs."""

    def __init__(self, db_path: Path, sample_memory: bool) -> None:
        self.db_path, self.sample_memory = db_path, sample_memory
        self.current: str | None = None
        self.started: dict[str, float] = {}
        self.order: list[str] = []
        self.first_phase = self.run_finished = 0.0
        self.store_open_bytes = 0
        self.traced_after: list[int] = []  # tracemalloc current after each completed phase
        self.setup_peak = self.phases_peak = 0

    def event(self, kind: str, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        if kind == "phase_started":
            if not self.order:
                self.first_phase = now
                if self.sample_memory:
                    # Loading the plan and the script is proportional to N by nature; the phases'
                    # own peak is what shows whether the loop itself holds on to memory.
                    self.setup_peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.reset_peak()
            self.current = str(data["phase"])
            self.started[self.current] = now
            self.order.append(self.current)
        elif kind == "phase_complete" and self.sample_memory:
            gc.collect()  # count what is still referenced, not garbage waiting for the collector
            self.traced_after.append(tracemalloc.get_traced_memory()[0])
        elif kind == "run_finished":
            self.run_finished = now
            # The store is still open here, so its WAL is on disk; closing checkpoints it away.
            self.store_open_bytes = _store_bytes(self.db_path)
            if self.sample_memory:
                self.phases_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()

    def close(self) -> None:
        pass


def _store_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def _observe(
    reporter: StampReporter, check_s: dict[str, float], git_s: dict[str, float], spawns: dict[tuple[str, str], int]
) -> Callable[[], None]:
    """Wrap the gate, GitPython and Popen with observers that call the real function and record,
    per phase, check time, git time and processes started. Returns the function that unwraps them."""
    import git.cmd

    import autopack.attempt as attempt_mod

    real_run_checks = attempt_mod.run_checks

    def observed_run_checks(*args: Any, **kwargs: Any) -> Any:
        gate = real_run_checks(*args, **kwargs)
        check_s[reporter.current or ""] += sum(c.duration_s for c in gate.checks)
        return gate

    real_execute = git.cmd.Git.execute
    real_popen_init = subprocess.Popen.__init__

    def counting_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        spawns[(reporter.current or "", _command_name(args[0] if args else kwargs.get("args")))] += 1
        real_popen_init(self, *args, **kwargs)

    def timed_execute(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return real_execute(*args, **kwargs)
        finally:
            git_s[reporter.current or ""] += time.perf_counter() - t

    attempt_mod.run_checks = observed_run_checks
    git.cmd.Git.execute = timed_execute  # type: ignore[method-assign]
    subprocess.Popen.__init__ = counting_init  # type: ignore[method-assign]

    def restore() -> None:
        attempt_mod.run_checks = real_run_checks
        git.cmd.Git.execute = real_execute  # type: ignore[method-assign]
        subprocess.Popen.__init__ = real_popen_init  # type: ignore[method-assign]

    return restore


def run_child(n: int, mode: str, workdir: Path) -> dict[str, Any]:
    """One N-phase run through ``autopack.runner.execute``; ``mode`` is timing, memory or profile."""
    from autopack.config import SHIPPED_CONFIG
    from autopack.layout import Layout
    from autopack.runner import RunRequest, execute

    fx = make_fixture(workdir, n)
    os.chdir(workdir)  # the runner reads ./.env; keep the caller's out of the measurement
    db = Layout(fx.home.resolve(), "bench").db_path
    reporter = StampReporter(db, sample_memory=mode == "memory")
    check_s: dict[str, float] = defaultdict(float)
    git_s: dict[str, float] = defaultdict(float)
    spawns: dict[tuple[str, str], int] = defaultdict(int)  # (phase or "" for setup, command) -> count
    # The memory run installs no observers: their per-phase records would count as growth.
    restore = _observe(reporter, check_s, git_s, spawns) if mode != "memory" else (lambda: None)
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOPACK_CONFIG", "AUTOPACK_HOME")}
    req = RunRequest(
        run_id=f"bench-{n}",
        plan_path=fx.plan,
        project_dir=fx.project,
        home=fx.home,
        config_path=SHIPPED_CONFIG,
        script=fx.script,
        env=env,
    )
    profiler = cProfile.Profile() if mode == "profile" else None
    if mode == "memory":
        tracemalloc.start()
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = execute(req, reporter)
    if profiler is not None:
        profiler.disable()
    t_end = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1] if mode == "memory" else 0
    tracemalloc.stop()
    restore()

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    states = dict(con.execute("SELECT phase_id, state FROM phases WHERE run_id=?", (req.run_id,)).fetchall())
    model_ms = dict(con.execute("SELECT phase_id, SUM(latency_ms) FROM llm_calls WHERE run_id=? GROUP BY phase_id",
                                (req.run_id,)).fetchall())  # fmt: skip
    con.close()
    bounds = [reporter.started[p] for p in reporter.order] + [reporter.run_finished]
    phases = [{"phase": p, "wall_s": bounds[i + 1] - bounds[i], "model_s": float(model_ms.get(p) or 0) / 1000,
               "check_s": check_s.get(p, 0.0), "git_s": git_s.get(p, 0.0),
               "spawns": sum(c for (ph, _), c in spawns.items() if ph == p)} for i, p in enumerate(reporter.order)]  # fmt: skip
    by_command: dict[str, int] = defaultdict(int)
    for (ph, cmd), c in spawns.items():
        if ph:
            by_command[cmd] += c
    out: dict[str, Any] = {
        "n": n, "mode": mode, "status": result.status, "completed": sum(s == "COMPLETE" for s in states.values()),
        "phases": phases, "setup_s": reporter.first_phase - t0, "journal_s": t_end - reporter.run_finished,
        "spawns_by_command": dict(by_command), "setup_spawns": sum(c for (ph, _), c in spawns.items() if not ph),
        "store_open_bytes": reporter.store_open_bytes, "store_closed_bytes": _store_bytes(db),
        "setup_peak": reporter.setup_peak, "phases_peak": reporter.phases_peak, "journal_peak": peak, "traced_after": reporter.traced_after,
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }  # fmt: skip
    if profiler is not None:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats("cumulative").print_stats(25)
        out["profile"] = _trim_profile(buf.getvalue())
    return out


def _command_name(argv: Any) -> str:
    """``git rev-parse``, ``bash``: the program and, for git, its subcommand (after any ``-c k=v``)."""
    parts = [str(a) for a in argv] if isinstance(argv, list | tuple) else str(argv).split()
    if not parts:
        return "?"
    name = Path(parts[0]).name
    if name == "git":
        rest = iter(parts[1:])
        for a in rest:
            if a in ("-c", "-C"):
                next(rest, None)
            elif not a.startswith("-"):
                return f"git {a}"
    return name


def _trim_profile(text: str) -> str:
    lines = [ln.rstrip() for ln in text.splitlines()]
    start = next((i for i, ln in enumerate(lines) if "function calls" in ln), 0)
    return "\n".join(ln for ln in lines[start:] if ln.strip() and not ln.lstrip().startswith("Ordered by"))
