"""`autopack docs consolidate`: loose documents are sorted into archives and consolidated files,
originals move to superseded/, nothing is ever lost, and a second run changes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autopack.childenv import subprocess_env
from autopack.cli.docs import docs_app
from autopack.docs.classify import attribute, classify
from autopack.docs.consolidate import ConsolidationError, apply_consolidation, plan_consolidation

REPO = Path(__file__).resolve().parent.parent

# A documentation tree like the seed's: framework notes, two projects' notes, a duplicate, a file
# that is not UTF-8, and places that must never be touched (README.md, docs/, superseded/, .git/).
FILES: dict[str, str] = {
    "README.md": "# Autopack\n\nThe front door stays where it is.\n",
    "DEBUG_LOG_2025-11.md": "# Debug log\n\n## Error: UnicodeEncodeError on Windows\n\nFix: PYTHONUTF8=1 for subprocesses.\n",
    "IMPLEMENTATION_PLAN.md": "# Implementation plan\n\n1. Doctor execute_fix\n2. Learned rules\n",
    "GPT_RESPONSE4.md": "# GPT response 4\n\nOn re-planning: use message similarity.\n\n```python\nunclosed = True\n",
    "Notes on caching.md": "Some loose thoughts on prompt caching.\r\nSecond line with CRLF.\r\n",
    "FILE_ORGANIZER_FIX_NOTES.md": "# file-organizer-app-v1: fixes\n\nThe move step failed on Windows paths.\n",
    "archive/AUTONOMOUS_EXECUTOR_README.md": "# Autonomous executor\n\n## Usage\n\nRun it with a run id.\n",
    "archive/notes/BENCHMARK_ANALYSIS.md": "# Benchmark analysis\n\nglm-4.6 vs claude-sonnet-4-5: cost per phase.\n",
    "archive/ARCHIVE_INDEX.md": "# Old hand-written index\n\n- IMPLEMENTATION_PLAN.md\n",
    "archive/debug/COPY_OF_DEBUG_LOG.md": "# Debug log\n\n## Error: UnicodeEncodeError on Windows\n\nFix: PYTHONUTF8=1 for subprocesses.\n",
    "archive/shop_notes.md": "# Notes\n\nshop-v2 checkout is slow.\nshop-v2 cart loses items.\nshop-v2 needs a cache.\n",
    "archive/superseded/OLD.md": "# Already superseded: never touched\n",
    ".autonomous_runs/file-organizer-app-v1/ROADMAP.md": "# Roadmap\n\n- v1.1: undo\n",
    ".autonomous_runs/file-organizer-app-v1/archive/INCIDENT_2025-11-20.md": "# Incident\n\nLost a folder; restored.\n",
    ".autonomous_runs/shop-v2/NOTES.md": "# Shop notes\n\nPayment provider guide.\n",
    "docs/user_guide.md": "# Not scanned: docs/ is the user's documentation\n",
}
NOT_UTF8 = "LEGACY_LATIN1.md"
NOT_UTF8_BYTES = "# Caf\xe9 notes\n\nWritten in Latin-1.\n".encode("latin-1")


def build(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    (root / NOT_UTF8).write_bytes(NOT_UTF8_BYTES)
    (root / ".git").mkdir()
    (root / ".git" / "DEBUG.md").write_text("# inside .git: never touched\n", encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


FO = ".autonomous_runs/file-organizer-app-v1/archive"
SHOP = ".autonomous_runs/shop-v2/archive"
# Inputs the command must consolidate (README.md stays, docs/ and superseded/ are not scanned).
INPUTS = [
    p
    for p in FILES
    if p != "README.md" and not p.startswith("docs/") and "/superseded/" not in p and not p.startswith(".git/")
]


def consolidated(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("CONSOLIDATED_*.md"))
        if "superseded" not in p.parts
    }


def run(root: Path) -> None:
    apply_consolidation(plan_consolidation(root), today=date(2026, 11, 26))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build(tmp_path)


def test_framework_documents_are_consolidated_by_kind_into_archive(tree: Path) -> None:
    run(tree)
    files = consolidated(tree)
    assert "Fix: PYTHONUTF8=1 for subprocesses." in files["archive/CONSOLIDATED_DEBUG.md"]
    strategy = files["archive/CONSOLIDATED_STRATEGY.md"]
    assert "On re-planning: use message similarity." in strategy and "1. Doctor execute_fix" in strategy
    assert "glm-4.6 vs claude-sonnet-4-5" in files["archive/CONSOLIDATED_RESEARCH.md"]
    reference = files["archive/CONSOLIDATED_REFERENCE.md"]
    assert "Run it with a run id." in reference
    assert "Some loose thoughts on prompt caching." in reference  # no keyword: the reference default
    assert "# Old hand-written index" in reference  # a hand-made index is material too, never overwritten


def test_project_documents_go_to_their_project_archive(tree: Path) -> None:
    run(tree)
    files = consolidated(tree)
    assert "Lost a folder; restored." in files[f"{FO}/CONSOLIDATED_DEBUG.md"]  # by location
    assert "The move step failed on Windows paths." in files[f"{FO}/CONSOLIDATED_DEBUG.md"]  # named in its title
    assert "- v1.1: undo" in files[f"{FO}/CONSOLIDATED_STRATEGY.md"]
    assert "shop-v2 cart loses items." in files[f"{SHOP}/CONSOLIDATED_REFERENCE.md"]  # named many times
    framework = "".join(v for k, v in files.items() if k.startswith("archive/"))
    assert "Windows paths" not in framework and "cart loses items" not in framework


def test_originals_move_to_superseded_keeping_their_relative_names(tree: Path) -> None:
    run(tree)
    assert (tree / "archive/superseded/GPT_RESPONSE4.md").read_text(encoding="utf-8") == FILES["GPT_RESPONSE4.md"]
    assert (tree / "archive/superseded/notes/BENCHMARK_ANALYSIS.md").is_file()
    assert (tree / f"{FO}/superseded/ROADMAP.md").is_file()
    assert (tree / f"{SHOP}/superseded/shop_notes.md").is_file()
    for rel in INPUTS:
        if rel != "archive/ARCHIVE_INDEX.md":  # the old index's place is taken by the generated one
            assert not (tree / rel).exists(), rel
    assert (tree / "archive/superseded/ARCHIVE_INDEX.md").read_text(encoding="utf-8").startswith("# Old hand-written")
    assert not (tree / "archive/notes").exists()  # folders the moves emptied are removed
    assert (tree / "README.md").read_text(encoding="utf-8") == FILES["README.md"]
    assert (tree / "docs/user_guide.md").is_file() and (tree / ".git/DEBUG.md").is_file()
    assert (tree / "archive/superseded/OLD.md").read_text(encoding="utf-8") == FILES["archive/superseded/OLD.md"]


def test_every_section_links_to_its_original_under_superseded(tree: Path) -> None:
    run(tree)
    for rel, text in consolidated(tree).items():
        links = re.findall(r"original kept at \[[^\]]+\]\(([^)]+)\)", text)
        assert links, rel
        for link in links:
            assert (tree / rel).parent.joinpath(link.replace("%20", " ")).is_file(), (rel, link)


def test_exact_duplicates_are_consolidated_once_and_both_originals_kept(tree: Path) -> None:
    run(tree)
    debug = consolidated(tree)["archive/CONSOLIDATED_DEBUG.md"]
    assert debug.count("Fix: PYTHONUTF8=1 for subprocesses.") == 1
    assert "Identical copy of [DEBUG_LOG_2025-11.md](#debug-log-2025-11): `archive/debug/COPY_OF_DEBUG_LOG.md`" in debug
    assert (tree / "archive/superseded/DEBUG_LOG_2025-11.md").is_file()
    assert (tree / "archive/superseded/debug/COPY_OF_DEBUG_LOG.md").is_file()


def test_a_file_that_is_not_utf8_is_reported_and_left_in_place(tree: Path) -> None:
    plan = plan_consolidation(tree)
    assert [(s.path.name, "not UTF-8" in s.reason) for s in plan.skipped] == [(NOT_UTF8, True)]
    apply_consolidation(plan)
    assert (tree / NOT_UTF8).read_bytes() == NOT_UTF8_BYTES


def test_index_lists_every_consolidated_file_its_sections_and_each_project_archive(tree: Path) -> None:
    run(tree)
    index = (tree / "archive/ARCHIVE_INDEX.md").read_text(encoding="utf-8")
    for name in ("CONSOLIDATED_DEBUG", "CONSOLIDATED_STRATEGY", "CONSOLIDATED_RESEARCH", "CONSOLIDATED_REFERENCE"):
        assert f"### [{name}.md]({name}.md)" in index
    assert "- [GPT RESPONSE4](CONSOLIDATED_STRATEGY.md#gpt-response4) from `GPT_RESPONSE4.md`" in index
    assert "identical copy `archive/debug/COPY_OF_DEBUG_LOG.md`" in index
    assert "## Project archive: file-organizer-app-v1" in index and "## Project archive: shop-v2" in index
    assert f"(../{FO}/CONSOLIDATED_DEBUG.md#incident-2025-11-20)" in index


def test_second_run_changes_nothing_byte_for_byte(tree: Path) -> None:
    run(tree)
    before = snapshot(tree)
    plan = plan_consolidation(tree)
    assert plan.actions == [] and plan.empty
    report = apply_consolidation(plan, today=date(2027, 1, 1))
    assert not report.changed
    assert snapshot(tree) == before


def test_no_line_of_any_input_is_lost(tree: Path) -> None:
    inputs = {rel: (tree / rel).read_bytes() for rel in INPUTS}
    run(tree)
    lines_in_consolidated = {ln for text in consolidated(tree).values() for ln in text.splitlines()}
    superseded = [p.read_bytes() for p in tree.rglob("*") if p.is_file() and "superseded" in p.parts]
    for rel, data in inputs.items():
        for line in data.decode("utf-8").splitlines():
            assert line in lines_in_consolidated, (rel, line)
        assert data in superseded, rel  # and the original, byte for byte
    assert (tree / NOT_UTF8).read_bytes() == NOT_UTF8_BYTES


def test_dry_run_shows_the_plan_and_changes_nothing(tree: Path) -> None:
    before = snapshot(tree)
    app = typer.Typer()
    app.add_typer(docs_app, name="docs")
    result = CliRunner().invoke(app, ["docs", "consolidate", "--dry-run", "--root", str(tree), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["source"]: r for r in data["actions"]}
    assert rows["GPT_RESPONSE4.md"]["destination"] == "archive/superseded/GPT_RESPONSE4.md"
    assert rows["GPT_RESPONSE4.md"]["consolidated"] == "archive/CONSOLIDATED_STRATEGY.md"
    assert "strategy" in rows["GPT_RESPONSE4.md"]["reason"]
    assert rows["archive/debug/COPY_OF_DEBUG_LOG.md"]["reason"].startswith("duplicate: identical to")
    assert set(rows) == set(INPUTS)
    table = CliRunner().invoke(app, ["docs", "consolidate", "--dry-run", "--root", str(tree)])
    assert table.exit_code == 0 and "consolidation plan" in table.stdout and NOT_UTF8 in table.stderr
    assert snapshot(tree) == before


def test_a_document_added_later_is_appended_and_earlier_sections_stay(tree: Path) -> None:
    run(tree)
    debug_before = consolidated(tree)["archive/CONSOLIDATED_DEBUG.md"]
    (tree / "CRASH_NOTES.md").write_text("# Crash\n\nSegfault in the gate runner.\n", encoding="utf-8")
    run(tree)
    debug_after = consolidated(tree)["archive/CONSOLIDATED_DEBUG.md"]
    assert debug_after.startswith(debug_before.rstrip("\n"))
    assert "Segfault in the gate runner." in debug_after
    assert "CONSOLIDATED_DEBUG.md#crash-notes" in (tree / "archive/ARCHIVE_INDEX.md").read_text(encoding="utf-8")


def test_content_seen_before_is_recognised_as_a_duplicate(tree: Path) -> None:
    run(tree)
    (tree / "PLAN_AGAIN.md").write_text(FILES["IMPLEMENTATION_PLAN.md"], encoding="utf-8")
    plan = plan_consolidation(tree)
    assert [(a.kind, a.duplicate_of) for a in plan.actions] == [("duplicate", "IMPLEMENTATION_PLAN.md")]
    apply_consolidation(plan)
    strategy = consolidated(tree)["archive/CONSOLIDATED_STRATEGY.md"]
    assert strategy.count("1. Doctor execute_fix") == 1 and "`PLAN_AGAIN.md`" in strategy
    assert (tree / "archive/superseded/PLAN_AGAIN.md").is_file()


def test_a_run_interrupted_after_writing_finishes_the_move_without_a_second_copy(tree: Path) -> None:
    run(tree)
    # the state a crash between "write sections" and "move originals" leaves behind
    (tree / "archive/superseded/IMPLEMENTATION_PLAN.md").rename(tree / "IMPLEMENTATION_PLAN.md")
    plan = plan_consolidation(tree)
    assert [a.kind for a in plan.actions] == ["resume"]
    before = consolidated(tree)
    apply_consolidation(plan)
    assert consolidated(tree) == before
    assert (tree / "archive/superseded/IMPLEMENTATION_PLAN.md").is_file() and not (
        tree / "IMPLEMENTATION_PLAN.md"
    ).exists()


def test_superseded_name_collisions_get_a_suffix(tree: Path) -> None:
    run(tree)
    (tree / "GPT_RESPONSE4.md").write_text("# GPT response 4, second take\n", encoding="utf-8")
    run(tree)
    assert (tree / "archive/superseded/GPT_RESPONSE4-2.md").read_text(encoding="utf-8").endswith("second take\n")
    assert "superseded/GPT_RESPONSE4-2.md" in consolidated(tree)["archive/CONSOLIDATED_STRATEGY.md"]


def test_an_unclosed_code_fence_is_closed_so_it_cannot_swallow_the_next_section(tree: Path) -> None:
    run(tree)
    strategy = consolidated(tree)["archive/CONSOLIDATED_STRATEGY.md"]
    gpt = strategy[strategy.index("unclosed = True") : strategy.index("## IMPLEMENTATION PLAN")]
    assert "unclosed = True\n```\n" in gpt


def test_a_file_edited_after_planning_stops_before_any_change(tree: Path) -> None:
    plan = plan_consolidation(tree)
    (tree / "GPT_RESPONSE4.md").write_text("edited meanwhile\n", encoding="utf-8")
    before = snapshot(tree)
    with pytest.raises(ConsolidationError, match="changed since the plan was made"):
        apply_consolidation(plan)
    assert snapshot(tree) == before


def test_a_hand_made_consolidated_file_that_cannot_be_read_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive/CONSOLIDATED_DEBUG.md").write_bytes(b"# old \xff notes\n")
    (tmp_path / "BUG_NOTES.md").write_text("# Bug\n", encoding="utf-8")
    plan = plan_consolidation(tmp_path)
    assert plan.actions == []
    assert {s.path.name for s in plan.skipped} == {"CONSOLIDATED_DEBUG.md", "BUG_NOTES.md"}
    apply_consolidation(plan)
    assert (tmp_path / "archive/CONSOLIDATED_DEBUG.md").read_bytes() == b"# old \xff notes\n"
    assert (tmp_path / "BUG_NOTES.md").is_file()


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("INCIDENT_REPORT.md", "", "debug"),
        ("HOW_TO_DEPLOY.md", "", "reference"),
        ("CLAUDE_RESPONSE5_TO_GPT.md", "", "strategy"),
        ("PHASE_2_COMPLETE.md", "", "status"),
        ("notes.md", "# Notes\n\n## Troubleshooting\n## Known errors\n", "debug"),
        ("notes.md", "just words\n", "reference"),
        ("FIXTURES.md", "", "reference"),  # FIX inside another word is not a fix
    ],
)
def test_kind_comes_from_name_and_headings_with_reference_as_default(name: str, text: str, kind: str) -> None:
    assert classify(name, text)[0] == kind


def test_a_document_naming_two_projects_equally_stays_with_the_framework() -> None:
    text = "# alpha and beta\n\nalpha talks to beta.\n"
    project, reason = attribute("NOTES.md", text, ["alpha", "beta"])
    assert project is None and "several projects" in reason
    assert (
        attribute("NOTES.md", "# About file_organizer_app_v1\n", ["file-organizer-app-v1"])[0]
        == "file-organizer-app-v1"
    )


def test_the_script_wrapper_runs_as_a_real_subprocess(tree: Path) -> None:
    script = REPO / "scripts" / "consolidate_docs.py"
    dry = subprocess.run(
        [sys.executable, str(script), "--dry-run", "--root", str(tree), "--json"],
        capture_output=True, text=True, encoding="utf-8", env=subprocess_env(), timeout=60, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True
    assert (tree / "GPT_RESPONSE4.md").is_file()

    real = subprocess.run(
        [sys.executable, str(script), "--root", str(tree)],
        capture_output=True, text=True, encoding="utf-8", env=subprocess_env(), timeout=60, check=False,
    )  # fmt: skip
    assert real.returncode == 0, real.stderr
    assert "moved GPT_RESPONSE4.md -> archive/superseded/GPT_RESPONSE4.md" in real.stdout
    assert (tree / "archive/ARCHIVE_INDEX.md").is_file()
