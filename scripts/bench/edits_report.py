"""Edit-application benchmark, part 3: the tables, printed and written into docs/BENCHMARKS.md.

Owns the rows (which damage kinds are recoverable), the outcome cells, the time tables and the
"Edit application" block between ``edits.py``'s markers; text outside those markers is kept.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import benchdoc
from edits_cases import (
    PART_CUT,
    PART_IN_WORDS,
    PART_SEVERAL,
    PART_UNIQUE,
    SR_LINE_IN_LINE,
    SR_TWIN,
    SR_TWIN_KEPT,
    SR_TWIN_KEPT_DEEPER,
    SR_TWIN_PARTIAL,
    TWIN,
    TWIN_RIGHT,
)
from edits_corpus import DAMAGES

from autopack.childenv import subprocess_env

MUST_REFUSE = "no (must refuse)"
DIFF_ROWS = [*DAMAGES[:2], TWIN_RIGHT, TWIN, *DAMAGES[2:]]
SR_KINDS = ["control", "indent_dropped", "trailing_whitespace", "tabs_for_spaces"]
SR_ROWS = [*SR_KINDS[:2], SR_TWIN_KEPT, SR_TWIN_KEPT_DEEPER, SR_TWIN, SR_TWIN_PARTIAL, SR_LINE_IN_LINE, *SR_KINDS[2:]]
SR_ROWS += [PART_UNIQUE, PART_IN_WORDS, PART_SEVERAL, PART_CUT]
NOT_RECOVERABLE = (
    "elision", TWIN, SR_TWIN, SR_TWIN_KEPT_DEEPER, SR_TWIN_PARTIAL, SR_LINE_IN_LINE, PART_SEVERAL, PART_CUT,
)  # fmt: skip
RECOVERABLE = {k: k not in NOT_RECOVERABLE for k in DIFF_ROWS + SR_ROWS}
ALL_TOOLS = ["autopack", "git apply", "git apply --recount --3way", "patch --fuzz=3"]
AIDER = "Aider 0.86.2 (editblock_coder)"
SIZES = ["< 500 lines", "500-2,000 lines", "> 2,000 lines"]


@dataclass
class RealResults:
    """The real-commits SEARCH/REPLACE run: outcomes per tool and kind, seconds per case per tool."""

    results: dict[str, dict[str, Outcome]]
    times: dict[str, list[float]]
    n_cases: int
    n_files: int
    repos: list[str]
    aider: str | None


def size_bucket(n_lines: int) -> str:
    return SIZES[0] if n_lines < 500 else SIZES[1] if n_lines <= 2000 else SIZES[2]


@dataclass
class Outcome:
    correct: int = 0
    refused: int = 0
    wrong: int = 0

    def add(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)

    @property
    def n(self) -> int:
        return self.correct + self.refused + self.wrong


def table(title: str, headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        out = [f"**{title}**", "", "| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [title, line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out) + "\n"


def cell(o: Outcome) -> str:
    return f"{o.correct}/{o.refused}/{o.wrong}"


def total(outcomes: list[Outcome]) -> str:
    n = sum(o.n for o in outcomes)
    if not n:
        return "n/a"
    return f"{100 * sum(o.correct for o in outcomes) / n:.1f}% correct, {sum(o.wrong for o in outcomes)} wrong"


def _mean_ms(values: list[float]) -> float:
    return 1000 * sum(values) / len(values) if values else float("nan")


def render_report(results, sr_results, times, base_done: int, n_modules: int, markdown: bool) -> str:
    tools = [t for t in ALL_TOOLS if t in results or t == "patch --fuzz=3"]
    na = "n/a"
    rows = []
    for kind in DIFF_ROWS:
        rec = "yes" if RECOVERABLE[kind] else MUST_REFUSE
        rows.append([kind, rec, *(cell(results[t][kind]) if t in results else na for t in tools)])
    rows.append(
        ["recoverable total", "", *(total([results[t][k] for k in DIFF_ROWS if RECOVERABLE[k]]) if t in results else na
                                    for t in tools)]
    )  # fmt: skip
    n_cases = sum(o.n for o in results["autopack"].values())
    n_twins = results["autopack"][TWIN_RIGHT].n
    out = [table(
        f"Unified diffs: correct/refused/WRONG per damage kind ({n_cases} cases: {n_cases - 2 * n_twins} from "
        f"{base_done} random changes in {n_modules} stdlib modules, {2 * n_twins} from {n_twins} changes at "
        "repeated lines)",
        ["damage", "recoverable", *tools], rows, markdown,
    )]  # fmt: skip
    sr_rows = [[k, "yes" if RECOVERABLE[k] else MUST_REFUSE, *(cell(sr_results[t][k]) for t in sr_results)]
               for k in SR_ROWS]  # fmt: skip
    sr_rows.append(
        ["recoverable total", "", *(total([sr_results[t][k] for k in SR_ROWS if RECOVERABLE[k]]) for t in sr_results)]
    )
    n_sr = sum(o.n for o in sr_results["autopack"].values())
    out.append(table(
        f"SEARCH/REPLACE blocks ({n_sr} cases): correct/refused/WRONG", ["drift", "recoverable", *sr_results], sr_rows,
        markdown,
    ))  # fmt: skip

    ga = _mean_ms(times["git apply"])
    time_rows: list[tuple[str, float]] = [
        ("autopack, undamaged diffs (parse + place + guards + syntax check + atomic write, in process)",
         _mean_ms(times["autopack control"])),
        ("autopack, the same diffs with the file named .py.txt (everything but the syntax check)",
         _mean_ms(times["autopack no check"])),
        ("compile() of the whole new file alone (for scale: autopack compiles the changed statements first)",
         _mean_ms(times["syntax check"])),
        ("autopack, all diff cases", _mean_ms(times["autopack"])),
        ("git apply, undamaged diffs (one process per case)", ga),
    ]  # fmt: skip
    out.append(table(
        "Time per case (mean)", ["what", "ms per case", "relative to git apply"],
        [[w, f"{ms:.2f}", f"{ms / ga:.2f}x" if ga == ga else na] for w, ms in time_rows], markdown,
    ))  # fmt: skip
    size_rows = []
    for size in SIZES:
        n = len(times[f"git apply {size}"])
        full, bare = _mean_ms(times[f"autopack control {size}"]), _mean_ms(times[f"autopack no check {size}"])
        git, check = _mean_ms(times[f"git apply {size}"]), _mean_ms(times[f"syntax check {size}"])
        size_rows.append([size, str(n), f"{full:.2f}", f"{bare:.2f}", f"{check:.2f}", f"{git:.2f}",
                          f"{full / git:.2f}x", f"{bare / git:.2f}x"])  # fmt: skip
    out.append(table(
        "Time per undamaged diff by file size (mean ms)",
        ["file size", "cases", "autopack", "autopack without syntax check", "whole-file compile()", "git apply",
         "autopack / git apply", "without check / git apply"],
        size_rows, markdown,
    ))  # fmt: skip
    return "\n".join(out)


def render_real(real: RealResults, markdown: bool) -> str:
    from edits_real import KINDS as REAL_KINDS  # edits_real imports this module's Outcome
    from edits_real import MUST_REFUSE as REAL_MUST_REFUSE

    tools = list(real.results)
    rows = []
    for kind in REAL_KINDS:
        rec = MUST_REFUSE if kind in REAL_MUST_REFUSE else "yes"
        rows.append([kind, rec, *(cell(real.results[t][kind]) for t in tools)])
    recoverable = [k for k in REAL_KINDS if k not in REAL_MUST_REFUSE]
    rows.append(["recoverable total", "", *(total([real.results[t][k] for k in recoverable]) for t in tools)])
    rows.append(["must-refuse total", "", *(
        f"{sum(real.results[t][k].refused for k in REAL_MUST_REFUSE)} of "
        f"{sum(real.results[t][k].n for k in REAL_MUST_REFUSE)} refused" for t in tools)])  # fmt: skip
    rows.append(["time per case (mean ms)", "", *(f"{_mean_ms(real.times[t]):.2f}" for t in tools)])
    title = (
        f"SEARCH/REPLACE blocks from real commits ({real.n_cases} cases from {real.n_files} changed files of "
        f"{', '.join(real.repos)}): correct/refused/WRONG"
    )
    return table(title, ["damage", "recoverable", *tools], rows, markdown)


def machine() -> str:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, env=subprocess_env()).stdout.strip()
    pv = (
        subprocess.run(["patch", "--version"], capture_output=True, text=True, env=subprocess_env()).stdout
        if shutil.which("patch")
        else ""
    )
    return (f"{os.cpu_count()} CPUs; Python {platform.python_version()} on {platform.system()} {platform.release()}; "
            f"{git}; {pv.splitlines()[0] if pv else 'no GNU patch'}")  # fmt: skip


def report(results, sr_results, times, base_done, n_modules, elapsed, args, have_patch, argv, real=None) -> None:
    print(render_report(results, sr_results, times, base_done, n_modules, markdown=False))
    if real is not None:
        print(render_real(real, markdown=False))
    if not have_patch:
        print("GNU patch is not installed: its column is n/a (install it with apt-get install patch)")
    print(f"seed {args.seed}, {elapsed:.0f} s")
    if args.write_doc:
        body = "\n".join([
            f"Command: `python scripts/bench/edits.py {' '.join(argv)}`  ",
            f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
            f"Machine: {machine()}  ",
            f"Run time: {elapsed:.0f} s; cells are correct/refused/WRONG (WRONG: the tool reported success with "
            "another result, or failed after changing the file).",
            "",
            render_report(results, sr_results, times, base_done, n_modules, markdown=True),
            render_real(real, markdown=True) if real is not None else "",
        ])  # fmt: skip
        path = Path(args.write_doc)
        doc = path.read_text(encoding="utf-8") if path.exists() else ""  # re-read: other sections belong to others
        tmp = path.with_name(path.name + ".edits-tmp")
        tmp.write_text(benchdoc.replace_section(doc, "Edit application", body, "edits.py"), encoding="utf-8")
        os.replace(tmp, path)
        print(f"wrote the Edit application section of {path}")
