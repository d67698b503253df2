"""Smoke test for the Builder-context benchmark (scripts/bench/context.py).

It runs the benchmark's core on a tiny git repository made here (no network): two commits that
change a module and its changelog, measured at a budget that fits and one that cuts, and reads the table.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "context.py"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_context", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _commit(repo: Path, message: str) -> None:
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    subprocess.run([*git, "add", "-A"], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True, capture_output=True)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "proj"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    funcs = [f"def f{i}(x):\n    return x + {i}\n" for i in range(600)]
    (repo / "mod.py").write_text("\n\n".join(funcs), encoding="utf-8")
    (repo / "CHANGES.md").write_text("# Changes\n\n## Unreleased\n\n- First.\n", encoding="utf-8")
    _commit(repo, "Start")
    funcs[450] = "def f450(x):\n    return x - 450\n"
    (repo / "mod.py").write_text("\n\n".join(funcs), encoding="utf-8")
    _commit(repo, "Make `f450` subtract")
    funcs[20] = "def f20(x):\n    return x * 20\n"
    (repo / "mod.py").write_text("\n\n".join(funcs), encoding="utf-8")
    (repo / "CHANGES.md").write_text("# Changes\n\n## Unreleased\n\n- First.\n- f20 multiplies.\n", encoding="utf-8")
    _commit(repo, "Make `f20` multiply\n\nAnd say so in CHANGES.md.")
    return repo


def test_the_benchmark_measures_real_commits_and_prints_a_row_per_setting(tmp_path: Path) -> None:
    bench = _load_benchmark()
    rows, ranges = bench.run(
        [_repo(tmp_path)], commits=5, rev="HEAD", model="claude-sonnet-4-5", small=1500, baseline=None
    )
    text = bench.table(rows)
    header = text.splitlines()[0].split("  ")
    assert [c.strip() for c in header if c.strip()][:7] == [
        "repo",
        "code",
        "budget",
        "evidence",
        "commits",
        "hunks",
        "visible %",
    ]
    assert [(r.budget, r.evidence) for r in rows] == [
        (1500, "phase only"),
        (bench.context_budget(bench.load_config(), "claude-sonnet-4-5"), "phase only"),
        (1500, "traceback"),
        (1500, "patch"),
    ]
    assert all(r.commits == 2 and r.hunks == 3 for r in rows)  # the first commit only adds files
    assert rows[1].visible == 3  # at the model's budget both files are whole
    assert list(ranges) == ["proj"] and ranges["proj"].startswith("2 commits, ")
    assert len(text.splitlines()) == 2 + len(rows)
