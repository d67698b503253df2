"""The batch file: its schema (unknown keys are errors with file, line and key path), the runs it
resolves to, and the checks made before any run starts (every plan, every run's effective config and
its models, every project folder, and a provider with a key for every role, as ``autopack run`` checks).

A batch lists runs, or gives one plan and a list of project folders (each becomes the run
``<batch>-<folder name>``), or both. Relative paths are read from the batch file's folder. A run
either works in place in a project's repository (``project_dir``), or in a clone the batch makes
(``clone``: a git URL, or the path of a repository); a ``projects`` entry that is not a folder is
cloned. Settings given at the top (``plan``, ``config``, ``overrides``, ``model``, ``strong_model``,
``max_attempts``, ``script``) apply to every run that does not set its own; ``overrides`` merge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import AutopackError
from ..layout import MAX_ID_LENGTH
from ..llm.shared_limits import ProviderLimit
from ..yamlfile import Loc, format_loc, line_for, load_with_lines, validate_file

ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# A projects entry that is a URL (scheme://... or user@host:path) is cloned, never taken as a folder.
GIT_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")
Results = Literal["branch", "bundle", "push"]


class BatchError(AutopackError):
    """A batch file that cannot be used: unreadable, invalid, or naming plans, configs, folders or
    models a run could not start with."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitEntry(_Strict):
    concurrency: int | None = Field(default=None, ge=1, description="calls in flight at once, across the workers")
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="calls started per minute, across the workers"
    )


class ClusterEntry(_Strict):
    address: str = Field(
        description="the Dask scheduler, e.g. tcp://10.0.0.5:8786, or `local` for a cluster on this machine"
    )
    scratch: str | None = Field(
        default=None, description="where workers keep clones and run stores (default: their temp folder)"
    )


class RunSettings(_Strict):
    """What a run may set, and the batch for every run."""

    plan: Path | None = Field(default=None, description="the run plan")
    config: Path | None = Field(default=None, description="a config layer over the shipped, user and project configs")
    overrides: dict[str, Any] | None = Field(default=None, description="config keys, as in a config file")
    model: str | None = Field(default=None, description="every role on this model (as --model)")
    strong_model: str | None = Field(default=None, description="with model: the stronger one (as --strong-model)")
    max_attempts: int | None = Field(default=None, ge=1, description="attempts per phase (as --max-attempts)")
    script: Path | None = Field(default=None, description="scripted model replies (as --script; offline, no key)")


class RunEntry(RunSettings):
    id: str = Field(pattern=ID, max_length=MAX_ID_LENGTH, description="the run id: names its branch autopack/<id>")
    project_dir: Path | None = Field(default=None, description="a project's git repository, worked on in place")
    clone: str | None = Field(default=None, description="a git URL or repository path, cloned into the batch folder")
    ref: str | None = Field(default=None, description="with clone: the branch, tag or commit to start from")
    max_cost: float | None = Field(default=None, ge=0, description="this run's cost cap in USD")

    @model_validator(mode="after")
    def _one_source(self) -> RunEntry:
        if (self.project_dir is None) == (self.clone is None):
            raise ValueError(
                "a run needs exactly one of `project_dir` (work in place) or `clone` (a URL or path to clone)"
            )
        if self.ref is not None and self.clone is None:
            raise ValueError("`ref` goes with `clone`")
        return self


class BatchFile(RunSettings):
    batch: str | None = Field(
        default=None,
        pattern=ID,
        max_length=MAX_ID_LENGTH,
        description="names the batch folder (default: the file name without its suffix)",
    )
    projects: list[str] = Field(default_factory=list, description="one run of `plan` per project folder or git URL")
    runs: list[RunEntry] = Field(default_factory=list)
    workers: int = Field(default=4, ge=1, le=256, description="runs at once (--workers)")
    max_cost: float | None = Field(default=None, ge=0, description="the whole batch's cost cap in USD")
    max_cost_per_run: float | None = Field(
        default=None, ge=0, description="each run's cost cap (a run's max_cost wins)"
    )
    home: Path | None = Field(
        default=None, description="where runs keep .autonomous_runs (default: each project's repository)"
    )
    results: Results = Field(default="branch", description="branch | bundle | push: how each run's branch comes back")
    remote: str = Field(default="origin", description="with results: push, the remote to push to")
    limits: dict[str, LimitEntry] = Field(default_factory=dict, description="per-provider limits shared by the workers")
    cluster: ClusterEntry | None = None

    @model_validator(mode="after")
    def _has_runs(self) -> BatchFile:
        if not self.runs and not self.projects:
            raise ValueError("a batch needs `runs:` or `projects:` (with `plan:`)")
        if self.projects and self.plan is None:
            raise ValueError("`projects:` needs `plan:` (the plan each project runs)")
        return self


@dataclass(frozen=True)
class RunSpec:
    """One run of the batch, resolved: absolute paths, the batch's settings filled in."""

    run_id: str
    plan: Path
    where: str  # "batch.yaml:12": the line that made this run, for messages
    loc: Loc = ()  # where in the batch file: ("runs", 3) or ("projects", 0)
    project_dir: Path | None = None  # in place
    clone: str | None = None  # a URL, or an absolute path
    ref: str | None = None
    config_files: tuple[Path, ...] = ()  # the batch's config, then the run's
    overrides: dict[str, Any] = field(default_factory=dict)  # the batch's overrides, then the run's, merged
    model: str | None = None
    strong_model: str | None = None
    max_attempts: int | None = None
    max_cost: float | None = None  # the run's own cap (None: its config's limits.run_cost_cap_usd)
    script: Path | None = None

    @property
    def source(self) -> str:
        """The project folder, or what is cloned."""
        return str(self.project_dir) if self.project_dir is not None else str(self.clone)

    def local_repository(self) -> Path | None:
        """The repository on this machine the run's branch belongs in: its project folder, or the
        repository a local path clone was made from (None for a URL)."""
        if self.project_dir is not None:
            return self.project_dir
        if self.clone is not None and not GIT_URL.match(self.clone) and Path(self.clone).is_dir():
            return Path(self.clone)
        return None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    path: Path
    runs: list[RunSpec]
    workers: int
    max_cost: float | None
    home: Path | None
    results: Results
    remote: str
    limits: dict[str, ProviderLimit]
    cluster: ClusterEntry | None
    lines: dict[Loc, int] = field(default_factory=dict, repr=False)

    def run(self, run_id: str) -> RunSpec:
        return next(r for r in self.runs if r.run_id == run_id)


def load_batch(path: Path) -> Batch:
    """Read and validate ``path`` (schema only; ``check_batch`` looks at what it names)."""
    path = path.resolve()
    spec = validate_file(BatchFile, path, BatchError, "batch")
    _, lines = load_with_lines(path)
    base = path.parent
    batch_id = spec.batch or _slug(path.stem.removesuffix(".batch"))

    def at(loc: Loc) -> str:
        line = line_for(lines, loc)
        return f"{path}:{line}" if line else str(path)

    def here(value: Path | None) -> Path | None:
        return None if value is None else (base / value.expanduser()).resolve()

    def settings(entry: RunSettings | None) -> dict[str, Any]:
        own = entry or RunSettings()
        overrides = _merge(spec.overrides or {}, own.overrides or {})
        configs = tuple(
            p for p in (here(spec.config), here(own.config) if entry is not None else None) if p is not None
        )
        return {
            "plan": here(own.plan or spec.plan),
            "config_files": tuple(dict.fromkeys(configs)),
            "overrides": overrides,
            "model": own.model or spec.model,
            "strong_model": own.strong_model or spec.strong_model,
            "max_attempts": own.max_attempts or spec.max_attempts,
            "script": here(own.script or spec.script),
        }

    runs: list[RunSpec] = []
    taken: set[str] = set()
    for i, item in enumerate(spec.projects):
        cloned = bool(GIT_URL.match(item)) or not (base / item).expanduser().is_dir()
        name = _slug(_repo_name(item))
        run_id = _unique(f"{batch_id}-{name}"[:MAX_ID_LENGTH], taken)
        where_to = (
            {"clone": item if GIT_URL.match(item) else str((base / item).expanduser().resolve())}
            if cloned
            else {"project_dir": (base / item).expanduser().resolve()}
        )
        runs.append(
            RunSpec(
                run_id=run_id,
                where=at(("projects", i)),
                loc=("projects", i),
                max_cost=spec.max_cost_per_run,
                **where_to,
                **settings(None),
            )
        )
    for i, entry in enumerate(spec.runs):
        if entry.id in taken:
            raise BatchError(f"{at(('runs', i, 'id'))}: runs[{i}].id: run id {entry.id!r} is used twice in the batch")
        taken.add(entry.id)
        resolved = settings(entry)
        if resolved["plan"] is None:
            raise BatchError(f"{at(('runs', i))}: runs[{i}]: no plan: give the run `plan:` or the batch one")
        clone = entry.clone
        if clone is not None and not GIT_URL.match(clone):
            clone = str((base / clone).expanduser().resolve())
        runs.append(
            RunSpec(
                run_id=entry.id,
                where=at(("runs", i)),
                loc=("runs", i),
                project_dir=here(entry.project_dir),
                clone=clone,
                ref=entry.ref,
                max_cost=entry.max_cost if entry.max_cost is not None else spec.max_cost_per_run,
                **resolved,
            )
        )
    limits = {name: ProviderLimit(e.concurrency, e.requests_per_minute) for name, e in spec.limits.items()}
    return Batch(
        batch_id=batch_id,
        path=path,
        runs=runs,
        workers=spec.workers,
        max_cost=spec.max_cost,
        home=here(spec.home),
        results=spec.results,
        remote=spec.remote,
        limits=limits,
        cluster=spec.cluster,
        lines=lines,
    )


def check_batch(batch: Batch, env: Mapping[str, str]) -> set[str]:
    """Everything that would stop a run before it starts, for every run at once: BatchError lists each
    problem with the batch file's line (nothing is written). Returns the provider SDK modules the runs
    can call (none for scripted runs), for the local pool to import once."""
    problems: list[str] = []
    sdks: set[str] = set()
    for run in batch.runs:
        try:
            sdks |= check_run(batch, run, env)
        except AutopackError as exc:
            problems.append(f"{run.where}: run {run.run_id}: {exc}")
    if problems:
        raise BatchError(
            f"{len(problems)} of the batch's {len(batch.runs)} runs cannot start:\n  " + "\n  ".join(problems)
        )
    return sdks


def check_run(batch: Batch, run: RunSpec, env: Mapping[str, str]) -> set[str]:
    """One run's checks (see ``check_batch``); returns the SDK modules it can call."""
    from ..layout import project_root
    from ..plan import check_plan_models, load_plan
    from ..preflight import preflight, sdk_modules
    from ..workspace.worktree import validate_run_id

    validate_run_id(run.run_id)
    for what, path in (("plan", run.plan), ("script", run.script), *(("config", c) for c in run.config_files)):
        if path is not None and not path.is_file():
            raise BatchError(f"{what} {path}: no such file")
    if run.project_dir is not None:
        if not run.project_dir.is_dir():
            raise BatchError(f"project_dir {run.project_dir}: no such folder")
        if project_root(run.project_dir) is None:
            raise BatchError(f"project_dir {run.project_dir}: not inside a git repository (`git init` it, or clone it)")
    elif run.clone is not None and not GIT_URL.match(run.clone) and not Path(run.clone).exists():
        raise BatchError(f"clone {run.clone}: no such repository")
    plan = load_plan(run.plan)
    config = effective_config(batch, run)
    problems = check_plan_models(plan, config)
    if problems:
        raise BatchError(f"{run.plan}: " + "; ".join(problems))
    if run.script is not None:
        return set()  # answered by the script: no provider is called
    complexities: set[str] = {p.complexity for p in plan.all_phases()}
    preflight(complexities, config, env)
    return sdk_modules(complexities, config, env)


def effective_config(batch: Batch, run: RunSpec) -> Any:
    """The config ``autopack run`` will run with: shipped < user < project < $AUTOPACK_CONFIG < the batch's
    and the run's config files < overrides < model, max_attempts. An override the config refuses is named
    with the batch file's line."""
    from ..config import ConfigLayer, config_layers, load_effective_config
    from ..overrides import RunOverrides

    # A clone's own project config is not known before it is cloned: none is read for it here (not the
    # current directory's either).
    layers = config_layers(None, run.local_repository() or Path("/")) + [
        ConfigLayer("batch config", p) for p in run.config_files
    ]
    config = load_effective_config(layers=layers)
    try:
        return RunOverrides(run.model, run.strong_model, None, run.max_attempts, extra=run.overrides or None).apply(
            config
        )
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            line = _override_line(batch, run, loc)
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            msgs.append(f"{batch.path}{f':{line}' if line else ''}: overrides.{format_loc(loc)}: {msg}")
        raise BatchError("; ".join(msgs)) from None


def config_layer(run: RunSpec) -> dict[str, Any] | None:
    """What ``autopack run --config`` gets for this run: $AUTOPACK_CONFIG's file, the batch's and the run's
    config files and the overrides, merged as layers merge (None when there is nothing to add)."""
    import os

    from ..config import merge_layer

    files = list(run.config_files)
    if files or run.overrides:
        from_env = os.environ.get("AUTOPACK_CONFIG")
        if from_env:  # --config replaces $AUTOPACK_CONFIG: keep what it said
            files.insert(0, Path(from_env))
    if not files and not run.overrides:
        return None
    data: dict[str, Any] = {}
    for path in files:
        layer, _ = load_with_lines(path)
        if isinstance(layer, dict):
            data = merge_layer(data, layer)
    return merge_layer(data, run.overrides) if run.overrides else data


def _override_line(batch: Batch, run: RunSpec, loc: Loc) -> int | None:
    """The line of the override ``loc`` names: the run's own, else the batch's."""
    for prefix in (run.loc, ()):
        line = batch.lines.get((*prefix, "overrides", *loc))
        if line is not None:
            return line
    return batch.lines.get((*run.loc, "overrides")) or batch.lines.get(("overrides",))


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    from ..config import merge_layer

    return merge_layer(base, over) if over else dict(base)


def _repo_name(item: str) -> str:
    tail = item.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
    return tail.removesuffix(".git") or "project"


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "batch"
    return slug if slug[0].isalnum() else f"b{slug}"


def _unique(run_id: str, taken: set[str]) -> str:
    candidate, n = run_id, 2
    while candidate in taken:
        candidate = f"{run_id}-{n}"
        n += 1
    taken.add(candidate)
    return candidate
