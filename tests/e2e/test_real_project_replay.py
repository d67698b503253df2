"""``autopack run`` replays five real commits of a real project, hukkin/tomli, and ends where tomli did.

The project is a clone of ``tests/data/tomli_replay/tomli.bundle`` (see the README there: the real
trees of tomli's commits e4da05c..794c8e5, MIT licensed), checked out at the base commit, with its own
``.venv`` in which tomli is installed editable from that checkout. The plan has one phase per real
commit: its scope is the files the commit changed, its description the commit message, its check the
project's own test suite run plainly (``python -m pytest -q``). The scripted Builder answers each phase
with the real new contents of those files; its first answer to the last phase has one function's
return value altered, so tomli's own test fails and the phase is retried. Everything but the model is
real: edit parsing and guards, tomli's tests in the project's interpreter, git, the store.

What this pins down: every phase completes, the run branch's tree after each phase is the real
commit's tree (same tree sha), and the checks tested the worktree's code rather than the user's
checkout that the editable install points at (the checkout stays at the base commit, where tests the
replayed commits add fail).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult, cli_env

from .conftest import AUTOPACK, RUN_ENV, _dump, auditor, builder

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'

DATA = Path(__file__).resolve().parents[1] / "data" / "tomli_replay"
MANIFEST: dict[str, Any] = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
BASE: dict[str, Any] = MANIFEST["base"]
COMMITS: list[dict[str, Any]] = MANIFEST["commits"]
PROJECT = "tomli"
RUN_ID = "replay"
CHECK = "python -m pytest -q -p no:cacheprovider"  # plain, as a user writes it: no PYTHONPATH, no path
PHASE_IDS = [f"c{i}-{c['upstream_sha'][:7]}" for i, c in enumerate(COMMITS, 1)]

# The phase answered wrong first: the last one ("Eagerly raise an error if parse_float produces illegal
# types"), whose new make_safe_parse_float() returns the unchecked callable instead of its safe wrapper.
WRONG_PHASE = PHASE_IDS[-1]
WRONG_FILE = "src/tomli/_parser.py"
RIGHT_RETURN, WRONG_RETURN = "    return safe_parse_float\n", "    return parse_float\n"
# Tests that the replayed commits add and that fail against the base commit's code.
NEW_TESTS = {
    "tests/test_misc.py::TestMiscellaneous::test_incorrect_load",  # added by 8b962e1
    "tests/test_error.py::TestError::test_invalid_parse_float",  # added by 794c8e5
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, encoding="utf-8", check=True, env=cli_env()
    ).stdout


def real_file(repo: Path, commit: dict[str, Any], path: str) -> str:
    return git(repo, "show", f"{commit['bundle_sha']}:{path}")


def whole_files(files: dict[str, str]) -> str:
    """A full_file reply as a model writes one: a line of prose, then each file's path and its content in a
    fenced block (the README's own fenced examples stay inside: the parser nests fences that name a language)."""
    lang = {".py": "python", ".md": "markdown", ".yaml": "yaml"}
    parts = ["Here are the complete new contents of the files this change touches.\n"]
    for path, text in files.items():
        assert text.endswith("\n"), path
        parts.append(f"\n{path}\n```{lang.get(Path(path).suffix, '')}\n{text}```\n")
    return "".join(parts)


def shrinks_most_of_a_file(repo: Path, commit: dict[str, Any]) -> bool:
    """Whether the commit cuts a file of 10+ lines by more than 60 %: the whole-file guard refuses that
    unless the phase allows it (tomli's "Improve/add license headers" replaces 21-line licence texts
    by 3-line SPDX headers, shrinking the 28-line _types.py to 10 lines)."""
    parent = git(repo, "rev-parse", f"{commit['bundle_sha']}^").strip()
    for f in commit["files"]:
        if f["status"] != "M":
            continue
        before = git(repo, "show", f"{parent}:{f['path']}").count("\n")
        after = real_file(repo, commit, f["path"]).count("\n")
        if before >= 10 and after < 0.4 * before:
            return True
    return False


def make_project(root: Path) -> Path:
    """The user's repository: tomli at the base commit, with its own .venv holding an editable install."""
    project = root / PROJECT
    git(root, "clone", "-q", "--branch", MANIFEST["branch"], str(DATA / MANIFEST["bundle"]), str(project))
    git(project, "reset", "-q", "--hard", MANIFEST["base_tag"])  # main at the base; origin/main is upstream's result
    git(project, "config", "user.name", "Replay Tests")
    git(project, "config", "user.email", "replay@autopack.invalid")
    git(project, "config", "commit.gpgsign", "false")
    # The project's own virtual environment, as `python -m venv .venv && .venv/bin/pip install -e .` makes
    # it, built offline: no pip, and the .pth file an editable install writes (the checkout's src/ path).
    # tomli needs only pytest to test, and this machine is offline, so a second .pth line lends pytest
    # from autopack's own environment (its site-packages, after the checkout's src/).
    venv = project / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "__editable__.tomli.pth").write_text(
        f"{project / 'src'}\n{sysconfig.get_paths()['purelib']}\n", encoding="utf-8"
    )
    with (project / ".git" / "info" / "exclude").open("a", encoding="utf-8") as exclude:
        exclude.write(".venv/\n")
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    return project


def make_plan(root: Path, project: Path) -> Path:
    phases = []
    for pid, commit in zip(PHASE_IDS, COMMITS, strict=True):
        phase: dict[str, Any] = {
            "id": pid,
            "name": commit["subject"],
            "description": commit["message"],
            "scope": [f["path"] for f in commit["files"]],
            "checks": [CHECK],
            "builder_mode": "full_file",
            "depends_on": [phases[-1]["id"]] if phases else [],
        }
        if shrinks_most_of_a_file(project, commit):
            phase["allow_mass_deletion"] = True
        phases.append(phase)
    plan = {
        "project": PROJECT,
        "goal": "Replay tomli's commits e4da05c..794c8e5: a friendlier load() error, licence headers, safe parse_float.",
        "allowed_paths": ["src/", "tests/", "README.md", ".pre-commit-config.yaml", "LICENSE-HEADER"],
        "phases": phases,
    }
    return _dump(root / "plan.yaml", plan)


def make_script(root: Path, project: Path) -> Path:
    entries = []
    for pid, commit in zip(PHASE_IDS, COMMITS, strict=True):
        files = {f["path"]: real_file(project, commit, f["path"]) for f in commit["files"] if f["status"] != "D"}
        assert len(files) == len(commit["files"]), "a replayed commit deletes a file: not expressible as whole files"
        if pid == WRONG_PHASE:
            assert files[WRONG_FILE].count(RIGHT_RETURN) == 1
            wrong = {**files, WRONG_FILE: files[WRONG_FILE].replace(RIGHT_RETURN, WRONG_RETURN)}
            entries.append(builder(pid, whole_files(wrong), label=f"builder {pid}: parse_float left unchecked"))
            entries.append(builder(pid, whole_files(files), retry=True))
        else:
            entries.append(builder(pid, whole_files(files)))
    approve = auditor({"approved": True, "issues": [], "summary": "matches the described change"}, repeat=True)
    # After the retried phase succeeds, a prevention rule is drawn; the Planner words it.
    rule = {
        "label": "planner words a rule",
        "match": r"ROLE: planner[\s\S]*then a later attempt fixed it",
        "repeat": True,
        "text": json.dumps(
            {"rule": "A function that builds a checking wrapper must return the wrapper, not what it wraps."}
        ),
    }
    return _dump(root / "script.yaml", {"mode": "match", "responses": [*entries, approve, rule]})


def autopack(root: Path, *args: str) -> CliResult:
    proc = subprocess.run([*AUTOPACK, *args], cwd=root, env=cli_env(RUN_ENV), capture_output=True, timeout=300)
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


@dataclass
class Replay:
    root: Path
    project: Path
    result: CliResult
    status: dict[str, Any]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    root = tmp_path_factory.mktemp("replay")
    project = make_project(root)
    plan, script = make_plan(root, project), make_script(root, project)
    home = root / "home"
    result = autopack(
        root,
        "run",
        "--run-id",
        RUN_ID,
        "--plan",
        str(plan),
        "--project-dir",
        str(project),
        "--home",
        str(home),
        "--script",
        str(script),
        "--record",
        str(root / "rec"),
    )
    status = autopack(root, "status", "--run-id", RUN_ID, "--home", str(home), "--json")
    assert status.returncode == 0, status.output
    return Replay(root, project, result, json.loads(status.stdout))


def test_every_phase_completes_and_only_the_wrong_answer_is_retried(replay: Replay) -> None:
    assert replay.result.returncode == 0, replay.result.output
    assert replay.status["status"] == "COMPLETE"
    assert [(p["id"], p["state"]) for p in replay.status["phases"]] == [(pid, "COMPLETE") for pid in PHASE_IDS]
    for p in replay.status["phases"]:
        outcomes = [(a["outcome"], a["error_category"]) for a in p["attempts"]]
        expected = [("failed", "ci_fail"), ("approved", None)] if p["id"] == WRONG_PHASE else [("approved", None)]
        assert outcomes == expected, p["id"]


def test_the_wrong_answer_was_caught_by_the_projects_own_test(replay: Replay) -> None:
    prompts = []
    for line in (replay.root / "rec" / "calls.jsonl").read_text(encoding="utf-8").splitlines():
        request = json.loads(line)["request"]
        if request["system"].startswith("ROLE: builder"):
            prompts.append("\n".join([request["system"], *(m["content"] for m in request["messages"])]))
    retry = [p for p in prompts if f"PHASE: {WRONG_PHASE}\n" in p and "The previous attempt failed" in p]
    assert len(retry) == 1
    assert "test_invalid_parse_float" in retry[0]  # tomli's test, named in the feedback


def test_each_phase_is_one_commit_whose_tree_is_the_real_commits_tree(replay: Replay) -> None:
    shas = git(replay.project, "rev-list", "--reverse", f"{MANIFEST['base_tag']}..autopack/{RUN_ID}").split()
    assert len(shas) == len(COMMITS)
    for sha, pid, commit in zip(shas, PHASE_IDS, COMMITS, strict=True):
        message = git(replay.project, "show", "-s", "--format=%B", sha)
        assert message.startswith(f"autopack({pid}): ") and f"Autopack-Phase: {pid}\n" in message
        assert git(replay.project, "rev-parse", f"{sha}^{{tree}}").strip() == commit["tree"], pid
    # ... so the run branch holds exactly upstream's result, file for file
    assert git(replay.project, "diff", "--stat", f"autopack/{RUN_ID}", "origin/main") == ""
    assert git(replay.project, "rev-parse", f"autopack/{RUN_ID}^{{tree}}").strip() == COMMITS[-1]["tree"]


def test_the_checks_ran_with_the_projects_venv(replay: Replay) -> None:
    python = replay.project / ".venv" / "bin" / "python"
    assert f"checks run with {python} (the project's .venv)" in replay.result.stdout


def test_the_checks_imported_the_worktrees_code_not_the_editable_install(replay: Replay) -> None:
    # The user's checkout never moved: it is still at the base commit, and the project's .venv imports
    # tomli from it.
    assert git(replay.project, "rev-parse", "HEAD").strip() == BASE["bundle_sha"]
    assert git(replay.project, "status", "--porcelain", "--untracked-files=all") == ""
    python = replay.project / ".venv" / "bin" / "python"
    env = cli_env({**RUN_ENV, "PYTHONPATH": None, "VIRTUAL_ENV": None})
    where = subprocess.run(
        [str(python), "-c", "import tomli; print(tomli.__file__)"],
        cwd=replay.root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(replay.project / "src" / "tomli" / "__init__.py")
    # The final tests, run by that interpreter on that import, fail: the tests the replayed commits add
    # need their code. The run's checks passed them, so they imported the worktree's tomli.
    final = replay.root / "final"
    final.mkdir()
    archive = subprocess.run(
        ["git", "archive", f"autopack/{RUN_ID}"], cwd=replay.project, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(final)], input=archive.stdout, check=True)
    against_base = subprocess.run([str(python), *CHECK.split()[1:]], cwd=final, env=env, capture_output=True, text=True)
    failed = set(re.findall(r"^FAILED (\S+)", against_base.stdout, re.MULTILINE))
    assert against_base.returncode == 1 and failed == NEW_TESTS, against_base.stdout[-3000:]
