"""What applying a reply did, edit by edit, and the feedback text the Builder gets back.

Owns the result types (``ApplyReport``, ``EditResult``, ``HunkResult``) and their two renderings:
``feedback()`` (compact text for the next prompt: what did not apply and the real lines near it,
what did apply so it is not sent again) and ``to_dict()`` (JSON for the CLI and the run store).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["applied", "already_applied", "refused"]
Category = Literal["patch_apply_error", "scope_violation", "syntax_error", "destructive_output"]


@dataclass
class HunkResult:
    """One hunk of a diff (or the single block of a SEARCH/REPLACE edit)."""

    number: int
    status: Status
    location: str = ""
    reason: str = ""
    fuzz: list[str] = field(default_factory=list)


@dataclass
class EditResult:
    """The outcome of one edit. ``closest`` holds real numbered file lines when a match was refused."""

    index: int
    path: str
    kind: str
    status: Status
    reason: str = ""
    category: Category | None = None
    location: str = ""
    closest: str = ""
    fuzz: list[str] = field(default_factory=list)
    hunks: list[HunkResult] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)
    line: int = 0  # the reply line where the edit's block starts (0: not known)

    @property
    def label(self) -> str:
        if self.kind == "unusable":
            where = f"the block at reply line {self.line}" if self.line else "a block"
            return f"edit {self.index} ({where}{' for ' + self.path if self.path else ''})"
        kind = {"diff": "diff", "full_file": "whole file", "search_replace": "SEARCH/REPLACE"}.get(self.kind, self.kind)
        return f"edit {self.index} ({kind} for {self.path})"


@dataclass
class ApplyReport:
    """All results of one reply. ``ok`` means nothing was refused; ``category`` is the first refusal's."""

    results: list[EditResult] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(r.status != "refused" for r in self.results)

    @property
    def category(self) -> Category | None:
        return next((r.category for r in self.results if r.status == "refused"), None)

    @property
    def refused(self) -> list[EditResult]:
        return [r for r in self.results if r.status == "refused"]

    @property
    def applied(self) -> list[EditResult]:
        return [r for r in self.results if r.status == "applied"]

    @property
    def already_applied(self) -> list[EditResult]:
        return [r for r in self.results if r.status == "already_applied"]

    def feedback(self) -> str:
        """Compact text for the Builder: what to fix and resend, and what not to send again."""
        out: list[str] = []
        if not self.results:
            return "No edits were found in the reply."
        if self.refused:
            out.append("These edits were NOT applied; fix and resend only these:")
            for r in self.refused:
                out.append(f"- {r.label}: {r.reason}")
                for h in r.hunks:
                    if h.status == "refused" and h.reason and h.reason not in r.reason:
                        out.append(f"  hunk {h.number}: {h.reason}")
                if r.closest:
                    out.append(f"  The closest lines really in {r.path} (did you mean these?):")
                    out.extend("    " + line for line in r.closest.split("\n"))
        if self.applied:
            verb = "would apply" if self.dry_run else "were applied"
            out.append(f"These edits {verb}; do not send them again:")
            for r in self.applied:
                where = f" at {r.location}" if r.location else ""
                out.append(f"- {r.label}{where}")
        if self.already_applied:
            out.append("These changes are already in the files (nothing to do):")
            out.extend(f"- {r.label}" for r in self.already_applied)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "category": self.category,
            "dry_run": self.dry_run,
            "files_changed": list(self.files_changed),
            "results": [asdict(r) for r in self.results],
        }
