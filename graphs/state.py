"""The typed state every search graph carries (checkpointed after each node)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from agents.structured import Usage
from spaces.base import Trial

if TYPE_CHECKING:
    from graphs.context import RunContext


class SearchState(BaseModel):
    step: int = 0                       # proposal rounds so far (designer calls, baseline steps)
    trials: list[Trial] = []            # every candidate that reached a verdict, evaluated or rejected, in order
    pool: list[Trial] = []              # candidates awaiting the Critic (step 0 until one is chosen)
    pending: Trial | None = None        # the candidate between the Critic and its evaluation
    evaluations: int = 0
    rejections_in_row: int = 0          # rounds without an accepted candidate since the last evaluation
    fallbacks: int = 0                  # search steps used instead of a designer answer
    parse_failures: int = 0             # designer answers that never parsed
    usage: dict[str, Usage] = {}        # per role
    done: bool = False
    stop_reason: str = ""

    def evaluated(self) -> list[Trial]:
        return [t for t in self.trials if t.evaluation is not None and t.val_acc is not None]

    def best(self) -> Trial | None:
        return max(self.evaluated(), key=lambda t: t.val_acc, default=None)

    def add_usage(self, role: str, usage: Usage) -> dict[str, Usage]:
        return {**self.usage, role: self.usage.get(role, Usage()).add(usage)}

    def extra_result(self, ctx: "RunContext") -> dict:
        """What this graph adds to result.json beyond the common summary (graphs/result.py)."""
        return {}
