"""Doctor execute_fix never reaches outside the workspace through a symlink, not even one an earlier
command of the same fix made. Every test runs the commands for real, with real symlinks to a real
directory next to the workspace, and checks that directory is untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autopack.config import DoctorSettings
from autopack.recovery.execute_fix import check_command, run_fix
from conftest import MakeRepo, git

ON = DoctorSettings(allow_execute_fix_global=True, allowed_fix_types=["git", "file"])

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the escapes use POSIX symlinks and GNU-style cp/mv/rm")


@pytest.fixture
def ws(git_repo: MakeRepo) -> Path:
    """A real git repository with a vendored tree, for commands that run."""
    return git_repo(files={"file.py": "VALUE = 1\n", "vendor/lib/mod.py": "X = 1\n"})


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the workspace, holding what no fix may delete, change, read or add to."""
    root = tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    (root / "file").write_text("precious\n", encoding="utf-8")
    (root / "sub" / "deep").write_text("precious too\n", encoding="utf-8")
    return root


def contents(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its text ('<dir>' for a directory), to compare before and after."""
    return {
        str(p.relative_to(root)): "<dir>" if p.is_dir() else p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
    }


BEFORE = {"file": "precious\n", "sub": "<dir>", "sub/deep": "precious too\n"}


# --- a symlink made earlier in the same fix --------------------------------------------------------


def test_the_batch_copying_a_symlink_out_then_deleting_and_creating_through_it_touches_nothing_outside(
    ws: Path, outside: Path
) -> None:
    (ws / "vendor" / "shared").symlink_to(outside, target_is_directory=True)
    outcomes = run_fix(["cp -r vendor v2", "rm -f v2/shared/file", "mkdir -p v2/shared/x"], ws, ON)
    assert contents(outside) == BEFORE
    assert not outcomes[0].allowed and "the symlink vendor/shared" in outcomes[0].reason
    assert all(o.exit_code is None for o in outcomes) and not (ws / "v2").exists()


def test_a_symlink_out_restored_by_git_checkout_is_not_followed_by_the_next_command(ws: Path, outside: Path) -> None:
    (ws / "out").symlink_to(outside, target_is_directory=True)
    git(ws, "add", "out")
    git(ws, "commit", "-q", "-m", "a committed symlink leading out")
    (ws / "out").unlink()  # gone when the fix is first checked, so 'out/file' looks like a plain path
    outcomes = run_fix(["git checkout -- out", "rm -f out/file"], ws, ON)
    assert contents(outside) == BEFORE
    assert outcomes[0].succeeded and (ws / "out").is_symlink()
    assert not outcomes[1].allowed and outcomes[1].exit_code is None
    assert "goes through the symlink out which leads outside the workspace" in outcomes[1].reason
    assert "checked again right before running: after command 1 had run" in outcomes[1].reason


def test_the_commands_after_one_refused_at_its_turn_are_reported_not_run(ws: Path, outside: Path) -> None:
    (ws / "out").symlink_to(outside, target_is_directory=True)
    git(ws, "add", "out")
    git(ws, "commit", "-q", "-m", "a committed symlink leading out")
    (ws / "out").unlink()
    outcomes = run_fix(["git checkout -- out", "mkdir -p out/new", "mkdir inside"], ws, ON)
    assert not (outside / "new").exists() and not (ws / "inside").exists()
    assert outcomes[2].allowed and outcomes[2].exit_code is None
    assert outcomes[2].reason == (
        "not run: command 2 ('mkdir -p out/new') was refused when its turn came, after command 1 had run"
    )


# --- symlinks that cp and mv would carry -----------------------------------------------------------


def test_cp_r_refuses_a_symlink_out_anywhere_in_the_tree_naming_it(ws: Path, outside: Path) -> None:
    (ws / "vendor" / "lib" / "shared").symlink_to(outside, target_is_directory=True)
    [outcome] = run_fix(["cp -r vendor v2"], ws, ON)
    assert not outcome.allowed and outcome.exit_code is None
    assert f"would copy the symlink vendor/lib/shared (-> {outside}), which leads outside the workspace" in (
        outcome.reason
    )
    assert not (ws / "v2").exists()


def test_cp_r_of_a_directory_named_through_a_symlink_with_a_trailing_slash_walks_the_tree_it_points_to(
    ws: Path, outside: Path
) -> None:
    (ws / "vendor" / "shared").symlink_to(outside, target_is_directory=True)
    (ws / "alias").symlink_to("vendor", target_is_directory=True)
    [outcome] = run_fix(["cp -R alias/ v2"], ws, ON)
    assert not outcome.allowed and "the symlink alias/shared" in outcome.reason
    assert not (ws / "v2").exists()


def test_mv_refuses_a_tree_holding_a_symlink_out(ws: Path, outside: Path) -> None:
    (ws / "vendor" / "shared").symlink_to(outside, target_is_directory=True)
    [outcome] = run_fix(["mv vendor v2"], ws, ON)
    assert not outcome.allowed and "would move the symlink vendor/shared" in outcome.reason
    assert (ws / "vendor" / "shared").is_symlink() and not (ws / "v2").exists()


def test_cp_r_refuses_a_relative_symlink_that_leads_out_only_where_the_copy_would_land(ws: Path, outside: Path) -> None:
    # vendor/lib/up -> ../../outside is ws/outside here, but two levels higher from v2/up.
    (ws / "vendor" / "lib" / "up").symlink_to(Path("..", "..", outside.name), target_is_directory=True)
    assert check_command("rm -f vendor/lib/up/file", ws, ON).allowed  # inside where it is
    [outcome] = run_fix(["cp -r vendor/lib v2"], ws, ON)
    assert not outcome.allowed
    assert "would copy the symlink vendor/lib/up (-> ../../outside) to v2/up, where its relative target" in (
        outcome.reason
    )
    assert not (ws / "v2").exists() and contents(outside) == BEFORE


def test_a_symlink_loop_in_a_copied_tree_is_refused(ws: Path) -> None:
    (ws / "vendor" / "loop").symlink_to("loop")
    check = check_command("cp -r vendor v2", ws, ON)
    assert not check.allowed and "symlink loop" in check.reason


def test_cp_r_copies_a_tree_whose_symlinks_stay_inside(ws: Path) -> None:
    (ws / "vendor" / "current").symlink_to("lib", target_is_directory=True)
    [outcome] = run_fix(["cp -r vendor v2"], ws, ON)
    assert outcome.succeeded, outcome.reason
    assert (ws / "v2" / "current").is_symlink() and (ws / "v2" / "current" / "mod.py").read_text() == "X = 1\n"


# --- what cp and mv write: sources and destinations that are symlinks ------------------------------


def test_cp_of_a_symlink_source_that_resolves_outside_is_refused(ws: Path, outside: Path) -> None:
    # Without -r, cp copies what the link points to: outside data would be read into the workspace.
    (ws / "secret").symlink_to(outside / "file")
    [outcome] = run_fix(["cp secret copy.txt"], ws, ON)
    assert not outcome.allowed and "outside the workspace" in outcome.reason
    assert not (ws / "copy.txt").exists()


def test_cp_onto_an_existing_symlink_to_a_file_outside_is_refused(ws: Path, outside: Path) -> None:
    (ws / "target.py").symlink_to(outside / "file")
    [outcome] = run_fix(["cp -f file.py target.py"], ws, ON)
    assert not outcome.allowed and "symlink target.py which leads outside the workspace" in outcome.reason
    assert contents(outside) == BEFORE


def test_cp_into_a_directory_refuses_to_write_through_a_same_named_symlink_out(ws: Path, outside: Path) -> None:
    (ws / "dest").mkdir()
    (ws / "dest" / "file.py").symlink_to(outside / "file")
    [outcome] = run_fix(["cp file.py dest"], ws, ON)
    assert not outcome.allowed
    assert "would write file.py to dest/file.py, which already exists and leads outside the workspace" in (
        outcome.reason
    )
    assert contents(outside) == BEFORE


def test_cp_r_refuses_to_write_through_a_symlink_out_in_the_existing_destination_tree(ws: Path, outside: Path) -> None:
    # GNU cp -r writes a file's copy through an existing symlink of the same name in the destination.
    (ws / "backup" / "vendor" / "lib").mkdir(parents=True)
    (ws / "backup" / "vendor" / "lib" / "mod.py").symlink_to(outside / "file")
    [outcome] = run_fix(["cp -r vendor backup"], ws, ON)
    assert not outcome.allowed
    assert "would write vendor/lib/mod.py to backup/vendor/lib/mod.py, which already exists and leads outside" in (
        outcome.reason
    )
    assert contents(outside) == BEFORE


def test_mv_into_a_symlink_to_a_directory_outside_is_refused(ws: Path, outside: Path) -> None:
    (ws / "drop").symlink_to(outside, target_is_directory=True)
    [outcome] = run_fix(["mv file.py drop"], ws, ON)
    assert not outcome.allowed and "symlink drop which leads outside the workspace" in outcome.reason
    assert (ws / "file.py").exists() and contents(outside) == BEFORE


def test_mkdir_p_through_an_existing_symlink_out_is_refused(ws: Path, outside: Path) -> None:
    (ws / "build").symlink_to(outside, target_is_directory=True)
    [outcome] = run_fix(["mkdir -p build/sub/new"], ws, ON)
    assert not outcome.allowed and "symlink build which leads outside the workspace" in outcome.reason
    assert contents(outside) == BEFORE


@pytest.mark.parametrize(
    "command", ["cp -l file.py hard.py", "cp --link file.py hard.py", "cp -rl vendor v2", "ln file.py hard.py"]
)
def test_no_whitelisted_command_makes_a_hard_link(ws: Path, command: str) -> None:
    [outcome] = run_fix([command], ws, ON)
    assert not outcome.allowed and outcome.exit_code is None
    assert not (ws / "hard.py").exists() and not (ws / "v2").exists()
