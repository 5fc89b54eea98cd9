"""Search spaces by name.  `get(name)` is the one way the rest of the code finds a space."""

from errors import UserError
from spaces.base import Evaluation, FinalReport, SearchSpace, Trial
from spaces.nb201 import NB201Space
from spaces.torch_code import TorchCodeSpace
from spaces.transnas101 import TransNAS101Space

REGISTRY: dict[str, type] = {NB201Space.name: NB201Space, TransNAS101Space.name: TransNAS101Space,
                             TorchCodeSpace.name: TorchCodeSpace}

__all__ = ["Evaluation", "FinalReport", "SearchSpace", "Trial", "REGISTRY", "get", "default_dataset", "configure"]


def get(name: str) -> SearchSpace:
    try:
        return REGISTRY[name]()
    except KeyError:
        raise UserError(f"unknown space {name!r}; choose one of {', '.join(REGISTRY)}") from None


def default_dataset(space: SearchSpace, settings) -> str:
    """The dataset a run uses when none is given: the space's choice (torch-code: CIFAR-10 when
    the user has the archive, else the offline one), else its first dataset."""
    choose = getattr(space, "default_dataset", None)
    return choose(settings) if choose is not None else space.datasets[0]


def configure(space: SearchSpace, settings, run_path) -> dict:
    """Bind a space that trains (torch-code) to a run; returns the extra arguments its
    evaluation tool takes in this run (none for the table-backed spaces)."""
    bind = getattr(space, "configure", None)
    return bind(settings, run_path) if bind is not None else {}
