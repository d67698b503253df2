"""``autopack docs consolidate``: sort loose Markdown documents into the framework archive or a
project's archive, fold each into a consolidated file by kind, and keep the originals.

What is scanned: ``*.md`` at the root (except README.md and the usual community files), under
``archive/``, and under each ``.autonomous_runs/<project>/`` (its top level and its ``archive/``);
never ``superseded/``, dot-folders, run folders, or files this command wrote. Nothing is ever lost:
a source's full text goes into a consolidated file and the source itself moves to ``superseded/``
under its destination archive; a file that is not UTF-8 is reported and left where it is. Running
it again changes nothing, because sources already consolidated are recognised by content hash.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import AutopackError
from .archive import (
    ARCHIVE,
    INDEX_NAME,
    SUPERSEDED,
    archive_dir,
    atomic_write,
    build_index,
    candidates,
    existing_consolidated,
    first_line,
    free_path,
    posix_rel,
    project_names,
    prune_empty,
    relative_name,
)
from .classify import BY_KEY, CATEGORIES, attribute, classify
from .markdown import (
    Duplicate,
    ParsedFile,
    Section,
    consolidated_header,
    duplicate_block,
    is_generated,
    parse_consolidated,
    section_block,
)


class ConsolidationError(AutopackError):
    """The documents changed between planning and applying, or the root is not a folder."""


@dataclass(frozen=True)
class DocAction:
    """What happens to one source document."""

    source: Path
    superseded: Path  # where the original moves
    consolidated: Path | None  # the consolidated file that gains its section or note
    kind: str  # "consolidate" | "duplicate" | "resume" (text already consolidated; finish the move)
    project: str | None
    category: str | None
    reason: str
    sha256: str
    title: str = ""
    duplicate_of: str | None = None  # original name of the section it duplicates


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass
class ConsolidationPlan:
    root: Path
    actions: list[DocAction] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    existing: dict[Path, ParsedFile] = field(default_factory=dict)  # consolidated files already there
    index_blocked: bool = False  # ARCHIVE_INDEX.md is someone else's file that cannot be moved aside
    index_stale: bool = False  # the index no longer matches the consolidated files (even with no actions)

    @property
    def index_path(self) -> Path:
        return self.root / ARCHIVE / INDEX_NAME

    @property
    def empty(self) -> bool:
        """Nothing to move, write or refresh: applying would change nothing."""
        return not self.actions and not self.index_stale

    def rel(self, path: Path | None) -> str:
        if path is None:
            return "-"
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def rows(self) -> list[dict[str, str]]:
        """The plan as table rows: source, destination, consolidated file, reason."""
        return [
            {
                "source": self.rel(a.source),
                "destination": self.rel(a.superseded),
                "consolidated": self.rel(a.consolidated),
                "reason": (f"{a.kind}: " if a.kind != "consolidate" else "") + a.reason,
            }
            for a in self.actions
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "actions": self.rows(),
            "skipped": [{"path": self.rel(s.path), "reason": s.reason} for s in self.skipped],
            "index_refresh": bool(self.actions or self.index_stale) and not self.index_blocked,
        }


@dataclass
class ConsolidationReport:
    plan: ConsolidationPlan
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)  # consolidated files created or appended to
    index: Path | None = None  # the index, when it was (re)written

    @property
    def changed(self) -> bool:
        return bool(self.moved or self.written or self.index)

    def to_dict(self) -> dict[str, Any]:
        rel = self.plan.rel
        return {
            **self.plan.to_dict(),
            "moved": [{"from": rel(a), "to": rel(b)} for a, b in self.moved],
            "written": [rel(p) for p in self.written],
            "index": rel(self.index) if self.index else None,
            "changed": self.changed,
        }


# planning -------------------------------------------------------------------------------------
def _title(rel: PurePosixPath) -> str:
    return " ".join(rel.stem.replace("_", " ").replace("-", " ").split()) or rel.name


def plan_consolidation(root: Path) -> ConsolidationPlan:
    """Decide, without changing anything, where each document goes and what gets written."""
    root = root.resolve()
    if not root.is_dir():
        raise ConsolidationError(f"{root} is not a folder; pass --root with the repository to tidy")
    projects = project_names(root)
    plan = ConsolidationPlan(root=root, existing=existing_consolidated(root, projects))
    known: dict[str, tuple[Path, Section]] = {}
    for path, parsed in plan.existing.items():
        for sec in parsed.sections:
            known.setdefault(sec.sha256, (path, sec))
    taken: set[Path] = set()
    primaries: dict[str, DocAction] = {}

    for path in candidates(root):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if path.is_symlink():
            plan.skipped.append(Skipped(path, "symbolic link: left in place"))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            plan.skipped.append(Skipped(path, f"cannot be read ({exc.strerror}): left in place"))
            continue
        if is_generated(first_line(data)):
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            plan.skipped.append(
                Skipped(path, f"not UTF-8 (byte {exc.start}): left in place; convert it to UTF-8 and run again")
            )
            continue
        sha = hashlib.sha256(data).hexdigest()
        project, owner_reason = attribute(rel.as_posix(), text, projects)
        dest = archive_dir(root, project)
        name = relative_name(rel)

        if sha in known:
            cons, sec = known[sha]
            recorded = (cons.parent / sec.superseded).resolve()
            if sec.original == rel.as_posix() and not recorded.exists() and recorded not in taken:
                taken.add(recorded)
                plan.actions.append(
                    DocAction(path, recorded, cons, "resume", project, None,
                              f"already consolidated in {plan.rel(cons)}; moving the original", sha, sec.title)
                )  # fmt: skip
                continue
            target = free_path(dest / SUPERSEDED / name, taken)
            plan.actions.append(
                DocAction(path, target, cons, "duplicate", project, None,
                          f"identical to `{sec.original}`, already in {plan.rel(cons)}", sha, sec.title, sec.original)
            )  # fmt: skip
            continue
        if sha in primaries:
            first = primaries[sha]
            target = free_path(dest / SUPERSEDED / name, taken)
            plan.actions.append(
                DocAction(path, target, first.consolidated, "duplicate", project, None,
                          f"identical to `{plan.rel(first.source)}`", sha, first.title, plan.rel(first.source))
            )  # fmt: skip
            continue
        category, kind_reason = classify(path.name, text)
        target = free_path(dest / SUPERSEDED / name, taken)
        action = DocAction(
            path, target, dest / BY_KEY[category].filename, "consolidate", project, category,
            f"{project or 'framework'} ({owner_reason}); {category} ({kind_reason})", sha,
            _title(rel),
        )  # fmt: skip
        primaries[sha] = action
        plan.actions.append(action)
    _drop_blocked(plan)
    if not plan.index_blocked:
        index = build_index(root)
        current = plan.index_path.read_text(encoding="utf-8", errors="replace") if plan.index_path.is_file() else None
        plan.index_stale = index is not None and index != current
    return plan


def _occupied_by_stranger(path: Path, plan: ConsolidationPlan) -> bool:
    """A file at an output path that autopack did not write and that does not move away first."""
    if not path.exists() or path in plan.existing:
        return False
    try:
        if is_generated(first_line(path.read_bytes())):
            return False
    except OSError:
        return True
    return all(a.source != path for a in plan.actions)


def _drop_blocked(plan: ConsolidationPlan) -> None:
    """Never write over a file we cannot move aside (e.g. a hand-made CONSOLIDATED_DEBUG.md that is
    not UTF-8): the documents bound for it stay where they are, with the reason."""
    plan.index_blocked = _occupied_by_stranger(plan.index_path, plan)
    blocked = {a.consolidated for a in plan.actions if a.consolidated and _occupied_by_stranger(a.consolidated, plan)}
    if not blocked:
        return
    keep = []
    for a in plan.actions:
        if a.consolidated in blocked:
            why = f"{plan.rel(a.consolidated)} exists, was not written by autopack and cannot be moved aside"
            plan.skipped.append(Skipped(a.source, f"{why}: left in place; rename that file and run again"))
        else:
            keep.append(a)
    plan.actions = keep


# applying -------------------------------------------------------------------------------------
def _move(src: Path, dst: Path, report: ConsolidationReport) -> None:
    if dst.exists() or dst.is_symlink():
        raise ConsolidationError(f"{dst} appeared while consolidating; nothing more was moved, run again")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dst))
    report.moved.append((src, dst))
    prune_empty(src.parent, report.plan.root)


def _verified_texts(plan: ConsolidationPlan) -> dict[Path, str]:
    """Each source's text, checked against the plan: a file edited since planning stops everything."""
    texts: dict[Path, str] = {}
    for a in plan.actions:
        try:
            data = a.source.read_bytes()
        except OSError as exc:
            raise ConsolidationError(f"{a.source} cannot be read any more ({exc.strerror}); run again") from None
        if hashlib.sha256(data).hexdigest() != a.sha256:
            raise ConsolidationError(f"{a.source} changed since the plan was made; nothing was changed, run again")
        if a.superseded.exists():
            raise ConsolidationError(f"{a.superseded} appeared since the plan was made; nothing was changed, run again")
        texts[a.source] = data.decode("utf-8")
    return texts


def _blocks_for(cons: Path, actions: list[DocAction], plan: ConsolidationPlan, texts: dict[Path, str], day: str) -> str:
    """The sections (then the duplicate notes) this run appends to one consolidated file."""
    sections = []
    for a in actions:
        if a.kind != "consolidate":
            continue
        sec = Section(a.sha256, plan.rel(a.source), posix_rel(a.superseded, cons.parent), a.title)
        sections.append(section_block(sec, plan.rel(a.source), a.reason, day, texts[a.source]))
    body = "\n".join(sections)
    notes = []
    dups = [a for a in actions if a.kind == "duplicate"]
    if dups:
        anchors = {s.original: s.anchor for s in parse_consolidated(_current(cons, plan) + "\n" + body).sections}
        for a in dups:
            dup = Duplicate(a.sha256, plan.rel(a.source), posix_rel(a.superseded, cons.parent), a.duplicate_of or "")
            notes.append(duplicate_block(dup, day, anchors.get(dup.of, "")))
    return "\n".join(part for part in (body, "\n".join(notes)) if part)


def _current(cons: Path, plan: ConsolidationPlan) -> str:
    if cons in plan.existing and cons.exists():
        return cons.read_text(encoding="utf-8")
    cat = next(c for c in CATEGORIES if c.filename == cons.name)
    return consolidated_header(cat.key, cat.title, cat.description)


def apply_consolidation(plan: ConsolidationPlan, today: date | None = None) -> ConsolidationReport:
    """Carry out ``plan``: write consolidated files, move originals to superseded/, refresh the index.

    Order keeps every line safe if the process dies midway: sections are written before their
    sources move (a re-run recognises those sources by hash and just finishes the move)."""
    day = (today or date.today()).isoformat()
    report = ConsolidationReport(plan)
    texts = _verified_texts(plan)
    index_path = plan.index_path
    outputs = {a.consolidated for a in plan.actions if a.consolidated} | {index_path}
    for a in plan.actions:  # a hand-made file sitting where we write moves aside first
        if a.source in outputs:
            _move(a.source, a.superseded, report)

    groups: dict[Path, list[DocAction]] = {}
    for a in plan.actions:
        if a.consolidated is not None and a.kind != "resume":
            groups.setdefault(a.consolidated, []).append(a)
    for cons in sorted(groups):
        blocks = _blocks_for(cons, groups[cons], plan, texts, day)
        atomic_write(cons, _current(cons, plan).rstrip("\n") + "\n\n" + blocks)
        report.written.append(cons)

    moved = {src for src, _ in report.moved}
    for a in plan.actions:
        if a.source not in moved:
            _move(a.source, a.superseded, report)

    if not plan.index_blocked:
        index = build_index(plan.root)
        old = index_path.read_text(encoding="utf-8") if index_path.is_file() else None
        if index is not None and index != old:
            atomic_write(index_path, index)
            report.index = index_path
    return report
