"""Run-report benchmark: how long ``autopack report`` takes for a large run, how big the file is, and how
fast a real browser loads it.

    python scripts/bench/report.py [--phases 50,200] [--out DIR] [--no-browser]

For each size N it writes a synthetic run store through the real ``RunStore`` API (``build_store``):
N phases, most approved at once, some after failed attempts (ci_fail, patch_apply_error, syntax_error,
auditor_reject) with 40-line patches and pytest tails, escalations, a re-plan every 25 phases, a Doctor
diagnosis and fix commands every 40, learned rules, builder and auditor calls with tokens and cost, and
one stop with a two-hour pause before the resume. The store's clock is a simulated one (it advances by
the time each step would take), so the timeline spans hours. Then it builds the report's data from the
store, renders the page, writes it, and (with chromium installed) opens it headless with ``--dump-dom``:
``page ms`` is the page's own ``performance.now()`` when its script has run, ``browser s`` the whole
chromium process. Timings are printed, never asserted; ``tests/test_report_browser.py`` uses
``build_store`` for its 200-phase check.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import autopack.store as store_module
from autopack.layout import Layout
from autopack.report import build_report, render_report
from autopack.store import AttemptStatus, CallRecord, PhaseState, RunStatus, RunStore

PROJECT = "bench"
CATEGORIES = ["ci_fail", "patch_apply_error", "syntax_error", "auditor_reject"]


@contextmanager
def simulated_clock(start: float) -> Iterator[list[float]]:
    """The run store's ``time.time()`` reads ``now[0]`` while this is open; advance it to move time."""
    now = [start]
    real = store_module.time
    store_module.time = SimpleNamespace(time=lambda: now[0])  # type: ignore[assignment]
    try:
        yield now
    finally:
        store_module.time = real  # type: ignore[assignment]


def _patch(rng: random.Random, i: int, lines: int = 40) -> str:
    body = [f"+def f{i}_{k}(x):\n+    return x * {rng.randint(2, 99)}\n" for k in range(lines // 2)]
    return (
        f"diff --git a/mod{i % 17}.py b/mod{i % 17}.py\n--- a/mod{i % 17}.py\n+++ b/mod{i % 17}.py\n"
        f"@@ -{i},3 +{i},{lines + 3} @@ def previous():\n     pass\n \n-# TODO f{i}\n" + "".join(body)
    )


def _gate_tail(i: int) -> str:
    lines = [f"tests/test_mod.py::test_f{i}_{k} PASSED" for k in range(14)]
    return (
        "$ python -m pytest -q tests  (exit 1)\n"
        + "\n".join(lines)
        + f"\nFAILED tests/test_mod.py::test_f{i} - assert 4 == 5\nE   assert f{i}(2) == 5\n1 failed, 14 passed in 0.42s"
    )


def build_store(home: Path, phases: int, seed: int = 7, run_id: str | None = None) -> str:
    """A finished synthetic run of ``phases`` phases in ``home``'s store; returns its run id."""
    rng = random.Random(seed)
    run_id = run_id or f"bench-{phases}"
    layout = Layout(home, PROJECT)
    specs = [
        {
            "id": f"p{i:03d}",
            "name": f"Add f{i} to mod{i % 17}",
            "complexity": ["low", "medium", "high"][i % 3],
            "description": f"Add f{i}(x) and its test.",
            "scope": [f"mod{i % 17}.py", "tests/"],
            "checks": ["python -m pytest -q tests"],
        }
        for i in range(1, phases + 1)
    ]
    with simulated_clock(1_760_000_000.0) as now, RunStore(layout.db_path) as store:

        def tick(lo: float, hi: float) -> None:
            now[0] += rng.uniform(lo, hi)

        store.create_run(
            run_id,
            PROJECT,
            f"Grow the bench project by {phases} functions",
            "{}",
            specs,
            project_dir=str(home / "project"),
        )
        store.update_run(
            run_id,
            "workspace_ready",
            {"worktree": str(layout.run_dir(run_id) / "worktree")},
            branch=f"autopack/{run_id}",
            base_commit="0" * 40,
            worktree=str(layout.run_dir(run_id) / "worktree"),
        )
        for n, spec in enumerate(specs, 1):
            pid = spec["id"]
            if n == phases // 2:
                store.update_run(run_id, "run_stopped", {}, status=RunStatus.STOPPED, stop_reason="cost cap reached")
                now[0] += 2 * 3600
                store.update_run(run_id, "run_resumed", {"interrupted": 0}, status=RunStatus.RUNNING)
            if n == phases - 1:
                store.set_phase(
                    run_id,
                    pid,
                    "phase_skipped",
                    {"reason": f"depends on p{n - 1:03d}, which did not complete"},
                    state=PhaseState.SKIPPED,
                )
                continue
            store.set_phase(
                run_id,
                pid,
                "phase_state",
                {"reason": "phase started"},
                state=PhaseState.BUILDING,
                start_commit=f"{n:040x}",
            )
            roll = rng.random()
            failures = 0 if roll < 0.7 else (1 if roll < 0.9 else 2)
            models = ["glm-4.6", "claude-sonnet-4-5", "gpt-5"]
            for k in range(failures + 1):
                model = models[min(k, 2)]
                aid, number = store.start_attempt(run_id, pid, model, spec["complexity"])
                tick(5, 40)
                store.record_call(
                    run_id,
                    CallRecord(
                        "builder",
                        model.split("-")[0],
                        model,
                        rng.randint(2000, 9000),
                        rng.randint(200, 1500),
                        0,
                        rng.uniform(0.002, 0.05),
                        rng.uniform(3000, 30000),
                    ),
                    pid,
                    aid,
                )
                store.set_phase(run_id, pid, "phase_state", {"checks": 1}, state=PhaseState.GATING)
                tick(5, 60)
                if k < failures:
                    category = rng.choice(CATEGORIES)
                    store.finish_attempt(
                        aid,
                        AttemptStatus.FAILED,
                        category,
                        f"quality gate failed: {category}\n{_gate_tail(n)}",
                        patch=_patch(rng, n),
                        gate_tail=_gate_tail(n),
                    )
                    store.add_event(
                        run_id,
                        "escalation",
                        {
                            "phase": pid,
                            "from": f"{model} ({spec['complexity']})",
                            "to": f"{models[min(k + 1, 2)]} ({spec['complexity']})",
                            "reason": f"failure on {model}",
                        },
                        phase_id=pid,
                    )
                    continue
                store.record_call(
                    run_id,
                    CallRecord(
                        "auditor",
                        "anthropic",
                        "claude-sonnet-4-5",
                        rng.randint(1500, 4000),
                        rng.randint(30, 200),
                        0,
                        rng.uniform(0.005, 0.02),
                    ),
                    pid,
                    aid,
                )
                tick(2, 10)
                store.finish_attempt(aid, AttemptStatus.APPROVED, patch=_patch(rng, n), gate_tail="")
                store.set_phase(
                    run_id,
                    pid,
                    "phase_complete",
                    {"reason": f"approved on attempt {number} (1/1 checks passed)"},
                    state=PhaseState.COMPLETE,
                    commit_sha=f"{n + 1:040x}",
                )
            if n % 25 == 0:
                store.add_event(
                    run_id,
                    "approach_flaw",
                    {"phase": pid, "reason": "same failure twice", "kind": "repeat"},
                    phase_id=pid,
                )
                store.add_revision(
                    run_id,
                    pid,
                    {**spec, "description": spec["description"] + " Keep it pure."},
                    "repeat: same failure twice",
                    f"-description: {spec['description']}\n+description: {spec['description']} Keep it pure.",
                    "approach-flaw detector",
                )
                store.set_phase(run_id, pid, "phase_state", {"reason": "re-planned"}, state=PhaseState.COMPLETE)
            if n % 40 == 0:
                store.set_phase(
                    run_id,
                    pid,
                    "doctor_diagnosis",
                    {
                        "action": "execute_fix",
                        "confidence": 0.7,
                        "model": "claude-sonnet-4-5",
                        "rationale": "a stale cache",
                        "commands": ["rm -rf .cache", "curl example.org"],
                    },
                )
                store.set_phase(
                    run_id,
                    pid,
                    "execute_fix",
                    {
                        "outcomes": [
                            {"command": "rm -rf .cache", "allowed": True, "reason": "", "exit_code": 0},
                            {
                                "command": "curl example.org",
                                "allowed": False,
                                "reason": "not on the whitelist",
                                "exit_code": None,
                            },
                        ]
                    },
                )
            if failures and rng.random() < 0.3:
                store.add_event(
                    run_id,
                    "rule_learned",
                    {"rule_id": f"r-{n:04d}", "text": f"Test f{n} against its edge cases.", "source": "model"},
                    phase_id=pid,
                )
            tick(0.5, 2)
        store.update_run(
            run_id,
            "run_finished",
            {"reason": "1 phase(s) skipped"},
            status=RunStatus.PARTIAL,
            stop_reason="1 phase(s) skipped",
        )
    return run_id


def find_chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def load_in_browser(chromium: str, page: Path, profile: Path) -> tuple[str, float]:
    """The page's DOM after its script ran (``--dump-dom``), and the browser's wall time in seconds."""
    started = time.perf_counter()
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout, time.perf_counter() - started


def measure(phases: int, out: Path, browser: bool) -> list[str]:
    home = out / f"home-{phases}"
    t0 = time.perf_counter()
    run_id = build_store(home, phases)
    t1 = time.perf_counter()
    with RunStore(Layout(home, PROJECT).db_path) as store:
        data = build_report(store, Layout(home, PROJECT), run_id)
    t2 = time.perf_counter()
    html = render_report(data)
    t3 = time.perf_counter()
    page = out / f"report-{phases}.html"
    page.write_text(html, encoding="utf-8")
    row = [
        str(phases),
        str(len(data.attempts)),
        f"{t1 - t0:.2f}",
        f"{t2 - t1:.3f}",
        f"{t3 - t2:.3f}",
        f"{len(html.encode()) / 1024:.0f}",
    ]
    chromium = find_chromium() if browser else None
    if chromium:
        dom, wall = load_in_browser(chromium, page, out / "profile")
        ready = re.search(r'data-ready="(\d+)"', dom)
        errors = re.search(r'data-errors="(\d+)"', dom)
        row += [ready.group(1) if ready else "not ready", f"{wall:.2f}", errors.group(1) if errors else "0"]
    else:
        row += ["-", "-", "-"]
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--phases", default="50,200", help="comma-separated run sizes (default 50,200)")
    ap.add_argument("--out", type=Path, help="keep the stores and pages here (default: a temporary folder)")
    ap.add_argument("--no-browser", action="store_true", help="do not open the pages in chromium")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.phases.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="autopack-bench-report-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        columns = [
            "phases",
            "attempts",
            "store s",
            "data s",
            "render s",
            "html KB",
            "page ms",
            "browser s",
            "js errors",
        ]
        rows = [measure(n, out, not args.no_browser) for n in sizes]
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
        print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in rows:
            print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
        if args.out:
            print(f"\npages and stores kept in {out}")
    if not args.no_browser and not find_chromium():
        print(
            "chromium is not installed: page ms and browser s not measured (apt-get install chromium)", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
