"""Edit-application benchmark: autopack's applier vs git apply, git apply --recount --3way and GNU patch.

The corpus is real code nobody here wrote: modules of the Python standard library on this machine.
Random cases: each makes a real change to a function (insert lines, delete a line, replace the body,
rename a local), writes the true unified diff with difflib, then damages it the way models do
(``edits_corpus``). Constructed cases (``edits_cases``): changes at lines that occur twice (the
hunk header or the indentation is all that tells the twins apart) and SEARCH texts that are part
of a line. Every tool applies each case to a fresh copy; the result is compared with the intended file.

    python scripts/bench/edits.py [--cases N] [--twins N] [--seed S] [--budget SECONDS] [--write-doc [docs/BENCHMARKS.md]]
        [--real REPO[@REV] ...] [--real-commits N] [--aider aider_chat-0.86.2-py3-none-any.whl] [--twin-rule RULE]

``--real`` adds SEARCH/REPLACE blocks from the last ``--real-commits`` commits of git repositories,
damaged as models damage them (``edits_real``), applied side by side by autopack, Aider's own
applier (``--aider``: the wheel ``pip download --no-deps aider-chat==0.86.2`` fetches, run in its
own process by ``edits_aider_driver.py``) and ``str.replace``. ``--twin-rule`` measures another rule
for blocks that fit exactly and also, re-indented, a more indented place (``match.TWIN_RULE``).

``--cases`` is the number of random base changes; each is tried with every damage kind (10 kinds),
so the default 100 gives about 1000 diff cases, plus 4 SEARCH/REPLACE variants and up to 4
part-of-line SEARCH/REPLACE cases each. ``--twins`` (default 60) changes at repeated lines give two
diff cases each, and as many changes at a block repeated at another indentation give two
SEARCH/REPLACE cases each. About a minute on 2 cores. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import difflib
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling helper modules
from edits_cases import (  # noqa: E402
    SR_LINE_IN_LINE,
    SR_TWIN,
    TWIN,
    TWIN_RIGHT,
    SRCase,
    part_cases,
    twin_block_cases,
    twin_diff_cases,
    word_places,
)
from edits_corpus import DAMAGES, corpus_files, damage, indent_of, make_change, occurrences, stdlib_files, true_diff  # noqa: E402
from edits_real import AiderDriver  # noqa: E402
from edits_real import corpus as real_corpus  # noqa: E402
from edits_real import run as run_real_cases  # noqa: E402
from edits_report import AIDER, RECOVERABLE, SR_KINDS, Outcome, RealResults, report, size_bucket  # noqa: E402

from autopack.childenv import subprocess_env  # noqa: E402
from autopack.edits import apply_edits, match, parse_reply  # noqa: E402

Tool = Callable[[str, Path, Path], tuple[bool, float]]
Results = dict[str, dict[str, Outcome]]
GIT = ["git", "-c", "user.email=bench@example.invalid", "-c", "user.name=bench"]


def judge(ok: bool, result: bytes | None, intended: bytes | None, original: bytes) -> str:
    """correct: success with the intended file; refused: failure with the file untouched; else wrong.

    ``intended`` None: nothing can be intended (a must-refuse case), so any change is wrong.
    """
    if ok and intended is not None and result == intended:
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


def diff_reply(diff_text: str) -> str:
    return "Here is the change:\n\n```diff\n" + diff_text + "```\n"


def sr_reply(path: str, search: str, replace: str) -> str:
    """A SEARCH/REPLACE block; a part-of-line SEARCH (no final newline) gets its own line in the reply."""
    search, replace = (x + "\n" if x and not x.endswith("\n") else x for x in (search, replace))
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


def make_tools(have_patch: bool, autopack_only: bool) -> dict[str, Tool]:
    tools: dict[str, Tool] = {"autopack": lambda text, cwd, p: autopack_apply(diff_reply(text), cwd)}
    if autopack_only:
        return tools
    tools["git apply"] = lambda text, cwd, p: run_tool(["git", "apply", str(p)], cwd)
    tools["git apply --recount --3way"] = lambda text, cwd, p: run_tool(
        ["git", "apply", "--recount", "--3way", str(p)], cwd
    )
    if have_patch:
        tools["patch --fuzz=3"] = lambda text, cwd, p: run_tool(
            ["patch", "--batch", "--fuzz=3", "-p1", "--no-backup-if-mismatch", "--reject-file=-", "-i", str(p)], cwd
        )
    return tools


class Bench:
    """One scratch git repository and the tallies; each case is applied by every tool to a fresh copy."""

    def __init__(self, tmp: Path, tools: dict[str, Tool], show_failures: bool) -> None:
        self.tmp, self.tools, self.show = tmp, tools, show_failures
        self.repo = tmp / "repo"
        self.repo.mkdir()
        subprocess.run([*GIT, "init", "-q"], cwd=self.repo, check=True, env=subprocess_env())
        self.results: Results = {t: defaultdict(Outcome) for t in tools}
        self.sr_results: Results = {t: defaultdict(Outcome) for t in ("autopack", "str.replace")}
        self.times: dict[str, list[float]] = defaultdict(list)
        self.warm_up()

    def warm_up(self) -> None:
        """One untimed application of each kind: autopack.edits loads its modules on first use."""
        warm = self.tmp / "warm"
        (warm / "lib").mkdir(parents=True)
        (warm / "lib" / "w.py").write_text("a = 1\nb = 2\nc = 3\n", encoding="utf-8")
        autopack_apply(
            diff_reply("--- a/lib/w.py\n+++ b/lib/w.py\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 5\n c = 3\n"), warm
        )
        autopack_apply(sr_reply("lib/w.py", "c = 3\n", "c = 4\n"), warm)
        shutil.rmtree(warm)

    def stage(self, rel: str, text: str) -> Path:
        """Write and commit the base file (git apply --3way needs it in the index)."""
        target = self.repo / "lib" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode())
        subprocess.run([*GIT, "add", "-A"], cwd=self.repo, check=True, env=subprocess_env())
        subprocess.run(
            [*GIT, "commit", "-qm", "base", "--allow-empty"], cwd=self.repo, check=True, env=subprocess_env()
        )
        return target

    def diff_case(self, kind: str, rel: str, text: str, new_text: str, diff_text: str) -> None:
        target = self.repo / "lib" / rel
        original, intended = text.encode(), _with_newline(new_text).encode()
        patch_file = self.tmp / "change.diff"
        patch_file.write_bytes(diff_text.encode())
        size = size_bucket(text.count("\n"))
        for tool, apply in self.tools.items():
            target.write_bytes(original)
            if "3way" in tool:
                subprocess.run([*GIT, "reset", "-q", "--hard"], cwd=self.repo, env=subprocess_env())
            ok, seconds = apply(diff_text, self.repo, patch_file)
            verdict = judge(ok, target.read_bytes() if target.exists() else None, intended, original)
            self.results[tool][kind].add(verdict)
            if self.show and tool == "autopack" and (verdict == "wrong" or verdict == "refused" and RECOVERABLE[kind]):
                show_failure(f"diff/{kind}", rel, diff_text, original, intended)
            if tool == "autopack":
                self.times[tool].append(seconds)
            if kind == "control":
                key = f"{tool} control" if tool == "autopack" else tool
                self.times[key].append(seconds)
                self.times[f"{key} {size}"].append(seconds)
        target.write_bytes(original)
        if kind == "control":
            self.time_without_check(rel, text, diff_text, size)

    def time_without_check(self, rel: str, text: str, diff_text: str, size: str) -> None:
        """autopack on the same diff with the file named .py.txt: every step but the Python syntax check."""
        bare = self.repo / "lib" / f"{rel}.txt"
        bare.write_bytes(text.encode())
        head, rest = diff_text.split("\n@@", 1)
        ok, seconds = autopack_apply(
            diff_reply(head.replace(f"lib/{rel}", f"lib/{rel}.txt") + "\n@@" + rest), self.repo
        )
        bare.unlink()
        if ok:
            self.times["autopack no check"].append(seconds)
            self.times[f"autopack no check {size}"].append(seconds)

    def sr_case(self, case: SRCase) -> None:
        path = f"lib/{case.rel}"
        target = self.repo / path
        original = case.text.encode()
        intended = None if case.new_text is None else _with_newline(case.new_text).encode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(original)
        reply = sr_reply(path, case.search, case.replace)
        ok, _ = autopack_apply(reply, self.repo)
        verdict = judge(ok, target.read_bytes(), intended, original)
        self.sr_results["autopack"][case.kind].add(verdict)
        if self.show and (verdict == "wrong" or verdict == "refused" and RECOVERABLE[case.kind]):
            show_failure(f"search_replace/{case.kind}", case.rel, reply, original, intended)
        found = case.search in case.text
        result = case.text.replace(case.search, case.replace, 1).encode() if found else original
        self.sr_results["str.replace"][case.kind].add(judge(found, result, intended, original))
        target.write_bytes(original)


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


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


def drifted_blocks(rel: str, text: str, new_text: str, rng: random.Random) -> list[SRCase]:
    """The random change as the smallest SEARCH/REPLACE block, undamaged and with whitespace drift."""
    block = sr_block(text, new_text)
    if block is None:
        return []
    search, replace = block
    out = []
    for kind in SR_KINDS:
        s, r = search, replace
        if kind == "indent_dropped":
            if occurrences(text, search.split("\n")[:-1]) > 1:
                kind = SR_TWIN
            elif search.count("\n") == 1 and word_places(text, search.strip())[0] > 1:
                # One line sent without its indentation whose text also sits inside another line:
                # the whole line or that part of the other line? Only the indentation told them apart.
                kind = SR_LINE_IN_LINE
            lines = [ln for ln in (s + r).split("\n") if ln.strip()]
            cut = min(len(indent_of(ln)) for ln in lines) if lines else 0
            s = "\n".join(ln[cut:] for ln in s.split("\n"))
            r = "\n".join(ln[cut:] for ln in r.split("\n"))
        elif kind == "trailing_whitespace":
            s = "\n".join(ln + rng.choice(["", " ", "  "]) if ln else ln for ln in s.split("\n"))
        elif kind == "tabs_for_spaces":
            s, r = (re.sub(r"(?m)^(?:    )+", lambda m: "\t" * (len(m.group(0)) // 4), x) for x in (s, r))
        out.append(SRCase(kind, rel, text, new_text, s, r))
    return out


def show_failure(what: str, rel: str, reply: str, original: bytes, intended: bytes | None, under: str = "lib") -> None:
    """Re-run a case autopack got wrong in a scratch copy and print the reply and its feedback."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / under / rel
        path.parent.mkdir(parents=True)
        path.write_bytes(original)
        text = reply if "<<<<<<< SEARCH" in reply else diff_reply(reply)
        report = apply_edits(parse_reply(text).edits, Path(scratch), ["**"])
        got = path.read_bytes().decode().splitlines()
    print(f"===== {what} {rel}\n{reply}\n--- feedback:\n{report.feedback()}", file=sys.stderr)
    want = (intended or original).decode().splitlines()
    diff = difflib.unified_diff(want, got, "intended" if intended else "original", "got", lineterm="", n=1)
    print("\n".join(diff), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100, help="random base changes (each tried with every damage kind)")
    ap.add_argument("--twins", type=int, default=60, help="changes at repeated lines, and at re-indented blocks")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--budget", type=float, default=240.0, help="stop starting new random cases after this many seconds"
    )
    ap.add_argument("--write-doc", nargs="?", const="docs/BENCHMARKS.md", default=None,
                    help="write the tables into the 'Edit application' section of docs/BENCHMARKS.md")  # fmt: skip
    ap.add_argument("--show-failures", action="store_true", help="print cases autopack got wrong or refused needlessly")
    ap.add_argument("--autopack-only", action="store_true", help="skip the other tools (fast, for debugging)")
    ap.add_argument("--real", action="append", default=[], metavar="REPO[@REV]",
                    help="a git repository whose recent commits give SEARCH/REPLACE blocks (repeatable)")  # fmt: skip
    ap.add_argument("--real-commits", type=int, default=60, help="commits per --real repository")
    ap.add_argument("--aider", metavar="WHEEL", help="aider-chat's wheel (pip download --no-deps aider-chat==0.86.2)")
    ap.add_argument("--twin-rule", choices=["column0", "deeper", "any"], default=None,
                    help="measure another rule for exact matches with a re-indented twin (autopack.edits.match.TWIN_RULE)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.twin_rule:
        match.TWIN_RULE = args.twin_rule
    rng = random.Random(args.seed)
    part_rng, twin_rng = random.Random(f"{args.seed}-part"), random.Random(f"{args.seed}-twins")
    have_patch = shutil.which("patch") is not None
    started = time.perf_counter()
    corpus = corpus_files()
    files = stdlib_files(max(100, args.cases), rng, corpus)
    modules: set[str] = set()
    base_done = attempt = 0
    with tempfile.TemporaryDirectory(prefix="autopack-bench-") as tmp:
        bench = Bench(Path(tmp), make_tools(have_patch, args.autopack_only), args.show_failures)
        while base_done < args.cases and time.perf_counter() - started < args.budget and attempt < args.cases * 20:
            rel, text = files[attempt % len(files)]
            attempt += 1
            change = make_change(text, rng)
            if change is None:
                continue
            _, new_text = change
            path = f"lib/{rel}"
            bench.stage(rel, text)
            old_path, new_path, hunks = true_diff(path, text, new_text)
            base_done += 1
            modules.add(rel)
            twins = any(occurrences(text, [t for op, t in body if op != "+"]) > 1 for _, body in hunks)
            for damage_kind in DAMAGES:
                diff_text = damage(damage_kind, old_path, new_path, hunks, rng)
                if diff_text is not None:
                    kind = TWIN if damage_kind == "wrong_line_numbers" and twins else damage_kind
                    bench.diff_case(kind, rel, text, new_text, diff_text)
            t0 = time.perf_counter()
            compile(new_text, path, "exec", dont_inherit=True)
            seconds = time.perf_counter() - t0
            bench.times["syntax check"].append(seconds)
            bench.times[f"syntax check {size_bucket(text.count(chr(10)))}"].append(seconds)
            for case in drifted_blocks(rel, text, new_text, rng) + part_cases(rel, text, part_rng):
                bench.sr_case(case)
        for twin in twin_diff_cases(corpus, args.twins, twin_rng):
            if twin.kind == TWIN_RIGHT:  # the first of each pair: stage its base file once
                bench.stage(twin.rel, twin.text)
            bench.diff_case(twin.kind, twin.rel, twin.text, twin.new_text, twin.diff)
        for sr in twin_block_cases(corpus, args.twins, twin_rng):
            bench.sr_case(sr)
        real = run_real(args, Path(tmp)) if args.real else None
    elapsed = time.perf_counter() - started
    report(bench.results, bench.sr_results, bench.times, base_done, len(modules), elapsed, args, have_patch,
           argv or sys.argv[1:], real)  # fmt: skip
    return 0


def str_replace(root: Path, path: str, reply: str) -> tuple[bool, float]:
    """The baseline: the SEARCH text replaced once, exactly, or nothing."""
    t0 = time.perf_counter()
    body = reply.split("<<<<<<< SEARCH\n", 1)[1]
    search, rest = body.split("=======\n", 1)
    replace = rest.split(">>>>>>> REPLACE\n", 1)[0]
    target = root / path
    text = target.read_text(encoding="utf-8")
    found = bool(search) and search in text
    if found:
        target.write_text(text.replace(search, replace, 1), encoding="utf-8")
    return found, time.perf_counter() - t0


def run_real(args: argparse.Namespace, tmp: Path) -> RealResults:
    """The real-commits SEARCH/REPLACE corpus through autopack, Aider's applier (with --aider) and str.replace."""
    cases = real_corpus(args.real, args.real_commits, per_file=3, seed=args.seed)
    tools: dict[str, Callable[[Path, str, str], tuple[bool, float]]] = {
        "autopack": lambda root, path, reply: autopack_apply(reply, root)
    }
    driver = AiderDriver(args.aider) if args.aider else None
    if driver is not None:
        tools[AIDER] = driver.apply
    tools["str.replace"] = str_replace
    show = (lambda verdict, case, reply: show_failure(f"real/{case.kind}/{verdict}", case.path, reply,
            case.text.encode(), None if case.new_text is None else case.new_text.encode(), under="")) if args.show_failures else None  # fmt: skip
    try:
        results, times = run_real_cases(cases, tmp, tools, judge, show)
    finally:
        if driver is not None:
            driver.close()
    repos = sorted({c.label.split(":")[0] for c in cases})
    return RealResults(results, times, len(cases), len({c.label for c in cases}), repos, args.aider)


if __name__ == "__main__":
    sys.exit(main())
