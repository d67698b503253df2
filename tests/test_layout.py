"""Where things live on disk: project separation and log archiving."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autopack.layout import Layout, archive_old_logs, home_dir, known_projects
from autopack.store import RunStore


def test_each_project_gets_its_own_folder_under_autonomous_runs(tmp_path: Path) -> None:
    lay = Layout(tmp_path, "shop")
    root = tmp_path / ".autonomous_runs" / "shop"
    assert lay.project_dir == root
    assert lay.db_path == root / "autopack.db"
    assert lay.rules_path == root / "rules.yaml"
    assert lay.archive_dir == root / "archive"
    assert lay.run_dir("r1") == root / "runs" / "r1"


def test_logs_are_shared_and_named_by_project_and_run(tmp_path: Path) -> None:
    assert Layout(tmp_path, "shop").logs_dir == tmp_path / "logs"
    assert Layout(tmp_path, "shop").log_path("r1") == tmp_path / "logs" / "shop__r1.log"
    assert Layout(tmp_path, "blog").log_path("r1") != Layout(tmp_path, "shop").log_path("r1")


def test_two_projects_never_share_a_store(tmp_path: Path) -> None:
    with RunStore(Layout(tmp_path, "shop").db_path) as shop:
        shop.create_run("r1", "shop", "g", "{}", [])
    with RunStore(Layout(tmp_path, "blog").db_path) as blog:
        assert blog.get_run("r1") is None


def test_known_projects_are_those_with_a_store(tmp_path: Path) -> None:
    RunStore(Layout(tmp_path, "shop").db_path).close()
    RunStore(Layout(tmp_path, "blog").db_path).close()
    (tmp_path / ".autonomous_runs" / "empty-folder").mkdir()
    (tmp_path / ".autonomous_runs" / "README.md").write_text("notes\n", encoding="utf-8")
    assert known_projects(tmp_path) == ["blog", "shop"]


def test_no_projects_before_the_first_run(tmp_path: Path) -> None:
    assert known_projects(tmp_path) == []


def test_home_is_the_option_then_the_environment_then_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTOPACK_HOME", raising=False)
    assert home_dir() == tmp_path.resolve()
    monkeypatch.setenv("AUTOPACK_HOME", str(tmp_path / "env-home"))
    assert home_dir() == (tmp_path / "env-home").resolve()
    assert home_dir(tmp_path / "cli-home") == (tmp_path / "cli-home").resolve()


def test_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert home_dir(Path("sub")) == tmp_path.resolve() / "sub"


# archiving old logs --------------------------------------------------------------------------------
def make_logs(logs: Path, count: int) -> list[Path]:
    """``count`` logs, oldest first, with clearly different modification times."""
    logs.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = logs / f"demo__run{i}.log"
        path.write_text(f"log {i}\n", encoding="utf-8")
        os.utime(path, (1_700_000_000 + i * 60, 1_700_000_000 + i * 60))
        out.append(path)
    return out


def test_archive_moves_all_but_the_newest_logs_to_archived_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    made = make_logs(logs, 5)
    moved = archive_old_logs(logs, keep=2)
    assert sorted(p.name for p in moved) == ["demo__run0.log", "demo__run1.log", "demo__run2.log"]
    assert all(p.parent == logs / "archived_runs" for p in moved)
    assert sorted(p.name for p in logs.glob("*.log")) == ["demo__run3.log", "demo__run4.log"]
    assert (logs / "archived_runs" / "demo__run0.log").read_text(encoding="utf-8") == "log 0\n"
    assert not made[0].exists()


def test_archive_leaves_other_files_alone(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_logs(logs, 3)
    (logs / "README.md").write_text("about logs\n", encoding="utf-8")
    archive_old_logs(logs, keep=0)
    assert (logs / "README.md").is_file()
    assert list(logs.glob("*.log")) == []


def test_archive_with_few_logs_moves_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_logs(logs, 3)
    assert archive_old_logs(logs, keep=20) == []
    assert not (logs / "archived_runs").exists()


def test_archive_without_a_logs_folder_does_nothing(tmp_path: Path) -> None:
    assert archive_old_logs(tmp_path / "logs") == []


def test_archive_keeps_both_logs_when_a_name_was_archived_before(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_logs(logs, 2)
    archive_old_logs(logs, keep=1)  # demo__run0.log archived
    (logs / "demo__run0.log").write_text("second run with the same id\n", encoding="utf-8")
    os.utime(logs / "demo__run0.log", (1_600_000_000, 1_600_000_000))
    moved = archive_old_logs(logs, keep=1)
    archived = sorted(p.read_text(encoding="utf-8") for p in (logs / "archived_runs").iterdir())
    assert archived == ["log 0\n", "second run with the same id\n"]
    assert [p.name for p in moved] == ["demo__run0.1.log"]
