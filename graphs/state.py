"""The typed state every search graph carries (checkpointed after each node)."""

from __future__ import annotations

import bisect
import threading
from typing import TYPE_CHECKING

from pydantic import BaseModel

from agents.structured import Usage
from spaces.base import Trial

if TYPE_CHECKING:
    from agents.critic import Evaluated, Standings
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

    def _view(self) -> "_Derived":
        """What the steps derive from the history (graphs/state.py: _Derived)."""
        return _derived(self.trials)

    def evaluated(self) -> list[Trial]:
        """The trials with a score, in order (a copy: the view behind it grows with the run)."""
        return _derived(self.trials).evaluated[:]

    def index(self) -> "Evaluated":
        """The evaluated trials by architecture and canonical form (agents/critic.py: Evaluated)."""
        return _derived(self.trials).index

    def standings(self) -> "Standings":
        """Every evaluation's standing, per source group (agents/critic.py: Standings)."""
        return _derived(self.trials).standings

    def best(self) -> Trial | None:
        return _derived(self.trials).best

    def best_first(self, k: int) -> list[Trial]:
        """The k best evaluated trials, best first (the first of equals first)."""
        return _derived(self.trials).ranked[:k]

    def rejected(self, k: int) -> list[Trial]:
        """The k latest trials the Critic (or the user) rejected, oldest first."""
        return _derived(self.trials).rejected[-k:]

    def add_usage(self, role: str, usage: Usage) -> dict[str, Usage]:
        return {**self.usage, role: self.usage.get(role, Usage()).add(usage)}

    def extra_result(self, ctx: "RunContext") -> dict:
        """What this graph adds to result.json beyond the common summary (graphs/result.py)."""
        return {}


class _Derived:
    """What the steps read from a history: the evaluated trials, their index, their standings and
    the best.  A step reads them several times and the history only grows (graphs/history.py), so
    one view follows a run's history and is extended by the new trials of each state: a step's
    cost does not grow with the run (bench/framework_overhead.py)."""

    def __init__(self) -> None:
        from agents.critic import Evaluated, Standings

        self.trials: list[Trial] = []
        self.evaluated: list[Trial] = []
        self.index = Evaluated([])
        self.standings = Standings()
        self.best: Trial | None = None
        self.ranked: list[Trial] = []      # evaluated, best first, the first of equals first
        self._negated: list[float] = []    # -score of each in `ranked`, ascending, for bisection
        self.rejected: list[Trial] = []

    def extend(self, trials: list[Trial]) -> "_Derived":
        for trial in trials:
            self.trials.append(trial)
            if not trial.accepted:
                self.rejected.append(trial)
            if trial.evaluation is not None and trial.evaluation.val_acc is None:
                self.index.fail(trial)
            elif trial.evaluation is not None:
                self.evaluated.append(trial)
                self.index.add(trial)
                self.standings.add(trial)
                at = bisect.bisect_right(self._negated, -trial.evaluation.val_acc)
                self._negated.insert(at, -trial.evaluation.val_acc)
                self.ranked.insert(at, trial)
                self.best = self.ranked[0]
        return self


_shared: _Derived | None = None
_lock = threading.RLock()


def _derived(trials: list[Trial]) -> _Derived:
    """The view of `trials`: the shared one extended when `trials` continues its history (the item
    where the view ends is the same object), else a new one (another run, a resumed one, an older
    state, which must not see what came after it)."""
    global _shared
    with _lock:  # the server (studio.py) may run several searches in one process
        return _view_of(trials)


def _view_of(trials: list[Trial]) -> _Derived:
    global _shared
    view, n = _shared, len(trials)
    if view is not None and len(view.trials) == n and (not n or trials[-1] is view.trials[-1]):
        return view
    if view is not None and len(view.trials) < n and (not view.trials or trials[len(view.trials) - 1] is view.trials[-1]):
        return view.extend(trials[len(view.trials):])
    if view is not None and len(view.trials) > n and n and trials[-1] is view.trials[n - 1]:
        return _Derived().extend(trials)  # an older state of the same run: its own view, the shared one stays
    _shared = _Derived().extend(trials)
    return _shared
