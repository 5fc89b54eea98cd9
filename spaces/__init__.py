"""Search spaces by name.  `get(name)` is the one way the rest of the code finds a space.

A new space is one module (a class with the verbs of spaces/base.py and the capabilities it
has) plus one line in SPACES below; a test or a plugin can `register` one at run time."""

from errors import UserError
from spaces.base import (Coded, Evaluation, FinalReport, Networked, Positional, SearchSpace, Space, Tabular,
                         Trained, Trial, WeightShared, lacking)
from spaces.channel_bench import ChannelMobileNetSpace, ChannelResNetSpace
from spaces.darts import DartsSpace
from spaces.mobilenetv2 import MobileNetV2Space
from spaces.nas_bench_macro import NASBenchMacroSpace
from spaces.nb201 import NB201Space
from spaces.torch_code import TorchCodeSpace
from spaces.transnas101 import TransNAS101Space

SPACES: tuple[type[Space], ...] = (NB201Space, TransNAS101Space, TorchCodeSpace, NASBenchMacroSpace, ChannelResNetSpace,
                                   ChannelMobileNetSpace, MobileNetV2Space, DartsSpace)
REGISTRY: dict[str, type[Space]] = {cls.name: cls for cls in SPACES}

__all__ = ["Coded", "Evaluation", "FinalReport", "Networked", "Positional", "SearchSpace", "Space", "Tabular", "Trained",
           "Trial", "WeightShared", "REGISTRY", "get", "register", "lacking"]


def register(cls: type[Space]) -> type[Space]:
    """Make a space class available by its name (usable as a class decorator)."""
    REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> Space:
    try:
        return REGISTRY[name]()
    except KeyError:
        raise UserError(f"unknown space {name!r}; choose one of {', '.join(REGISTRY)}") from None
