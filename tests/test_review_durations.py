"""How long a phase took: the time between its events, without the time no executor ran (``duration_s``)."""

from __future__ import annotations

import json
from pathlib import Path

from autopack.report.timeline import TimeAxis
from autopack.store import active_seconds
from review_world import autopack, make_world


def test_active_time_is_the_sum_of_the_gaps_between_events() -> None:
    assert active_seconds([10.0, 12.0, 15.5], []) == 5.5


def test_a_gap_holding_a_stop_or_a_resume_does_not_count() -> None:
    # worked 10..12, the run stopped at 13 and was resumed at 1000, worked 1001..1004
    assert active_seconds([10.0, 12.0, 1001.0, 1004.0], [13.0, 1000.0]) == 5.0


def test_a_phase_with_one_event_took_no_time() -> None:
    assert active_seconds([5.0], []) == 0.0
    assert active_seconds([], [1.0]) == 0.0


def test_status_json_gives_each_phase_its_duration(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with world.store() as store:
        durations = store.phase_durations("r1")
    data = json.loads(autopack("status", "--run-id", "r1", "--home", str(world.home), "--json").stdout)
    assert [p["id"] for p in data["phases"]] == ["p1", "p2"]
    for p in data["phases"]:
        assert p["duration_s"] == round(durations[p["id"]], 3)
        assert p["duration_s"] >= 0


def test_the_timeline_squeezes_idle_spans_into_thin_bands() -> None:
    axis = TimeAxis.build(0.0, 1010.0, [(5.0, 1005.0)])  # 10 s of work around 1000 s idle
    assert axis.active == 10.0
    assert axis.pos(0.0) == 0.0 and axis.pos(1010.0) == 100.0
    left, width = axis.span(5.0, 1005.0)
    assert width == 2.0  # the idle band takes 2 % of the width
    assert axis.pos(5.0) == 49.0  # half the work is before it: half of the other 98 %


def test_an_axis_without_idle_spans_is_linear() -> None:
    axis = TimeAxis.build(100.0, 200.0, [])
    assert [axis.pos(t) for t in (100.0, 125.0, 200.0, 500.0)] == [0.0, 25.0, 100.0, 100.0]
