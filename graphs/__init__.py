"""Graph variants by name.  A graph is one module with `NAME`, `STATE` (its state model),
`REQUIRES` (the space capabilities it needs, spaces/base.py), `roles(settings)` (the agent
roles it calls a model for), `default_budget(settings)`, `planned_evaluations(settings)` and
`build(settings)`, and optionally `check(settings, space)` (refuse settings it cannot run with,
before the run folder is made); a new graph is that module plus one line in GRAPHS."""

from types import ModuleType

from errors import UserError
from graphs import genius, lapt, llmatic, local, prior, random, random_flops, rea

GRAPHS: tuple[ModuleType, ...] = (genius, llmatic, lapt, random, rea, local, random_flops, prior)
REGISTRY: dict[str, ModuleType] = {module.NAME: module for module in GRAPHS}
BASELINES = ("random", "rea", "local", "random+flops", "prior")  # the graphs that call no model

__all__ = ["REGISTRY", "BASELINES", "get", "check"]


def get(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown graph {name!r}; choose one of {', '.join(REGISTRY)}") from None


def check(variant: ModuleType, settings, space) -> None:
    """The graph's own check of the settings, where it has one (lapt, prior: the source task)."""
    own = getattr(variant, "check", None)
    if own is not None:
        own(settings, space)
