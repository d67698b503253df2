"""Prompt-caching benchmark: how much of a multi-phase run's input is read from Anthropic's prompt
cache, and what the input costs with caching against the same run without it.

A real ``autopack run`` (the CLI, in a child process) drives a plan whose phases share read-only
context files, through the real ``anthropic`` SDK, against a local Messages API server in this
process that follows Anthropic's caching rules (``messages_api.py``: a prefix is cached at each
``cache_control`` breakpoint when it holds at least the model's minimum cacheable length, read back
when a later request on the same model repeats it up to a block boundary at or before one of its
breakpoints, for 5 minutes after its last use; tokens estimated as autopack estimates them). The
server also plays the models: the Builder's edits are scripted per phase (some phases fail their
check once, then succeed), the Auditor approves, the Planner words the rule learned from a failure.

The cache's clock is simulated: each call moves it on by a typical latency (Builder 25 s plus 15 s
for the phase's checks, Auditor 8 s, others 5 s), so the 5-minute lifetime counts as in a real run.

Two scenarios: ``one model`` (every role on claude-sonnet-4-5) and ``escalating`` (the Builder starts
on claude-haiku-4-5 and a failure moves the phase to claude-sonnet-4-5). For each, the bill as
Anthropic computes it: cache reads at 0.1 x the input price, cache writes at 1.25 x, the rest at 1 x;
"without caching" is the same requests with every input token at 1 x. ``--baseline REV`` runs the
same scenarios on autopack at git revision ``REV`` of this repository (its ``src`` and ``config``
exported to a temporary folder, nothing in the repository touched) for the layout before/after.

    python scripts/bench/caching.py [--phases 8] [--baseline REV] [--write-doc [docs/BENCHMARKS.md]]

Not part of the test suite; ``tests/test_bench_caching_smoke.py`` runs one small scenario.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import replace_section  # noqa: E402
from messages_api import PromptCache, TooManyBreakpoints, blocks, message_reply, role_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-ant-bench-0000000000000000"
SONNET, HAIKU, OPUS = "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5"
# USD per million input tokens (the shipped config's prices); reads 0.1 x, writes 1.25 x (Anthropic).
INPUT_PRICE = {SONNET: 3.00, HAIKU: 1.00, OPUS: 5.00}
OUTPUT_PRICE = {SONNET: 15.00, HAIKU: 5.00, OPUS: 25.00}
READ, WRITE = 0.1, 1.25
LATENCY = {"builder": 25.0 + 15.0, "auditor": 8.0}  # seconds the simulated clock moves per call; others 5 s
MIN_CACHEABLE = {HAIKU: 4096, OPUS: 4096}  # Anthropic's minimum cacheable prompt lengths; others 1024
VERDICT = '{"approved": true, "issues": [], "summary": "does what the phase asks"}'
RULE = '{"rule": "Check each feature function against the formula the phase gives before replying."}'


# -- the project and the plan -------------------------------------------------------------------------


def architecture_doc() -> str:
    parts = ["# Architecture\n"]
    for k in range(24):
        parts.append(
            f"\n## Component {k}\n\nComponent {k} keeps its state in module `pkg/mod_{k % 10}.py`. "
            "Every public function takes plain integers and returns a new value; none of them writes to "
            "disk or reads the environment. Errors are raised as ValueError with a message that names the "
            f"argument. Component {k} is covered by the checks of its phase, run from the project root.\n"
        )
    return "".join(parts)


def style_doc() -> str:
    return "# Style\n\n" + "".join(
        f"- Rule {i}: functions are typed, small and documented; names say what they return ({i}).\n" for i in range(70)
    )


def module(i: int) -> str:
    return f'"""Module {i}: helpers of component {i}."""\n\n\n' + "".join(
        f'def helper_{i}_{k}(x: int) -> int:\n    """Helper {k} of module {i}."""\n    return x * {k} + {i}\n\n\n'
        for k in range(45)
    )


def last_helper(i: int) -> str:
    return f'def helper_{i}_44(x: int) -> int:\n    """Helper 44 of module {i}."""\n    return x * 44 + {i}\n'


def edit(i: int, factor: int) -> str:
    return (
        f"pkg/mod_{i}.py\n```\n<<<<<<< SEARCH\n{last_helper(i)}=======\n{last_helper(i)}\n\n"
        f'def feature_{i}(x: int) -> int:\n    """Feature {i}."""\n    return x * {factor}\n>>>>>>> REPLACE\n```\n'
        f"Adds feature_{i}.\n"
    )


def fails_first(i: int) -> bool:
    return i % 3 == 1


def make_project(root: Path, phases: int) -> None:
    files = {
        "docs/ARCHITECTURE.md": architecture_doc(),
        "docs/STYLE.md": style_doc(),
        "pkg/__init__.py": "",
        **{f"pkg/mod_{i}.py": module(i) for i in range(phases)},
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    git = [
        "git",
        "-C",
        str(root),
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)


def make_plan(path: Path, phases: int) -> None:
    plan = {
        "project": "cachebench",
        "goal": "Add one feature function per module.",
        "phases": [
            {
                "id": f"p{i}",
                "name": f"Feature {i}",
                "description": f"Add feature_{i}(x) to pkg/mod_{i}.py returning x * {i + 2}.",
                "scope": [f"pkg/mod_{i}.py"],
                "context": ["docs/ARCHITECTURE.md", "docs/STYLE.md"],
                "builder_mode": "structured_edit",
                "checks": [f'python -c "from pkg.mod_{i} import feature_{i}; assert feature_{i}(5) == {5 * (i + 2)}"'],
            }
            for i in range(phases)
        ],
    }
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")


def make_config(path: Path, source: Path, scenario: str) -> None:
    data = yaml.safe_load((source / "config" / "models.yaml").read_text(encoding="utf-8"))
    # The prices the bill below uses, whatever models the revision's shipped config lists.
    data["models"].update(
        {
            m: {"input": INPUT_PRICE[m], "output": OUTPUT_PRICE[m], "cached_input": INPUT_PRICE[m] * READ}
            for m in INPUT_PRICE
        }
    )
    one = {"models": [SONNET]}
    if scenario == "one model":
        builder = {"low": one, "medium": one, "high": one}
        auditor = builder
        data["doctor_models"].update(cheap=SONNET, strong=SONNET)
        data["routing"].update(tier_strategy={"low": SONNET, "medium": SONNET, "high": SONNET})
    else:
        builder = {"low": {"models": [HAIKU, SONNET]}, "medium": one, "high": {"models": [OPUS]}}
        auditor = {"low": {"models": [HAIKU]}, "medium": one, "high": {"models": [OPUS]}}
        data["doctor_models"].update(cheap=HAIKU, strong=SONNET)
        data["routing"].update(tier_strategy={"low": HAIKU, "medium": SONNET, "high": OPUS})
    data["escalation_chains"] = {"builder": builder, "auditor": auditor}
    data["routing"].update(planner_model=SONNET, fallback_chain=["anthropic"], fallback_models={"anthropic": SONNET})
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# -- the local Messages API -----------------------------------------------------------------------------


@dataclass
class Call:
    role: str
    model: str
    usage: dict[str, int]
    breakpoints: int


@dataclass
class FakeAnthropic:
    """The models' side: scripted replies, Anthropic's cache rules on a simulated clock, a log of calls."""

    now: float = 0.0
    calls: list[Call] = field(default_factory=list)
    cache: PromptCache = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.cache = PromptCache(min_tokens=lambda m: MIN_CACHEABLE.get(m, 1024), clock=lambda: self.now)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            role = role_of(body)
            reply = message_reply(self.reply(role, body), str(body["model"]), self.cache.usage(body))
            self.calls.append(
                Call(role, str(body["model"]), dict(reply["usage"]), sum(b.breakpoint for b in blocks(body)))
            )
            self.now += LATENCY.get(role, 5.0)
            return reply

    @staticmethod
    def reply(role: str, body: dict[str, Any]) -> str:
        if role == "auditor":
            return VERDICT
        if role == "planner":
            return RULE
        if role != "builder":
            return '{"action": "retry_with_fix", "confidence": 0.9, "rationale": "scripted"}'
        prompt = "\n".join(b.text for b in blocks(body))
        found = re.search(r"PHASE: p(\d+)\n", prompt)
        i = int(found.group(1)) if found else 0
        retry = "The previous attempt failed" in prompt
        return edit(i, i + 1 if fails_first(i) and not retry else i + 2)


def serve(fake: FakeAnthropic) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            try:
                status, reply = 200, fake.answer(body)
            except TooManyBreakpoints as exc:
                status, reply = 400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server hook's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- one run and its bill -------------------------------------------------------------------------------


@dataclass
class Bill:
    scenario: str
    layout: str
    ok: bool
    calls: int
    builder_calls: int
    tokens_in: int
    read: int
    written: int
    cost: float  # USD for the input, as billed with caching
    cost_uncached: float  # USD for the same input without caching
    recorded: float | None  # autopack's own count of the run's cost (input and output), from its store
    billed: float  # what the provider billed, input and output

    @property
    def share(self) -> float:
        return self.read / self.tokens_in if self.tokens_in else 0.0


def bill(calls: list[Call], scenario: str, layout: str, ok: bool, recorded: float | None) -> Bill:
    tokens_in = read = written = 0
    cost = uncached = output = 0.0
    for c in calls:
        price = INPUT_PRICE[c.model] / 1e6
        u = c.usage
        total = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
        tokens_in += total
        read += u["cache_read_input_tokens"]
        written += u["cache_creation_input_tokens"]
        cost += price * (
            u["input_tokens"] + READ * u["cache_read_input_tokens"] + WRITE * u["cache_creation_input_tokens"]
        )
        uncached += price * total
        output += OUTPUT_PRICE[c.model] / 1e6 * u["output_tokens"]
    builders = sum(c.role == "builder" for c in calls)
    return Bill(
        scenario, layout, ok, len(calls), builders, tokens_in, read, written, cost, uncached, recorded, cost + output
    )


def run_once(scenario: str, phases: int, source: Path, layout: str, work: Path) -> Bill:
    """One run of the plan on autopack from ``source`` (its ``src`` and ``config``)."""
    work.mkdir(parents=True)
    project = work / "project"
    make_project(project, phases)
    make_plan(work / "plan.yaml", phases)
    make_config(work / "config.yaml", source, scenario)
    fake = FakeAnthropic()
    server = serve(fake)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL", "_API_BASE")) and k not in ("AUTOPACK_CONFIG", "AUTOPACK_HOME")
    }
    env.update(
        ANTHROPIC_API_KEY=KEY,
        ANTHROPIC_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}",
        PYTHONPATH=str(source / "src"),
        XDG_CONFIG_HOME=str(work / "xdg"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "autopack.cli",
                "run",
                "--run-id",
                "bench",
                "--plan",
                str(work / "plan.yaml"),
                "--project-dir",
                str(project),
                "--home",
                str(work / "home"),
                "--config",
                str(work / "config.yaml"),
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        server.shutdown()
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    db = work / "home" / ".autonomous_runs" / "cachebench" / "autopack.db"
    recorded = None
    if db.exists():
        with sqlite3.connect(db) as con:
            recorded = float(con.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()[0])
    return bill(fake.calls, scenario, layout, proc.returncode == 0, recorded)


def export_revision(rev: str, dest: Path) -> Path:
    """``src`` and ``config`` of this repository at ``rev``, written under ``dest`` (the repository is only read)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src", "config"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


# -- the report -----------------------------------------------------------------------------------------


def table(bills: list[Bill]) -> str:
    head = (
        "| scenario | prompt layout | calls (Builder) | input tokens | read from cache | written to cache | "
        "cache-read share | input cost | without caching | input cost vs without |"
    )
    rows = [head, "|" + "---|" * 10]
    for b in bills:
        change = (b.cost / b.cost_uncached - 1) * 100 if b.cost_uncached else 0.0
        rows.append(
            f"| {b.scenario} | {b.layout}{'' if b.ok else ' (run failed)'} | {b.calls} ({b.builder_calls}) | "
            f"{b.tokens_in:,} | {b.read:,} | {b.written:,} | {b.share * 100:.1f} % | ${b.cost:.4f} | "
            f"${b.cost_uncached:.4f} | {change:+.1f} % |"
        )
    return "\n".join(rows)


def run(phases: int, baseline: str | None, scenarios: list[str], out: Callable[[str], None] = print) -> list[Bill]:
    bills: list[Bill] = []
    with tempfile.TemporaryDirectory(prefix="autopack-cachebench-") as tmp:
        sources = [("this checkout", ROOT)]
        if baseline:
            sources.insert(0, (f"before ({baseline[:10]})", export_revision(baseline, Path(tmp) / "baseline")))
        for scenario in scenarios:
            for layout, source in sources:
                work = Path(tmp) / f"{scenario.replace(' ', '-')}-{len(bills)}"
                b = run_once(scenario, phases, source, layout, work)
                bills.append(b)
                out(
                    f"{scenario:10} {layout:24} calls {b.calls:3}  read share {b.share * 100:5.1f} %  input ${b.cost:.4f}"
                    f" (no cache ${b.cost_uncached:.4f})" + ("" if b.ok else "  RUN FAILED")
                )
    return bills


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", type=int, default=8)
    parser.add_argument("--baseline", help="also run autopack at this git revision (its layout before)")
    parser.add_argument("--scenario", action="append", choices=["one model", "escalating"])
    parser.add_argument("--write-doc", nargs="?", const=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    scenarios = args.scenario or ["one model", "escalating"]
    bills = run(args.phases, args.baseline, scenarios)
    text = table(bills)
    print()
    print(text)
    for b in bills:
        if b.recorded is not None and b.layout == "this checkout":
            print(f"{b.scenario}: autopack recorded ${b.recorded:.6f}, the provider billed ${b.billed:.6f}")
    if args.write_doc:
        command = (
            "python scripts/bench/caching.py"
            + (f" --phases {args.phases}" if args.phases != 8 else "")
            + (f" --baseline {args.baseline}" if args.baseline else "")
            + " --write-doc"
        )
        body = (
            f"`{command}` — {datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, {platform.system()} "
            f"{platform.machine()}; a plan of {args.phases} phases sharing two read-only files (about 5,000 "
            "tokens), one module in scope each; every third phase fails its check once.\n\n" + text + "\n"
        )
        path = Path(args.write_doc)
        path.write_text(
            replace_section(
                path.read_text(encoding="utf-8") if path.exists() else "", "Prompt caching", body, "caching"
            ),
            encoding="utf-8",
        )
        print(f"wrote {path}")
    return 0 if all(b.ok for b in bills) else 1


if __name__ == "__main__":
    sys.exit(main())
