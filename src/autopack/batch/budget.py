"""Cost caps of a batch: each run's own cap, and the batch's, which the runs together never pass.

A run starts with a cap (``autopack run --max-cost``) the batch has set aside for it: the smaller of
its own cap and what the batch has left (its cap, less what finished runs spent, less what it set
aside for the runs still going). ``autopack run`` never makes a call its cap cannot cover, so the
batch's spend stays under its cap whatever the runs do. When what is left would not cover a run's
own cap, the run waits for a running one to give back what it did not spend; with nothing running,
it starts with what is left; with nothing left, it does not start (resumable: raise the cap).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Below this much (USD) there is nothing left to start a run with.
NOTHING = 1e-9


@dataclass(frozen=True)
class Grant:
    """A run may start with ``cap`` (None: no cap from the batch; the run's config decides)."""

    cap: float | None


@dataclass(frozen=True)
class Wait:
    """Not now: a running run may give budget back."""

    left: float


@dataclass(frozen=True)
class Exhausted:
    """The batch's cap is spent: the run does not start."""

    cap: float
    spent: float


@dataclass
class BatchBudget:
    cap: float | None
    spent: dict[str, float] = field(default_factory=dict)  # what each run has spent, as last known
    granted: dict[str, float] = field(default_factory=dict)  # the caps of the runs going now

    def total_spent(self) -> float:
        return sum(self.spent.values())

    def left(self) -> float:
        """The batch cap less what runs not going spent and what running runs were given."""
        if self.cap is None:
            return float("inf")
        idle = sum(v for k, v in self.spent.items() if k not in self.granted)
        return self.cap - idle - sum(self.granted.values())

    def request(self, run_id: str, own_cap: float | None) -> Grant | Wait | Exhausted:
        spent = self.spent.get(run_id, 0.0)
        if self.cap is None:
            return self._give(run_id, own_cap)
        left = self.left() + spent  # this run's own spend is counted in ``left`` and in its new cap
        room = left - spent
        if room <= NOTHING:
            return Wait(room) if self.granted else Exhausted(self.cap, self.total_spent())
        wanted = None if own_cap is None else max(own_cap - spent, 0.0)
        if wanted is not None and wanted <= room:
            return self._give(run_id, own_cap)
        if self.granted:
            return Wait(room)
        return self._give(run_id, spent + room)

    def _give(self, run_id: str, cap: float | None) -> Grant:
        if cap is not None:
            self.granted[run_id] = cap
        return Grant(cap)

    def finished(self, run_id: str, spent: float) -> None:
        self.granted.pop(run_id, None)
        self.spent[run_id] = spent

    def update(self, run_id: str, spent: float) -> None:
        self.spent[run_id] = spent
