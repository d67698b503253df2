"""The Builder: asks a model for code edits in the phase's edit format.

The system text holds what stays the same for longest: the fixed instructions (role, edit format with
its worked example), the read-only files, the repository outline and the scope files. The message holds
what changes between attempts: the phase, the learned rules, the hint and the retry section.

A reply cut off at the provider's token limit is continued (the partial reply sent back as the
assistant's prefix where the provider allows it, else with a request to continue); if it is still cut
off, it is returned marked truncated and the executor never applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import BuilderSettings
from ..llm.types import ProviderError
from .base import CallContext, Completer, assistant, render, user
from .context import BuilderContext

PREFILL_PROVIDERS = {"anthropic", "scripted", "replay"}
CONTINUE_PROMPT = (
    "Your reply was cut off by the length limit. Continue exactly where it stopped, without repeating anything."
)


@dataclass(frozen=True)
class CachePlan:
    """Which prompt-cache breakpoints a Builder request may write: only those a later request can read
    (a write costs more than plain input, 1.25 x on Anthropic; a read 0.1 x)."""

    shared: bool = True  # after the instructions and the read-only files: later phases on this model read it
    phase: bool = True  # after the outline and the scope files: this phase's next attempt on this model reads it


@dataclass(frozen=True)
class BuilderReply:
    text: str
    truncated: bool
    model: str
    provider: str
    continuations: int
    cost_usd: float


class Builder:
    def __init__(self, service: Completer, settings: BuilderSettings) -> None:
        self.service = service
        self.settings = settings

    @staticmethod
    def system_prompt(mode: str) -> str:
        """The fixed instructions: the Builder's role and rules, and the edit format with its example."""
        return render("builder_system.md", format_instructions=render(f"format_{mode}.md"))

    @staticmethod
    def message(context: BuilderContext, rules_text: str) -> str:
        """The user message: the phase, the learned rules, then the hint and the retry section."""
        rules = f"\nLearned rules for this project (follow them):\n{rules_text.strip()}\n" if rules_text.strip() else ""
        return context.task + rules + "\n" + context.request

    def build(
        self,
        *,
        model: str,
        mode: str,
        context: BuilderContext,
        rules_text: str,
        ctx: CallContext,
        cache: CachePlan | None = None,
    ) -> BuilderReply:
        instructions = self.system_prompt(mode) + "\n"
        system = instructions + context.readonly + context.scope
        plan = cache or CachePlan()
        # Breakpoints: after the read-only files (what a run's phases share), after the scope files (what
        # a phase's attempts share). The provider drops one whose prefix is too short to cache.
        breaks = [len(instructions) + len(context.readonly)] if plan.shared else []
        breaks += [len(system)] if plan.phase else []
        context_text = self.message(context, rules_text)
        result = self._complete(model, system, breaks, [user(context_text)], ctx)
        text = result.response.text
        cost = result.cost_usd
        continuations = 0
        while result.response.truncated and continuations < self.settings.max_continuations:
            continuations += 1
            prefill = result.provider in PREFILL_PROVIDERS
            if prefill:
                # Providers reject a prefix ending in whitespace; the model re-emits it.
                text = text.rstrip()
            try:
                result = self._continue(model, system, breaks, context_text, text, prefill, ctx)
            except ProviderError as exc:
                if not prefill or exc.kind != "bad_request":
                    raise
                # Some models refuse an assistant prefix: ask them to continue instead.
                result = self._continue(model, system, breaks, context_text, text, False, ctx)
            text += result.response.text
            cost += result.cost_usd
        return BuilderReply(
            text=text,
            truncated=result.response.truncated,
            model=result.model,
            provider=result.provider,
            continuations=continuations,
            cost_usd=cost,
        )

    def _continue(
        self,
        model: str,
        system: str,
        breaks: list[int],
        context_text: str,
        partial: str,
        prefill: bool,
        ctx: CallContext,
    ) -> Any:
        follow = (
            [user(context_text), assistant(partial)]
            if prefill
            else [user(context_text), assistant(partial), user(CONTINUE_PROMPT)]
        )
        return self._complete(model, system, breaks, follow, ctx)

    def _complete(self, model: str, system: str, breaks: list[int], messages: Any, ctx: CallContext) -> Any:
        return self.service.complete(
            role="builder",
            model=model,
            system=system,
            messages=messages,
            max_tokens=self.settings.max_output_tokens,
            policy=ctx.policy,
            phase_id=ctx.phase_id,
            attempt_id=ctx.attempt_id,
            cache_breaks=breaks,
        )
