"""The local pool's run launcher: a run forked from the preloaded server gets its own working folder,
environment, stdout pipe, stderr file and exit code, as a fresh ``autopack`` process does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autopack.batch.launch import Launcher, PreloadedLauncher, preloading_available, spawn_run

LAUNCHERS = [
    pytest.param(spawn_run, id="spawned"),
    pytest.param(
        PreloadedLauncher(["anthropic"]),
        id="preloaded",
        marks=pytest.mark.skipif(not preloading_available(), reason="needs fork (Linux)"),
    ),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "autopack.yaml").write_text("{}\n", encoding="utf-8")
    return repo


def _env(tmp_path: Path) -> dict[str, str]:
    user = tmp_path / "xdg"
    (user / "autopack").mkdir(parents=True, exist_ok=True)
    (user / "autopack" / "config.yaml").write_text("{}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env["XDG_CONFIG_HOME"] = str(user)
    env["COLUMNS"] = "4000"  # one line per layer list
    return env


@pytest.mark.parametrize("launch", LAUNCHERS)
def test_the_run_works_in_its_folder_with_its_environment(launch: Launcher, project: Path, tmp_path: Path) -> None:
    proc = launch(["config", "show"], project, _env(tmp_path), tmp_path / "stderr.log")
    with proc.stdout:
        out = proc.stdout.read().decode()
    assert proc.wait() == 0, (tmp_path / "stderr.log").read_text()
    layers = next(line for line in out.splitlines() if line.startswith("# layers"))
    assert str(tmp_path / "xdg" / "autopack" / "config.yaml") in layers  # the run's XDG_CONFIG_HOME
    assert str(project / "autopack.yaml") in layers  # the project found from the run's working folder
    assert proc.pid != os.getpid()


@pytest.mark.parametrize("launch", LAUNCHERS)
def test_a_refusal_is_its_exit_code_and_its_stderr_file_says_why(
    launch: Launcher, project: Path, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.log"
    stderr.write_text("an earlier start\n", encoding="utf-8")
    proc = launch(["config", "validate", str(tmp_path / "missing.yaml")], project, _env(tmp_path), stderr)
    with proc.stdout:
        assert proc.stdout.read() == b""
    assert proc.wait() == 2
    text = stderr.read_text()
    assert text.startswith("an earlier start\n")  # appended, as a resumed run's stderr is
    assert "missing.yaml" in text


@pytest.mark.skipif(not preloading_available(), reason="needs fork (Linux)")
def test_runs_forked_at_once_from_threads_each_get_their_own_exit_code(project: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> int:
        args = ["config", "show"] if i % 2 else ["config", "validate", str(tmp_path / f"missing-{i}.yaml")]
        proc = PreloadedLauncher()(args, project, _env(tmp_path), tmp_path / f"stderr-{i}.log")
        with proc.stdout:
            proc.stdout.read()
        return proc.wait()

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(one, range(12)))
    assert codes == [2, 0] * 6


def test_the_pool_preloads_the_sdks_of_the_providers_that_would_answer_the_runs() -> None:
    from autopack.config import SHIPPED_CONFIG, load_config
    from autopack.preflight import sdk_modules

    shipped = load_config(SHIPPED_CONFIG)
    both = {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"}
    assert sdk_modules({"low", "medium", "high"}, shipped, both) == {"anthropic", "openai"}
    # no OpenAI key: GPT-5.5's calls fall back to Anthropic, so the openai SDK is not needed
    assert sdk_modules({"low", "medium", "high"}, shipped, {"ANTHROPIC_API_KEY": "k"}) == {"anthropic"}
    assert sdk_modules({"low"}, shipped, {}) == set()  # nobody answers: preflight refuses the run anyway


@pytest.mark.skipif(not preloading_available(), reason="needs fork (Linux)")
def test_when_the_server_cannot_start_runs_are_spawned_instead(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing.context

    def refuse(self: object) -> None:
        raise OSError("AF_UNIX path too long")

    monkeypatch.setattr(multiprocessing.context.ForkServerProcess, "start", refuse)
    launch = PreloadedLauncher()
    for _ in range(2):
        proc = launch(["config", "show"], project, _env(tmp_path), tmp_path / "stderr.log")
        with proc.stdout:
            assert b"# layers" in proc.stdout.read()
        assert proc.wait() == 0
    assert launch.unavailable == "OSError: AF_UNIX path too long"
