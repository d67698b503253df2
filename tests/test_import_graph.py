"""The rooms of ``src/autopack`` import each other without a cycle (docs/ARCHITECTURE.md, section 4),
lazy imports included: ``scripts/import_graph.py --check`` reads the code with ``ast``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_import_cycle_between_modules_or_rooms() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_graph.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rooms, lazy imports too: no cycle" in proc.stdout


def test_the_check_finds_a_cycle_when_there_is_one(tmp_path: Path) -> None:
    """The same script on a copy of the package with one lazy import added from a low room to the CLI."""
    import shutil

    copy = tmp_path / "src" / "autopack"
    shutil.copytree(ROOT / "src" / "autopack", copy, ignore=shutil.ignore_patterns("__pycache__"))
    fileio = copy / "fileio.py"
    fileio.write_text(fileio.read_text() + "\n\ndef _cycle() -> None:\n    from .cli import app  # noqa\n")
    script = tmp_path / "scripts" / "import_graph.py"
    script.parent.mkdir()
    shutil.copy(ROOT / "scripts" / "import_graph.py", script)
    proc = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fileio" in proc.stdout
