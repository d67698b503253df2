"""Where things live on disk (project separation).

``<home>/.autonomous_runs/<project>/`` holds one project's run store, run folders, learned rules and
archive; ``<home>/logs/`` holds human-readable logs, older ones moved to ``logs/archived_runs/``.
``<home>`` is ``--home``, else ``$AUTOPACK_HOME``, else the root of the git repository around the
current directory, else the current directory: every command finds the same home from any
subdirectory of a project (``project_root``), and from inside a run's own worktree too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

RUNS_DIR = ".autonomous_runs"
# Run ids, phase ids and project names become parts of file names (``logs/<project>__<run-id>.N.log``,
# ``gate/<phase-id>-attempt<N>.log``, git's ``refs/heads/autopack/<run-id>.lock``); 100 characters keeps
# every such name under the 255 bytes a file name may have on common file systems.
MAX_ID_LENGTH = 100


def home_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit.resolve()
    env = os.environ.get("AUTOPACK_HOME")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    return project_root(cwd) or cwd


def project_root(start: Path) -> Path | None:
    """The working tree root of the git repository that holds ``start`` (a file or folder), or None.

    Read from the file system, without git: the nearest folder with a ``.git`` entry. A linked worktree
    (``.git`` is a file naming ``<repo>/.git/worktrees/<name>``, as in a run's own worktree) answers
    with its main repository's root, so a command run inside a run's worktree finds that run's home;
    a submodule answers with its own root."""
    here = start.resolve()
    for folder in (here, *here.parents):
        marker = folder / ".git"
        if marker.is_dir():
            return folder
        if marker.is_file():
            return _main_worktree(folder, marker) or folder
    return None


def _main_worktree(folder: Path, marker: Path) -> Path | None:
    try:
        first = marker.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    except OSError:
        return None
    if not first or not first[0].startswith("gitdir:"):
        return None
    gitdir = Path(first[0].removeprefix("gitdir:").strip())
    gitdir = gitdir if gitdir.is_absolute() else (folder / gitdir)
    common = gitdir / "commondir"
    if not common.is_file():  # a submodule (or a separate git dir): the folder is its own project
        return None
    try:
        main_git = Path(common.read_text(encoding="utf-8").strip())
    except OSError:
        return None
    main_git = (main_git if main_git.is_absolute() else gitdir / main_git).resolve()
    return main_git.parent if main_git.name == ".git" else None


@dataclass(frozen=True)
class Layout:
    home: Path
    project: str

    @property
    def project_dir(self) -> Path:
        return self.home / RUNS_DIR / self.project

    @property
    def db_path(self) -> Path:
        return self.project_dir / "autopack.db"

    @property
    def rules_path(self) -> Path:
        return self.project_dir / "rules.yaml"

    @property
    def archive_dir(self) -> Path:
        return self.project_dir / "archive"

    def run_dir(self, run_id: str) -> Path:
        return self.project_dir / "runs" / run_id

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def log_path(self, run_id: str) -> Path:
        return self.logs_dir / f"{self.project}__{run_id}.log"


def known_projects(home: Path) -> list[str]:
    root = home / RUNS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "autopack.db").is_file())


def archive_old_logs(logs_dir: Path, keep: int = 20) -> list[Path]:
    """Move all but the ``keep`` newest logs into ``logs/archived_runs/``; return what moved."""
    if not logs_dir.is_dir():
        return []
    # Runs sharing a home (a batch) archive at the same time: a log another run moved first is skipped.
    dated = []
    for p in logs_dir.glob("*.log"):
        try:
            dated.append((p.stat().st_mtime, p))
        except FileNotFoundError:
            continue
    logs = [p for _, p in sorted(dated, key=lambda item: item[0], reverse=True) if p.is_file()]
    dest = logs_dir / "archived_runs"
    moved = []
    for old in logs[keep:]:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / old.name
        n = 1
        while target.exists():  # a re-run with the same id archived before: keep both logs
            target = dest / f"{old.stem}.{n}{old.suffix}"
            n += 1
        try:
            shutil.move(str(old), str(target))
        except FileNotFoundError:
            continue
        moved.append(target)
    return moved
