"""The finishing benchmark's picture (scripts/bench/finishing_report.picture) as a person reads it: with
the policies crowded as the benchmark crowds them, no label covers another label, the key or the title,
every label stays inside the figure, and each policy is named in the key with its figures. The picture
is kept in tests/artifacts/ to look at."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
import finishing_report as rep  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# (policy, cost $, phases completed of 140): a benchmark run's spread (docs/BENCHMARKS.md), with its
# clusters: several policies within cents and a phase of each other, two exactly on the same point.
POINTS = [
    ("plain loop", 0.62, 34), ("always cheapest", 0.72, 46), ("always strongest", 59.78, 140),
    ("shipped", 26.72, 128), ("no Doctor", 28.19, 132), ("no re-plan", 21.21, 109), ("no escalation", 9.86, 72),
    ("threshold 1", 26.72, 128), ("threshold 3", 22.75, 124), ("before tuning", 18.21, 100),
    ("5 tries", 25.96, 126), ("auditor before", 27.13, 128), ("s>g>g 6 tries", 32.12, 135),
    ("opus before gpt", 18.29, 114), ("deepseek profile", 11.35, 136), ("deepseek plain loop", 3.25, 124),
    ("deepseek 10 tries", 11.35, 136), ("deepseek no Doctor", 11.01, 136), ("deepseek first", 17.91, 135),
]  # fmt: skip


def summary() -> dict[str, dict[str, Any]]:
    return {name: {"cost": cost, "complete": done, "phases": 140} for name, cost, done in POINTS}


def overlaps(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]


def test_no_label_covers_another_and_every_policy_is_in_the_key() -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "finishing_picture.png"
    candidates = {n for n, _, _ in POINTS[9:]}
    boxes = rep.picture(summary(), path, "Finishing power (test data)", candidates)

    assert path.is_file() and path.stat().st_size > 10_000
    texts = [b for b in boxes if not b[0].startswith("point ")]
    points = [b for b in boxes if b[0].startswith("point ")]
    assert len(points) == len(POINTS)
    clashes = [(a[0], b[0]) for i, a in enumerate(texts) for b in texts[i + 1 :] if overlaps(a, b)]
    assert clashes == []
    hidden = [p[0] for p in points for t in texts if t[0] in ("key", "title") and overlaps(p, t)]
    assert hidden == []  # the key sits beside the plot
    width, height = 12 * 120, 5.6 * 120
    outside = [b[0] for b in boxes if b[1] < 0 or b[2] < 0 or b[3] > width or b[4] > height]
    assert outside == []
    labels = [b[0] for b in texts if b[0] not in ("key", "title")]
    numbers = sorted(int(n) for label in labels for n in label.split(","))
    assert numbers == list(range(1, len(POINTS) + 1))  # every point labelled once
    # shipped and threshold 1 fall on one point: one label names both
    assert any({"4", "8"} <= set(label.split(",")) for label in labels)
    assert len(labels) < len(POINTS)
