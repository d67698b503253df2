"""Real tasks for the finishing-power benchmark (scripts/bench/finishing.py): functions of small
pure-Python packages with their bodies removed, each restored by one phase whose check runs that
package's own tests for the function.

    sdist (pip download, cached) -> candidate functions (ast) -> their tests (pytest --collect-only,
    names) -> plans of 5-20 phases per module, with depends_on -> each task validated in its plan's
    state: the tests fail with the body removed and pass with it restored (dependencies restored, the
    plan's other functions still removed)

A candidate is a top-level ``def`` with a docstring and a body after it, not called while the module
is imported. Its tests are the collected tests named for it (``test_take``, ``test_take_padding``,
``TakeTests``, ``TestTake``); a test named for two candidates goes to the longer name. Its
dependencies are the other candidates of its plan that its body, its tests' source or (transitively)
those functions' bodies name. Everything is cached under ``scripts/bench/.cache/`` (downloads,
pristine sources, the validated task manifest), so a second run needs no network.

``tiny_package`` writes a small generated package with tests, for the smoke test (no download).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autopack.childenv import subprocess_env

CACHE = Path(__file__).resolve().parent / ".cache"
MANIFEST_VERSION = 6  # bump when the selection or validation rules change (invalidates cached manifests)
STUB_BODY = "raise NotImplementedError"
MIN_PLAN, MAX_PLAN = 5, 20


@dataclass(frozen=True)
class PackageSpec:
    """A package whose sdist ships its tests, and the modules (with their test files) to take tasks from."""

    name: str
    version: str
    modules: tuple[tuple[str, str], ...]  # (module path, test file) inside the sdist


# Chosen for tests that run with pytest alone, in well under a second per function (checked by
# validation: a task whose tests do not fail without its body, or do not pass with it, is dropped).
PACKAGES: tuple[PackageSpec, ...] = (
    PackageSpec("toolz", "1.2.0", (("toolz/itertoolz.py", "toolz/tests/test_itertoolz.py"),
                                   ("toolz/dicttoolz.py", "toolz/tests/test_dicttoolz.py"),
                                   ("toolz/functoolz.py", "toolz/tests/test_functoolz.py"))),
    PackageSpec("more-itertools", "11.2.1", (("more_itertools/recipes.py", "tests/test_recipes.py"),)),
    PackageSpec("boltons", "26.2.0", (("boltons/iterutils.py", "tests/test_iterutils.py"),
                                      ("boltons/strutils.py", "tests/test_strutils.py"))),
    PackageSpec("inflection", "0.5.1", (("inflection/__init__.py", "test_inflection.py"),)),
)  # fmt: skip


@dataclass
class Task:
    """One function to restore: where it is, its source, its tests, and what the simulation needs."""

    id: str  # the phase id
    package: str
    module: str  # path inside the project
    test_file: str
    name: str
    original: str  # the function's source, def line to last line (decorators excluded)
    stub: str  # def line and docstring, then `raise NotImplementedError`
    indent: str  # of the body
    tests: list[str]  # pytest node ids
    body_lines: int
    branches: int  # if/for/while/try/with/comprehension nodes in the body
    depends_on: list[str] = field(default_factory=list)  # phase ids
    complexity: str = "low"


@dataclass
class PlanSpec:
    id: str
    package: str
    version: str
    module: str
    tasks: list[Task]


# sources -----------------------------------------------------------------------------------
def sdist_tree(spec: PackageSpec, cache: Path = CACHE, *, log: Callable[[str], None] = print) -> Path:
    """The package's pristine source tree, downloading its sdist once (pip, no wheels, no deps)."""
    _ignore_cache_dir(cache)
    src = cache / "src" / f"{spec.name}-{spec.version}"
    if (src / ".complete").exists():
        return src
    sdists = cache / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    archive = _find_sdist(sdists, spec)
    if archive is None:
        log(f"downloading the {spec.name}=={spec.version} sdist (once; cached under {sdists})")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "-q", f"{spec.name}=={spec.version}", "-d", str(sdists)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env())
        archive = _find_sdist(sdists, spec)
        if archive is None:
            raise SystemExit(f"could not download {spec.name}=={spec.version}: {proc.stderr.strip()[-1500:]}")
    tmp = Path(tempfile.mkdtemp(prefix="sdist-", dir=cache))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    (top,) = [p for p in tmp.iterdir() if p.is_dir()]
    if src.exists():
        shutil.rmtree(src)
    src.parent.mkdir(parents=True, exist_ok=True)
    top.rename(src)
    shutil.rmtree(tmp, ignore_errors=True)
    _own_pytest_config(src)
    (src / ".complete").write_text("", encoding="utf-8")
    return src


def _own_pytest_config(src: Path) -> None:
    """A package without a pytest configuration gets an empty one, so pytest does not take the
    configuration of a folder above it (this repository's pyproject.toml, when cached here)."""
    pyproject = src / "pyproject.toml"
    setup_cfg = src / "setup.cfg"
    tox_ini = src / "tox.ini"
    if (
        (src / "pytest.ini").exists()
        or (pyproject.exists() and "[tool.pytest.ini_options]" in pyproject.read_text("utf-8"))
        or (setup_cfg.exists() and "[tool:pytest]" in setup_cfg.read_text("utf-8"))
        or (tox_ini.exists() and "[pytest]" in tox_ini.read_text("utf-8"))
    ):
        return
    (src / "pytest.ini").write_text(
        "[pytest]\n# added by scripts/bench/finishing_tasks.py: the package has no pytest configuration\n",
        encoding="utf-8",
    )


def _find_sdist(folder: Path, spec: PackageSpec) -> Path | None:
    stem = re.sub(r"[-_.]+", "[-_.]", spec.name)
    pattern = re.compile(rf"^{stem}-{re.escape(spec.version)}\.tar\.gz$", re.IGNORECASE)
    return next((p for p in sorted(folder.iterdir()) if pattern.match(p.name)), None)


def _ignore_cache_dir(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# downloads and results of scripts/bench/finishing.py\n*\n", encoding="utf-8")


# functions ---------------------------------------------------------------------------------
@dataclass
class Candidate:
    name: str
    original: str
    stub: str
    indent: str
    start: int  # 1-based first line (the def line)
    end: int  # 1-based last line
    body_lines: int
    branches: int
    names: set[str]  # names its body uses


BRANCH_NODES = (ast.If, ast.For, ast.While, ast.Try, ast.With, ast.comprehension, ast.IfExp, ast.BoolOp)


def candidates(source: str) -> list[Candidate]:
    """Top-level functions with a docstring and a body after it, not called at import time."""
    tree = ast.parse(source)
    lines = source.splitlines()
    at_import = _names_used_at_import(tree)
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_") or node.name in at_import:
            continue
        body = node.body
        if len(body) < 2 or not (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                                 and isinstance(body[0].value.value, str)):  # fmt: skip
            continue
        doc_end = body[0].end_lineno or body[0].lineno
        end = node.end_lineno or node.lineno
        first = body[1].lineno
        indent = re.match(r"\s*", lines[first - 1]).group(0)  # type: ignore[union-attr]
        original = "\n".join(lines[node.lineno - 1 : end])
        stub = "\n".join(lines[node.lineno - 1 : doc_end] + [indent + STUB_BODY])
        body_src = lines[first - 1 : end]
        names = {n.id for stmt in body[1:] for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        names |= {n.attr for stmt in body[1:] for n in ast.walk(stmt) if isinstance(n, ast.Attribute)}
        branches = sum(isinstance(n, BRANCH_NODES) for stmt in body[1:] for n in ast.walk(stmt))
        code_lines = sum(1 for ln in body_src if ln.strip() and not ln.strip().startswith("#"))
        out.append(Candidate(node.name, original, stub, indent, node.lineno, end, code_lines, branches, names))
    return out


def _names_used_at_import(tree: ast.Module) -> set[str]:
    """Names a module's top level calls or reads while it is imported (decorators and default values
    included): stripping such a function would break the import, not just its tests."""
    used: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            exprs: list[ast.AST] = [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]  # type: ignore[list-item]
        elif isinstance(node, ast.ClassDef):
            exprs = [*node.decorator_list, *node.bases,
                     *(s for s in node.body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))]  # fmt: skip
        else:
            exprs = [node]
        for e in exprs:
            if e is None:
                continue
            used |= {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}
    # ... and what those functions call, transitively (``_primes = tuple(sieve(211))`` runs iter_index).
    bodies = {n.name: {m.id for m in ast.walk(n) if isinstance(m, ast.Name)}
              for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}  # fmt: skip
    todo = [n for n in used if n in bodies]
    while todo:
        for m in bodies.pop(todo.pop(), set()):
            if m not in used:
                used.add(m)
                if m in bodies:
                    todo.append(m)
    return used


def strip(source: str, names: Iterable[str], cands: dict[str, Candidate]) -> str:
    """``source`` with the bodies of ``names`` replaced by their stubs."""
    lines = source.splitlines()
    for c in sorted((cands[n] for n in names), key=lambda c: -c.start):
        lines[c.start - 1 : c.end] = c.stub.splitlines()
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


# tests -------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def assign_tests(node_ids: list[str], names: list[str]) -> dict[str, list[str]]:
    """Each collected test goes to the candidate it is named for (the longest matching name): a class
    named for it (``TakeTests``, ``TestTake``) is selected whole, a test function (``test_take``,
    ``test_take_padding``) with all its parameters."""
    out: dict[str, list[str]] = {n: [] for n in names}
    by_len = sorted(names, key=len, reverse=True)
    for nid in node_ids:
        parts = nid.split("::")
        if len(parts) < 2:
            continue
        if len(parts) > 2:
            key = _norm(re.sub(r"^Test|Tests?$", "", parts[1]))
            owner = next((n for n in by_len if _norm(n) == key), None)
            if owner is not None:
                out[owner].append("::".join(parts[:2]))
                continue
        test = parts[-1].split("[")[0]
        if test.startswith("test_"):
            rest = test[5:]
            owner = next((n for n in by_len if rest == n or rest.startswith(n + "_")), None)
            if owner is not None:
                out[owner].append("::".join([*parts[:-1], test]))
    return {n: sorted(dict.fromkeys(v)) for n, v in out.items()}


def run_pytest(root: Path, args: list[str], timeout: float = 120) -> tuple[int, str]:
    env = subprocess_env(
        {"PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    try:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timeout"
    return proc.returncode, proc.stdout + proc.stderr


def collect(root: Path, test_file: str) -> list[str]:
    code, out = run_pytest(root, ["--collect-only", test_file])
    if code != 0:
        raise SystemExit(f"pytest could not collect {test_file} in {root}:\n{out[-2000:]}")
    return [ln.strip() for ln in out.splitlines() if "::" in ln and not ln.startswith(" ")]


# plans -------------------------------------------------------------------------------------
def _closure(name: str, deps: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for d in deps.get(todo.pop(), set()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    seen.discard(name)
    return seen


def _test_sources(test_source: str, node_ids: list[str]) -> str:
    """The source of the test functions and classes these node ids name."""
    tree = ast.parse(test_source)
    wanted = {nid.split("::")[1].split("[")[0] for nid in node_ids if "::" in nid}
    lines = test_source.splitlines()
    parts = [
        "\n".join(lines[n.lineno - 1 : n.end_lineno])
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name in wanted
    ]
    return "\n".join(parts)


def complexity_of(body_lines: int, branches: int) -> str:
    """How a person writing the plan would rate the phase: by the size of the body to write."""
    size = body_lines + 2 * branches
    return "low" if size <= 8 else "medium" if size <= 22 else "high"


def build_plans(spec: PackageSpec, root: Path, *, seed: int, log: Callable[[str], None] = print,
                jobs: int = 2) -> list[PlanSpec]:  # fmt: skip
    """The validated plans of one package (see the module docstring)."""
    plans: list[PlanSpec] = []
    for module, test_file in spec.modules:
        source = (root / module).read_text(encoding="utf-8")
        cands = {c.name: c for c in candidates(source)}
        tests = assign_tests(collect(root, test_file), list(cands))
        tests = {n: t for n, t in tests.items() if t}
        test_src = (root / test_file).read_text(encoding="utf-8")
        names = sorted(tests)
        deps: dict[str, set[str]] = {}
        for n in names:
            used = cands[n].names | set(re.findall(r"[A-Za-z_]\w*", _test_sources(test_src, tests[n])))
            deps[n] = {m for m in names if m != n and m in used}
        rng = random.Random(f"{seed}:{spec.name}:{module}")
        order = _topo(names, deps, rng)
        # Only earlier phases can be depended on: a mutual reference keeps the later one's edge.
        deps = {n: {d for d in deps[n] if order.index(d) < order.index(n)} for n in names}
        groups = _chunks(order, rng)
        short = Path(module).stem if Path(module).stem != "__init__" else Path(module).parent.name
        for gi, group in enumerate(groups, 1):
            plan_id = f"{spec.name}-{short}-{gi}"
            kept = _validate(root, module, source, cands, tests, deps, group, jobs=jobs, log=log)
            if len(kept) < MIN_PLAN:
                log(f"  {plan_id}: only {len(kept)} valid tasks, plan dropped")
                continue
            members = set(kept)
            tasks = []
            for n in kept:
                c = cands[n]
                tid = f"{short}-{n}".replace("_", "-")
                dep_ids = [f"{short}-{d}".replace("_", "-") for d in kept if d in deps[n]]
                tasks.append(Task(tid, spec.name, module, test_file, n, c.original, c.stub, c.indent, tests[n],
                                  c.body_lines, c.branches, dep_ids, complexity_of(c.body_lines, c.branches)))  # fmt: skip
            plans.append(PlanSpec(plan_id, spec.name, spec.version, module, tasks))
            log(
                f"  {plan_id}: {len(tasks)} phases ({sum(bool(t.depends_on) for t in tasks)} with depends_on)"
                + (f"; dropped {', '.join(sorted(set(group) - members))}" if set(group) - members else "")
            )
    return plans


def _topo(names: list[str], deps: dict[str, set[str]], rng: random.Random) -> list[str]:
    """Dependencies first; otherwise a seeded shuffle. Cycles (mutual references) are broken by name."""
    pending = list(names)
    rng.shuffle(pending)
    done: list[str] = []
    while pending:
        ready = [n for n in pending if not (deps[n] - set(done)) & set(pending)]
        pick = ready[0] if ready else sorted(pending)[0]
        done.append(pick)
        pending.remove(pick)
    return done


def _chunks(order: list[str], rng: random.Random) -> list[list[str]]:
    """Consecutive slices of 8-16 (the last ones merged so none is under MIN_PLAN, none over MAX_PLAN)."""
    out: list[list[str]] = []
    i = 0
    while i < len(order):
        size = rng.randint(8, 16)
        out.append(order[i : i + size])
        i += size
    if len(out) > 1 and len(out[-1]) < MIN_PLAN:
        tail = out.pop()
        if len(out[-1]) + len(tail) <= MAX_PLAN:
            out[-1] += tail
        else:
            out.append(tail)
    return out


def _validate(root: Path, module: str, source: str, cands: dict[str, Candidate], tests: dict[str, list[str]],
              deps: dict[str, set[str]], group: list[str], *, jobs: int, log: Callable[[str], None]) -> list[str]:  # fmt: skip
    """The members of ``group`` whose tests fail without the body and pass with it, in the plan's state:
    its dependencies in the group restored, the group's other functions removed. A task that fails
    keeps its body (it leaves the plan), and the rest are validated again until none fails."""
    kept = list(group)
    while True:
        checks: list[tuple[str, bool, str]] = []
        for n in kept:
            restored = _closure(n, {k: v & set(kept) for k, v in deps.items()}) & set(kept)
            removed_with = set(kept) - restored
            checks.append((n, False, strip(source, removed_with, cands)))  # the body removed: must fail
            checks.append((n, True, strip(source, removed_with - {n}, cands)))  # restored: must pass

        def run(item: tuple[str, bool, str]) -> tuple[str, bool, bool]:
            name, want_pass, text = item
            with tempfile.TemporaryDirectory(prefix="finishing-validate-") as tmp:
                work = Path(tmp) / "p"
                shutil.copytree(root, work, ignore=shutil.ignore_patterns("__pycache__", ".complete"))
                (work / module).write_text(text, encoding="utf-8")
                code, out = run_pytest(work, tests[name], timeout=60)
            ok = code == 0 if want_pass else code == 1  # failed tests, not a collection or usage error
            return name, want_pass, ok

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(run, checks))
        bad = {n for n, _, ok in results if not ok}
        if not bad:
            return kept
        # A dropped task keeps its body, so the others' states change: validate them again.
        kept = [n for n in kept if n not in bad]
        if not kept:
            return kept


# the manifest and the projects ---------------------------------------------------------------
def load_plans(seed: int, cache: Path = CACHE, *, packages: tuple[PackageSpec, ...] = PACKAGES,
               log: Callable[[str], None] = print, jobs: int = 2) -> tuple[list[PlanSpec], dict[str, Path]]:  # fmt: skip
    """Every package's validated plans (from the cached manifest when it is current) and its source tree."""
    plans: list[PlanSpec] = []
    roots: dict[str, Path] = {}
    for spec in packages:
        root = sdist_tree(spec, cache, log=log)
        roots[spec.name] = root
        manifest = cache / "manifests" / f"{spec.name}-{spec.version}-seed{seed}-v{MANIFEST_VERSION}.json"
        if manifest.exists():
            plans += [_plan_from_json(p) for p in json.loads(manifest.read_text(encoding="utf-8"))]
            continue
        log(f"finding and validating tasks in {spec.name} {spec.version} (once; cached in {manifest.name})")
        found = build_plans(spec, root, seed=seed, log=log, jobs=jobs)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(p) for p in found], indent=1), encoding="utf-8")
        os.replace(tmp, manifest)
        plans += found
    return plans, roots


def _plan_from_json(data: dict[str, object]) -> PlanSpec:
    tasks = [Task(**t) for t in data.pop("tasks")]  # type: ignore[arg-type, attr-defined]
    return PlanSpec(tasks=tasks, **data)  # type: ignore[arg-type]


def make_project(plan: PlanSpec, pristine: Path, dest: Path) -> None:
    """A git repository holding the package with the plan's functions removed (one commit)."""
    shutil.copytree(pristine, dest, ignore=shutil.ignore_patterns("__pycache__", ".complete", "*.egg-info"))
    path = dest / plan.module
    source = path.read_text(encoding="utf-8")
    cands = {c.name: c for c in candidates(source)}
    path.write_text(strip(source, [t.name for t in plan.tasks], cands), encoding="utf-8")
    (dest / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n", encoding="utf-8")
    env = subprocess_env({"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@autopack.invalid",
                          "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@autopack.invalid"})  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", f"{plan.package} {plan.version}"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)


def tree_digest(root: Path) -> str:
    """A digest of a source tree's Python and config files (the check cache's key names the project)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


# the smoke size: a generated package --------------------------------------------------------
TINY_MODULE = '''"""Small helpers (generated for the finishing benchmark's smoke test)."""


def clamp(x, lo, hi):
    """Return x limited to the range [lo, hi]."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def mean(values):
    """The arithmetic mean of a non-empty list of numbers."""
    total = 0
    for v in values:
        total += v
    return total / len(values)


def spread(values):
    """The largest value minus the smallest."""
    ordered = sorted(values)
    return ordered[-1] - ordered[0]


def normalise(values):
    """Each value minus the mean of all values."""
    m = mean(values)
    return [v - m for v in values]


def chunks(items, size):
    """Consecutive lists of ``size`` items; the last one may be shorter."""
    out = []
    for i in range(0, len(items), size):
        out.append(items[i : i + size])
    return out


def initials(name):
    """The upper-case first letters of the words of a name: 'ada lovelace' -> 'AL'."""
    return "".join(word[0].upper() for word in name.split() if word)
'''

TINY_TESTS = """from tiny.core import chunks, clamp, initials, mean, normalise, spread


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_spread():
    assert spread([3, 9, 1]) == 8


def test_normalise():
    assert normalise([1, 2, 3]) == [-1.0, 0.0, 1.0]


def test_chunks():
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_initials():
    assert initials("ada  lovelace") == "AL"
"""

TINY = PackageSpec("tiny", "0.0", (("tiny/core.py", "tests/test_core.py"),))


def tiny_package(root: Path) -> Path:
    """The generated package's pristine tree under ``root`` (as ``sdist_tree`` would give a real one)."""
    src = root / "tiny-0.0"
    (src / "tiny").mkdir(parents=True, exist_ok=True)
    (src / "tests").mkdir(exist_ok=True)
    (src / "tiny" / "__init__.py").write_text("", encoding="utf-8")
    (src / "tiny" / "core.py").write_text(TINY_MODULE, encoding="utf-8")
    (src / "tests" / "test_core.py").write_text(TINY_TESTS, encoding="utf-8")
    return src


def tiny_plans(root: Path, *, seed: int, log: Callable[[str], None] = print) -> tuple[list[PlanSpec], dict[str, Path]]:
    src = tiny_package(root)
    return build_plans(TINY, src, seed=seed, log=log, jobs=2), {"tiny": src}
