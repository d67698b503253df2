"""What the installed provider SDKs say about a model name: current, deprecated (with its end of life)
or unknown to them, read from the metadata each official SDK ships, with no network call.

- anthropic: the names of ``anthropic.types.Model``; end-of-life dates from ``DEPRECATED_MODELS``
  (``anthropic._data``, older SDKs keep it beside the messages resource).
- openai: the names of ``openai.types.ChatModel`` (autopack calls Chat Completions); shutdown dates
  from the "Deprecated values" note the SDK generates under that type, read from its source.
- google-genai: the names of ``google.genai.interactions.ModelParam``; it ships no deprecation table.
- zhipuai: ships no model names, so every GLM name is unknown to it.

An SDK is imported only when one of its models is asked about (``autopack --help`` and importing this
module load none), once per process. An SDK without one of these tables gives "unknown to the
installed <sdk> <version>", never an error.
"""

from __future__ import annotations

import ast
import datetime
import functools
import importlib
import importlib.metadata
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

StatusKind = Literal["current", "deprecated", "unknown", "unchecked"]


@dataclass(frozen=True)
class Status:
    """A model's standing with its provider's installed SDK. ``detail`` is what ``autopack models``
    shows: "current", "deprecated, end of life 2027-01-22", "unknown to the installed openai 3.60.0"."""

    kind: StatusKind
    detail: str

    @property
    def needs_attention(self) -> bool:
        """Deprecated or unknown: a config that routes to this model deserves a warning."""
        return self.kind in ("deprecated", "unknown")


ENDPOINT = Status("unchecked", "endpoint model: not checked")


@dataclass(frozen=True)
class SdkCatalog:
    """The model names one installed SDK lists and the ones it marks deprecated."""

    sdk: str  # the distribution's name, e.g. "google-genai"
    version: str | None  # None: not installed
    names: frozenset[str] | None  # None: this SDK (or this version of it) ships no list of names
    retiring: Mapping[str, str] = field(default_factory=dict)  # name -> ISO end-of-life date, or the SDK's note
    other_api: frozenset[str] = frozenset()  # listed, but for an API autopack does not call

    def status(self, model: str, today: datetime.date | None = None) -> Status:
        if self.version is None:
            return Status("unknown", f"not checked: the {self.sdk} SDK is not installed")
        installed = f"the installed {self.sdk} {self.version}"
        note = self.retiring.get(model)
        if note is not None:
            return Status("deprecated", _deprecated(note, today or datetime.date.today()))
        if self.names is None:
            return Status("unknown", f"unknown to {installed} (it lists no model names)")
        if model in self.names:
            return Status("current", "current")
        if model in self.other_api:
            return Status("unknown", f"unknown to {installed} as a chat model (it lists it for the Responses API)")
        return Status("unknown", f"unknown to {installed}")


def model_status(provider: str, model: str) -> Status:
    """``model``'s standing with ``provider``'s installed SDK; an endpoint's models are not checked."""
    if provider not in _READERS:
        return ENDPOINT
    return sdk_catalog(provider).status(model)


@functools.cache
def sdk_catalog(provider: str) -> SdkCatalog:
    """What ``provider``'s installed SDK lists (imports the SDK; read once per process)."""
    dist, reader = _READERS[provider]
    try:
        version: str | None = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = None
    if version is None:
        return SdkCatalog(dist, None, None)
    try:
        names, retiring, other = reader()
    except (ImportError, AttributeError, OSError, SyntaxError, TypeError, ValueError):
        # A version that moved or dropped a table: say so per model rather than fail the command.
        names, retiring, other = None, {}, frozenset()
    return SdkCatalog(dist, version, names, retiring, other)


Tables = tuple[frozenset[str] | None, dict[str, str], frozenset[str]]


def _anthropic() -> Tables:
    import anthropic.types

    names = literal_names(getattr(anthropic.types, "Model", None))
    table: Mapping[str, str] = {}
    for where in ("anthropic._data", "anthropic.resources.messages.messages", "anthropic.resources.messages"):
        try:
            table = getattr(importlib.import_module(where), "DEPRECATED_MODELS", None) or {}
        except ImportError:
            continue
        if table:
            break
    return names, {name: _iso_date(when) for name, when in table.items()}, frozenset()


def _openai() -> Tables:
    import openai.types

    chat = getattr(openai.types, "ChatModel", None)
    responses = literal_names(getattr(openai.types, "ResponsesModel", None)) or frozenset()
    names = literal_names(chat)
    retiring: dict[str, str] = {}
    for where in ("openai.types.shared.chat_model", "openai.types.chat_model"):
        try:
            module = importlib.import_module(where)
        except ImportError:
            continue
        if module.__file__:
            with open(module.__file__, encoding="utf-8") as fh:
                retiring = openai_deprecations(fh.read())
            break
    return names, retiring, responses - (names or frozenset())


def _gemini() -> Tables:
    from google.genai import interactions

    return literal_names(getattr(interactions, "ModelParam", None)), {}, frozenset()


def _glm() -> Tables:
    return None, {}, frozenset()


_READERS: dict[str, tuple[str, Callable[[], Tables]]] = {
    "anthropic": ("anthropic", _anthropic),
    "openai": ("openai", _openai),
    "gemini": ("google-genai", _gemini),
    "glm": ("zhipuai", _glm),
}


def literal_names(tp: Any) -> frozenset[str] | None:
    """The strings of every ``Literal`` inside a type (through ``Union`` and ``Annotated``); None for no type."""
    if tp is None:
        return None
    out: set[str] = set()

    def walk(t: Any) -> None:
        origin = get_origin(t)
        if origin is Literal:
            out.update(a for a in get_args(t) if isinstance(a, str))
        elif origin is Annotated:
            walk(get_args(t)[0])
        elif origin is Union or type(t).__name__ == "UnionType":
            for arg in get_args(t):
                walk(arg)

    walk(tp)
    return frozenset(out)


_DOC_ITEM = re.compile(r'^((?:"[^"]+",?\s*)+):\s*(.*)$', re.S)
_SHUTDOWN = re.compile(r"shutdown\s+date:\s*(\d{4}-\d{2}-\d{2})", re.I)


def openai_deprecations(source: str) -> dict[str, str]:
    """name -> shutdown date (or the note, when it has no date) from the "Deprecated values:" string
    that follows ``ChatModel`` in the openai SDK's generated source."""
    tree = ast.parse(source)
    doc = ""
    for before, after in zip(tree.body, tree.body[1:], strict=False):
        target = (
            before.target
            if isinstance(before, ast.AnnAssign)
            else (before.targets[0] if isinstance(before, ast.Assign) and before.targets else None)
        )
        if isinstance(target, ast.Name) and target.id == "ChatModel":
            if (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                doc = after.value.value
            break
    _, _, items = doc.partition("Deprecated values:")
    out: dict[str, str] = {}
    for item in re.split(r"\n\s*-\s+", "\n" + items):
        match = _DOC_ITEM.match(" ".join(item.split()))
        if match is None:
            continue
        names, note = match.groups()
        date = _SHUTDOWN.search(note)
        text = date.group(1) if date else note.split(". ")[0].rstrip(".")
        out.update(dict.fromkeys(re.findall(r'"([^"]+)"', names), text))
    return out


def _iso_date(text: str) -> str:
    """Anthropic's "January 22nd, 2027" as "2027-01-22"; text it cannot read stays as it is."""
    plain = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text.strip())
    for fmt in ("%B %d, %Y", "%Y-%m-%d", "%b %d, %Y"):
        try:
            return datetime.datetime.strptime(plain, fmt).date().isoformat()
        except ValueError:
            continue
    return text


def _deprecated(note: str, today: datetime.date) -> str:
    try:
        when = datetime.date.fromisoformat(note)
    except ValueError:
        return f"deprecated: {note}"
    return f"deprecated, end of life {note}" + (" (passed)" if when < today else "")
