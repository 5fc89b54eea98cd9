"""Graph variants by name.  A graph is one module with `NAME`, `STATE` (its state model),
`REQUIRES` (the space capabilities it needs, spaces/base.py), `roles(settings)` (the agent
roles it calls a model for), `default_budget(settings)`, `planned_evaluations(settings)` and
`build(settings)`; a new graph is that module plus one line in GRAPHS."""

from types import ModuleType

from errors import UserError
from graphs import genius, lapt, llmatic, local, prior, random, random_flops, rea

GRAPHS: tuple[ModuleType, ...] = (genius, llmatic, lapt, random, rea, local, random_flops, prior)
REGISTRY: dict[str, ModuleType] = {module.NAME: module for module in GRAPHS}
BASELINES = ("random", "rea", "local", "random+flops", "prior")  # the graphs that call no model

__all__ = ["REGISTRY", "BASELINES", "get"]


def get(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown graph {name!r}; choose one of {', '.join(REGISTRY)}") from None
