"""Graph variants by name.  Each module has `NAME`, `STATE` (its state model), `roles(settings)`
and `build(settings)`."""

from types import ModuleType

from errors import UserError
from graphs import genius, lapt, llmatic

REGISTRY: dict[str, ModuleType] = {module.NAME: module for module in (genius, llmatic, lapt)}

__all__ = ["REGISTRY", "get"]


def get(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown graph {name!r}; choose one of {', '.join(REGISTRY)}") from None
