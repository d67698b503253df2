"""``autopack batch`` on a local pool: many runs at once through the real CLI, each its own ``autopack
run`` process on real repositories with real pytest checks and scripted replies."""

from __future__ import annotations

import fcntl
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from conftest import CliResult

from .batch_world import BatchWorld, branch_commits, json_lines, phases_committed
from .conftest import kill_group, wait_for

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'


@dataclass
class Happy:
    world: BatchWorld
    batch: Path
    result: CliResult
    again: CliResult


@pytest.fixture(scope="module")
def happy(tmp_path_factory: pytest.TempPathFactory) -> Happy:
    """Three runs with two workers: two projects in place (one plan, `projects:`) and one cloned; then the
    same command again."""
    world = BatchWorld(tmp_path_factory.mktemp("batch"), projects=3)
    batch = world.batch(
        batch="nightly",
        workers=2,
        projects=[str(world.repo(0)), str(world.repo(1))],
        runs=[{"id": "from-clone", "clone": str(world.repo(2))}],
    )
    result = world.cli("batch", str(batch), "--json")
    again = world.cli("batch", str(batch), "--json")
    return Happy(world, batch, result, again)


def test_a_batch_runs_every_project_on_its_own_branch(happy: Happy) -> None:
    assert happy.result.returncode == 0, happy.result.output
    for i, run_id in ((0, "nightly-project"), (1, "nightly-project-2")):
        assert phases_committed(happy.world.repo(i), run_id) == ["p1", "p2"]
    # the cloned run's branch is fetched back into the repository it was cloned from
    assert phases_committed(happy.world.repo(2), "from-clone") == ["p1", "p2"]
    status = happy.world.status(happy.batch)
    assert [(r["run_id"], r["state"]) for r in status["runs"]] == [
        ("nightly-project", "COMPLETE"),
        ("nightly-project-2", "COMPLETE"),
        ("from-clone", "COMPLETE"),
    ]


def test_json_lines_carry_the_batchs_events_and_each_runs_events_with_its_run_id(happy: Happy) -> None:
    events = json_lines(happy.result.stdout)
    assert events[0]["event"] == "batch_started" and events[0]["todo"] == 3
    assert events[-1]["event"] == "batch_finished"
    phase_starts = {(e["run_id"], e["phase"]) for e in events if e["event"] == "phase_started"}
    assert phase_starts == {
        (r, p) for r in ("nightly-project", "nightly-project-2", "from-clone") for p in ("p1", "p2")
    }
    finished = [e for e in events if e["event"] == "batch_run" and e["state"] == "COMPLETE"]
    assert len(finished) == 3


def test_the_summary_holds_each_runs_store_rows(happy: Happy) -> None:
    summary = json_lines(happy.result.stdout)[-1]
    row = next(r for r in summary["runs"] if r["run_id"] == "from-clone")
    commits = branch_commits(happy.world.repo(2), "from-clone")
    assert [p["commit"] for p in row["store"]["phases"]] == [c.hexsha for c in commits]
    assert row["store"]["status"] == "COMPLETE"
    assert summary["totals"]["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in summary["runs"]))
    assert summary["totals"]["cost_usd"] > 0 and summary["totals"]["simulated"]


def test_the_batch_report_links_each_runs_report(happy: Happy) -> None:
    folder = happy.world.folder("nightly")
    page = (folder / "report.html").read_text(encoding="utf-8")
    for run_id in ("nightly-project", "nightly-project-2", "from-clone"):
        assert f'href="runs/{run_id}/report.html"' in page
        assert "<html" in (folder / "runs" / run_id / "report.html").read_text(encoding="utf-8")[:200].lower()
    assert page.count("COMPLETE</span>") == 3


def test_the_same_command_skips_the_finished_runs(happy: Happy) -> None:
    assert happy.again.returncode == 0, happy.again.output
    events = json_lines(happy.again.stdout)
    assert events[0]["todo"] == 0
    assert not [e for e in events if e["event"] == "phase_started"]
    assert phases_committed(happy.world.repo(0), "nightly-project") == ["p1", "p2"]
    assert all(r["starts"] == 1 for r in happy.world.status(happy.batch)["runs"])


def test_a_failing_run_does_not_stop_the_others_and_the_good_ones_branch_is_pushed(tmp_path: Path) -> None:
    world = BatchWorld(tmp_path, projects=2)
    origin = world.remote(1)
    failing = world.envs[0].plan(
        [
            {
                "id": "p1",
                "name": "Never passes",
                "description": "x",
                "scope": ["calc.py"],
                "checks": ["exit 1"],
                "builder_mode": "structured_edit",
            }
        ],
        name="failing.yaml",
    )
    batch = world.batch(
        workers=2,
        max_attempts=1,
        results="push",
        runs=[
            {"id": "bad", "project_dir": str(world.repo(0)), "plan": str(failing)},
            {"id": "good", "project_dir": str(world.repo(1))},
        ],
    )
    result = world.cli("batch", str(batch))
    assert result.returncode == 1, result.output
    states = {r["run_id"]: r["state"] for r in world.status(batch)["runs"]}
    assert states == {"bad": "FAILED", "good": "COMPLETE"}
    assert phases_committed(world.repo(1), "good") == ["p1", "p2"]
    assert "bad: FAILED" in result.stdout  # the plain lines of a non-terminal
    pushed = git.Repo(origin).commit("autopack/good")
    assert pushed.hexsha == branch_commits(world.repo(1), "good")[-1].hexsha
    assert world.run_row(batch, "good")["pushed"] == "origin autopack/good"


def test_the_batch_cost_cap_is_never_passed_and_raising_it_resumes(tmp_path: Path) -> None:
    world = BatchWorld(tmp_path, projects=2)
    batch = world.batch(workers=2, max_cost=0.00001, projects=[str(world.repo(0)), str(world.repo(1))])
    capped = world.cli("batch", str(batch))
    assert capped.returncode == 3, capped.output
    status = world.status(batch)
    assert [r["state"] for r in status["runs"]] == ["STOPPED", "STOPPED"]
    assert status["totals"]["cost_usd"] <= 0.00001
    assert all("cost cap" in r["message"] for r in status["runs"])
    raised = world.cli("batch", str(batch), "--max-cost", "5")
    assert raised.returncode == 0, raised.output
    assert [r["state"] for r in world.status(batch)["runs"]] == ["COMPLETE", "COMPLETE"]


def test_a_worker_killed_mid_run_loses_and_duplicates_no_commit_when_the_batch_resumes(tmp_path: Path) -> None:
    flag = tmp_path / "go"
    world = BatchWorld(tmp_path, projects=2, phases=3, hold=flag)
    batch = world.batch(batch="kill", workers=2, projects=[str(world.repo(0)), str(world.repo(1))])
    proc = world.popen("batch", str(batch), "--json")
    try:
        # both runs committed p1 and are held in p2's check
        wait_for(
            lambda: all(
                len(branch_commits(world.repo(i), rid)) == 1 if _has_branch(world.repo(i), rid) else False
                for i, rid in ((0, "kill-project"), (1, "kill-project-2"))
            ),
            timeout=120,
            what="p1 committed in both runs",
            diagnose=lambda: (world.root / "batch.out").read_text(errors="replace")[-6000:],
        )
        victim = world.run_row(batch, "kill-project")
        p1 = branch_commits(world.repo(0), "kill-project")[0].hexsha
        os.kill(victim["pid"], signal.SIGKILL)
        wait_for(
            lambda: world.run_row(batch, "kill-project")["state"] == "INTERRUPTED",
            timeout=60,
            what="the batch to see its worker die",
        )
        flag.touch()  # the other run goes on
        assert proc.wait(timeout=180) == 3
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert world.run_row(batch, "kill-project-2")["state"] == "COMPLETE"
    resumed = world.cli("batch", str(batch))
    assert resumed.returncode == 0, resumed.output
    assert phases_committed(world.repo(0), "kill-project") == ["p1", "p2", "p3"]
    assert branch_commits(world.repo(0), "kill-project")[0].hexsha == p1  # the commit made before the kill stands
    assert phases_committed(world.repo(1), "kill-project-2") == ["p1", "p2", "p3"]
    rows = {r["run_id"]: r for r in world.status(batch)["runs"]}
    assert rows["kill-project"]["starts"] == 2 and rows["kill-project-2"]["starts"] == 1


def test_a_call_waiting_on_a_shared_provider_limit_is_shown(tmp_path: Path) -> None:
    world = BatchWorld(tmp_path, projects=1)
    batch = world.batch(
        batch="limited", workers=1, projects=[str(world.repo(0))], limits={"scripted": {"concurrency": 1}}
    )
    limits = world.folder("limited") / "limits"
    limits.mkdir(parents=True)
    # another process of the batch holds the only slot: the run's first call must wait for it
    fd = os.open(limits / "scripted.slot0", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    proc = world.popen("batch", str(batch), "--json")
    try:
        wait_for(lambda: any((limits / "waiting").glob("scripted.*")), timeout=120, what="the run to wait for a slot")
        assert world.status(batch)["waiting_now"] == {"scripted": 1}
        os.close(fd)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            kill_group(proc)
    events = json_lines((tmp_path / "batch.out").read_text(encoding="utf-8"))
    waits = [e for e in events if e["event"] == "provider_wait"]
    assert waits and waits[0]["provider"] == "scripted" and waits[0]["run_id"] == "limited-project"
    assert waits[0]["reasons"] == ["every slot in use"]
    summary = events[-1]
    assert summary["totals"]["waits"] >= 1 and summary["runs"][0]["waits"] >= 1


def _has_branch(repo_dir: Path, run_id: str) -> bool:
    return (repo_dir / ".git" / "refs" / "heads" / "autopack" / run_id).exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: it only waits to be reaped
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_runs_end_interrupted_when_the_batch_process_is_killed_and_the_same_command_finishes_them(
    tmp_path: Path,
) -> None:
    """The runs are forked from the batch's preloaded server: SIGKILL the batch process alone (not its
    group) and each run still learns it (SIGTERM), records itself and exits; the batch resumes them."""
    flag = tmp_path / "go"
    world = BatchWorld(tmp_path, projects=2, phases=3, hold=flag)
    batch = world.batch(batch="orphan", workers=2, projects=[str(world.repo(0)), str(world.repo(1))])
    proc = world.popen("batch", str(batch), "--json")
    try:
        wait_for(
            lambda: all(
                _has_branch(world.repo(i), rid) and len(branch_commits(world.repo(i), rid)) == 1
                for i, rid in ((0, "orphan-project"), (1, "orphan-project-2"))
            ),
            timeout=120,
            what="p1 committed in both runs",
            diagnose=lambda: (world.root / "batch.out").read_text(errors="replace")[-6000:],
        )
        pids = [world.run_row(batch, rid)["pid"] for rid in ("orphan-project", "orphan-project-2")]
        assert all(isinstance(pid, int) and _alive(pid) for pid in pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=60, what="the runs to end after the batch")
    finally:
        if proc.poll() is None:
            kill_group(proc)
    for rid in ("orphan-project", "orphan-project-2"):
        assert world.run_row(batch, rid)["state"] == "INTERRUPTED"
        run_status = world.cli("status", "--run-id", rid, "--json", timeout=60)
        assert '"status": "INTERRUPTED"' in run_status.stdout, run_status.output
    flag.touch()
    resumed = world.cli("batch", str(batch))
    assert resumed.returncode == 0, resumed.output
    assert phases_committed(world.repo(0), "orphan-project") == ["p1", "p2", "p3"]
    assert phases_committed(world.repo(1), "orphan-project-2") == ["p1", "p2", "p3"]
