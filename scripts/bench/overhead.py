"""Orchestration-overhead benchmark: what autopack itself costs per phase, with the model and the checks
taken out, and how long `autopack --help` takes to start.

    python scripts/bench/overhead.py [--phases 50,100,200] [--help-runs 10] [--budget 300]
                                     [--profile auto|always|never] [--write-doc docs/BENCHMARKS.md]

For each N it builds, in a temp dir, a real git repo holding one tiny Python file, a plan of N
phases (each appends one function through a SEARCH/REPLACE reply) and a scripted-response YAML
(match mode: one builder entry per phase, one repeating auditor approval), with the check `true`.
The run goes through the real runner (``autopack.runner.execute``) in a child process per N, so
each N gets its own ru_maxrss and no state leaks between sizes.

    per-phase overhead = phase wall time - model time - check subprocess time

Phase wall time runs from one phase's ``phase_started`` event to the next one's (the last phase
ends at ``run_finished``), so the loop's own bookkeeping between phases is counted. Model time is
the phase's ``llm_calls.latency_ms`` from the run store. Check time is the sum of the gate's
``CheckResult.duration_s``, read by wrapping ``autopack.attempt.run_checks`` in the child (an
observer: it calls the real function and returns its result unchanged). Memory is measured in a
second child per N with tracemalloc on, so its bookkeeping does not inflate the timings.

Not part of the test suite; ``tests/test_bench_overhead_smoke.py`` runs it with 3 phases.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from autopack.encoding import subprocess_env

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling helper modules
import benchdoc  # noqa: E402

TARGET_MEDIAN_MS = 20.0
TARGET_HELP_S = 0.3
REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "BENCHMARKS.md"
OVERHEAD_COLUMNS = ["phases", "completed", "median ms", "p95 ms", "wall ms", "check ms", "model ms", "git ms",
                    "rest ms", "trend ms", "spawns/phase", "setup s", "journal s", "store B/phase", "closed B/phase"]  # fmt: skip
MEMORY_COLUMNS = ["phases", "setup peak MiB", "phases peak MiB", "journal peak MiB", "live MiB at end",
                  "growth KiB/phase", "largest step KiB", "ru_maxrss MiB"]  # fmt: skip
STARTUP_COLUMNS = ["command", "runs", "median s", "min s", "max s", "target"]
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
    import autopack.staging as staging_mod

    real_run_checks = attempt_mod.run_checks

    def observed_run_checks(*args: Any, **kwargs: Any) -> Any:
        gate = real_run_checks(*args, **kwargs)
        check_s[reporter.current or ""] += sum(c.duration_s for c in gate.checks)
        return gate

    real_execute = git.cmd.Git.execute

    def timed_execute(self: git.cmd.Git, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return real_execute(self, *args, **kwargs)
        finally:
            git_s[reporter.current or ""] += time.perf_counter() - t

    real_popen_init = subprocess.Popen.__init__

    def counting_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        spawns[(reporter.current or "", _command_name(args[0] if args else kwargs.get("args")))] += 1
        real_popen_init(self, *args, **kwargs)

    # Staging, the Auditor's diff and the commit run in process through libgit2 by default: their
    # time is git work too, counted with the git processes so the column compares across both paths.
    real_stager = {name: getattr(staging_mod.Stager, name) for name in ("stage", "diff", "commit")}

    def timed(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                git_s[reporter.current or ""] += time.perf_counter() - t

        return call

    attempt_mod.run_checks = observed_run_checks
    git.cmd.Git.execute = timed_execute  # type: ignore[method-assign,assignment]
    subprocess.Popen.__init__ = counting_init  # type: ignore[method-assign]
    for name, real in real_stager.items():
        setattr(staging_mod.Stager, name, timed(real))

    def restore() -> None:
        attempt_mod.run_checks = real_run_checks
        git.cmd.Git.execute = real_execute  # type: ignore[method-assign]
        subprocess.Popen.__init__ = real_popen_init  # type: ignore[method-assign]
        for name, real in real_stager.items():
            setattr(staging_mod.Stager, name, real)

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


# the parent: spawn children, summarise ---------------------------------------------------------
class BudgetExceeded(RuntimeError):
    pass


def spawn_child(n: int, mode: str, deadline: float) -> dict[str, Any]:
    remaining = deadline - time.monotonic()
    if remaining <= 5:
        raise BudgetExceeded(f"no time left for the {mode} run of {n} phases (raise --budget)")
    with tempfile.TemporaryDirectory(prefix=f"autopack-bench-{n}-") as tmp:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--phases", str(n), "--workdir", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", timeout=remaining,
                                  env=subprocess_env(), cwd=tmp)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise BudgetExceeded(
                f"the {mode} run of {n} phases did not finish within the budget (raise --budget)"
            ) from None
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} run of {n} phases failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class SizeResult:
    timing: dict[str, Any]
    memory: dict[str, Any] | None = None

    @property
    def overheads_ms(self) -> list[float]:
        return [(p["wall_s"] - p["model_s"] - p["check_s"]) * 1000 for p in self.timing["phases"]]

    def overhead_row(self) -> list[str]:
        t, n = self.timing, self.timing["n"]
        ph = t["phases"] or [{"wall_s": 0.0, "check_s": 0.0, "model_s": 0.0, "git_s": 0.0, "spawns": 0}]

        def med(key: str) -> float:
            return float(statistics.median(p[key] for p in ph)) * 1000

        ov = self.overheads_ms or [0.0]
        rest = statistics.median(o - p["git_s"] * 1000 for o, p in zip(ov, ph, strict=True))
        q = max(1, len(ov) // 4)
        trend = statistics.median(ov[-q:]) - statistics.median(ov[:q])
        return [str(n), f"{t['completed']}/{n}", f"{statistics.median(ov):.1f}", f"{percentile(ov, 95):.1f}",
                f"{med('wall_s'):.1f}", f"{med('check_s'):.1f}", f"{med('model_s'):.2f}", f"{med('git_s'):.1f}",
                f"{rest:.1f}", f"{trend:+.1f}", f"{statistics.median(p['spawns'] for p in ph):.0f}", f"{t['setup_s']:.2f}", f"{t['journal_s']:.2f}",
                f"{t['store_open_bytes'] / n:.0f}", f"{t['store_closed_bytes'] / n:.0f}"]  # fmt: skip

    def spawn_breakdown(self) -> str:
        n = self.timing["n"]
        items = sorted(self.timing["spawns_by_command"].items(), key=lambda kv: -kv[1])
        return ", ".join(f"{cmd} {c / n:.2f}" for cmd, c in items)

    def memory_row(self) -> list[str]:
        n = self.timing["n"]
        rss = f"{self.timing['ru_maxrss_kib'] / 1024:.1f}"
        if self.memory is None:
            return [str(n), "-", "-", "-", "-", "-", "-", rss]
        mem = self.memory
        peaks = [f"{mem[k] / 2**20:.1f}" for k in ("setup_peak", "phases_peak", "journal_peak")]
        traced = mem["traced_after"]
        grow, step, at = live_growth(traced)
        end = f"{traced[-1] / 2**20:.2f}" if traced else "-"
        return [str(n), *peaks, end, f"{grow:.2f}", f"{step / 1024:.0f} (phase {at})" if at else "0", rss]


def live_growth(traced: list[int]) -> tuple[float, int, int]:
    """Growth of live memory per phase over the second half of the run, without the largest single
    jump, which is returned with its phase number: (KiB per phase, jump in bytes, phase or 0).

    The first half is left out because bounded caches fill there: urllib's urlsplit LRU (128 entries,
    fed by GitPython's password redaction of every git command line) and the ``re`` module's pattern
    cache (512, fed by the scripted provider's one regex per phase).

    The jump is left out because CPython grows some internal tables in one step (its interned-string
    table doubles as the checked file gains names): a one-off, not memory that each phase keeps."""
    tail = traced[min(len(traced) // 2, max(0, len(traced) - 2)) :]
    diffs = [b - a for a, b in zip(tail, tail[1:], strict=False)]
    if not diffs:
        return 0.0, 0, 0
    i = max(range(len(diffs)), key=lambda k: diffs[k])
    step = diffs[i] if diffs[i] > 64 * 1024 else 0
    return (sum(diffs) - step) / 1024 / len(diffs), step, (len(traced) - len(tail) + i + 2) if step else 0


def measure_startup(runs: int) -> list[list[str]]:
    commands = [("python -m autopack.cli --help", [sys.executable, "-m", "autopack.cli", "--help"])]
    script = Path(sys.executable).with_name("autopack")
    found = script if script.is_file() else shutil.which("autopack")
    if found:
        commands.append(("autopack --help (console script)", [str(found), "--help"]))
    rows = []
    env = subprocess_env({"COLUMNS": "100"})
    for label, cmd in commands:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, env=env, cwd=tempfile.gettempdir())
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise RuntimeError(f"{label} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
        med = statistics.median(times)
        rows.append([label, str(runs), f"{med:.3f}", f"{min(times):.3f}", f"{max(times):.3f}",
                     ("met" if med < TARGET_HELP_S else "MISSED") + f" (< {TARGET_HELP_S} s)"])  # fmt: skip
    return rows


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"


def spawn_floor(runs: int = 20) -> str:
    """What one process costs on this machine: the floor under every git call and check."""
    parts = []
    for label, cmd in (("git --version", ["git", "--version"]), ("bash -c true", ["bash", "-c", "true"])):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=subprocess_env(), check=True)
            times.append(time.perf_counter() - t0)
        parts.append(f"{label} {statistics.median(times) * 1000:.1f} ms")
    return ", ".join(parts)


def table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def machine() -> str:
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
                    if ln.startswith("model name")), "")  # fmt: skip
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, env=subprocess_env()).stdout.strip()
    return (f"nproc {usable}{f' ({cpu})' if cpu else ''}; Python {platform.python_version()} on {platform.system()} "
            f"{platform.release()}; SQLite {sqlite3.sqlite_version}; {git}")  # fmt: skip


# the doc ------------------------------------------------------------------------------------
def replace_section(doc: str, heading: str, body: str) -> str:
    return benchdoc.replace_section(doc, heading, body, "overhead.py")


def write_doc(path: Path, overhead_md: str, startup_md: str) -> None:
    # Re-read right before writing: another benchmark owns other sections of the same file.
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = replace_section(doc, "Orchestration overhead", overhead_md)
    doc = replace_section(doc, "Startup", startup_md)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, path)


# main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--phases", default="50,100,200", help="comma-separated plan sizes (default 50,100,200)")
    ap.add_argument("--help-runs", type=int, default=10, help="runs of `--help` per command; 0 skips startup")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds the whole benchmark may take (default 300)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    ap.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile a run of the smallest size: auto = when the median target is missed",
    )
    ap.add_argument(
        "--write-doc",
        nargs="?",
        const=str(DOC),
        default=None,
        metavar="PATH",
        help=f"write the tables into this Markdown file (default {DOC.relative_to(REPO_ROOT)})",
    )
    ap.add_argument("--child", choices=["timing", "memory", "profile"], help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


LEGEND = """\
median/p95 ms: per-phase orchestration overhead = wall - check - model (the target is on the median)
wall ms: phase_started to the next phase_started; check ms: the gate's CheckResult.duration_s
model ms: llm_calls.latency_ms (scripted replies); git ms: git processes (inside GitPython's execute,
  spawn + run) plus staging, diff and commit done in process by libgit2 (staging.Stager)
rest ms: overhead minus git (Python: store, prompts, parsing, applying, logs); spawns/phase: processes
setup s: execute() until the first phase starts (validation, store, worktree, LLM service);
  journal s: run_finished until execute() returns (journal.md)
store B/phase: autopack.db + WAL at run_finished / N; closed B/phase: autopack.db after close / N
setup/phases/journal peak MiB: tracemalloc peak until the first phase starts / from there to
  run_finished / after run_finished (journal.md is rendered from every event)
live MiB at end: memory still referenced (after gc) when the last phase completed; it holds the plan
  and the script, so it is larger for larger plans by nature
growth KiB/phase: live memory kept per phase over the second half of the run (bounded caches fill
  in the first), without the largest one-off step (shown with its phase when above 64 KiB).
  Includes the benchmark's own timestamps and the scripted provider's record of served replies
trend ms: median overhead of the last quarter of phases minus the first quarter (same run): growth with N"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in str(args.phases).split(",") if s.strip()]
    if args.child:
        print(json.dumps(run_child(sizes[0], args.child, Path(args.workdir))))
        return 0
    if not sizes or min(sizes) < 1:
        raise SystemExit("--phases needs positive sizes, e.g. --phases 50,100,200")
    # AUTOPACK_GIT_IN_PROCESS=0 measures the git-process path (the "before" of docs/BENCHMARKS.md).
    forced = os.environ.get("AUTOPACK_GIT_IN_PROCESS")
    command = (
        (f"AUTOPACK_GIT_IN_PROCESS={forced} " if forced else "")
        + "python scripts/bench/overhead.py"
        + "".join(f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    )
    deadline = time.monotonic() + args.budget
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results: list[SizeResult] = []
    notes: list[str] = []
    # The machine may be shared: the load and the cost of one process, before and after, say how
    # quiet it was (timings taken under load are higher, and not comparable across runs).
    load_before, floor_before = _load(), spawn_floor()
    try:
        for n in sizes:
            results.append(SizeResult(spawn_child(n, "timing", deadline)))
        if not args.no_memory:
            for r in results:
                r.memory = spawn_child(r.timing["n"], "memory", deadline)
    except BudgetExceeded as exc:
        notes.append(f"stopped early: {exc}")
    missed = [r.timing["n"] for r in results if statistics.median(r.overheads_ms or [0.0]) >= TARGET_MEDIAN_MS]
    profile = None
    if results and (args.profile == "always" or (args.profile == "auto" and missed)):
        try:
            profile = spawn_child(min(sizes), "profile", deadline)
        except BudgetExceeded as exc:
            notes.append(f"profile skipped: {exc}")
    startup = measure_startup(args.help_runs) if args.help_runs > 0 else []
    conditions = (f"load average (1 min) {load_before} before, {_load()} after; process spawn floor "
                  f"(median of 20) before: {floor_before}; after: {spawn_floor()}")  # fmt: skip

    host = machine()
    header = f"command: {command}\ndate: {when}\nmachine: {host}\nconditions: {conditions}"
    verdict = (f"median overhead target (< {TARGET_MEDIAN_MS:g} ms/phase): "
               + (f"MISSED at {', '.join(map(str, missed))} phases" if missed else "met"))  # fmt: skip
    overhead = [table(OVERHEAD_COLUMNS, [r.overhead_row() for r in results]), "", verdict]
    overhead += [f"processes per phase at {r.timing['n']} phases: {r.spawn_breakdown()}" for r in results[:1]]
    overhead += ["", table(MEMORY_COLUMNS, [r.memory_row() for r in results]), "", LEGEND, *notes]
    prof = []
    if profile is not None:
        prof = [f"cProfile of the {profile['n']}-phase run ({profile['completed']}/{profile['n']} complete; profiling "
                "slows it), top 25 by cumulative time:", profile["profile"]]  # fmt: skip
    startup_t = table(STARTUP_COLUMNS, startup) if startup else "(skipped: --help-runs 0)"
    print("\n".join([header, "", "== orchestration overhead ==", *overhead, *([""] + prof if prof else []),
                     "", "== startup ==", startup_t]))  # fmt: skip
    if args.write_doc:
        meta = f"Command: `{command}`  \nDate: {when}  \nMachine: {host}  \nConditions: {conditions}\n"
        ov_md = "\n".join(
            [meta, "```text", *overhead, "```"] + (["", prof[0], "", "```text", prof[1], "```"] if prof else [])
        )
        write_doc(Path(args.write_doc), ov_md, "\n".join([meta, "```text", startup_t, "```"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
