"""Edit-application benchmark, part 1: the corpus and the damage done to true diffs.

Owns picking stdlib modules, making one real change to a function (insert, delete, replace the
body, rename a local), writing its true unified diff with difflib, and damaging that diff the way
models do. ``edits.py`` applies the results; ``edits_cases.py`` builds the constructed families.
"""

from __future__ import annotations

import ast
import difflib
import random
import re
import sysconfig
from pathlib import Path

DAMAGES = [
    "control", "wrong_line_numbers", "wrong_counts", "trailing_whitespace", "context_missing",
    "context_altered", "tabs_for_spaces", "crlf", "no_ab_prefix", "elision",
]  # fmt: skip
Hunk = list[list]  # [header numbers [s1, c1, s2, c2], [(op, text), ...]]


# corpus -------------------------------------------------------------------------------------
def corpus_files() -> list[tuple[str, str]]:
    """(path under the stdlib, text) of every module of 150 to 4,000 lines that parses; tests excluded."""
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
        if 150 <= text.count("\n") <= 4000 and "\r" not in text and parses(text):
            files.append((rel, text))
    return files


def stdlib_files(limit: int, rng: random.Random, files: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """``limit`` corpus modules in a seeded random order."""
    files = list(corpus_files() if files is None else files)
    rng.shuffle(files)
    return files[:limit]


def parses(text: str) -> bool:
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


def indent_of(line: str) -> str:
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
        ind = indent_of(lines[st.lineno - 1])
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
        ind = indent_of(lines[first.lineno - 1])
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
    if result == text or not parses(result):
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
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the "" after the final newline is not a line: a block ending in a blank line cannot fit there
    norm = [" ".join(ln.split()) for ln in lines]
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
        body[i : i + n] = [(" ", indent_of(body[i][1]) + "...")]
    return render(old_path, new_path, hs, nl)
