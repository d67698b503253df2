"""A phase check of the finishing-power benchmark: run pytest on the given tests in the current
directory (the phase's worktree), remembering the result by the content of every file in it.

    python scripts/bench/finishing_check.py --cache DIR -- tests/test_x.py::test_f ...

The tests' outcome is a function of the files (these packages' tests use no clock, network or random
state without a seed), so the same files give the same output: the nine policies of one benchmark
run, which often reach a phase with the same edit applied, run pytest once for it. The output is
replayed exactly (the gate reads its pytest summary); without ``--cache`` pytest always runs.

A wrong body can loop forever or fill memory (a mutant of ``repeatfunc`` that never stops): pytest
gets ``--timeout`` seconds (default 20; these tests take under 2) and ``--memory`` MiB of address
space (default 2048); either way the check fails, and that outcome is remembered too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP_DIRS = {".git", "__pycache__", ".pytest_cache"}


def tree_key(root: Path, args: list[str]) -> str:
    h = hashlib.sha256("\0".join(args).encode())
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            h.update(str(p.relative_to(root)).encode() + b"\0")
            try:
                h.update(p.read_bytes())
            except OSError:
                pass
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--memory", type=int, default=2048, help="MiB of address space for pytest")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args(argv)
    pytest_args = ["-q", "-p", "no:cacheprovider", *args.tests]
    root = Path.cwd()
    entry = None
    if args.cache is not None:
        entry = args.cache / f"{tree_key(root, pytest_args)}.json"
        if entry.exists():
            data = json.loads(entry.read_text(encoding="utf-8"))
            sys.stdout.write(data["output"])
            return int(data["code"])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    limit = args.memory * 2**20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], capture_output=True, text=True, env=env,
                              timeout=args.timeout, preexec_fn=cap)  # fmt: skip
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        code, output = (
            1,
            f"FAILED: pytest did not finish within {args.timeout:g} s (the tests never returned)\n1 failed\n",
        )
    if entry is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"code": code, "output": output}, fh)
        os.replace(tmp, entry)
    sys.stdout.write(output)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
