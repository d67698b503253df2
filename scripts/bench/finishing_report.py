"""Tables, target checks and the picture of the finishing-power benchmark (scripts/bench/finishing.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

ROLES = ("builder", "auditor", "doctor", "planner")
MAIN_COLUMNS = ["policy", "complete", "stopped runs", "cost $", "$/complete", "$ on unfinished", "builder", "auditor",
                "doctor", "planner", "HTTP errors", "wasted", "model h"]  # fmt: skip
WASTE_KINDS = (
    "after the last attempt",
    "re-plan after a failed re-plan",
    "Doctor: action already taken",
    "Builder: same reply again",
)


def table(columns: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Plain text columns; the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        cols = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i >= left else c.ljust(w) for i, (c, w) in cols).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def summarise(results: list[dict[str, Any]], order: list[str]) -> dict[str, dict[str, Any]]:
    """Per policy: sums over its plans."""
    out: dict[str, dict[str, Any]] = {}
    for name in order:
        runs = [r for r in results if r["policy"] == name]
        calls: Counter[str] = Counter()
        wasted: Counter[str] = Counter()
        states: Counter[str] = Counter()
        events: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        for r in runs:
            calls.update(r["calls"])
            wasted.update(r["wasted"])
            states.update(r["states"])
            events.update(r["events"])
            rules.update(r["rules"])
        cost = sum(r["cost"] for r in runs)
        complete = sum(r["complete"] for r in runs)
        out[name] = {
            "phases": sum(r["phases"] for r in runs), "complete": complete, "cost": cost,
            "per_complete": cost / complete if complete else float("inf"),
            "unfinished_cost": cost - sum(r["done_cost"] for r in runs),
            "calls": dict(calls), "errors": sum(r["errors"] for r in runs), "wasted": dict(wasted),
            "model_s": sum(r["model_s"] for r in runs), "states": dict(states), "events": dict(events),
            "stopped": sum(r["status"] not in ("COMPLETE", "PARTIAL") for r in runs), "runs": len(runs),
            "stop_reasons": dict(Counter(_stop_kind(r) for r in runs if r["status"] not in ("COMPLETE", "PARTIAL"))),
            "rules": dict(rules), "wall_s": sum(r["wall_s"] for r in runs),
            "tokens_in": sum(r["tokens_in"] for r in runs), "tokens_cached": sum(r["tokens_cached"] for r in runs),
            "errors_run": [r["error"] for r in runs if r.get("error")],
        }  # fmt: skip
    return out


def _stop_kind(r: dict[str, Any]) -> str:
    reason = (r.get("reason") or "").lower()
    if "cost cap" in reason:
        return "cost cap"
    if "max_" in reason and "per_run" in reason:
        return "health budget"
    if "failed" in reason or "fatal" in reason:
        return "phase failed"
    return r["status"].lower()


def main_rows(summary: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for name, s in summary.items():
        per = "-" if s["complete"] == 0 else f"{s['per_complete']:.3f}"
        rows.append([name, f"{s['complete']}/{s['phases']}", f"{s['stopped']}/{s['runs']}", f"{s['cost']:.2f}", per,
                     f"{s['unfinished_cost']:.2f}", *(str(s["calls"].get(r, 0)) for r in ROLES), str(s["errors"]),
                     str(sum(s["wasted"].values())), f"{s['model_s'] / 3600:.1f}"])  # fmt: skip
    return rows


def detail_rows(summary: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    cols = ["policy", *WASTE_KINDS, "escalations", "re-plans", "failed re-plans", "Doctor verdicts", "skipped",
            "failed", "rules kept / dropped (generic worded)", "cached in %", "stops"]  # fmt: skip
    rows = []
    for name, s in summary.items():
        ev, st = s["events"], s["states"]
        stops = ", ".join(f"{k} {v}" for k, v in sorted(s["stop_reasons"].items())) or "-"
        rules = s["rules"]
        cached = 100 * s["tokens_cached"] / s["tokens_in"] if s["tokens_in"] else 0.0
        rows.append([name, *(str(s["wasted"].get(k, 0)) for k in WASTE_KINDS), str(ev.get("escalation", 0)),
                     str(ev.get("phase_replanned", 0)), str(ev.get("replan_failed", 0)), str(ev.get("doctor_diagnosis", 0)),
                     str(st.get("SKIPPED", 0)), str(st.get("FAILED", 0) + st.get("FATAL", 0)),
                     f"{ev.get('rule_learned', 0)} / {ev.get('rule_dropped', 0)} ({rules.get('rule_generic', 0)})",
                     f"{cached:.0f}", stops])  # fmt: skip
    return cols, rows


def targets(summary: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's targets, each with its numbers and met / MISSED."""
    out = []
    strong = summary.get("always strongest")
    for name, plain_name in (("shipped", "plain loop"), ("deepseek profile", "deepseek plain loop")):
        s, plain = summary.get(name), summary.get(plain_name)
        if s and strong:
            ok = s["complete"] >= strong["complete"] and s["cost"] <= strong["cost"] / 3
            out.append(f"{name} vs always strongest: {s['complete']} vs {strong['complete']} phases, ${s['cost']:.2f} "
                       f"vs ${strong['cost']:.2f} (a third: ${strong['cost'] / 3:.2f}): {'met' if ok else 'MISSED'}")  # fmt: skip
        if s and plain:
            ok = s["complete"] > plain["complete"] and s["per_complete"] <= plain["per_complete"]
            out.append(f"{name} vs {plain_name}: {s['complete']} vs {plain['complete']} phases, ${s['per_complete']:.3f} "
                       f"vs ${plain['per_complete']:.3f} per completed phase: {'met' if ok else 'MISSED'}")  # fmt: skip
    spenders = {n: sum(v["wasted"].values()) for n, v in summary.items() if sum(v["wasted"].values())}
    out.append(
        "no call that could not change the outcome: "
        + ("met" if not spenders else "MISSED (" + ", ".join(f"{n} {c}" for n, c in spenders.items()) + ")")
    )
    return out


def probe_rows(probe: dict[str, Any]) -> list[list[str]]:
    calls = probe["hopeless_calls"]
    total = sum(calls.values())
    rows = [[k, str(v), f"{100 * v / total:.0f} %"] for k, v in sorted(calls.items(), key=lambda kv: -kv[1])]
    return rows + [["total", str(total), "100 %"]]


def picture(summary: dict[str, dict[str, Any]], path: Path, title: str, candidates: set[str] | None = None) -> None:
    """Completed phases against cost, one point per policy; the issue's target region (at least as many
    phases as always-strongest at no more than a third of its cost) shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    candidates = candidates or set()
    fig, ax = plt.subplots(figsize=(9, 5.6), dpi=120)
    colours = {
        "plain loop": "tab:gray",
        "always cheapest": "tab:green",
        "always strongest": "tab:red",
        "shipped": "black",
    }
    total = max(s["phases"] for s in summary.values())
    strong = summary.get("always strongest")
    costs = [max(s["cost"], 1e-3) for s in summary.values()]
    if strong:
        ax.fill_between([min(costs) / 2, strong["cost"] / 3], strong["complete"], total * 1.05, color="tab:green",
                        alpha=0.12, lw=0)  # fmt: skip
        ax.axhline(strong["complete"], color="tab:red", lw=0.8, ls=":")
        ax.axvline(strong["cost"] / 3, color="tab:red", lw=0.8, ls=":")
        ax.annotate("target: as many phases as always strongest\nat no more than a third of its cost",
                    (strong["cost"] / 3, strong["complete"]), textcoords="offset points", xytext=(-6, -26),
                    ha="right", fontsize=7, color="tab:red")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlim(min(costs) / 2, max(costs) * 2.5)
    ax.set_ylim(0, total * 1.05)
    placed: list[tuple[float, float, float]] = []  # labels so far and the points: left, right, middle (pixels)
    for s in summary.values():
        qx, qy = ax.transData.transform((max(s["cost"], 1e-3), s["complete"]))
        placed.append((qx - 6, qx + 6, qy - 3))
    for name, s in sorted(summary.items(), key=lambda kv: (kv[1]["complete"], kv[1]["cost"])):
        x = max(s["cost"], 1e-3)
        colour = "tab:purple" if name in candidates else colours.get(name, "tab:blue")
        ax.scatter(x, s["complete"], s=90 if name == "shipped" else 40, color=colour, zorder=3,
                   marker="*" if name == "shipped" else "o")  # fmt: skip
        px, py = ax.transData.transform((x, s["complete"]))
        left, right = px + 6, px + 6 + 5.2 * len(name)
        dy = 3.0
        while any(left < r and l < right and abs(py + dy - y) < 12 for l, r, y in placed):  # noqa: E741
            dy += 12
        placed.append((left, right, py + dy))
        ax.annotate(name, (x, s["complete"]), textcoords="offset points", xytext=(6, dy * 72 / fig.dpi), fontsize=7.5,
                    color=colour, arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.6"} if dy > 12 else None)  # fmt: skip
    ax.set_xlabel("cost of all plans per policy, USD (log scale; config/models.yaml prices)")
    ax.set_ylabel(f"phases completed (of {total})")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
