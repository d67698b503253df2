"""Edit-application benchmark: autopack's applier vs git apply, git apply --recount --3way and GNU patch.

The corpus is real code nobody here wrote: modules of the Python standard library on this machine.
Each case makes a real change to a function (insert lines, delete a line, replace the body, rename
a local), writes the true unified diff with difflib, then damages it the way models do. Every tool
applies it to a fresh copy; the result is compared with the intended file.

    python scripts/bench/edits.py [--cases N] [--seed S] [--budget SECONDS] [--write-doc [docs/BENCHMARKS.md]]

``--cases`` is the number of base changes; each is tried with every damage kind (10 kinds), so the
default 100 gives about 1000 diff cases, plus 4 SEARCH/REPLACE variants each. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from autopack.edits import apply_edits, parse_reply
from autopack.encoding import subprocess_env

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling helper modules
import benchdoc  # noqa: E402

DAMAGES = [
    "control", "wrong_line_numbers", "wrong_counts", "trailing_whitespace", "context_missing",
    "context_altered", "tabs_for_spaces", "crlf", "no_ab_prefix", "elision",
]  # fmt: skip
TWIN = "wrong_line_numbers, hunk text not unique"  # no line number and no unique text: nothing can tell
DAMAGE_ROWS = [*DAMAGES[:2], TWIN, *DAMAGES[2:]]
RECOVERABLE = {d: d not in ("elision", TWIN) for d in DAMAGE_ROWS}
SR_KINDS = ["control", "indent_dropped", "trailing_whitespace", "tabs_for_spaces"]
SR_TWIN = "indent_dropped, block at several indentations"
SR_ROWS = [*SR_KINDS[:2], SR_TWIN, *SR_KINDS[2:]]
Hunk = list[list]  # [header numbers [s1, c1, s2, c2], [(op, text), ...]]


# corpus -------------------------------------------------------------------------------------
def stdlib_files(limit: int, rng: random.Random) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for p in sorted(root.glob("*.py")) + sorted(root.glob("[a-z]*/*.py")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(("test", "idlelib", "lib2to3/tests", "site-packages")) or "/test" in rel:
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 150 <= text.count("\n") <= 4000 and "\r" not in text and _parses(text):
            files.append((rel, text))
    rng.shuffle(files)
    return files[:limit]


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except SyntaxError:
        return False


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        n for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.end_lineno and n.end_lineno - n.lineno < 80
        and len(n.body) >= 2
    ]  # fmt: skip


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def make_change(text: str, rng: random.Random) -> tuple[str, str] | None:
    """A real change to one function: (kind, new text), or None when this pick did not work out."""
    lines = text.split("\n")
    funcs = _functions(ast.parse(text))
    if not funcs:
        return None
    fn = rng.choice(funcs)
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(getattr(s, "value", None), ast.Constant))]
    if not body:
        return None
    kind = rng.choice(["insert", "delete", "replace_body", "rename"])
    new = list(lines)
    if kind == "insert":
        st = rng.choice(body)
        ind = _indent(lines[st.lineno - 1])
        k = rng.randint(1, 3)
        added = [f"{ind}_bench_step_{j} = {rng.randint(0, 999)}  # added" for j in range(k)]
        new[st.end_lineno : st.end_lineno] = added  # type: ignore[misc]
    elif kind == "delete":
        simple = [s for s in body[:-1] if s.lineno == s.end_lineno]
        if not simple:
            return None
        st = rng.choice(simple)
        del new[st.lineno - 1]
    elif kind == "replace_body":
        first = body[0]
        ind = _indent(lines[first.lineno - 1])
        if first.lineno - 1 < fn.lineno or lines[first.lineno - 1].lstrip().startswith(("@", "def ")):
            return None
        new[first.lineno - 1 : fn.end_lineno] = [
            f"{ind}result = None  # rewritten",
            f"{ind}raise NotImplementedError({fn.name!r})",
        ]
    else:
        names = sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})
        if not names:
            return None
        name = rng.choice(names)
        pat = re.compile(rf"\b{re.escape(name)}\b")
        for i in range(fn.lineno, fn.end_lineno or fn.lineno):
            new[i] = pat.sub(f"{name}_renamed", new[i])
    result = "\n".join(new)
    if result == text or not _parses(result):
        return None
    return kind, result


# diffs and their damage ---------------------------------------------------------------------
def true_diff(path: str, old: str, new: str) -> tuple[str, str, list[Hunk]]:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=3))
    hunks: list[Hunk] = []
    for line in lines[2:]:
        if line.startswith("@@"):
            m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
            assert m
            nums = [int(m.group(1)), int(m.group(2) or 1), int(m.group(3)), int(m.group(4) or 1)]
            hunks.append([nums, []])
        else:
            hunks[-1][1].append((line[0], line[1:]))
    return lines[0][4:], lines[1][4:], hunks


def occurrences(text: str, block: list[str]) -> int:
    """Places where ``block`` fits ``text`` line by line when indentation and spacing are ignored."""
    norm = [" ".join(ln.split()) for ln in text.split("\n")]
    want = [" ".join(ln.split()) for ln in block]
    if not want:
        return 0
    return sum(1 for i in range(len(norm) - len(want) + 1) if norm[i] == want[0] and norm[i : i + len(want)] == want)


def render(old_path: str, new_path: str, hunks: list[Hunk], newline: str = "\n") -> str:
    out = [f"--- {old_path}", f"+++ {new_path}"]
    for (s1, c1, s2, c2), body in hunks:
        out.append(f"@@ -{s1},{c1} +{s2},{c2} @@")
        out.extend(op + text for op, text in body)
    return newline.join(out) + newline


def damage(kind: str, old_path: str, new_path: str, hunks: list[Hunk], rng: random.Random) -> str | None:
    hs = [[list(nums), list(body)] for nums, body in hunks]
    nl = "\n"
    if kind == "wrong_line_numbers":
        for h in hs:
            delta = rng.choice([-1, 1]) * rng.randint(3, 300)
            h[0][0] = max(1, h[0][0] + delta)
            h[0][2] = max(1, h[0][2] + delta)
    elif kind == "wrong_counts":
        for h in hs:
            h[0][1] = max(0, h[0][1] + rng.choice([-2, -1, 1, 2, 3]))
            h[0][3] = max(0, h[0][3] + rng.choice([-2, -1, 1, 2, 3]))
    elif kind == "trailing_whitespace":
        for h in hs:
            h[1] = [
                (op, t.rstrip() if not t.strip() else t + rng.choice(["", " ", "  ", "\t"])) if op != "+" else (op, t)
                for op, t in h[1]
            ]
    elif kind in ("context_missing", "context_altered"):
        h = rng.choice(hs)
        body = h[1]
        ctx = [i for i, (op, t) in enumerate(body) if op == " " and t.strip()]
        if kind == "context_missing":
            ctx = [
                i
                for i in ctx
                if i in (0, len(body) - 1)
                or (body[i - 1][0] != "+" and body[i + 1][0] != "+" and " " in (body[i - 1][0], body[i + 1][0]))
            ]
        if not ctx:
            return None
        i = rng.choice(ctx)
        if kind == "context_missing":
            del body[i]
        else:
            body[i] = (
                " ",
                body[i][1].rstrip() + "  # note"
                if rng.random() < 0.5
                else re.sub(r"\w+", "changed", body[i][1], count=1),
            )
    elif kind == "tabs_for_spaces":
        for h in hs:
            h[1] = [(op, re.sub(r"^(?:    )+", lambda m: "\t" * (len(m.group(0)) // 4), t)) for op, t in h[1]]
    elif kind == "crlf":
        nl = "\r\n"
    elif kind == "no_ab_prefix":
        old_path, new_path = old_path[2:], new_path[2:]
    elif kind == "elision":
        h = rng.choice(hs)
        body = h[1]
        runs = [
            i for i in range(len(body) - 2) if all(body[j][0] != "+" and body[j][1].strip() for j in range(i, i + 2))
        ]
        if not runs:
            return None
        i = rng.choice(runs)
        n = 2 if i + 2 >= len(body) or body[i + 2][0] == "+" else rng.choice([2, 3])
        body[i : i + n] = [(" ", _indent(body[i][1]) + "...")]
    return render(old_path, new_path, hs, nl)


# running the tools --------------------------------------------------------------------------
@dataclass
class Outcome:
    correct: int = 0
    refused: int = 0
    wrong: int = 0

    def add(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


def judge(ok: bool, result: bytes | None, intended: bytes, original: bytes) -> str:
    if result == intended and ok:
        return "correct"
    if not ok and result == original:
        return "refused"
    return "wrong"  # claimed success with another result, or failed after changing the file


def run_tool(cmd: list[str], cwd: Path) -> tuple[bool, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=subprocess_env(), timeout=30)
    return proc.returncode == 0, time.perf_counter() - t0


def autopack_apply(reply: str, cwd: Path) -> tuple[bool, float]:
    t0 = time.perf_counter()
    parsed = parse_reply(reply)
    ok = False
    if not parsed.truncated and parsed.edits:
        report = apply_edits(parsed.edits, cwd, ["**"])
        ok = report.ok and bool(report.files_changed)
    return ok, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100, help="base changes (each tried with every damage kind)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=float, default=240.0, help="stop starting new cases after this many seconds")
    ap.add_argument("--write-doc", nargs="?", const="docs/BENCHMARKS.md", default=None,
                    help="write the tables into the 'Edit application' section of docs/BENCHMARKS.md")  # fmt: skip
    ap.add_argument("--show-failures", action="store_true", help="print cases autopack got wrong or refused needlessly")
    ap.add_argument("--autopack-only", action="store_true", help="skip the other tools (fast, for debugging)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    have_patch = shutil.which("patch") is not None
    tools: dict[str, Callable[[str, Path, Path], tuple[bool, float]]] = {
        "autopack": lambda text, cwd, p: autopack_apply("Here is the change:\n\n```diff\n" + text + "```\n", cwd),
        "git apply": lambda text, cwd, p: run_tool(["git", "apply", str(p)], cwd),
        "git apply --recount --3way": lambda text, cwd, p: run_tool(
            ["git", "apply", "--recount", "--3way", str(p)], cwd
        ),
    }
    if have_patch:
        tools["patch --fuzz=3"] = lambda text, cwd, p: run_tool(
            ["patch", "--batch", "--fuzz=3", "-p1", "--no-backup-if-mismatch", "--reject-file=-", "-i", str(p)], cwd
        )
    if args.autopack_only:
        tools = {"autopack": tools["autopack"]}
    results: dict[str, dict[str, Outcome]] = {t: defaultdict(Outcome) for t in tools}
    sr_results: dict[str, dict[str, Outcome]] = {t: defaultdict(Outcome) for t in ("autopack", "str.replace")}
    times: dict[str, list[float]] = defaultdict(list)
    files = stdlib_files(max(100, args.cases), rng)
    modules: set[str] = set()
    started = time.perf_counter()
    base_done = 0
    with tempfile.TemporaryDirectory(prefix="autopack-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        git = ["git", "-c", "user.email=bench@example.invalid", "-c", "user.name=bench"]
        subprocess.run([*git, "init", "-q"], cwd=repo, check=True, env=subprocess_env())
        attempt = 0
        while base_done < args.cases and time.perf_counter() - started < args.budget and attempt < args.cases * 20:
            rel, text = files[attempt % len(files)]
            attempt += 1
            change = make_change(text, rng)
            if change is None:
                continue
            _, new_text = change
            path = f"lib/{rel}"
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            original, intended = text.encode(), (new_text + ("\n" if not new_text.endswith("\n") else "")).encode()
            target.write_bytes(original)
            subprocess.run([*git, "add", "-A"], cwd=repo, check=True, env=subprocess_env())
            subprocess.run([*git, "commit", "-qm", "base", "--allow-empty"], cwd=repo, check=True, env=subprocess_env())
            old_path, new_path, hunks = true_diff(path, text, new_text)
            base_done += 1
            modules.add(rel)
            twins = any(occurrences(text, [t for op, t in body if op != "+"]) > 1 for _, body in hunks)
            for damage_kind in DAMAGES:
                diff_text = damage(damage_kind, old_path, new_path, hunks, rng)
                if diff_text is None:
                    continue
                kind = TWIN if damage_kind == "wrong_line_numbers" and twins else damage_kind
                patch_file = Path(tmp) / "change.diff"
                patch_file.write_bytes(diff_text.encode())
                for tool, apply in tools.items():
                    target.write_bytes(original)
                    subprocess.run(
                        [*git, "reset", "-q", "--hard"], cwd=repo, env=subprocess_env()
                    ) if "3way" in tool else None
                    ok, seconds = apply(diff_text, repo, patch_file)
                    verdict = judge(ok, target.read_bytes() if target.exists() else None, intended, original)
                    results[tool][kind].add(verdict)
                    needless = verdict == "refused" and RECOVERABLE[kind]
                    if args.show_failures and tool == "autopack" and (verdict == "wrong" or needless):
                        show_failure(f"diff/{kind}", rel, diff_text, original, repo, intended)
                    if tool == "autopack":
                        times[tool].append(seconds)
                    if kind == "control":
                        times[f"{tool} control" if tool == "autopack" else tool].append(seconds)
            t0 = time.perf_counter()
            compile(new_text, path, "exec", dont_inherit=True)
            times["syntax check"].append(time.perf_counter() - t0)
            run_search_replace(text, new_text, target, original, intended, path, rng, sr_results, args.show_failures)
    elapsed = time.perf_counter() - started
    report(results, sr_results, times, base_done, len(modules), elapsed, args, have_patch, argv or sys.argv[1:])
    return 0


def sr_block(text: str, new_text: str) -> tuple[str, str] | None:
    """The smallest SEARCH/REPLACE pair (grown by context until unique) that turns text into new_text."""
    a, b = text.split("\n"), new_text.split("\n")
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
    i1, i2, j1, j2 = ops[0][1], ops[-1][2], ops[0][3], ops[-1][4]
    for extra in range(0, 6):
        lo, hi = max(0, i1 - extra), min(len(a), i2 + extra)
        search = "\n".join(a[lo:hi]) + "\n"
        if text.count(search) == 1 and a[lo:hi] and any(s.strip() for s in a[lo:hi]):
            kept = b[j1 - (i1 - lo) : j2 + (hi - i2)]
            return search, "\n".join(kept) + "\n" if kept else ""
    return None


def show_failure(what: str, rel: str, reply: str, original: bytes, root: Path, intended: bytes) -> None:
    """Re-run a case autopack got wrong in a scratch copy and print the reply and its feedback."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "lib" / rel
        path.parent.mkdir(parents=True)
        path.write_bytes(original)
        text = reply if "<<<<<<< SEARCH" in reply else "```diff\n" + reply + "```\n"
        report = apply_edits(parse_reply(text).edits, Path(scratch), ["**"])
        got = path.read_bytes().decode().splitlines()
    print(f"===== {what} {rel}\n{reply}\n--- feedback:\n{report.feedback()}", file=sys.stderr)
    diff = difflib.unified_diff(intended.decode().splitlines(), got, "intended", "got", lineterm="", n=1)
    print("\n".join(diff), file=sys.stderr)


def run_search_replace(text, new_text, target, original, intended, path, rng, sr_results, show=False) -> None:
    block = sr_block(text, new_text)
    if block is None:
        return
    search, replace = block
    for damage_kind in SR_KINDS:
        kind = damage_kind
        s, r = search, replace
        if damage_kind == "indent_dropped":
            if occurrences(text, search.split("\n")[:-1]) > 1:
                kind = SR_TWIN
            lines = [ln for ln in (s + r).split("\n") if ln.strip()]
            cut = min(len(_indent(ln)) for ln in lines) if lines else 0
            s = "\n".join(ln[cut:] for ln in s.split("\n"))
            r = "\n".join(ln[cut:] for ln in r.split("\n"))
        elif damage_kind == "trailing_whitespace":
            s = "\n".join(ln + rng.choice(["", " ", "  "]) if ln else ln for ln in s.split("\n"))
        elif damage_kind == "tabs_for_spaces":
            s, r = (re.sub(r"(?m)^(?:    )+", lambda m: "\t" * (len(m.group(0)) // 4), x) for x in (s, r))
        target.write_bytes(original)
        reply = f"{path}\n```python\n<<<<<<< SEARCH\n{s}=======\n{r}>>>>>>> REPLACE\n```\n"
        ok, _ = autopack_apply(reply, target.parents[len(Path(path).parts) - 1])
        verdict = judge(ok, target.read_bytes(), intended, original)
        sr_results["autopack"][kind].add(verdict)
        if show and verdict != "correct" and kind != SR_TWIN:
            show_failure(f"search_replace/{kind}", path[4:], reply, original, target.parent, intended)
        found = text.count(s) >= 1
        result = text.replace(s, r, 1).encode() if found else original
        sr_results["str.replace"][kind].add(judge(found, result, intended, original))


# output -------------------------------------------------------------------------------------
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


ALL_TOOLS = ["autopack", "git apply", "git apply --recount --3way", "patch --fuzz=3"]


def total(outcomes: list[Outcome]) -> str:
    n = sum(o.correct + o.refused + o.wrong for o in outcomes)
    if not n:
        return "n/a"
    return f"{100 * sum(o.correct for o in outcomes) / n:.1f}% correct, {sum(o.wrong for o in outcomes)} wrong"


def render_report(results, sr_results, times, base_done, n_modules, markdown: bool) -> str:
    tools = [t for t in ALL_TOOLS if t in results or t == "patch --fuzz=3"]
    na = "n/a"
    rows = []
    for kind in DAMAGE_ROWS:
        rec = "yes" if RECOVERABLE[kind] else "no (must refuse)"
        rows.append([kind, rec, *(cell(results[t][kind]) if t in results else na for t in tools)])
    rows.append(
        ["recoverable total", "", *(total([results[t][k] for k in DAMAGE_ROWS if RECOVERABLE[k]]) if t in results else na
                                    for t in tools)]
    )  # fmt: skip
    n_cases = sum(o.correct + o.refused + o.wrong for o in results["autopack"].values())
    out = [table(
        f"Unified diffs: correct/refused/WRONG per damage kind ({n_cases} cases from {base_done} changes "
        f"in {n_modules} stdlib modules)",
        ["damage", "recoverable", *tools], rows, markdown,
    )]  # fmt: skip
    sr_rows = [[k, "no (must refuse)" if k == SR_TWIN else "yes", *(cell(sr_results[t][k]) for t in sr_results)]
               for k in SR_ROWS]  # fmt: skip
    sr_rows.append(["recoverable total", "", *(total([sr_results[t][k] for k in SR_KINDS]) for t in sr_results)])
    n_sr = sum(o.correct + o.refused + o.wrong for o in sr_results["autopack"].values())
    out.append(table(
        f"SEARCH/REPLACE blocks ({n_sr} cases): correct/refused/WRONG", ["drift", "recoverable", *sr_results], sr_rows,
        markdown,
    ))  # fmt: skip

    def mean_ms(key: str) -> float:
        return 1000 * sum(times[key]) / len(times[key]) if times[key] else float("nan")

    ga = mean_ms("git apply")
    rows = [
        ["autopack, undamaged diffs (parse + place + guards + syntax check + atomic write, in process)",
         mean_ms("autopack control"), ],
        ["autopack, all cases", mean_ms("autopack")],
        ["  of which the Python syntax check (compile() of the whole new file)", mean_ms("syntax check")],
        ["git apply, undamaged diffs (one process per case)", ga],
    ]  # fmt: skip
    out.append(table(
        "Time per case (mean)", ["what", "ms per case", "relative to git apply"],
        [[w, f"{ms:.2f}", f"{ms / ga:.2f}x" if ga == ga else na] for w, ms in rows], markdown,
    ))  # fmt: skip
    return "\n".join(out)


def machine() -> str:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, env=subprocess_env()).stdout.strip()
    pv = (
        subprocess.run(["patch", "--version"], capture_output=True, text=True, env=subprocess_env()).stdout
        if shutil.which("patch")
        else ""
    )
    return (f"{os.cpu_count()} CPUs; Python {platform.python_version()} on {platform.system()} {platform.release()}; "
            f"{git}; {pv.splitlines()[0] if pv else 'no GNU patch'}")  # fmt: skip


def replace_section(doc: str, heading: str, body: str) -> str:
    return benchdoc.replace_section(doc, heading, body, "edits.py")


def report(results, sr_results, times, base_done, n_modules, elapsed, args, have_patch, argv) -> None:
    print(render_report(results, sr_results, times, base_done, n_modules, markdown=False))
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
        ])  # fmt: skip
        path = Path(args.write_doc)
        doc = path.read_text(encoding="utf-8") if path.exists() else ""  # re-read: other sections belong to others
        tmp = path.with_name(path.name + ".edits-tmp")
        tmp.write_text(replace_section(doc, "Edit application", body), encoding="utf-8")
        os.replace(tmp, path)
        print(f"wrote the Edit application section of {path}")


if __name__ == "__main__":
    sys.exit(main())
