"""The typed state every search graph carries (checkpointed after each node)."""

from __future__ import annotations

from pydantic import BaseModel

from agents.structured import Usage
from memory.archive import Archive
from spaces.base import Trial


class SearchState(BaseModel):
    step: int = 0                       # proposals made so far (LLM or fallback)
    trials: list[Trial] = []            # every proposal, evaluated or rejected, in order
    pending: Trial | None = None        # the proposal between designer and evaluation
    evaluations: int = 0
    rejections_in_row: int = 0          # critic rejections since the last evaluation
    fallbacks: int = 0                  # seeded mutations used instead of an LLM proposal
    parse_failures: int = 0             # LLM answers that never parsed
    archive: Archive = Archive()
    usage: dict[str, Usage] = {}        # per role
    done: bool = False
    stop_reason: str = ""

    def evaluated(self) -> list[Trial]:
        return [t for t in self.trials if t.evaluation is not None and t.val_acc is not None]

    def best(self) -> Trial | None:
        return max(self.evaluated(), key=lambda t: t.val_acc, default=None)

    def add_usage(self, role: str, usage: Usage) -> dict[str, Usage]:
        return {**self.usage, role: self.usage.get(role, Usage()).add(usage)}
