"""The Markdown that consolidation writes and reads back: consolidated files, their sections,
duplicate notes, and the archive index.

Each section sits between two HTML comments carrying its metadata as JSON (source hash, original
name, where the original went). Those comments are how a later run knows what was consolidated
already, and how the index is rebuilt, without any side database. Anchors follow GitHub's rules
(lower-case, punctuation dropped, spaces to hyphens, ``-1``/``-2`` for repeats) so links resolve.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

GENERATED = "<!-- autopack:generated"
_SECTION = "<!-- autopack:section "
_END = "<!-- autopack:end-section "
_DUPLICATE = "<!-- autopack:duplicate "
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}#{1,6}(?:\s+(.*?))?\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")


def marker(tag: str, data: dict[str, Any]) -> str:
    """An HTML comment with JSON inside; '>' is escaped so a path can never end the comment."""
    body = json.dumps(data, ensure_ascii=False, sort_keys=True).replace(">", "\\u003e")
    return f"<!-- autopack:{tag} {body} -->"


def _marker_data(line: str, prefix: str) -> dict[str, Any] | None:
    if not line.startswith(prefix) or not line.rstrip().endswith("-->"):
        return None
    try:
        data = json.loads(line[len(prefix) : line.rstrip().rfind("-->")].strip())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def is_generated(first_line: str) -> bool:
    return first_line.lstrip("\ufeff").startswith(GENERATED)


def slugify(text: str) -> str:
    """GitHub's heading anchor (before de-duplication)."""
    t = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    t = re.sub(r"<[^>]+>", "", t).strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")


@dataclass
class Section:
    sha256: str
    original: str  # path of the source, relative to the root, when it was consolidated
    superseded: str  # where the original went, relative to the consolidated file's folder
    title: str
    anchor: str = ""


@dataclass
class Duplicate:
    sha256: str
    original: str
    superseded: str
    of: str  # the original name of the section it duplicates


@dataclass
class ParsedFile:
    sections: list[Section] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


def parse_consolidated(text: str) -> ParsedFile:
    """Sections and duplicate notes of a consolidated file, with each section's anchor."""
    out = ParsedFile()
    seen: dict[str, int] = {}
    fence: str | None = None
    inside: str | None = None  # sha of the open section
    want_anchor: Section | None = None
    prev = ""
    for line in text.splitlines():
        if inside is not None:
            end = _marker_data(line, _END)
            if end is not None and end.get("sha256") == inside:
                inside, fence, prev = None, None, ""
                continue
        elif fence is None:
            sec = _marker_data(line, _SECTION)
            if sec is not None:
                want_anchor = Section(
                    str(sec.get("sha256", "")),
                    str(sec.get("original", "")),
                    str(sec.get("superseded", "")),
                    str(sec.get("title", "")),
                )
                out.sections.append(want_anchor)
                inside, prev = want_anchor.sha256, ""
                continue
            dup = _marker_data(line, _DUPLICATE)
            if dup is not None:
                out.duplicates.append(
                    Duplicate(
                        str(dup.get("sha256", "")),
                        str(dup.get("original", "")),
                        str(dup.get("superseded", "")),
                        str(dup.get("of", "")),
                    )
                )
                continue
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)) :]:
                fence = None
            prev = ""
            continue
        if fence is not None:
            continue
        heading: str | None = None
        atx = _ATX.match(line)
        if atx and line.lstrip().startswith("#"):
            heading = atx.group(1) or ""
        elif _SETEXT.match(line) and prev.strip() and not prev.lstrip().startswith(("#", "-", "*", "+", ">", "<!--")):
            heading = prev.strip()
        if heading is not None:
            slug = slugify(heading)
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchor = slug if n == 0 else f"{slug}-{n}"
            if want_anchor is not None:
                want_anchor.anchor, want_anchor = anchor, None
            prev = ""
            continue
        prev = line
    return out


def close_open_blocks(text: str) -> str:
    """Close a code fence or HTML comment a source left open, so it cannot swallow what follows."""
    fence: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)) :]:
                fence = None
    out = text if text.endswith("\n") else text + "\n"
    if fence is not None:
        out += fence + "\n"
    if out.rfind("<!--") > out.rfind("-->"):
        out += "-->\n"
    return out


def consolidated_header(category: str, title: str, description: str) -> str:
    return (
        marker("generated", {"kind": "consolidated", "category": category}) + f"\n# {title}\n\n{description}\n\n"
        "Written by `autopack docs consolidate`: each section holds the full text of one source document\n"
        "and links to the original, kept under `superseded/`. New sections are appended on later runs;\n"
        "edit freely, but keep the `autopack:` comment lines.\n"
    )


def section_block(section: Section, original_label: str, reason: str, day: str, text: str) -> str:
    """One source, in full, between its markers."""
    meta = {"original": section.original, "sha256": section.sha256, "superseded": section.superseded}
    meta["title"] = section.title
    lines = [
        marker("section", meta),
        f"## {section.title}",
        "",
        f"> Source: `{original_label}`, original kept at [{section.superseded}]({_link(section.superseded)}).",
        f"> Classified as {reason}. Consolidated {day}.",
    ]
    body = close_open_blocks(text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    return "\n".join(lines) + "\n\n" + body + "\n" + marker("end-section", {"sha256": section.sha256}) + "\n"


def duplicate_block(dup: Duplicate, day: str, anchor: str) -> str:
    of = f"[{dup.of}](#{anchor})" if anchor else f"`{dup.of}`"
    return (
        marker(
            "duplicate", {"of": dup.of, "original": dup.original, "sha256": dup.sha256, "superseded": dup.superseded}
        )
        + f"\n> Identical copy of {of}: `{dup.original}`, kept at [{dup.superseded}]({_link(dup.superseded)})."
        f" Noted {day}.\n"
    )


def _link(path: str) -> str:
    """A relative link target; spaces and parentheses would end a Markdown link early."""
    return path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


@dataclass
class IndexEntry:
    link: str  # the consolidated file, relative to the index
    description: str
    parsed: ParsedFile


@dataclass
class IndexArchive:
    heading: str
    label: str  # the archive folder, relative to the root
    link: str  # the archive folder, relative to the index
    files: list[IndexEntry] = field(default_factory=list)


def render_index(archives: list[IndexArchive]) -> str:
    """ARCHIVE_INDEX.md: every archive, its consolidated files and their sections."""
    out = [
        marker("generated", {"kind": "index"}),
        "# Archive index",
        "",
        "Kept current by `autopack docs consolidate` (rewritten on each run that changes something; edits",
        "here are lost). Each consolidated file holds the full text of its sources; the originals are under",
        "each archive's `superseded/` folder.",
    ]
    for arch in archives:
        out += ["", f"## {arch.heading}", "", f"Folder: [{arch.label}]({_link(arch.link)})"]
        if not arch.files:
            out += ["", "No consolidated files yet."]
        for entry in arch.files:
            name = entry.link.rsplit("/", 1)[-1]
            out += ["", f"### [{name}]({_link(entry.link)})", "", entry.description, ""]
            if not entry.parsed.sections:
                out.append("- (no sections)")
            base = entry.link.rsplit("/", 1)[0] + "/" if "/" in entry.link else ""
            by_of: dict[str, list[Duplicate]] = {}
            for dup in entry.parsed.duplicates:
                by_of.setdefault(dup.of, []).append(dup)
            for sec in entry.parsed.sections:
                target = f"{entry.link}#{sec.anchor}" if sec.anchor else entry.link
                out.append(
                    f"- [{sec.title}]({_link(target)}) from `{sec.original}`"
                    f" ([original]({_link(base + sec.superseded)}))"
                )
                for dup in by_of.pop(sec.original, []):
                    out.append(f"  - identical copy `{dup.original}` ([kept]({_link(base + dup.superseded)}))")
            for dups in by_of.values():  # a note whose section was edited away still shows
                for dup in dups:
                    out.append(
                        f"- identical copy `{dup.original}` of `{dup.of}` ([kept]({_link(base + dup.superseded)}))"
                    )
    return "\n".join(out) + "\n"
