"""Where things live on disk (project separation).

``<home>/.autonomous_runs/<project>/`` holds one project's run store, run folders, learned rules and
archive; ``<home>/logs/`` holds human-readable logs, older ones moved to ``logs/archived_runs/``.
``<home>`` is ``--home``, else ``$AUTOPACK_HOME``, else the current directory.
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
    return Path(env).resolve() if env else Path.cwd().resolve()


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
    logs = sorted((p for p in logs_dir.glob("*.log") if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
    dest = logs_dir / "archived_runs"
    moved = []
    for old in logs[keep:]:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / old.name
        n = 1
        while target.exists():  # a re-run with the same id archived before: keep both logs
            target = dest / f"{old.stem}.{n}{old.suffix}"
            n += 1
        shutil.move(str(old), str(target))
        moved.append(target)
    return moved
