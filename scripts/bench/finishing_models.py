"""Simulated models for the finishing-power benchmark, calibrated on Aider's polyglot leaderboard.

Source: ``../shared/data/aider_polyglot_leaderboard.csv``, Aider's public polyglot leaderboard (225
Exercism exercises in six languages) as published in ``aider/website/_data/polyglot_leaderboard.yml``
of the Aider-AI/aider repository at commit 5dc9490bb35f9729ef2c95d00a19ccd30c26339c.

Each model the config routes to stands for one leaderboard row (``FAMILIES``: the same model where
the leaderboard has it, else the newest row of its family). From the row:

- ``pass_rate_1`` (solved on the first try) and ``pass_rate_2`` (solved after one retry that sees the
  failing tests) calibrate an item-response model: task t has a difficulty d_t, model m a skill s_m,
  and a first try succeeds with probability sigmoid(s_m - d_t); a retry that sees the error adds a
  lift delta_m. s_m is solved so that the mean over the benchmark's tasks of the first-try probability
  is pass_rate_1, and delta_m so that the mean probability of success within two tries is pass_rate_2.
  The difficulty is shared by every model, so a task the cheap model fails is harder for the strong
  one too (and the random draws are shared as well: the k-th Builder call of a phase uses the same
  uniform number whichever model makes it).
- ``100 - percent_cases_well_formed``: the share of replies whose edit is malformed (for JSON roles:
  the share of replies with no valid JSON).
- ``total_cost / test_cases`` and ``seconds_per_case``: output tokens and seconds per try. A case
  takes 2 - pass_rate_1 tries on average; with the row's list price (``FAMILIES``) and an assumed
  ``AIDER_INPUT_TOKENS`` per try, the cost of a try gives its output tokens (hidden reasoning
  included, at least ``MIN_OUTPUT_TOKENS``); seconds per try over output tokens gives the speed.

What the leaderboard does not say is an assumption, named in ``Assumptions`` with its default and
printed with the results.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LEADERBOARD = Path(__file__).resolve().parents[3] / "shared" / "data" / "aider_polyglot_leaderboard.csv"
LEADERBOARD_COMMIT = "5dc9490bb35f9729ef2c95d00a19ccd30c26339c"

# A model name -> (leaderboard row, that row's list price in USD per million tokens (input, output)):
# the first pattern that matches. The row is the same model where the leaderboard has it, else the
# newest row of the model's family (the leaderboard ends in 2025-10; newer models get their family's
# row, which undersells them). The price only turns the row's cost into tokens; the benchmark
# charges the config's prices (config/models.yaml).
FAMILIES: tuple[tuple[str, str, tuple[float, float]], ...] = (
    (r"^glm-", "Kimi K2", (0.60, 2.50)),  # no GLM row: the open-weight MoE of the same price class and months
    (r"^claude-haiku-", "claude-3-5-haiku-20241022", (0.80, 4.00)),
    (r"^claude-sonnet-", "claude-sonnet-4-20250514 (no thinking)", (3.00, 15.00)),
    (r"^claude-opus-", "claude-opus-4-20250514 (no think)", (15.00, 75.00)),
    (r"^gpt-[\d.]+-nano", "gpt-4.1-nano", (0.10, 0.40)),
    (r"^gpt-[\d.]+-mini", "gpt-4.1-mini", (0.40, 1.60)),  # no gpt-5-mini row
    (r"^gpt-5", "gpt-5 (medium)", (1.25, 10.00)),  # the API's default reasoning effort
    (r"^gpt-4\.1", "gpt-4.1", (2.00, 8.00)),
    (r"^gemini-.*flash", "gemini-2.5-flash-preview-05-20 (no think)", (0.15, 0.60)),
    (r"^gemini-", "gemini-2.5-pro-preview-06-05 (default think)", (1.25, 10.00)),
    # DeepSeek's API answers in thinking mode unless told otherwise (autopack does not): its Reasoner row.
    (r"^deepseek", "DeepSeek-V3.2-Exp (Reasoner)", (0.28, 0.42)),
    (r"^o3", "o3", (2.00, 8.00)),
)


class UnknownModel(ValueError):
    pass


def row_for(model: str) -> tuple[str, tuple[float, float]]:
    """The leaderboard row that stands for ``model`` and that row's list price (see ``FAMILIES``)."""
    name = model.split("/", 1)[-1]
    for pattern, row, price in FAMILIES:
        if re.match(pattern, name):
            return row, price
    raise UnknownModel(
        f"{model}: no leaderboard row stands for it; add its family to FAMILIES in {Path(__file__).name}"
    )


AIDER_INPUT_TOKENS = 4000  # assumed prompt tokens of one leaderboard try (instructions, files, test output)
MIN_OUTPUT_TOKENS = 500


@dataclass(frozen=True)
class Assumptions:
    """What the simulation assumes where the leaderboard is silent (logits unless said otherwise)."""

    difficulty_sd: float = 1.5  # spread of task difficulty
    size_weight: float = 0.6  # share of difficulty from the body's size (lines + 2 x branches), the rest noise
    retry_decay: float = 0.5  # each retry of the same model beyond its second try loses this much
    hint_lift: float = 1.0  # a Doctor hint or a re-plan that understood the task
    repeat_reply: float = 0.3  # a failed retry resends the model's previous failed reply verbatim
    false_reject: float = 0.1  # x (1 - pass_rate_2): an Auditor rejects a right change
    planner_bad_scope: float = 0.1  # a re-plan names a scope outside the plan's allowed paths
    rate_limit: float = 0.03  # a call answered HTTP 429 (Retry-After 2-20 s)
    server_error: float = 0.01  # a call answered HTTP 500
    # How a Doctor that did not understand the failure answers (the rest of its weight: retry_with_fix
    # with a generic hint); one that understood answers retry_with_fix with a hint that helps.
    doctor_lost: tuple[tuple[str, float, float], ...] = (
        ("retry_with_fix", 0.45, 0.55), ("replan", 0.30, 0.60), ("skip_phase", 0.15, 0.60), ("mark_fatal", 0.10, 0.50))  # fmt: skip
    # A wrong Builder reply that is well formed: its kind, by weight.
    wrong_kinds: tuple[tuple[str, float], ...] = (
        ("mutant", 0.65), ("placeholder", 0.15), ("other_body", 0.12), ("out_of_scope", 0.08))  # fmt: skip
    malformed_kinds: tuple[tuple[str, float], ...] = (
        ("search_mismatch", 0.4), ("truncated", 0.3), ("no_divider", 0.15), ("no_path", 0.15))  # fmt: skip

    def rows(self) -> list[tuple[str, str]]:
        return [
            (
                "task difficulty",
                f"N(0, {self.difficulty_sd}) logits: {self.size_weight:.0%} from the body's size, the rest seeded noise",
            ),
            ("retries past the second", f"-{self.retry_decay} logit each (same model, same phase revision)"),
            (
                "helpful hint or re-plan",
                f"+{self.hint_lift} logit on later tries; helpful with the model's second-try odds",
            ),
            ("same reply again", f"{self.repeat_reply:.0%} of failed retries resend the previous failed reply"),
            ("Auditor false rejection", f"{self.false_reject} x (1 - pass_rate_2) of right changes"),
            ("re-plan scope refused", f"{self.planner_bad_scope:.0%} of re-plan replies"),
            ("HTTP 429 / 500", f"{self.rate_limit:.0%} / {self.server_error:.0%} of calls"),
            ("Doctor without a clue", ", ".join(f"{a} {w:.0%}" for a, w, _ in self.doctor_lost)),
            ("wrong well-formed edits", ", ".join(f"{k} {w:.0%}" for k, w in self.wrong_kinds)),
            ("malformed edits", ", ".join(f"{k} {w:.0%}" for k, w in self.malformed_kinds)),
            (
                "prompt cache",
                "a system prompt sent again to the same model within 5 simulated minutes is read from cache",
            ),
        ]


@dataclass(frozen=True)
class Row:
    name: str
    pass_rate_1: float  # 0..1
    pass_rate_2: float
    malformed: float  # 0..1
    cost_per_case: float
    seconds_per_case: float


def load_rows(path: Path = LEADERBOARD) -> dict[str, Row]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            cases = float(r["test_cases"] or 225)
            out[r["model"]] = Row(r["model"], float(r["pass_rate_1"]) / 100, float(r["pass_rate_2"]) / 100,
                                  1 - float(r["percent_cases_well_formed"]) / 100,
                                  float(r["total_cost"] or 0) / cases, float(r["seconds_per_case"]))  # fmt: skip
    return out


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x > -50 else 0.0


def _solve(f: object, target: float, lo: float = -15, hi: float = 15) -> float:
    for _ in range(80):
        mid = (lo + hi) / 2
        if f(mid) < target:  # type: ignore[operator]
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class SimModel:
    """One shipped model as the simulation sees it."""

    name: str
    row: Row
    skill: float = 0.0
    lift: float = 0.0
    output_tokens: float = 0.0  # per Builder try, hidden reasoning included
    tokens_per_second: float = 50.0

    def describe(self) -> list[str]:
        r = self.row
        return [self.name, r.name, f"{r.pass_rate_1:.1%}", f"{r.pass_rate_2:.1%}", f"{r.malformed:.1%}",
                f"{self.skill:+.2f}", f"{self.lift:+.2f}", f"{self.output_tokens:,.0f}", f"{self.tokens_per_second:.0f}"]  # fmt: skip


MODEL_COLUMNS = ["model", "leaderboard row", "pass 1", "pass 2", "malformed", "skill", "retry lift",
                 "out tokens/try", "tokens/s"]  # fmt: skip


@dataclass
class Calibration:
    models: dict[str, SimModel]
    difficulty: dict[str, float]  # task id -> logit
    assumptions: Assumptions = field(default_factory=Assumptions)


def difficulties(sizes: dict[str, float], noise: dict[str, float], a: Assumptions) -> dict[str, float]:
    """d_t = sd x (w x z(log size) + sqrt(1 - w^2) x noise_t): standard normal noise keeps the spread at sd."""
    logs = {k: math.log(1 + v) for k, v in sizes.items()}
    mean = sum(logs.values()) / len(logs)
    var = sum((v - mean) ** 2 for v in logs.values()) / max(1, len(logs) - 1)
    sd = math.sqrt(var) or 1.0
    w = a.size_weight
    return {k: a.difficulty_sd * (w * (logs[k] - mean) / sd + math.sqrt(1 - w * w) * noise[k]) for k in sizes}


def calibrate(
    names: Sequence[str], difficulty: dict[str, float], a: Assumptions, rows: dict[str, Row] | None = None
) -> Calibration:
    """Skill and retry lift per model so the mean over these tasks matches its row (module docstring)."""
    rows = rows or load_rows()
    ds = list(difficulty.values())
    models: dict[str, SimModel] = {}
    for name in names:
        row_name, (p_in, p_out) = row_for(name)
        row = rows[row_name]
        skill = _solve(lambda s: sum(sigmoid(s - d) for d in ds) / len(ds), row.pass_rate_1)

        def two_tries(lift: float, s: float = skill) -> float:
            return sum(1 - (1 - sigmoid(s - d)) * (1 - sigmoid(s + lift - d)) for d in ds) / len(ds)

        lift = _solve(two_tries, row.pass_rate_2, lo=-5, hi=20)
        tries = 2 - row.pass_rate_1
        per_try = row.cost_per_case / tries
        out = max(MIN_OUTPUT_TOKENS, (per_try - AIDER_INPUT_TOKENS * p_in / 1e6) / (p_out / 1e6))
        seconds = row.seconds_per_case / tries
        models[name] = SimModel(name, row, skill, lift, out, out / seconds)
    return Calibration(models, difficulty, a)
