"""``autopack batch --cluster local``: the same batch on a real Dask cluster of worker processes on this
machine (the engine the README chooses); each run's branch comes back as a git bundle, fetched into the
project's repository, and its store rows come back in the batch's summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from .batch_world import BatchWorld, branch_commits, json_lines, phases_committed

pytestmark = pytest.mark.slow

pytest.importorskip("distributed", reason="the cluster engine is the `cluster` extra (installed with `dev`)")


def test_a_batch_on_a_local_dask_cluster_brings_each_runs_branch_and_store_rows_back(tmp_path: Path) -> None:
    world = BatchWorld(tmp_path, projects=2)
    scratch = tmp_path / "workers"
    batch = world.batch(
        batch="dask",
        runs=[
            {"id": "in-place", "project_dir": str(world.repo(0))},
            {"id": "cloned", "clone": str(world.repo(1))},
        ],
        cluster={"address": "local", "scratch": str(scratch)},
    )
    result = world.cli("batch", str(batch), "--workers", "2", "--json")
    events = json_lines(result.stdout)
    assert result.returncode == 0, [(r["run_id"], r["state"], r["message"]) for r in events[-1].get("runs", [])]
    assert "Dask cluster" in events[0]["engine"]
    # live events came back from the workers, tagged with their run
    assert {(e["run_id"], e["phase"]) for e in events if e["event"] == "phase_started"} == {
        (r, p) for r in ("in-place", "cloned") for p in ("p1", "p2")
    }
    workers = {e["worker"] for e in events if e["event"] == "batch_run" and e["state"] == "RUNNING"}
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
    # the runs worked in the workers' scratch folder, and their branches came home
    assert (scratch / "autopack-batch" / "dask" / "clones" / "in-place" / ".git").exists()
    folder = world.folder("dask")
    summary = events[-1]
    for i, run_id in ((0, "in-place"), (1, "cloned")):
        assert phases_committed(world.repo(i), run_id) == ["p1", "p2"]
        assert (folder / "bundles" / f"{run_id}.bundle").is_file()
        assert (folder / "runs" / run_id / "report.html").is_file()
        row = next(r for r in summary["runs"] if r["run_id"] == run_id)
        assert row["state"] == "COMPLETE"
        assert [p["commit"] for p in row["store"]["phases"]] == [
            c.hexsha for c in branch_commits(world.repo(i), run_id)
        ]
    again = world.cli("batch", str(batch), "--workers", "2")
    assert again.returncode == 0, again.output
    assert "0 of 2 runs to go" in again.stdout
