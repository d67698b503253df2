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


ANCHORS = {  # the policies the issue names, and the profile: coloured and marked; the rest purple dots
    "plain loop": ("tab:gray", "o"),
    "always cheapest": ("tab:green", "o"),
    "always strongest": ("tab:red", "o"),
    "shipped": ("black", "*"),
    "deepseek profile": ("tab:orange", "D"),
}


def picture(summary: dict[str, dict[str, Any]], path: Path, title: str, candidates: set[str] | None = None) -> Any:
    """Completed phases against cost, one point per policy; the issue's target region (at least as many
    phases as always-strongest at no more than a third of its cost) shaded. Points carry numbers (points
    that fall together share one label, "4,8"); the key beside the plot names each number with its
    figures, so no label can cover another however the policies crowd. Returns the boxes in pixels,
    (name, x0, y0, x1, y1), of the texts (labels, "key", "title") and of the points ("point <policy>"),
    for a test to check what covers what."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    candidates = candidates or set()
    fig, (ax, side) = plt.subplots(1, 2, figsize=(12, 5.6), dpi=120, gridspec_kw={"width_ratios": [3, 1.1]})
    side.axis("off")  # the key's column: beside the plot, it hides no policy
    total = max(s["phases"] for s in summary.values())
    strong = summary.get("always strongest")
    costs = [max(s["cost"], 1e-3) for s in summary.values()]
    if strong:
        ax.fill_between([min(costs) / 2, strong["cost"] / 3], strong["complete"], total * 1.05, color="tab:green",
                        alpha=0.12, lw=0)  # fmt: skip
        ax.axhline(strong["complete"], color="tab:red", lw=0.8, ls=":")
        ax.axvline(strong["cost"] / 3, color="tab:red", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(min(costs) / 2, max(costs) * 2.5)
    ax.set_ylim(0, total * 1.05)
    names = list(summary)
    number = {n: i + 1 for i, n in enumerate(names)}
    groups: list[tuple[float, float, list[str]]] = []  # points within 9 pixels of each other share a label
    for name in names:
        s = summary[name]
        x, y = max(s["cost"], 1e-3), s["complete"]
        colour, marker = ANCHORS.get(name, ("tab:purple" if name in candidates else "tab:blue", "o"))
        ax.scatter(
            x, y, s=110 if marker == "*" else 36, color=colour, marker=marker, zorder=4 if name in ANCHORS else 3
        )
        px, py = ax.transData.transform((x, y))
        near = next((g for g in groups if abs(g[0] - px) < 9 and abs(g[1] - py) < 9), None)
        if near:
            near[2].append(name)
        else:
            groups.append((px, py, [name]))
    texts = []
    taken: list[tuple[float, float, float, float]] = []
    for px, py, members in sorted(groups, key=lambda g: (g[0], g[1])):
        label = ",".join(str(number[n]) for n in members)
        width, height = 6.0 * len(label) + 2, 11.0
        for dx, dy in ((5, 2), (5, -12), (-5 - width, 2), (-5 - width, -12), (5, 13), (5, -23), (-5 - width, 13)):
            box = (px + dx, py + dy, px + dx + width, py + dy + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken):
                break
        taken.append(box)
        x, y = ax.transData.inverted().transform((box[0], box[1]))
        texts.append((label, ax.text(x, y, label, fontsize=7.5, va="bottom", ha="left", zorder=5,
                                     color=ANCHORS.get(members[0], ("0.25", ""))[0])))  # fmt: skip
    key = [f"{number[n]:>2} {n}: {summary[n]['complete']}/{total}, ${summary[n]['cost']:.2f}" for n in names]
    if strong:
        key.append(f"shaded: {strong['complete']}+ phases for at most ${strong['cost'] / 3:.2f} (the target)")
    texts.append(("key", side.text(0.0, 1.0, "\n".join(key), transform=side.transAxes, ha="left", va="top",
                                   fontsize=7, family="monospace", linespacing=1.5)))  # fmt: skip
    ax.set_xlabel("cost of all plans per policy, USD (log scale; config/models.yaml prices)")
    ax.set_ylabel(f"phases completed (of {total})")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [(name, *t.get_window_extent(renderer).extents) for name, t in texts]
    boxes.append(("title", *ax.title.get_window_extent(renderer).extents))
    for name in names:  # the points (their marker's extent, 10 px)
        px, py = ax.transData.transform((max(summary[name]["cost"], 1e-3), summary[name]["complete"]))
        boxes.append((f"point {name}", px - 5, py - 5, px + 5, py + 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return boxes
