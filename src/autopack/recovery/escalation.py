"""Model escalation: which model a phase starts on, and where it moves after failures.

Each role (builder, auditor) has a chain of models per complexity tier
(``escalation_chains.<role>.<tier>.models``). The phase category's routing policy orders a tier:

- PROGRESSIVE: the chain as written (weakest first); start on its first model.
- BEST_FIRST: start on the chain's last (strongest) model; there is nothing stronger in the tier,
  so failures there only move the phase across tiers.
- CHEAP_FIRST: the chain sorted by price (input + output per million tokens, unpriced models
  treated as the most expensive, ties keep chain order); start on the cheapest.

Escalation (``next_rung``): only failures whose category is in
``complexity_escalation.failure_types`` count (``counts_for_escalation``). After each counted
failure at a tier the phase moves *intra-tier* to the next model of that tier's order, if any (past
models the phase has already failed on, when a later one has not).
Once the counted failures at the tier reach its threshold (``thresholds.low_to_medium`` at low,
``thresholds.medium_to_high`` at medium) it moves *cross-tier* to the next complexity, starting on
the first model of that tier's order the phase has not failed on yet (the tier's last model when
it has failed on all of them), and the count starts again at zero. Starting again on the model just
tried (the default chains share models between tiers) spent attempts on a model that had already
failed: measured by scripts/bench/finishing.py (issue 15), it kept most phases off the strongest
model within their five attempts. At high with the order exhausted it stays on the last model.
With ``complexity_escalation.enabled: false`` it never crosses tiers (intra-tier escalation still
happens).

A model that sends a reply identical to one it already sent in the phase is stuck: retrying it
would most likely send the same reply again. Such a failure (``repeated=True``) moves the phase on
at once, to the tier's next model or across the tier, whatever the threshold says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import COMPLEXITIES, Config, Policy

ROLES = ("builder", "auditor")


@dataclass(frozen=True)
class Rung:
    """Where a phase stands on the ladder: the model it uses and the complexity tier it is at."""

    model: str
    complexity: str


def _chain(cfg: Config, role: str, complexity: str) -> list[str]:
    if role not in ROLES:
        raise ValueError(f"unknown escalation role {role!r}; expected one of {ROLES}")
    if complexity not in COMPLEXITIES:
        raise ValueError(f"unknown complexity {complexity!r}; expected one of {COMPLEXITIES}")
    tiers = getattr(cfg.escalation_chains, role)
    return tiers.for_complexity(complexity)


def _price(cfg: Config, model: str) -> float:
    price = cfg.price_for(model)
    if price is None:
        return math.inf
    return 0.0 if price.free else price.input + price.output


def tier_order(cfg: Config, role: str, category: str, complexity: str) -> list[str]:
    """The models of a tier in the order the phase category's policy walks them."""
    chain = _chain(cfg, role, complexity)
    policy = cfg.routing.policy_for(category)
    if policy == Policy.BEST_FIRST:
        return [chain[-1]]
    if policy == Policy.CHEAP_FIRST:
        return sorted(chain, key=lambda m: _price(cfg, m))  # stable: ties keep chain order
    return chain


def first_model(cfg: Config, category: str, complexity: str, role: str) -> str:
    """The model a phase of this category and complexity starts on for ``role``."""
    return tier_order(cfg, role, category, complexity)[0]


def counts_for_escalation(category: str, cfg: Config) -> bool:
    """True when a failure of this error category counts toward escalation."""
    return str(category) in cfg.complexity_escalation.failure_types


def _threshold(cfg: Config, complexity: str) -> int | None:
    t = cfg.complexity_escalation.thresholds
    return {"low": t.low_to_medium, "medium": t.medium_to_high}.get(complexity)


def next_rung(
    cfg: Config,
    role: str,
    category: str,
    current: Rung,
    counted_failures_at_tier: int,
    tried: Sequence[str] = (),
    *,
    repeated: bool = False,
) -> tuple[Rung, str | None]:
    """The rung after a counted failure, and why it changed (None when it stays).

    ``category`` is the phase category (it picks the policy); ``counted_failures_at_tier`` counts
    the counted failures at ``current.complexity``, the one just seen included; ``tried``: the models
    the phase has failed on (a tier is entered on the first of its order not among them);
    ``repeated``: the model sent a reply it had already sent in the phase (move on now).
    """
    threshold = _threshold(cfg, current.complexity)
    can_cross = cfg.complexity_escalation.enabled and threshold is not None
    order = tier_order(cfg, role, category, current.complexity)
    index = order.index(current.model) if current.model in order else -1
    if can_cross and threshold is not None and counted_failures_at_tier >= threshold:
        return _cross(
            cfg,
            role,
            category,
            current,
            tried,
            f"{counted_failures_at_tier} counted failures at {current.complexity} complexity (threshold {threshold})",
        )
    if index + 1 < len(order):
        later = order[index + 1 :]
        model = next((m for m in later if m not in tried), later[0])  # past models that already failed here
        if index < 0:
            reason = f"{current.model} is not in the {current.complexity} chain: moving to {model}"
        elif repeated:
            reason = f"{current.model} sent the same reply again: escalating within {current.complexity} complexity to {model}"
        else:
            reason = f"failure on {current.model}: escalating within {current.complexity} complexity to {model}"
        return Rung(model, current.complexity), reason
    if repeated and can_cross:
        return _cross(cfg, role, category, current, tried, f"{current.model} sent the same reply again")
    return current, None


def _cross(cfg: Config, role: str, category: str, current: Rung, tried: Sequence[str], why: str) -> tuple[Rung, str]:
    """Up one complexity tier, on the first model of its order the phase has not failed on yet."""
    target = COMPLEXITIES[COMPLEXITIES.index(current.complexity) + 1]
    order = tier_order(cfg, role, category, target)
    fresh = [m for m in order if m not in tried and m != current.model]
    model = fresh[0] if fresh else order[-1]
    if not fresh:  # the phase failed on every model of the tier: its last (strongest by order) once more
        skipped = f" (every model of that tier already failed: {', '.join(order)}; the last again)"
    elif model != order[0]:
        skipped = f" ({', '.join(order[: order.index(model)])} already failed)"
    else:
        skipped = ""
    return Rung(model, target), f"{why}: escalating to {target} complexity on {model}{skipped}"


def attempts_exhausted(cfg: Config, attempts: int) -> bool:
    """True when a phase has used ``complexity_escalation.max_attempts_per_phase`` attempts."""
    return attempts >= cfg.complexity_escalation.max_attempts_per_phase


class EscalationLadder:
    """The escalation state of one phase for one role: current rung and counted failures at its tier."""

    def __init__(self, cfg: Config, role: str, category: str, complexity: str) -> None:
        self.cfg = cfg
        self.role = role
        self.category = category
        self.current = Rung(first_model(cfg, category, complexity, role), complexity)
        self.failures_at_tier = 0
        self.tried: list[str] = []  # models the phase failed on, in order

    def record_failure(self, category: str, *, repeated: bool = False) -> str | None:
        """Record a failed attempt of error ``category``; the reason when the rung changed.
        ``repeated``: the failed reply was one the model had already sent in the phase."""
        if self.current.model not in self.tried:
            self.tried.append(self.current.model)
        if not counts_for_escalation(category, self.cfg):
            return None
        self.failures_at_tier += 1
        new, reason = next_rung(
            self.cfg, self.role, self.category, self.current, self.failures_at_tier, self.tried, repeated=repeated
        )
        if new.complexity != self.current.complexity:
            self.failures_at_tier = 0
        self.current = new
        return reason

    @classmethod
    def from_history(
        cls,
        cfg: Config,
        role: str,
        category: str,
        complexity: str,
        history: Sequence[tuple[str, str, str | None] | tuple[str, str, str | None, bool]],
    ) -> EscalationLadder:
        """Rebuild the ladder on resume from stored attempts ``(model, complexity, error_category)``,
        oldest first (error_category None for an attempt that did not fail), optionally with a fourth
        item: the reply repeated one the model had sent before in the phase.

        The stored rung of each attempt wins over what the ladder would have picked, so a config
        edited between runs cannot rewrite history; the counted failures at the current tier are
        those since the phase entered it.
        """
        ladder = cls(cfg, role, category, complexity)
        for model, tier, error_category, *rest in history:
            if tier != ladder.current.complexity:
                ladder.failures_at_tier = 0
            ladder.current = Rung(model, tier)
            if error_category is not None:
                ladder.record_failure(error_category, repeated=bool(rest and rest[0]))
        return ladder
