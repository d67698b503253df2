"""The batch report: one self-contained HTML page (``report.html`` in the batch folder) with every run's
outcome, phases, cost, time and branch, linking each run's own report (``runs/<run-id>/report.html``,
the page `autopack report` writes), and the batch's totals: spend against its cap, HTTP 429s and
provider waits by provider.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_text
from .state import BatchPaths

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;margin:0 0 .3rem}p.sub{color:#59636e;margin:0 0 1.2rem}
table{border-collapse:collapse;width:100%;margin:0 0 1.5rem}th,td{padding:.35rem .6rem;border-bottom:1px solid #d1d9e0;
text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{font-weight:600;border-radius:3px;padding:0 .35rem}.COMPLETE{color:#116329;background:#dafbe1}
.FAILED,.ERROR{color:#82071e;background:#ffebe9}.PARTIAL{color:#6e2a8c;background:#fbefff}
.STOPPED,.INTERRUPTED{color:#7d4e00;background:#fff8c5}.PENDING,.RUNNING{color:#0550ae;background:#ddf4ff}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:0 0 1.5rem}.card{border:1px solid #d1d9e0;border-radius:6px;padding:.6rem 1rem}
.card b{display:block;font-size:1.25rem}code{font:12px ui-monospace,monospace;background:#f6f8fa;padding:0 .25rem}
td.msg{color:#59636e;max-width:32rem}
"""


def write_batch_report(paths: BatchPaths, summary: dict[str, Any]) -> Path:
    atomic_write_text(paths.report, render_batch_report(summary, paths.root), fsync=False)
    return paths.report


def render_batch_report(summary: dict[str, Any], folder: Path) -> str:
    e = html.escape
    t = summary["totals"]
    cap = f" of ${t['max_cost']:.2f}" if t.get("max_cost") is not None else ""
    sim = " (simulated: scripted replies)" if t.get("simulated") else ""
    cards = [
        ("runs", str(t["runs"])),
        *((state.lower(), str(n)) for state, n in t["states"].items()),
        ("spent", f"${t['cost_usd']:.4f}{cap}{sim}"),
        ("HTTP 429s", str(t["rate_limited"])),
        ("provider waits", f"{t['waits']} ({t['waited_s']:.1f}s)"),
    ]
    if summary.get("wall_s") is not None:
        cards.append(("wall time", f"{summary['wall_s']:.1f}s"))
    rows = []
    for r in summary["runs"]:
        report = r.get("report")
        link = f'<a href="{e(_relative(report, folder))}">report</a>' if report and Path(report).is_file() else "-"
        branch = r.get("branch") or "-"
        where = [e(str(r.get("repo_dir") or r.get("source") or ""))]
        if r.get("bundle"):
            where.append(f"bundle <code>{e(_relative(r['bundle'], folder))}</code>")
        if r.get("pushed"):
            where.append(f"pushed to {e(r['pushed'])}")
        rows.append(
            "<tr>"
            f"<td><b>{e(r['run_id'])}</b></td>"
            f"<td><span class='state {e(r['state'])}'>{e(r['state'])}</span></td>"
            f"<td class=num>{r['phases_done']}/{r['phases_total']}</td>"
            f"<td class=num>${r['cost_usd']:.4f}</td>"
            f"<td class=num>{r['elapsed_s']:.1f}s</td>"
            f"<td class=num>{r['waits']}</td>"
            f"<td><code>{e(branch)}</code><br>{'<br>'.join(where)}</td>"
            f"<td>{link}</td>"
            f"<td class=msg>{e(r.get('message') or '')}</td>"
            "</tr>"
        )
    providers = "".join(
        f"<tr><td>{e(p)}</td><td class=num>{s['rate_limited']}</td><td class=num>{s['waits']}</td>"
        f"<td class=num>{s['waited_s']:.1f}s</td></tr>"
        for p, s in t.get("by_provider", {}).items()
    )
    provider_table = (
        "<h2>Providers</h2><table><tr><th>provider</th><th>HTTP 429s</th><th>waits</th><th>waited</th></tr>"
        f"{providers}</table>"
        if providers
        else ""
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>batch {e(summary['batch'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>batch {e(summary['batch'])}</h1>"
        f"<p class=sub>{e(str(summary.get('file') or ''))} &middot; {e(str(summary.get('engine') or ''))}, "
        f"{e(str(summary.get('workers') or ''))} workers &middot; written {time.strftime('%Y-%m-%d %H:%M:%S')}</p>"
        "<div class=cards>" + "".join(f"<div class=card>{e(k)}<b>{e(v)}</b></div>" for k, v in cards) + "</div>"
        "<table><tr><th>run</th><th>outcome</th><th>phases</th><th>cost</th><th>time</th><th>waits</th>"
        "<th>branch</th><th>report</th><th>note</th></tr>" + "".join(rows) + "</table>"
        f"{provider_table}</body></html>"
    )


def _relative(path: str, folder: Path) -> str:
    try:
        return os.path.relpath(path, folder)
    except ValueError:
        return path
