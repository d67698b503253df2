"""Load YAML (or JSON) files keeping the line of every key, and turn pydantic errors into
messages that name the file, the key path and the line.

Shared by ``config`` and ``plan``: a typo in a user's file must point at the line to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class YamlProblem(Exception):
    """A file could not be read or parsed; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# How many values YAML aliases (``*name``, merge keys ``<<: *name``) may add to a document beyond the
# values written in it. Real plans and configs reuse a block a few times; an alias "bomb" (each level
# repeating the previous one) would add billions and exhaust memory before validation could say a word.
MAX_ALIAS_EXPANSION = 10_000


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand to more than ``MAX_ALIAS_EXPANSION`` extra values, or
    refer to themselves, before anything is built from it. Counted on the node graph (each shared
    node once, memoised), so this costs time linear in the file, whatever the expansion."""
    sizes: dict[int, int] = {}
    distinct: set[int] = set()
    budget = MAX_ALIAS_EXPANSION

    def size(node: yaml.Node, open_: set[int]) -> int:
        key = id(node)
        distinct.add(key)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise YamlProblem(
                "an alias refers to the value that contains it (a recursive structure)", node.start_mark.line + 1
            )
        open_.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        for child in children:
            total += size(child, open_)
            if total - len(distinct) > budget:
                raise YamlProblem(
                    f"YAML aliases here expand to more than {MAX_ALIAS_EXPANSION:,} values beyond those written "
                    "(an alias bomb?); write the values out instead of repeating aliases",
                    child.start_mark.line + 1,
                )
        open_.discard(key)
        sizes[key] = total
        return total

    size(root, set())


def _build(node: yaml.Node, loc: Loc, lines: dict[Loc, int], loader: Any) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("mapping keys must be plain scalars", key_node.start_mark.line + 1)
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise YamlProblem("mapping keys must be plain scalars", key_node.start_mark.line + 1)
            if key in out:
                raise YamlProblem(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            child = (*loc, str(key) if not isinstance(key, int) else key)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_with_lines(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path`` as UTF-8 YAML (JSON is YAML too); return the data and a key-path -> line map."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlProblem("file not found") from None
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise YamlProblem(f"cannot read: {exc.strerror}") from None
    # libyaml's loader when PyYAML was built with it: same nodes and marks, several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_expansion(node)
        lines: dict[Loc, int] = {}
        return _build(node, (), lines, loader), lines
    except RecursionError:
        raise YamlProblem("nested too deeply to read (thousands of levels); flatten the structure") from None
    except yaml.MarkedYAMLError as exc:
        # The context mark is where the broken construct starts (an unclosed `[`, a key without
        # `:`); the problem mark is where the parser gave up, often the next line.
        start, seen = exc.context_mark, exc.problem_mark
        mark = start or seen
        line = mark.line + 1 if mark is not None else None
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "cannot be parsed"
        if start is not None and seen is not None and seen.line != start.line:
            what += f" (noticed at line {seen.line + 1})"
        raise YamlProblem(f"malformed YAML: {what}", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"malformed YAML: {exc}") from None
    finally:
        loader.dispose()


def line_for(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest known prefix of ``loc`` (a missing key points at its parent)."""
    probe = tuple(loc)
    while True:
        if probe in lines:
            return lines[probe]
        if not probe:
            return None
        probe = probe[:-1]


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_messages(exc: ValidationError, lines: dict[Loc, int], path: Path) -> list[str]:
    """One ``file:line: key.path: message`` string per pydantic error."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = line_for(lines, loc)
        where = f"{path}:{line}" if line else str(path)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; see the shipped example for the allowed keys)"
        out.append(f"{where}: {format_loc(loc)}: {msg}")
    return out


def validate_file(model: type[M], path: Path, error: type[Exception], what: str) -> M:
    """Load ``path`` and validate it as ``model``; raise ``error`` with every problem listed."""
    try:
        data, lines = load_with_lines(path)
    except YamlProblem as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise error(f"{where}: {exc.message}; fix the {what} file and try again") from None
    if not isinstance(data, dict):
        raise error(f"{path}: the {what} must be a mapping of keys at the top level")
    try:
        return model.model_validate(data, context={"lines": lines, "path": path})
    except ValidationError as exc:
        msgs = validation_messages(exc, lines, path)
        raise error(f"invalid {what}:\n  " + "\n  ".join(msgs)) from None
