"""Learned rules and run hints, kept in ``.autonomous_runs/<project>/rules.yaml``.

A *rule* is one imperative sentence that stops a failure from coming back ("When adding a function
to calc.py, also export it in __all__."). A *hint* is a rule candidate seen in one run only: it stays
with that run until a similar hint turns up in another run, and is then promoted to a project rule.
The file is meant to be read and edited by people, so it is validated on load (errors name the file,
key path and line) and saved sorted by how often each rule was seen.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..errors import AutopackError
from ..fileio import atomic_write_text
from ..secrets import scrub
from ..yamlfile import format_loc, line_for, validate_file

SIMILARITY_THRESHOLD = 0.8
"""Two rule texts (normalised) at least this similar, with the same error category, are one rule."""

DEFAULT_LIMIT = 8
"""How many rules ``rules_for`` returns at most: more would crowd the Builder's prompt."""

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_HEADER = (
    "# Learned rules for this project, written by autopack and safe to edit by hand.\n"
    "# rules: followed by every Builder whose phase matches phase_categories and paths ([] = any).\n"
    "# hints: seen in one run only; promoted to a rule when a similar one appears in another run.\n"
)


_KEYS_HELP = (
    "rules.yaml holds 'rules' (keys: id, text, category, phase_categories, paths, count, first_seen, last_seen, "
    "source_runs) and 'hints' (keys: text, category, run_id, paths, created); dates are YYYY-MM-DD. "
    "Fix the line named above, or delete the file to start with no rules"
)


class RulesError(AutopackError):
    """rules.yaml is unreadable or invalid."""


class Rule(BaseModel):
    """One learned rule, exactly as stored in rules.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="", description="stable id (r-0007); assigned by add_rule when empty")
    text: str = Field(min_length=1, description="one imperative sentence the Builder should follow")
    category: str = Field(min_length=1, description="the error category this rule prevents")
    phase_categories: list[str] = Field(default_factory=list, description="phase categories it applies to ([] = any)")
    paths: list[str] = Field(default_factory=list, description="path globs it applies to ([] = any)")
    count: int = Field(default=1, ge=1, description="how many times the failure was seen")
    first_seen: date = Field(default_factory=date.today)
    last_seen: date = Field(default_factory=date.today)
    source_runs: list[str] = Field(default_factory=list, description="runs in which the failure was seen")

    @classmethod
    def new(
        cls,
        text: str,
        category: str,
        phase_categories: Sequence[str] = (),
        paths: Sequence[str] = (),
        run_id: str | None = None,
        today: date | None = None,
    ) -> Rule:
        """A rule seen once, today, in ``run_id``: what ``RuleBook.add_rule`` takes after a failure."""
        day = today or date.today()
        return cls(
            text=text,
            category=category,
            phase_categories=list(phase_categories),
            paths=list(paths),
            first_seen=day,
            last_seen=day,
            source_runs=[run_id] if run_id else [],
        )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value and not re.match(_ID_PATTERN, value):
            raise ValueError("ids are letters, digits, '-', '_' or '.', like r-0007")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the rule text is empty")
        return value.strip()

    @model_validator(mode="after")
    def _dates(self) -> Rule:
        if self.last_seen < self.first_seen:
            raise ValueError(f"last_seen {self.last_seen} is before first_seen {self.first_seen}")
        return self


class Hint(BaseModel):
    """A rule candidate from one run."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    category: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    paths: list[str] = Field(default_factory=list)
    created: date = Field(default_factory=date.today)


class RulesFile(BaseModel):
    """The whole of rules.yaml."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    hints: list[Hint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self, info: ValidationInfo) -> RulesFile:
        ctx = info.context or {}
        lines = ctx.get("lines", {})
        path = ctx.get("path", "rules.yaml")
        seen: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            if not rule.id:
                continue
            if rule.id in seen:
                loc = ("rules", i, "id")
                line = line_for(lines, loc)
                where = f"{path}:{line}" if line else str(path)
                raise RulesError(
                    f"invalid rules file:\n  {where}: {format_loc(loc)}: duplicate rule id {rule.id!r} "
                    f"(first used by rules[{seen[rule.id]}]); give one of them a new id"
                )
            seen[rule.id] = i
        return self


def normalize_text(text: str) -> str:
    """Lower-case, paths and numbers removed, whitespace collapsed: what stays is the rule's wording.

    Kept local on purpose: the recovery room normalises error messages for its own needs, and rule
    wording should not change when those needs do.
    """
    t = text.lower()
    t = re.sub(r"[\w.-]*[/\\][\w./\\-]*", " ", t)  # anything with a path separator
    t = re.sub(r"\b[\w-]+\.(py|js|ts|tsx|jsx|md|yaml|yml|json|toml|txt|cfg|ini|go|rs|java|c|h|cpp)\b", " ", t)
    t = re.sub(r"\d+", " ", t)
    t = re.sub(r"[^\w\s]", " ", t)
    return " ".join(t.split())


def similarity(a: str, b: str) -> float:
    """difflib ratio of the normalised texts (0..1)."""
    na, nb = normalize_text(a), normalize_text(b)
    if not na and not nb:
        return 1.0
    return difflib.SequenceMatcher(None, na, nb).ratio()


def _glob_match(path: str, pattern: str) -> bool:
    path, pattern = path.replace("\\", "/").strip("/"), pattern.replace("\\", "/").rstrip("/")
    if path == pattern or path.startswith(pattern + "/"):
        return True
    candidates = {pattern, pattern.replace("**/", ""), pattern.replace("/**", "")}
    return any(fnmatch.fnmatchcase(path, c) for c in candidates)


def paths_overlap(rule_globs: Sequence[str], paths: Sequence[str]) -> bool:
    """True when a rule glob matches a path; phase scopes are globs too, so either side may be one."""
    if not rule_globs:
        return True
    return any(_glob_match(p, g) or _glob_match(g, p) for g in rule_globs for p in paths)


def _union(a: list[str], b: Sequence[str]) -> list[str]:
    """Union of two applicability lists where [] means "any" (and so absorbs the other)."""
    if not a or not b:
        return []
    return list(dict.fromkeys([*a, *b]))


class RuleBook:
    """The rules and hints of one project, loaded from (and saved to) its rules.yaml."""

    def __init__(self, path: Path, rules: Iterable[Rule] = (), hints: Iterable[Hint] = ()) -> None:
        self.path = path
        self.rules: list[Rule] = list(rules)
        self.hints: list[Hint] = list(hints)

    @classmethod
    def load(cls, path: Path) -> RuleBook:
        """Read ``path``; a missing file is an empty book, an invalid one raises ``RulesError``."""
        if not path.exists():
            return cls(path)
        try:
            data = validate_file(RulesFile, path, RulesError, "rules")
        except RulesError as exc:
            raise RulesError(f"{exc}\n  {_KEYS_HELP}") from None
        book = cls(path, data.rules, data.hints)
        for rule in book.rules:  # a rule typed in by hand may leave its id empty
            if not rule.id:
                rule.id = book._next_id()
        return book

    def save(self) -> Path:
        """Write atomically (temp file + rename), most-seen rules first."""
        self.rules.sort(key=lambda r: (-r.count, r.id))
        body: dict[str, Any] = {
            "rules": [r.model_dump(mode="python") for r in self.rules],
            "hints": [h.model_dump(mode="python") for h in self.hints],
        }
        text = _HEADER + yaml.dump(
            body, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=4096, default_flow_style=None
        )
        atomic_write_text(self.path, scrub(text))
        return self.path

    # rules ------------------------------------------------------------------------------------
    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def find_similar(self, text: str, category: str) -> Rule | None:
        """The most similar rule of the same category at or above the threshold, if any."""
        best: tuple[float, Rule] | None = None
        for rule in self.rules:
            if rule.category != category:
                continue
            score = similarity(rule.text, text)
            if score >= SIMILARITY_THRESHOLD and (best is None or score > best[0]):
                best = (score, rule)
        return best[1] if best else None

    def add_rule(self, rule: Rule) -> Rule:
        """Add ``rule``, or merge it into a near-duplicate (count, last_seen, source runs, scope).

        Returns the stored rule: the existing one when merged, else ``rule`` with an id assigned.
        """
        same = self.find_similar(rule.text, rule.category)
        if same is None:
            if not rule.id or self.get(rule.id) is not None:
                rule.id = self._next_id()
            self.rules.append(rule)
            return rule
        same.count += rule.count
        same.first_seen = min(same.first_seen, rule.first_seen)
        same.last_seen = max(same.last_seen, rule.last_seen)
        same.source_runs = list(dict.fromkeys([*same.source_runs, *rule.source_runs]))
        same.phase_categories = _union(same.phase_categories, rule.phase_categories)
        same.paths = _union(same.paths, rule.paths)
        return same

    def rules_for(
        self,
        phase_category: str,
        paths: Sequence[str],
        error_categories: Sequence[str] = (),
        limit: int = DEFAULT_LIMIT,
    ) -> list[Rule]:
        """Rules that apply to a phase: its category, any of its paths, and (when given) one of the
        error categories just seen. Most-seen first, then most recent, at most ``limit``."""
        hits = [
            r
            for r in self.rules
            if (not r.phase_categories or phase_category in r.phase_categories)
            and paths_overlap(r.paths, paths)
            and (not error_categories or r.category in error_categories)
        ]
        hits.sort(key=lambda r: (-r.count, -r.last_seen.toordinal(), r.id))
        return hits[:limit]

    def _next_id(self) -> str:
        numbers = [int(m.group(1)) for r in self.rules if (m := re.fullmatch(r"r-(\d+)", r.id))]
        return f"r-{max(numbers, default=0) + 1:04d}"

    # hints ------------------------------------------------------------------------------------
    def hints_for_run(self, run_id: str) -> list[Hint]:
        return [h for h in self.hints if h.run_id == run_id]

    def add_hint(
        self,
        text: str,
        category: str,
        run_id: str,
        paths: Sequence[str] = (),
        today: date | None = None,
    ) -> Rule | None:
        """Record a hint for ``run_id``. When a similar hint (same category) came from another run,
        or a similar rule already exists, the lesson is project-wide: it becomes (or bumps) a rule,
        which is returned, and the matching hints leave the hint list. Otherwise returns None."""
        day = today or date.today()
        existing = self.find_similar(text, category)
        if existing is not None:
            return self.add_rule(
                Rule(
                    text=text, category=category, paths=list(paths), first_seen=day, last_seen=day, source_runs=[run_id]
                )
            )
        similar = [h for h in self.hints if h.category == category and similarity(h.text, text) >= SIMILARITY_THRESHOLD]
        others = [h for h in similar if h.run_id != run_id]
        if not others:
            if not similar:  # the same lesson twice in one run is still one hint
                self.hints.append(Hint(text=text, category=category, run_id=run_id, paths=list(paths), created=day))
            return None
        first = min(h.created for h in similar)
        scope: list[str] = list(paths)
        for h in similar:
            scope = _union(scope, h.paths)
        runs = list(dict.fromkeys([*(h.run_id for h in sorted(similar, key=lambda h: h.created)), run_id]))
        self.hints = [h for h in self.hints if h not in similar]
        return self.add_rule(
            Rule(
                text=text,
                category=category,
                paths=scope,
                count=len(similar) + 1,
                first_seen=first,
                last_seen=day,
                source_runs=runs,
            )
        )


# drawing rules without a model -----------------------------------------------------------------
_MAX_EXCERPT = 140


def shorten_message(message: str, limit: int = _MAX_EXCERPT) -> str:
    """The telling line of an error message, with absolute paths cut to file names, one line, short."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    # Python tracebacks end with the exception line; other tools usually lead with it.
    telling = next((ln for ln in reversed(lines) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", ln)), lines[0])
    telling = re.sub(r"^[A-Z]\w*(Error|Exception): ", "", telling)  # the class name adds little to a rule
    telling = re.sub(r"\s*\((?:[A-Za-z]:)?[/\\][^()]*\)$", "", telling)  # "(/abs/path/mod.py)" location suffix
    telling = re.sub(r"(?:[A-Za-z]:)?[/\\][^\s'\"]*[/\\]([^\s/\\'\"]+)", r"\1", telling)  # other paths: file name only
    telling = " ".join(telling.split())
    return telling if len(telling) <= limit else telling[: limit - 1].rstrip() + "…"


def _module_of(message: str) -> str | None:
    m = re.search(r"from '([\w.]+)'", message) or re.search(r"No module named '([\w.]+)'", message)
    return m.group(1) if m else None


# Words any rule may use without saying anything: "make sure the phase's checks pass" is made of them.
_GENERIC = frozenset(
    """
a an the and or but of to in on at for with from by as into onto that this these those it its is are be been being
was were do does did not no never always you your any all each every some one more most other than then so if when
while before after again next time first last only also just should must can could would will may might please
make makes sure ensure ensures check checks checked checking pass passes passed passing test tests tested testing
phase phases run runs running reply replying finish finishing done code change changes changed changing edit edits
error errors fail fails failed failing failure failures fix fixes fixed fixing correct correctly properly careful
carefully verify verifies good work works working right wrong issue issues problem problems step steps thing things
builder attempt attempts previous output task tasks file files""".split()
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def says_something(rule: str, error: str) -> bool:
    """True when a rule says something the error did not: at least one of its words is neither a word
    every rule could use (``_GENERIC``) nor a word of the error message. "Make sure the phase's checks
    pass" is noise in every prompt it is added to; "check each docstring example against the body" is
    not (issue 15)."""
    said = {w.lower() for w in _WORD.findall(error)}
    words = {w.lower() for w in _WORD.findall(rule)}
    return any(len(w) > 2 and w not in _GENERIC and w not in said for w in words)


def draw_rule_deterministic(category: str, message: str, fix_summary: str, paths: Sequence[str]) -> str:
    """A one-sentence prevention rule from the error category and message, for when no model is
    available to word one. The shortened message is quoted so the rule stays specific."""
    excerpt = shorten_message(message)
    where = ", ".join(paths[:3]) if paths else "the files you change"
    cat = category.lower()
    module = _module_of(message)
    if "import" in cat or "cannot import name" in message or "No module named" in message:
        target = f"from {module}" if module else f"in {where}"
        head = f"Before finishing, check that every name imported {target} exists and is exported"
    elif "syntax" in cat or "SyntaxError" in message or "IndentationError" in message:
        head = f"Before finishing, make sure every file you edit in {where} still parses"
    elif "patch" in cat or "apply" in cat:
        head = f"Copy the current lines of {where} exactly into each edit, re-reading the file first"
    elif "audit" in cat:
        head = f"Before finishing, resolve what the Auditor flagged in {where}"
    elif "ci" in cat or "test" in cat or "gate" in cat:
        head = f"Before finishing, make sure the phase's checks pass for {where}"
    elif "type" in cat or "mypy" in message:
        head = f"Before finishing, make sure the types in {where} check"
    else:
        head = f"Avoid repeating the {category} failure in {where}"
    tail = f"previous failure: {excerpt}" if excerpt else f"previous failure: {category}"
    fix = " ".join(fix_summary.split())
    if fix:
        fix = fix if len(fix) <= _MAX_EXCERPT else fix[: _MAX_EXCERPT - 1].rstrip() + "…"
        tail += f"; fixed by: {fix}"
    return f"{head} ({tail})."


def render_rules_for_prompt(rules: Sequence[Rule], hints: Sequence[Hint] = ()) -> str:
    """Bullet lines for the Builder's prompt (the caller adds its own heading); '' when empty."""
    lines = [f"- {r.text} [{r.id}, seen {r.count}x]" for r in rules]
    lines += [f"- {h.text} [hint from this run]" for h in hints]
    return "\n".join(lines)


class _PlainDumper(yaml.SafeDumper):
    """No anchors or aliases: equal dates must stay two separate, hand-editable values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def project_rules_path(root: Path, project: str | None) -> Path:
    """The ``rules.yaml`` of ``project`` under the home ``root``; without a project, that of the only
    project there (an ``AutopackError`` naming them when there are none or several)."""
    from ..layout import RUNS_DIR, Layout

    if project is None:
        base = root / RUNS_DIR
        projects = (
            sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.is_dir() else []
        )
        if len(projects) != 1:
            known = ", ".join(projects) or "none yet"
            raise AutopackError(f"say which project with --project (projects under {root / RUNS_DIR}: {known})")
        project = projects[0]
    return Layout(root, project).rules_path
