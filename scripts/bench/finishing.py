"""Finishing power: does autopack's recovery (escalation, re-plan, the Doctor, the health budget) buy
completed phases per dollar, on real code? Issue 15, items 1-4.

    python scripts/bench/finishing.py [--seed 1] [--jobs 2] [--plans N] [--policies a,b]
                                      [--write-doc [docs/BENCHMARKS.md]] [--png docs/finishing.png]
    python scripts/bench/finishing.py --candidates     # also the tunings tried for item 5 of issue 15
    python scripts/bench/finishing.py --assume hint_lift=2 --assume retry_decay=0   # other assumptions
    python scripts/bench/finishing.py --probe-only     # the hopeless phase alone (e.g. on older code)
    python scripts/bench/finishing.py --smoke          # a generated package, three policies, no network

Tasks (finishing_tasks.py): functions of small pure-Python packages (toolz, more-itertools, boltons,
inflection; sdists downloaded once with pip and cached under scripts/bench/.cache/) with their bodies
removed; each phase restores one, and its check runs the package's own tests for it. Plans of 5-20
phases per module, with depends_on where a function or its tests use another of the plan.

Models (finishing_models.py, finishing_provider.py): a simulated provider answering every role, with
odds calibrated on Aider's polyglot leaderboard (``../shared/data/aider_polyglot_leaderboard.csv``,
commit 5dc9490b of Aider-AI/aider): an item-response model per task and model, malformed edits,
tokens and seconds per try; right answers are the real function, wrong ones realistic.

Policies (finishing_run.py): a plain loop, always the cheapest model, always the strongest, the shipped
config and its variants, each run on every plan with the same seeds through autopack's real runner.
Per policy: phases completed, cost, cost per completed phase, calls by role, calls that could not
change the outcome (wasted), simulated model time. Plus a probe of the issue's hopeless phase.

Runs go to a process pool (``--jobs``, default 2); the phase checks share a cache of pytest results
keyed by the files' content (finishing_check.py) under scripts/bench/.cache/checks/ unless
``--fresh-checks``. ``tests/test_bench_finishing_smoke.py`` runs ``--smoke``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling helper modules
import benchdoc  # noqa: E402
import finishing_models as fm  # noqa: E402
import finishing_report as rep  # noqa: E402
import finishing_run as fr  # noqa: E402
import finishing_tasks as ft  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "BENCHMARKS.md"
PNG = REPO_ROOT / "docs" / "finishing.png"
SMOKE_POLICIES = ("plain loop", "always strongest", "shipped")

_STATE: dict[str, Any] = {}  # what each pool worker needs, set before the pool forks


def _run(item: tuple[int, int]) -> dict[str, Any]:
    pi, li = item
    s = _STATE
    plan = s["plans"][li]
    return fr.run_job(s["policies"][pi], plan, s["roots"][plan.package], s["cal"], s["seed"], s["check_cache"])


def difficulty_of(tasks: list[ft.Task], seed: int, a: fm.Assumptions) -> dict[str, float]:
    noise = {t.id: random.Random(f"{seed}|difficulty|{t.package}|{t.id}").gauss(0, 1) for t in tasks}
    return fm.difficulties({t.id: t.body_lines + 2 * t.branches for t in tasks}, noise, a)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    ap.add_argument("--plans", type=int, default=0, help="use only the first N plans (default: all)")
    ap.add_argument("--policies", default="", help="comma-separated policy names (default: all)")
    ap.add_argument("--smoke", action="store_true", help="a generated package, no download, three policies")
    ap.add_argument("--workdir", type=Path, default=None, help="--smoke: where to generate the package")
    ap.add_argument("--candidates", action="store_true", help="also run the tunings tried for item 5 of issue 15")
    ap.add_argument("--probe-only", action="store_true", help="only the hopeless-phase probe (e.g. on older code)")
    ap.add_argument("--fresh-checks", action="store_true", help="a new pytest result cache (cold timing)")
    ap.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one number of finishing_models.Assumptions, e.g. --assume hint_lift=2 (repeatable)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write every run's figures to this file")
    ap.add_argument(
        "--png", type=Path, default=None, help=f"draw the picture here (--write-doc: {PNG.relative_to(REPO_ROOT)})"
    )
    ap.add_argument("--write-doc", nargs="?", const=str(DOC), default=None, metavar="PATH",
                    help=f"write the section into this Markdown file (default {DOC.relative_to(REPO_ROOT)})")  # fmt: skip
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from autopack.config import SHIPPED_CONFIG, load_config

    t_start = time.perf_counter()
    command = "python scripts/bench/finishing.py" + "".join(f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    log = (lambda m: print(m, file=sys.stderr)) if not args.smoke else (lambda m: None)
    tmp_holder = None
    if args.smoke:
        work = args.workdir or Path(tmp_holder := tempfile.mkdtemp(prefix="finishing-smoke-"))
        plans, roots = ft.tiny_plans(work, seed=args.seed, log=log)
        check_cache: Path | None = work / "checks"
    else:
        plans, roots = ft.load_plans(args.seed, log=log, jobs=args.jobs)
        check_cache = (
            ft.CACHE / "checks" if not args.fresh_checks else Path(tempfile.mkdtemp(prefix="finishing-checks-"))
        )
    if args.plans:
        plans = plans[: args.plans]
    tasks = [t for p in plans for t in p.tasks]
    a = fm.Assumptions()
    for item in args.assume:
        key, _, value = item.partition("=")
        if not isinstance(getattr(a, key, None), float):
            raise SystemExit(f"--assume {item}: NAME is one of the numbers of finishing_models.Assumptions")
        a = dataclasses.replace(a, **{key: float(value)})
    config = load_config(SHIPPED_CONFIG)
    models = list(
        dict.fromkeys(
            [*fr.routed_models(config), *((*fr.CANDIDATE_MODELS, *fr.EXTRA_MODELS) if args.candidates else ())]
        )
    )
    cal = fm.calibrate(models, difficulty_of(tasks, args.seed, a), a)
    policies = fr.make_policies(config, cal) + (fr.candidate_policies(config) if args.candidates else [])
    if args.probe_only:
        probe = _probe(plans, roots, cal, args.seed, check_cache, policies, config)
        print(json.dumps({k: probe[k] for k in ("task", "status", "attempts", "cost", "hopeless_calls", "wasted", "events")}
                         if probe else None, indent=1))  # fmt: skip
        return 0
    wanted = [p.strip() for p in args.policies.split(",") if p.strip()] or (list(SMOKE_POLICIES) if args.smoke else [])
    if wanted:
        unknown = set(wanted) - {p.name for p in policies}
        if unknown:
            raise SystemExit(f"unknown policies {sorted(unknown)}; choose from {[p.name for p in policies]}")
        policies = [p for p in policies if p.name in wanted]
    _STATE.update(plans=plans, roots=roots, cal=cal, seed=args.seed, policies=policies, check_cache=check_cache)
    items = [(pi, li) for pi in range(len(policies)) for li in range(len(plans))]
    items.sort(key=lambda it: -len(plans[it[1]].tasks))  # long plans first: the pool ends together
    log(f"{len(plans)} plans, {len(tasks)} phases, {len(policies)} policies: {len(items)} runs on {args.jobs} workers")
    results: list[dict[str, Any]] = []
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            for r in pool.map(_run, items):
                results.append(r)
                log(
                    f"  {r['policy']:<17} {r['plan']:<28} {r['complete']:>2}/{r['phases']:<2} ${r['cost']:.2f} {r['wall_s']:.0f} s"
                )
    else:
        results = [_run(it) for it in items]
    probe = _probe(plans, roots, cal, args.seed, check_cache, policies, config) if not args.smoke else None
    elapsed = time.perf_counter() - t_start
    summary = rep.summarise(results, [p.name for p in policies])
    text, md = render(summary, policies, plans, cal, probe, command, elapsed, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results, "probe": probe}, indent=1, default=str),
                             encoding="utf-8")  # fmt: skip
    png = args.png or (PNG if args.write_doc else None)
    if png:
        cands = {p.name for p in fr.candidate_policies(config)} if args.candidates else set()
        rep.picture(summary, png, f"Finishing power: {len(tasks)} phases in {len(plans)} plans, seed {args.seed} "
                    "(simulated models calibrated on Aider's polyglot leaderboard)", cands)  # fmt: skip
    if args.write_doc:
        path = Path(args.write_doc)
        doc = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = benchdoc.replace_section(doc, "Finishing power", md, "finishing.py")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(doc, encoding="utf-8")
        os.replace(tmp, path)
    if tmp_holder:
        import shutil

        shutil.rmtree(tmp_holder, ignore_errors=True)
    return 0


def _probe(plans: list[ft.PlanSpec], roots: dict[str, Path], cal: fm.Calibration, seed: int, check_cache: Path | None,
           policies: list[fr.Policy], config: Any) -> dict[str, Any] | None:  # fmt: skip
    """The issue's hopeless phase: no Builder reply is ever right and the Planner never gives valid JSON
    for it; the shipped config on a plan of that one phase. Which roles spend the calls?"""
    shipped = next((p for p in policies if p.name == "shipped"), None)
    if shipped is None:
        return None
    task = next(t for p in plans for t in p.tasks if not t.depends_on)
    plan = ft.PlanSpec(f"hopeless-{task.id}", task.package, "", task.module, [task])
    version = next(p.version for p in plans if p.package == task.package)
    plan.version = version
    r = fr.run_job(
        shipped, plan, roots[task.package], cal, seed, check_cache, hopeless={task.id}, confused_planner={task.id}
    )
    r["task"] = task.id
    return r


def render(summary: dict[str, dict[str, Any]], policies: list[fr.Policy], plans: list[ft.PlanSpec], cal: fm.Calibration,
           probe: dict[str, Any] | None, command: str, elapsed: float, args: argparse.Namespace) -> tuple[str, str]:  # fmt: skip
    tasks = [t for p in plans for t in p.tasks]
    packages = sorted({f"{p.package} {p.version}".strip() for p in plans})
    main = rep.table(rep.MAIN_COLUMNS, rep.main_rows(summary))
    dcols, drows = rep.detail_rows(summary)
    detail = rep.table(dcols, drows)
    calib = rep.table(fm.MODEL_COLUMNS, [m.describe() for m in cal.models.values()], left=2)
    assumptions = rep.table(["assumption", "value"], [list(r) for r in cal.assumptions.rows()], left=2)
    pols = rep.table(["policy", "what"], [[p.name, p.what] for p in policies], left=2)
    checks = rep.targets(summary)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    head = (f"command: {command}\ndate: {when}\nmachine: nproc {usable}, Python {platform.python_version()}; "
            f"{elapsed:.0f} s wall with --jobs {args.jobs}; load average (1 min) at the end {_load()}\n"
            f"tasks: {len(tasks)} phases in {len(plans)} plans ({', '.join(packages)}); complexity "
            + ", ".join(f"{c} {sum(t.complexity == c for t in tasks)}" for c in ("low", "medium", "high"))
            + f"; {sum(bool(t.depends_on) for t in tasks)} with depends_on\n"
            f"models: Aider polyglot leaderboard, {fm.LEADERBOARD.name} (Aider-AI/aider {fm.LEADERBOARD_COMMIT[:10]})")  # fmt: skip
    probe_txt = ""
    if probe is not None:
        probe_txt = (f"hopeless phase ({probe['task']}: no Builder reply right, the Planner never gives JSON), shipped "
                     f"config: {probe['status']} after {probe['attempts']} attempts, ${probe['cost']:.2f}; "
                     f"wasted {sum(probe['wasted'].values())} ({', '.join(f'{k} {v}' for k, v in probe['wasted'].items()) or '-'})\n"
                     + rep.table(["calls", "n", "share"], rep.probe_rows(probe)))  # fmt: skip
    legend = LEGEND
    text = "\n\n".join(x for x in [head, "== policies ==\n" + pols, "== results ==\n" + main, "\n".join(checks),
                                   "== recovery detail ==\n" + detail, probe_txt and "== probe ==\n" + probe_txt,
                                   "== calibration ==\n" + calib, "== assumptions ==\n" + assumptions, legend] if x)  # fmt: skip
    md = "\n".join([
        f"Command: `{command}`  ",
        f"Date: {when}  ",
        f"Machine: nproc {usable}, Python {platform.python_version()}; {elapsed:.0f} s wall with --jobs {args.jobs}; "
        f"load average (1 min) at the end {_load()}  ",
        f"Tasks: {len(tasks)} phases in {len(plans)} plans of {', '.join(packages)}  ",
        f"Models: simulated, calibrated on `../shared/data/aider_polyglot_leaderboard.csv` (Aider-AI/aider "
        f"{fm.LEADERBOARD_COMMIT[:10]}); the picture: `docs/finishing.png`",
        "", "```text", pols, "", main, "", *checks, "", detail, "```", "",
        *(["```text", probe_txt, "```", ""] if probe_txt else []),
        "```text", calib, "", assumptions, "", legend, "```",
    ])  # fmt: skip
    return text, md


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"


LEGEND = """\
complete: phases committed, of all phases of all plans; after a failed phase the run goes on with the
  phases that do not depend on it (its dependents wait: not completed); a fatal phase, the health
  budget or the cost cap stop the run, and the phases after it count as not completed
stopped runs: runs that ended FAILED (a phase failed or was fatal) or STOPPED (health budget, cost cap);
  cost $: every call of every run at config/models.yaml prices (cache reads at cached_input);
  $ on unfinished: of it, spent on phases that did not complete
builder..planner: model calls by role (each HTTP 429/500 answer counts: the service retries it);
wasted: calls that could not change the outcome: Planner calls re-planning a phase whose previous
  re-plan failed, Doctor diagnoses repeating an action already taken (or a re-plan it cannot get),
  Builder replies identical to one it sent before in the phase
model h: simulated model time (seconds per try from the leaderboard, back-off waits included)
escalations, re-plans, failed re-plans, Doctor verdicts: events; skipped: by the Doctor or a skipped
  dependency; rules: learned rules kept and dropped (a rule that says nothing the error did not is
  dropped); generic worded: the Planner's replies that were such a rule"""


if __name__ == "__main__":
    raise SystemExit(main())
