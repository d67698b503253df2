"""Inline SVG charts for the report, drawn in Python (no chart library, no script needed to see them).

``bar_chart`` draws horizontal bars, one row per label, stacked when a row has several values
(tokens in and out). A chart of more rows than ``MAX_ROWS`` keeps the largest and sums the rest into
one "N more" row, so a 200-phase run still gets a chart one can read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

MAX_ROWS = 20
ROW_H = 22
LABEL_W = 170
BAR_W = 300
VALUE_W = 110
WIDTH = LABEL_W + BAR_W + VALUE_W


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[float, ...]
    hint: str = ""  # the tooltip (an SVG <title>)
    link: str = ""  # an in-page anchor, e.g. "#phase-add-divide"


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str  # colour comes from the stylesheet (.s1, .s2, ...)


def top_rows(rows: Sequence[Row], limit: int = MAX_ROWS, what: str = "more") -> list[Row]:
    """``rows`` as they are when they fit; else the ``limit - 1`` largest (by total) and one row summing the rest."""
    if len(rows) <= limit:
        return list(rows)
    ranked = sorted(rows, key=lambda r: sum(r.values), reverse=True)
    keep, rest = ranked[: limit - 1], ranked[limit - 1 :]
    width = max(len(r.values) for r in rows)
    summed = tuple(sum(r.values[i] if i < len(r.values) else 0.0 for r in rest) for i in range(width))
    return [*keep, Row(f"{len(rest)} {what}", summed, f"{len(rest)} {what}, together")]


def bar_chart(
    title: str,
    rows: Sequence[Row],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    *,
    empty: str = "nothing yet",
) -> str:
    """An SVG bar chart with a heading and a legend (for stacked series)."""
    head = f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
    legend = ""
    if len(series) > 1:
        legend = (
            '<div class="legend">'
            + "".join(f'<span><i class="sw {escape(s.css_class)}"></i>{escape(s.name)}</span>' for s in series)
            + "</div>"
        )
    peak = max((sum(r.values) for r in rows), default=0.0)
    if not rows or peak <= 0:
        return f'{head}<p class="muted">{escape(empty)}</p></figure>'
    height = ROW_H * len(rows) + 4
    parts = [
        f'<svg class="bars" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for i, row in enumerate(rows):
        y = i * ROW_H + 2
        label = row.label if len(row.label) <= 26 else row.label[:25] + "…"
        text = f'<text class="lbl" x="{LABEL_W - 8}" y="{y + 15}">{escape(label)}</text>'
        if row.link:
            text = f'<a href="{escape(row.link)}">{text}</a>'
        parts.append(f"<g><title>{escape(row.hint or row.label)}</title>{text}")
        x = float(LABEL_W)
        for value, s in zip(row.values, series, strict=False):
            w = BAR_W * value / peak
            if w > 0:
                parts.append(
                    f'<rect class="{escape(s.css_class)}" x="{x:.1f}" y="{y + 3}" width="{max(w, 1.5):.1f}" height="{ROW_H - 7}" rx="2"/>'
                )
            x += w
        parts.append(f'<text class="val" x="{x + 6:.1f}" y="{y + 15}">{escape(fmt(sum(row.values)))}</text></g>')
    parts.append("</svg>")
    return head + legend + "".join(parts) + "</figure>"
