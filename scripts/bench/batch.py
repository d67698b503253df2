"""Benchmark: ``autopack batch`` with simulated model latency, 1 vs N workers, on the local pool and
on a local Dask cluster (issue 18 item 5).

The "model" is a local HTTP server speaking Anthropic's Messages API (127.0.0.1 only): every call
sleeps ``--latency`` seconds (plus up to 10 % jitter) before it answers, and a call beyond its
``--server-concurrency`` calls in flight gets HTTP 429 with ``Retry-After: 1``, as a provider's rate
limit would. The runs reach it through the real Anthropic SDK (``ANTHROPIC_BASE_URL``, a dummy key,
every role on ``claude-haiku-4-5``: its price makes the cost), so retries, the shared provider limits
and the cost accounting are the real ones.

Each of ``--runs`` projects is a real git repository with ``calc.py``; the plan has ``--phases`` phases,
phase ``p<k>`` adding ``f<k>()`` by a SEARCH/REPLACE reply, checked by ``python -m py_compile calc.py``
and approved by the Auditor: two model calls a phase. Every batch gets its own batch id, so its runs
make new branches. After each batch the script counts the commits on every run's branch: each phase
exactly once (none lost, none duplicated).

Rows: for each engine (``pool``: the local pool; ``dask``: ``--cluster local``), the batch with 1 worker
and with each of ``--workers``; speed-up = wall time of 1 worker / wall time of N, target 0.8 x N.
The shared limit is set to the server's concurrency (``limits: {anthropic: {concurrency: C}}``). With
the storm rows (skipped with ``--no-storm``), two more rows at the largest N against a server that takes half as many calls at once:
without shared limits (a 429 storm: every refused call is retried after its backoff) and with them
(the workers queue for the server's slots instead).

    python scripts/bench/batch.py            # 20 runs x 5 phases, 3 s a call; pool N = 2, 4, 8; Dask N = 8; the storm rows
    python scripts/bench/batch.py --runs 4 --phases 2 --latency 0.2 --workers 2 --engines pool   # a quick look
    python scripts/bench/batch.py --write-doc                      # also put the table in docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from messages_api import message_reply, prompt_text, role_of  # noqa: E402

MODEL = "claude-haiku-4-5"
VERDICT = '{"approved": true, "issues": [], "summary": "adds the function the phase asks for"}'
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@autopack.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@autopack.invalid",
}


def function(k: int) -> str:
    return f"def f{k}(x):\n    return x + {k}\n"


def builder_reply(k: int) -> str:
    before = function(k - 1)
    return f"calc.py\n```\n<<<<<<< SEARCH\n{before}=======\n{before}\n\n{function(k)}>>>>>>> REPLACE\n```\n"


@dataclass
class Server:
    """The simulated provider: latency, a concurrency limit answered with 429, and counters."""

    latency: float
    concurrency: int
    in_flight: int = 0
    calls: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.in_flight >= self.concurrency:
                self.refused += 1
                return 429, {
                    "type": "error",
                    "error": {"type": "rate_limit_error", "message": "too many requests at once"},
                }
            self.in_flight += 1
            self.calls += 1
        try:
            time.sleep(self.latency * (1 + 0.1 * random.random()))
            text = prompt_text(body)
            if role_of(body) == "builder":
                found = re.search(r"PHASE: p(\d+)\n", text)
                answer = builder_reply(int(found.group(1)) if found else 1)
            else:
                answer = VERDICT
            usage = {
                "input_tokens": max(1, len(text) // 4),
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            }
            return 200, message_reply(answer, str(body.get("model")), usage)
        finally:
            with self.lock:
                self.in_flight -= 1

    def reset(self) -> None:
        with self.lock:
            self.calls = self.refused = 0


def serve(server: Server) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            status, data = server.reply(body)
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def git(cwd: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=check, capture_output=True, text=True).stdout


def make_world(root: Path, runs: int, phases: int) -> tuple[list[Path], Path]:
    repos = []
    for i in range(1, runs + 1):
        repo = root / "projects" / f"r{i:02d}"
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        (repo / "calc.py").write_text(function(0), encoding="utf-8")
        git(repo, "add", "calc.py")
        git(repo, "commit", "-q", "-m", "start")
        repos.append(repo)
    plan = {
        "project": "bench",
        "goal": "Add functions to calc.py.",
        "phases": [
            {
                "id": f"p{k}",
                "name": f"Add f{k}",
                "description": f"Add f{k}(x) returning x + {k}.",
                "scope": ["calc.py"],
                "checks": ["python -m py_compile calc.py"],
                "builder_mode": "structured_edit",
                **({"depends_on": [f"p{k - 1}"]} if k > 1 else {}),
            }
            for k in range(1, phases + 1)
        ],
    }
    plan_path = root / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return repos, plan_path


@dataclass
class Row:
    engine: str
    workers: int
    limit: str
    wall_s: float
    server_429: int
    batch_429: int
    waits: int
    cost_usd: float
    complete: int
    runs: int
    commits: int
    expected_commits: int
    duplicated: int
    speedup: float | None = None


def run_batch(
    root: Path,
    repos: list[Path],
    plan: Path,
    server: Server,
    port: int,
    *,
    engine: str,
    workers: int,
    concurrency: int | None,
    phases: int,
) -> Row:
    batch_id = f"{engine}-{workers}-{'lim' if concurrency else 'nolim'}-{int(time.time() * 1000) % 10**8}"
    data: dict[str, Any] = {
        "batch": batch_id,
        "plan": str(plan),
        "projects": [str(r) for r in repos],
        "model": MODEL,
        # a 429 is retried after Retry-After; enough retries that a storm slows runs down instead of failing them
        "overrides": {"retries": {"max_retries": 50, "base_delay_seconds": 0.5, "max_total_seconds": 900}},
        "limits": {"anthropic": {"concurrency": concurrency}} if concurrency else {},
    }
    if engine == "dask":
        data["cluster"] = {"address": "local", "scratch": str(root / "scratch")}
    path = root / f"{batch_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    env = {
        **os.environ,
        **GIT_ENV,
        "ANTHROPIC_API_KEY": "sk-ant-bench-0000000000000000",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "XDG_CONFIG_HOME": str(root / "no-user-config"),
    }
    env.pop("AUTOPACK_CONFIG", None)
    server.reset()
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack.cli",
            "batch",
            str(path),
            "--workers",
            str(workers),
            "--home",
            str(root / "home"),
            "--json",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    summary = next(
        (json.loads(ln) for ln in reversed(proc.stdout.splitlines()) if ln.startswith('{"event": "batch_finished"')),
        None,
    )
    if summary is None:
        raise SystemExit(f"batch {batch_id} ended without a summary (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    commits = duplicated = 0
    for repo, run in zip(repos, summary["runs"], strict=True):
        log = git(
            repo,
            "log",
            "--format=%(trailers:key=Autopack-Phase,valueonly)",
            f"main..autopack/{run['run_id']}",
            check=False,
        )  # a run that never made its branch counts no commit
        seen = [ln.strip() for ln in log.splitlines() if ln.strip()]
        commits += len(set(seen))
        duplicated += len(seen) - len(set(seen))
    t = summary["totals"]
    return Row(
        engine,
        workers,
        f"{concurrency} at once" if concurrency else "none",
        wall,
        server.refused,
        t["rate_limited"],
        t["waits"],
        t["cost_usd"],
        t["states"].get("COMPLETE", 0),
        len(repos),
        commits,
        len(repos) * phases,
        duplicated,
    )


def table(rows: list[Row]) -> str:
    out = [
        "| engine | workers | shared limit | wall time | speed-up (target 0.8 x N) | 429s (server / seen by runs) "
        "| provider waits | cost | runs complete | commits (expected) | duplicated |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        speed = "-" if r.speedup is None else f"{r.speedup:.2f}x (≥ {0.8 * r.workers:.1f}x)"
        out.append(
            f"| {r.engine} | {r.workers} | {r.limit} | {r.wall_s:.1f} s | {speed} | {r.server_429} / {r.batch_429} "
            f"| {r.waits} | ${r.cost_usd:.4f} | {r.complete}/{r.runs} | {r.commits} ({r.expected_commits}) "
            f"| {r.duplicated} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--latency", type=float, default=3.0, help="seconds each model call takes")
    parser.add_argument("--workers", default="2,4,8", help="N to compare with 1 worker (local pool)")
    parser.add_argument("--dask-workers", default="8", help="N to compare with 1 worker (Dask)")
    parser.add_argument("--engines", default="pool,dask")
    parser.add_argument("--no-storm", dest="storm", action="store_false", help="skip the 429-storm rows")
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    top = max(counts)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="autopack-bench-batch-") as tmp:
        root = Path(tmp) if args.keep is None else args.keep.resolve()
        root.mkdir(parents=True, exist_ok=True)
        repos, plan = make_world(root, args.runs, args.phases)
        server = Server(args.latency, concurrency=top)
        httpd = serve(server)
        port = httpd.server_address[1]
        for engine in args.engines.split(","):
            base: Row | None = None
            for n in [1, *(counts if engine == "pool" else [int(x) for x in args.dask_workers.split(",")])]:
                row = run_batch(
                    root, repos, plan, server, port, engine=engine, workers=n, concurrency=top, phases=args.phases
                )
                base = base or row
                row.speedup = base.wall_s / row.wall_s
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
        if args.storm:
            server.concurrency = max(1, top // 2)
            for limit in (None, server.concurrency):
                row = run_batch(
                    root, repos, plan, server, port, engine="pool", workers=top, concurrency=limit, phases=args.phases
                )
                row.limit += f" (server takes {server.concurrency})"
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
        httpd.shutdown()
    text = table(rows)
    print()
    print(text)
    if args.write_doc:
        write_doc(text, args)
    return 0


def write_doc(text: str, args: argparse.Namespace) -> None:
    from benchdoc import replace_section

    doc_path = HERE.parents[1] / "docs" / "BENCHMARKS.md"
    command = "python scripts/bench/batch.py" + (
        ""
        if (args.runs, args.phases, args.latency) == (20, 5, 3.0)
        else f" --runs {args.runs} --phases {args.phases} --latency {args.latency}"
    )
    body = (
        f"`{command}` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores: {args.runs} runs x {args.phases} phases, "
        f"{args.latency} s per model call (2 calls a phase), a local Messages API that answers 429 beyond its "
        f"concurrency.\n\n{text}\n"
    )
    doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else ""
    doc_path.write_text(replace_section(doc, "Batch", body, "batch"), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
