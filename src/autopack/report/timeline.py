"""The report timeline's time axis: seconds since the epoch to a position (0-100 %) across the track.

A run stopped on Friday and resumed on Monday would squeeze all its work into two slivers at both
ends; ``TimeAxis`` gives each such idle span (no executor running) a thin fixed band instead, and
shares the rest of the width out over the time something ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GAP_SHARE = 0.02  # of the width, per idle span (at most a fifth for all of them)


@dataclass(frozen=True)
class TimeAxis:
    start: float
    end: float
    gaps: tuple[tuple[float, float], ...]

    @classmethod
    def build(cls, start: float, end: float, idle: Sequence[tuple[float, float]]) -> TimeAxis:
        """An axis over [start, end] whose idle spans (clipped to it, overlaps merged) are compressed."""
        end = max(end, start)
        merged: list[tuple[float, float]] = []
        for a, b in sorted((max(a, start), min(b, end)) for a, b in idle):
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return cls(start, end, tuple(merged))

    @property
    def gap_share(self) -> float:
        return min(GAP_SHARE, 0.2 / len(self.gaps)) if self.gaps else 0.0

    @property
    def active(self) -> float:
        """Seconds on the axis when something ran."""
        return (self.end - self.start) - sum(b - a for a, b in self.gaps)

    def pos(self, t: float) -> float:
        """Where ``t`` falls, in percent of the track's width."""
        t = min(max(t, self.start), self.end)
        share = self.gap_share
        active_share = 1.0 - share * len(self.gaps)
        ran = t - self.start
        x = 0.0
        for a, b in self.gaps:
            if t >= b:
                ran -= b - a
                x += share
            elif t > a:
                ran -= t - a
                x += share * (t - a) / (b - a)
        if self.active > 0:
            x += active_share * ran / self.active
        return round(100.0 * min(max(x, 0.0), 1.0), 3)

    def span(self, a: float, b: float) -> tuple[float, float]:
        """Left and width (percent) of the bar from ``a`` to ``b``."""
        left = self.pos(a)
        return left, max(0.0, self.pos(b) - left)

    def gap_bands(self) -> list[tuple[float, float, float]]:
        """(left %, width %, idle seconds) of each compressed idle span."""
        return [(*self.span(a, b), b - a) for a, b in self.gaps]
