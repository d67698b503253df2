"""One run of the finishing-power benchmark: a policy on a plan, through autopack's real runner.

A policy is a config layer over the shipped config (written as YAML and passed as ``--config`` would
be) and, for the single-model policies, the ``--model`` override. The run goes through
``autopack.runner.execute`` in this process with two seams taken from the bench side:

- ``runner.prepare`` is wrapped to hand the run our ``SimulatedProvider`` as the provider that
  answers every call (as ``--script`` hands it a ScriptedProvider);
- ``runner.make_service`` is wrapped to give the service the provider's simulated clock instead of
  ``time.sleep`` (back-off waits after HTTP 429/500 are counted, not slept).

Everything else is autopack's: the executor's recovery decisions, the service's retries and costs,
edit application, the gate running the package's tests, git commits, the run store.

``run_job`` returns the run's figures: phase states, calls and cost by role from the run store,
simulated model seconds from the provider, and the calls that could not change the outcome
(``wasted``), found by walking the run's events with the provider's log of each call.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from finishing_models import Calibration
from finishing_provider import CallLog, SimulatedProvider, body_of
from finishing_tasks import PlanSpec, Task, make_project

CHECK = Path(__file__).resolve().parent / "finishing_check.py"
COMMON: dict[str, Any] = {"quality_gate": {"checks_env": "autopack"}}  # checks run on autopack's interpreter


@dataclass(frozen=True)
class Policy:
    name: str
    what: str
    layer: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # --model: every role on this model

    def config(self) -> dict[str, Any]:
        return _merge(COMMON, self.layer)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _chains(models: dict[str, list[str]]) -> dict[str, Any]:
    return {tier: {"models": ms} for tier, ms in models.items()}


def routed_models(config: Any) -> list[str]:
    """Every model the config can send a call to (chains, Doctor, tier strategy, Planner, fallbacks)."""
    ch = config.escalation_chains
    names = [m for role in (ch.builder, ch.auditor) for t in ("low", "medium", "high") for m in role.for_complexity(t)]
    names += [config.doctor_models.cheap, config.doctor_models.strong, config.routing.planner_model]
    names += [str(getattr(config.routing.tier_strategy, t)) for t in ("low", "medium", "high")]
    names += list(config.routing.fallback_models.values())
    return list(dict.fromkeys(names))


def make_policies(config: Any, cal: Calibration) -> list[Policy]:
    """The policies compared, read off the shipped ``config``: the cheapest model it routes to (by price),
    the strongest (by its leaderboard row's pass_rate_2), its first Builder model for the plain loop."""
    routed = routed_models(config)

    def price(m: str) -> float:
        p = config.price_for(m)
        return (p.input + p.output) if p else 1e9

    cheapest = min(routed, key=price)
    strongest = max(routed, key=lambda m: (cal.models[m].row.pass_rate_2, cal.models[m].row.pass_rate_1, -price(m)))
    plain = config.escalation_chains.builder.for_complexity("low")[0]
    firsts = {t: [config.escalation_chains.builder.for_complexity(t)[0]] for t in ("low", "medium", "high")}
    tries = config.complexity_escalation.max_attempts_per_phase
    return [
        plain_loop("plain loop", plain, tries),
        Policy("always cheapest", f"--model {cheapest} (the cheapest model the config routes to): every role on it, "
               "recovery as shipped", model=cheapest),
        Policy("always strongest", f"--model {strongest} (the routed model with the best leaderboard pass rates): "
               "every role on it, recovery as shipped", model=strongest),
        Policy("shipped", "config/models.yaml as it is"),
        Policy("no Doctor", "shipped, doctor_models.max_calls_per_phase: 0", {"doctor_models": {"max_calls_per_phase": 0}}),
        Policy("no re-plan", "shipped, replan.max_replans_per_phase: 0", {"replan": {"max_replans_per_phase": 0}}),
        Policy("no escalation", "shipped, each tier's first Builder model only and complexity_escalation.enabled: false",
               {"complexity_escalation": {"enabled": False}, "escalation_chains": {"builder": _chains(firsts)}}),
        Policy("threshold 1", "shipped, escalation thresholds 1 (low_to_medium and medium_to_high)",
               {"complexity_escalation": {"thresholds": {"low_to_medium": 1, "medium_to_high": 1}}}),
        Policy("threshold 3", "shipped, escalation thresholds 3",
               {"complexity_escalation": {"thresholds": {"low_to_medium": 3, "medium_to_high": 3}}}),
    ]  # fmt: skip


def plain_loop(name: str, model: str, tries: int, layer: dict[str, Any] | None = None) -> Policy:
    """One model for every role, retried with the error up to ``tries`` times: no escalation, re-plan or
    Doctor (``layer``: what else the model needs, e.g. its endpoint)."""
    everywhere = _chains({t: [model] for t in ("low", "medium", "high")})
    return Policy(name, f"{model} for every role, retried with the error up to {tries} times (the shipped "
                  "max_attempts_per_phase); no escalation, re-plan or Doctor", _merge(layer or {}, {
                      "escalation_chains": {"builder": everywhere, "auditor": everywhere},
                      "complexity_escalation": {"enabled": False}, "replan": {"max_replans_per_phase": 0},
                      "doctor_models": {"max_calls_per_phase": 0, "max_calls_per_run": 0, "cheap": model, "strong": model},
                      "routing": {"tier_strategy": {"low": model, "medium": model, "high": model}}}))  # fmt: skip


def plan_yaml(plan: PlanSpec, check_cache: Path | None) -> dict[str, Any]:
    cache = f" --cache {check_cache}" if check_cache else ""
    phases = []
    for t in plan.tasks:
        phases.append({
            "id": t.id, "name": f"Restore {t.name}()",
            "description": (f"The body of `{t.name}` in {t.module} was removed: it raises NotImplementedError. Write it "
                            f"again so that it does what its docstring says; the package's tests for it must pass."),
            "category": "feature", "complexity": t.complexity, "scope": [t.module],
            "checks": [f"python {CHECK}{cache} {' '.join(t.tests)}"], "builder_mode": "structured_edit",
            "depends_on": t.depends_on,
        })  # fmt: skip
    return {"project": plan.id, "goal": f"Restore the removed function bodies of {plan.module} ({plan.package} {plan.version}).",
            "allowed_paths": [plan.module], "phases": phases}  # fmt: skip


class Collector:
    """A quiet reporter keeping the events the analysis needs, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def close(self) -> None:
        pass


@contextlib.contextmanager
def seams(provider: SimulatedProvider) -> Iterator[None]:
    import autopack.runner as runner

    real_prepare, real_make_service = runner.prepare, runner.make_service

    def prepare(req: Any, *, dry_run: bool = False) -> tuple[Any, Any, Any]:
        config, plan, _ = real_prepare(req, dry_run=dry_run)
        return config, plan, provider

    def make_service(*args: Any, **kwargs: Any) -> Any:
        service = real_make_service(*args, **kwargs)
        service._sleep = provider.sleep  # noqa: SLF001 - no public seam for the back-off clock (see finishing.py)
        return service

    runner.prepare, runner.make_service = prepare, make_service  # type: ignore[assignment]
    try:
        yield
    finally:
        runner.prepare, runner.make_service = real_prepare, real_make_service  # type: ignore[assignment]


def provider_for(plan: PlanSpec, cal: Calibration, seed: int, pristine: Path, cached_models: set[str], *,
                 hopeless: set[str] | None = None, confused_planner: set[str] | None = None) -> SimulatedProvider:  # fmt: skip
    tasks = {t.id: t for t in plan.tasks}
    first_lines = {}
    for t in plan.tasks:
        if t.test_file not in first_lines:
            text = (pristine / t.test_file).read_text(encoding="utf-8").splitlines()
            first_lines[t.test_file] = next(
                (ln for ln in text if ln.startswith(("import ", "from "))), text[0] if text else ""
            )
    bodies = {plan.module: [body_of(t) for t in plan.tasks]}
    return SimulatedProvider(tasks, cal, seed=seed, cached_models=cached_models, other_bodies=bodies,
                             test_first_lines=first_lines, hopeless=hopeless, confused_planner=confused_planner)  # fmt: skip


def run_job(policy: Policy, plan: PlanSpec, pristine: Path, cal: Calibration, seed: int, check_cache: Path | None,
            *, hopeless: set[str] | None = None, confused_planner: set[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """One policy on one plan, in a temporary folder; returns its figures (module docstring)."""
    from autopack.config import load_effective_config
    from autopack.errors import AutopackError
    from autopack.overrides import RunOverrides
    from autopack.runner import RunRequest, execute

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="finishing-") as tmp:
        root = Path(tmp)
        make_project(plan, pristine, root / "project")
        (root / "plan.yaml").write_text(yaml.safe_dump(plan_yaml(plan, check_cache), sort_keys=False), encoding="utf-8")
        (root / "config.yaml").write_text(yaml.safe_dump(policy.config(), sort_keys=False), encoding="utf-8")
        (root / "xdg").mkdir()
        saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "AUTOPACK_CONFIG", "AUTOPACK_HOME")}
        os.environ["XDG_CONFIG_HOME"] = str(root / "xdg")  # no user config layer
        os.environ.pop("AUTOPACK_CONFIG", None)
        os.environ.pop("AUTOPACK_HOME", None)
        cwd = os.getcwd()
        os.chdir(root)
        try:
            config = load_effective_config(root / "config.yaml", project_dir=root / "project")
            cached_models = {m for m, p in config.models.items() if p.cached_input is not None} | {
                f"{ep.name}/{m}" for ep in config.endpoints for m, p in ep.models.items() if p.cached_input is not None
            }
            provider = provider_for(
                plan, cal, seed, pristine, cached_models, hopeless=hopeless, confused_planner=confused_planner
            )
            reporter = Collector()
            env = {k: v for k, v in os.environ.items() if k not in ("AUTOPACK_CONFIG", "AUTOPACK_HOME")}
            req = RunRequest(run_id=f"{plan.id}", plan_path=root / "plan.yaml", project_dir=root / "project",
                             home=root / "home", config_path=root / "config.yaml", env=env,
                             overrides=RunOverrides(model=policy.model))  # fmt: skip
            error = None
            with seams(provider):
                try:
                    result = execute(req, reporter)
                    status, reason = result.status, result.reason
                except AutopackError as exc:
                    status, reason, error = "ERROR", str(exc), str(exc)
                figures = _figures(root / "home", plan, policy, config, provider, reporter)
            if error:
                figures["reporter_tail"] = reporter.events[-5:]
        finally:
            os.chdir(cwd)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    figures.update(
        policy=policy.name, plan=plan.id, status=status, reason=reason, error=error, wall_s=time.perf_counter() - t0
    )
    return figures


def _figures(home: Path, plan: PlanSpec, policy: Policy, config: Any, provider: SimulatedProvider,
             reporter: Collector) -> dict[str, Any]:  # fmt: skip
    from autopack.layout import Layout

    db = Layout(home.resolve(), plan.id).db_path
    if not db.exists():
        return {"phases": len(plan.tasks), "states": {}, "complete": 0, "calls": {}, "cost_by_role": {}, "errors": 0,
                "cost": 0.0, "tokens_in": 0, "tokens_out": 0, "tokens_cached": 0, "attempts": 0, "model_s": provider.clock,
                "events": {}, "wasted": {}, "notes": {"no run store": 1}, "done_cost": 0.0, "kinds": {}, "rules": {},
                "hopeless_calls": {}}  # fmt: skip
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        states = Counter(s for (s,) in con.execute("SELECT state FROM phases"))
        calls = {r: (n, c, e) for r, n, c, e in con.execute(
            "SELECT role, COUNT(*), SUM(cost_usd), SUM(1 - ok) FROM llm_calls GROUP BY role")}  # fmt: skip
        tokens = con.execute("SELECT COALESCE(SUM(tokens_in),0), COALESCE(SUM(tokens_out),0), "
                             "COALESCE(SUM(tokens_cached),0) FROM llm_calls").fetchone()  # fmt: skip
        attempts = con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        kinds = Counter(k for (k,) in con.execute("SELECT kind FROM events"))
        by_phase_cost = dict(con.execute("SELECT phase_id, SUM(cost_usd) FROM llm_calls GROUP BY phase_id").fetchall())
        done = [p for (p,) in con.execute("SELECT phase_id FROM phases WHERE state='COMPLETE'")]
    finally:
        con.close()
    waste, notes = wasted_calls(reporter.events, provider.log, config.replan.max_replans_per_phase,
                                config.doctor.allow_execute_fix_global, config.complexity_escalation.max_attempts_per_phase)  # fmt: skip
    if len(provider.log) != sum(n for n, _, _ in calls.values()):
        notes["log mismatch"] = len(provider.log) - sum(n for n, _, _ in calls.values())
    return {
        "phases": len(plan.tasks),
        "states": dict(states),
        "complete": states.get("COMPLETE", 0),
        "calls": {r: n for r, (n, _, _) in calls.items()},
        "cost_by_role": {r: c or 0.0 for r, (_, c, _) in calls.items()},
        "errors": sum(e or 0 for _, _, e in calls.values()),
        "cost": sum(c or 0.0 for _, c, _ in calls.values()),
        "tokens_in": tokens[0],
        "tokens_out": tokens[1],
        "tokens_cached": tokens[2],
        "attempts": attempts,
        "model_s": provider.clock,
        "events": dict(kinds),
        "wasted": waste,
        "notes": notes,
        "done_cost": sum(by_phase_cost.get(p) or 0.0 for p in done),
        "kinds": dict(Counter(f"{c.role}:{c.kind}" for c in provider.log)),
        "rules": dict(Counter(c.kind for c in provider.log if c.sub == "rule")),
        "hopeless_calls": dict(Counter(_role_label(c) for c in provider.log)),
    }


def _role_label(c: CallLog) -> str:
    if c.role == "planner":
        return "planner (rule)" if c.sub == "rule" else "planner (re-plan)"
    return c.role


def wasted_calls(events: list[tuple[str, dict[str, Any]]], log: list[CallLog], max_replans: int,
                 execute_fix: bool, max_attempts: int = 5) -> tuple[dict[str, int], dict[str, int]]:  # fmt: skip
    """Calls that could not change the outcome, each counted once, by why:

    - ``after the last attempt``: a re-plan or a Doctor diagnosis after the phase's last allowed attempt
      (complexity_escalation.max_attempts_per_phase): no attempt is left to use it, unless the Doctor
      skips the phase, marks it fatal or rolls the run back;
    - ``re-plan after a failed re-plan``: Planner calls re-planning a phase whose previous re-plan failed
      (nothing was learned in between but more failures of the same plan);
    - ``Doctor: action already taken``: a diagnosis (all its calls) whose action and hint the phase
      already carried out, or a re-plan it could not get (the budget used, or a re-plan already refused),
      or execute_fix while it is disabled;
    - ``Builder: same reply again``: a Builder reply identical to one it already sent in the phase (the
      same edit on the same files fails the same way).

    Also counted (``notes``): Doctor rounds that ended with no readable verdict, calls whose log entry
    could not be lined up."""
    waste: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    calls = iter(log)
    phase: str | None = None
    failed_replan: set[str] = set()
    replans: Counter[str] = Counter()
    attempts: Counter[str] = Counter()
    taken: dict[str, set[tuple[str, str | None]]] = {}
    doctor_round: list[CallLog] = []

    def flush_doctor(action: str | None, hint: str | None) -> None:
        if not doctor_round:
            return
        p = phase or ""
        if action is None:
            notes["Doctor rounds with no verdict"] += 1
            if attempts[p] >= max_attempts:
                waste["after the last attempt"] += len(doctor_round)
        else:
            seen = taken.setdefault(p, set())
            if attempts[p] >= max_attempts and action not in ("skip_phase", "mark_fatal", "rollback_run"):
                waste["after the last attempt"] += len(doctor_round)
            elif ((action, hint) in seen or (action == "replan" and (replans[p] >= max_replans or p in failed_replan))
                    or (action == "execute_fix" and not execute_fix)):  # fmt: skip
                waste["Doctor: action already taken"] += len(doctor_round)
            seen.add((action, hint))
        doctor_round.clear()

    for kind, data in events:
        if kind == "phase_started":
            flush_doctor(None, None)
            phase = str(data["phase"])
        elif kind == "attempt_finished":
            attempts[str(data.get("phase"))] += 1
        elif kind == "llm_call":
            c = next(calls, None)
            if c is None:
                notes["calls without a log entry"] += 1
                continue
            if c.role != "doctor":
                flush_doctor(None, None)
            p = c.phase or phase or ""
            if c.role == "planner" and c.sub.startswith("replan") and attempts[p] >= max_attempts:
                waste["after the last attempt"] += 1
            elif c.role == "planner" and c.sub.startswith("replan") and p in failed_replan:
                waste["re-plan after a failed re-plan"] += 1
            elif c.role == "builder" and c.same_reply:
                waste["Builder: same reply again"] += 1
            elif c.role == "doctor":
                doctor_round.append(c)
        elif kind == "doctor_diagnosis":
            flush_doctor(str(data.get("action")), data.get("hint"))
        elif kind == "replan_failed":
            failed_replan.add(str(data.get("phase")))
        elif kind == "phase_replanned":
            p = str(data.get("phase"))
            replans[p] += 1
            failed_replan.discard(p)
    flush_doctor(None, None)
    return dict(waste), dict(notes)


# Models the candidates name (calibrated too, though the shipped config may not route to all of them).
CANDIDATE_MODELS = ("claude-haiku-5-5", "gemini-3.8-flash", "claude-sonnet-5-5", "gpt-5.5", "claude-opus-5-5")


def candidate_policies(config: Any) -> list[Policy]:
    """Tunings tried around the shipped config for issue 15 item 5 (``--candidates``), named with the shipped
    models of late 2026; a candidate naming a model the config does not price is left out. The first is the
    config shipped before the tuning (the seed's shape), run on today's code: before and after side by side."""
    h, f, s, g, o = CANDIDATE_MODELS
    tries = lambda n: {"complexity_escalation": {"max_attempts_per_phase": n}}  # noqa: E731
    before = {
        "escalation_chains": {
            "builder": _chains({"low": [h, f, s], "medium": [f, s, g], "high": [s, g]}),
            "auditor": _chains({"low": [h, f], "medium": [f, s], "high": [s, o]}),
        },
        "complexity_escalation": {"thresholds": {"low_to_medium": 2, "medium_to_high": 2}, "max_attempts_per_phase": 5},
        "health_budget": {"MAX_TOTAL_FAILURES_PER_RUN": 25},
    }
    out = [
        Policy("before tuning", "the config shipped before issue 15's tuning: Builder chains low [haiku, flash, sonnet], "
               "medium [flash, sonnet, gpt-5.5], high [sonnet, gpt-5.5], Auditor low [haiku, flash], medium [flash, "
               "sonnet], high [sonnet, opus], thresholds 2, 5 attempts, 25 failures a run", before),
        Policy("5 tries", "shipped, max_attempts_per_phase: 5", tries(5)),
        Policy("auditor before", "shipped, Auditor chains as before tuning (low [haiku, flash], medium [flash, sonnet], "
               "high [sonnet, opus])", {"escalation_chains": {"auditor": before["escalation_chains"]["auditor"]}}),
        Policy("s>g>g 6 tries", "no Haiku for the Builder: chains low [sonnet], medium and high [gpt-5.5], 6 attempts",
               _merge({"escalation_chains": {"builder": _chains({"low": [s], "medium": [g], "high": [g]})}}, tries(6))),
        Policy("failures 25", "shipped with the seed's health_budget.MAX_TOTAL_FAILURES_PER_RUN: 25 (shipped: 40)",
               {"health_budget": {"MAX_TOTAL_FAILURES_PER_RUN": 25}}),
        Policy("opus before gpt", "shipped with Opus before GPT-5.5: Builder medium [sonnet, opus], high [opus, gpt-5.5]",
               {"escalation_chains": {"builder": _chains({"low": [h, s], "medium": [s, o], "high": [o, g]})}}),
    ]  # fmt: skip
    if any(config.price_for(m) is None for m in (h, f, s, g, o)):
        return []
    return out + deepseek_policies(s, g, config.complexity_escalation.max_attempts_per_phase)


# The shipped profile that puts DeepSeek Flash in the cheap slots (``autopack config init --profile deepseek``);
# its endpoint and price come with it (src/autopack/profiles/deepseek.yaml).
DEEPSEEK_PROFILE = Path(__file__).resolve().parents[2] / "src" / "autopack" / "profiles" / "deepseek.yaml"
DEEPSEEK = "deepseek/deepseek-flash"
EXTRA_MODELS = (DEEPSEEK,)  # calibrated for --candidates: named by the DeepSeek profile, which prices it


def deepseek_policies(s: str, g: str, tries: int) -> list[Policy]:
    """A cheap model with near-GPT-5 leaderboard pass rates in the cheap slots: the shipped profile as it is,
    its plain loop, and the shape tried before it (one DeepSeek try at medium complexity). A third provider
    (keys, and code going to another vendor): a profile to choose, not the default."""
    profile: dict[str, Any] = yaml.safe_load(DEEPSEEK_PROFILE.read_text(encoding="utf-8"))
    d = DEEPSEEK
    endpoint = {"endpoints": profile["endpoints"]}
    first = {
        "escalation_chains": {"builder": _chains({"low": [d], "medium": [d, g], "high": [g]}),
                              "auditor": _chains({t: [d] for t in ("low", "medium", "high")})},
        "doctor_models": {"strong": s},
    }  # fmt: skip
    return [
        Policy("deepseek profile", "src/autopack/profiles/deepseek.yaml as it is: DeepSeek Flash for the Builder's first "
               "tries (low [deepseek], medium [deepseek], high [deepseek, gpt-5.5]), the Auditor, the Planner and the "
               "cheap Doctor; GPT-5.5 after it and as the strong Doctor", profile),
        plain_loop("deepseek plain loop", d, tries, endpoint),
        Policy("deepseek 10 tries", "the profile with max_attempts_per_phase: 10",
               _merge(profile, {"complexity_escalation": {"max_attempts_per_phase": 10}})),
        Policy("deepseek no Doctor", "the profile with doctor_models.max_calls_per_phase: 0",
               _merge(profile, {"doctor_models": {"max_calls_per_phase": 0}})),
        Policy("deepseek first", "the profile with Builder chains low [deepseek], medium [deepseek, gpt-5.5], high "
               "[gpt-5.5] and the strong Doctor on sonnet", _merge(profile, first)),
    ]  # fmt: skip


def task_of(plan: PlanSpec, pid: str) -> Task:
    return next(t for t in plan.tasks if t.id == pid)
