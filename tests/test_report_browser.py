"""The run report in a real browser: headless Chromium (the Debian package) opens it, its script runs
without an error, the content is there once rendered, and a screenshot is kept in tests/artifacts/.

Without chromium the tests are skipped with the reason, except under CI (``CI=true``), where a missing
browser is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path
from string import Template
from types import ModuleType

import pytest

from autopack.layout import Layout
from review_world import make_world

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "report.py"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed, and CI must check the report in a browser: .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium): the report is not checked in a browser")
    return found


def browse(chromium: str, page: Path, profile: Path, *flags: str, fragment: str = "") -> str:
    """Chromium headless on ``page``; returns its stdout (the DOM after the scripts ran, with --dump-dom)."""
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *flags,
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(chromium: str, page: Path, profile: Path, name: str, size: str = "1400,2000") -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    browse(chromium, page, profile, f"--screenshot={shot}", f"--window-size={size}")
    assert shot.is_file() and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    return shot


def assert_rendered_without_errors(dom: str) -> None:
    assert re.search(r'<html[^>]* data-ready="\d+"', dom), "the report's script did not run to its end"
    assert not re.search(r"<html[^>]* data-errors=", dom), re.findall(r'<div class="report-error">(.*?)</div>', dom)


def test_the_error_trap_reports_a_script_error_in_the_page(chromium: str, tmp_path: Path) -> None:
    from importlib.resources import files

    template = (files("autopack.report") / "template.html").read_text(encoding="utf-8")
    page = tmp_path / "broken.html"
    page.write_text(
        Template(template).substitute(
            version="test", title="t", css="", body="<p>body</p>", data="", js="document.body.appendChild(null).x();"
        ),
        encoding="utf-8",
    )
    dom = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert 'data-errors="1"' in dom
    assert "script error: Uncaught TypeError" in dom


def test_a_run_report_renders_with_its_content_and_no_script_error(chromium: str, tmp_path: Path) -> None:
    world = make_world(tmp_path)
    page = tmp_path / "report.html"
    assert world.cli("report", "--run-id", "r1", "-o", str(page)).returncode == 0
    closed = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert_rendered_without_errors(closed)
    assert '<span class="a">' not in closed.split('id="report-data"')[0]  # attempts are drawn when opened

    dom = browse(chromium, page, tmp_path / "profile", "--dump-dom", fragment="#all")
    assert_rendered_without_errors(dom)
    body = unescape(dom.split('id="report-data"')[0])
    assert "Run r1" in body and "Grow calc" in body
    assert body.count('<details class="phase') == 2 and body.count(" open=") >= 5
    assert '<span class="a">+def mul(a, b): return a + b  # wrong</span>' in body  # a failed attempt's diff, painted
    assert "FAILED tests/test_calc.py::test_mul - assert 5 == 6" in body  # its gate output
    assert "Auditor: approved" in body and "Escalated cheap-model (low) → strong-model (low)" in body
    assert "Multiply, do not add." in body
    assert re.search(r"<svg[^>]*aria-label=\"Cost per phase \(USD\)\"", body)
    screenshot(chromium, page, tmp_path / "profile", "report.png")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_200_phase_report_loads_in_the_browser(chromium: str, tmp_path: Path) -> None:
    from autopack.report import build_report, render_report
    from autopack.store import RunStore

    home = tmp_path / "home"
    run_id = _bench().build_store(home, 200)
    layout = Layout(home, "bench")
    with RunStore(layout.db_path) as store:
        page = tmp_path / "report-200.html"
        page.write_text(render_report(build_report(store, layout, run_id)), encoding="utf-8")
    dom = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert_rendered_without_errors(dom)
    assert dom.count('<details class="phase') == 200
    ready = re.search(r'data-ready="(\d+)"', dom)
    print(f"200 phases: {page.stat().st_size // 1024} KB, page ready after {ready.group(1) if ready else '?'} ms")
    everything = browse(chromium, page, tmp_path / "profile", "--dump-dom", fragment="#all")
    assert_rendered_without_errors(everything)
    assert everything.count('data-filled="1"') > 200  # every attempt's texts were drawn
    screenshot(chromium, page, tmp_path / "profile", "report-200.png", size="1400,1600")
