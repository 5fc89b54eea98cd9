"""Search spaces by name.  `get(name)` is the one way the rest of the code finds a space."""

from errors import UserError
from spaces.base import Evaluation, FinalReport, SearchSpace, Trial
from spaces.nb201 import NB201Space

REGISTRY: dict[str, type] = {NB201Space.name: NB201Space}

__all__ = ["Evaluation", "FinalReport", "SearchSpace", "Trial", "REGISTRY", "get"]


def get(name: str) -> SearchSpace:
    try:
        return REGISTRY[name]()
    except KeyError:
        raise UserError(f"unknown space {name!r}; choose one of {', '.join(REGISTRY)}") from None
