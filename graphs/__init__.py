"""Graph variants by name.  Each module has `NAME`, `roles(settings)` and `build(settings)`."""

from types import ModuleType

from errors import UserError
from graphs import genius

REGISTRY: dict[str, ModuleType] = {genius.NAME: genius}

__all__ = ["REGISTRY", "get"]


def get(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown graph {name!r}; choose one of {', '.join(REGISTRY)}") from None
