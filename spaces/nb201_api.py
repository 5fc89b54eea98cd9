"""The official NAS-Bench-201 benchmark file, read through its own API (`nas_201_api`, the
[nb201-api] extra: `pip install -e ".[nb201-api]"`), for `--nb201-api FILE` (settings.nb201_api).

The shipped table (data/nb201.csv.gz, spaces/nb201.py) stays the default: it holds the 200-epoch
validation and test accuracy of every cell.  The official file (NAS-Bench-201-v1_0-e61699.pth,
NAS-Bench-201-v1_1-096897.pth) holds more, and this module gives all of it per cell and task
(`record`): the 12- and 200-epoch schedules, train / valid / test accuracy and loss with their
per-epoch curves, the seeds, FLOPs, params, latency and training time.

The splits are NB201's as the shipped table quotes them (its optima: validation 91.61 / 73.49 /
46.73, test 94.37 / 73.51 / 47.31): on CIFAR-10 the validation accuracy is `cifar10-valid`'s
`x-valid` (trained on the train split) and the test accuracy `cifar10`'s `ori-test` (trained on
train + valid); on CIFAR-100 and ImageNet16-120 `x-valid` and `x-test` of one training.  Each is
the mean over the seeds the file holds (the API's `is_random=False`).

The file is loaded with torch's weights-only unpickler (a benchmark file is data; a pickle that
would run code is refused, with the way to load it anyway), once per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from errors import UserError

__all__ = ["Official", "Record", "Metric", "load", "EXTRA"]

EXTRA = 'the [nb201-api] extra: pip install -e ".[nb201-api]"'
# Our dataset -> (the API's training, its set) for validation and for test (module docstring).
VALID = {"cifar10": ("cifar10-valid", "x-valid"), "cifar100": ("cifar100", "x-valid"),
         "imagenet16": ("ImageNet16-120", "x-valid")}
TEST = {"cifar10": ("cifar10", "ori-test"), "cifar100": ("cifar100", "x-test"),
        "imagenet16": ("ImageNet16-120", "x-test")}
Epochs = Literal[12, 200]


class Metric(BaseModel):
    """One set (train, valid or test) of one training schedule, mean over the seeds."""

    accuracy: float
    loss: float
    accuracy_curve: list[float]  # after each epoch
    loss_curve: list[float]


class Record(BaseModel):
    """Everything the official API gives about one cell on one task under one schedule."""

    arch: str
    index: int
    dataset: str
    epochs: Epochs
    seeds: list[int]
    train: Metric
    valid: Metric | None
    test: Metric | None
    flops_m: float
    params_m: float
    latency_s: float | None  # the API's latency (seconds; -1 in the file: not measured)
    train_seconds: float | None


class Official:
    """The API over one benchmark file; `arch` strings and our dataset names in, our types out."""

    def __init__(self, api, path: Path):
        self.api, self.path = api, path
        self.evaluated = frozenset(api.evaluated_indexes)
        self.archs = tuple(api.meta_archs[i] for i in sorted(self.evaluated))  # the cells with results

    def index(self, arch: str) -> int:
        index = self.api.query_index_by_arch(arch)
        if index < 0 or index not in self.evaluated:
            raise UserError(f"{arch} is not in the benchmark file {self.path}")
        return index

    def contains(self, arch: str) -> bool:
        index = self.api.query_index_by_arch(arch)
        return index >= 0 and index in self.evaluated

    def accuracy(self, arch: str, dataset: str, split: Literal["valid", "test"], epochs: Epochs = 200) -> float:
        """Mean accuracy over the seeds after the last epoch (what the search and the final report read)."""
        name, setname = (VALID if split == "valid" else TEST)[dataset]
        results = self._results(self.index(arch), epochs)
        return float(results.get_metrics(name, setname, is_random=False)["accuracy"])

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        costs = self._results(self.index(arch), 200).get_compute_costs(VALID[dataset][0])
        return float(costs["flops"]), float(costs["params"])

    def record(self, arch: str, dataset: str, epochs: Epochs = 200) -> Record:
        index = self.index(arch)
        results = self._results(index, epochs)
        name = VALID[dataset][0]
        if name not in results.get_dataset_names():
            raise UserError(f"the benchmark file {self.path} has no {epochs}-epoch results of {dataset} ({name})")
        costs = results.get_compute_costs(name)
        latency = costs.get("latency")
        return Record(arch=self.api.meta_archs[index], index=index, dataset=dataset, epochs=epochs,
                      seeds=results.get_dataset_seeds(name), train=_metric(results, name, "train"),
                      valid=_metric(results, *VALID[dataset]), test=_metric(results, *TEST[dataset]),
                      flops_m=float(costs["flops"]), params_m=float(costs["params"]),
                      latency_s=float(latency) if latency is not None and latency > 0 else None,
                      train_seconds=_float(costs.get("T-train@total")))

    @cache
    def sorted_test(self, dataset: str) -> list[float]:
        """Test accuracies of every cell in the file, ascending (ranks by bisection)."""
        return sorted(self.accuracy(arch, dataset, "test") for arch in self.archs)

    def _results(self, index: int, epochs: Epochs):
        return self.api.arch2infos_dict[index][str(epochs)]


def _metric(results, name: str, setname: str) -> Metric | None:
    """A set's metrics with their curves, or None when the file has no such set for this training."""
    if name not in results.get_dataset_names():
        return None
    try:
        last = results.get_metrics(name, setname, is_random=False)
    except KeyError:  # e.g. v1_0's 12-epoch results have no ori-test
        return None
    curve = [results.get_metrics(name, setname, iepoch=e, is_random=False) for e in range(int(last["iepoch"]) + 1)]
    return Metric(accuracy=float(last["accuracy"]), loss=float(last["loss"]),
                  accuracy_curve=[float(c["accuracy"]) for c in curve], loss_curve=[float(c["loss"]) for c in curve])


def _float(value) -> float | None:
    return float(value) if value is not None else None


def load(path: Path | str) -> Official:
    """The benchmark file at `path` through the official API; user mistakes are one line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"--nb201-api: no such file: {path}")
    stat = path.stat()
    return _load(path.resolve(), stat.st_size, stat.st_mtime_ns)


@cache
def _load(path: Path, size: int, mtime: int) -> Official:
    """Once per process and file version (size and mtime in the key): the official file is GBs."""
    try:
        from nas_201_api import NASBench201API
    except ImportError:
        raise UserError(f"--nb201-api needs {EXTRA}") from None
    import pickle
    import re

    import torch

    try:
        # nas_201_api calls torch.load(path), weights-only by default since torch 2.6: numpy's scalar
        # types are allowed (data), anything that would run code is refused.
        with torch.serialization.safe_globals(_numpy_scalars()):
            api = NASBench201API(str(path), verbose=False)
    except pickle.UnpicklingError as err:
        refused = re.search(r"GLOBAL ([\w.]+)", str(err))
        if refused is None:
            raise UserError(f"--nb201-api: {path} is not a NAS-Bench-201 benchmark file (not a torch file)") from None
        raise UserError(f"--nb201-api: {path} would run code to load ({refused.group(1)}); if you trust the file, "
                        "run with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1") from None
    except (AssertionError, KeyError, TypeError, ValueError, RuntimeError, EOFError, OSError) as err:
        raise UserError(f"--nb201-api: {path} is not a NAS-Bench-201 benchmark file ({type(err).__name__}: "
                        f"{' '.join(str(err).split())[:120]})") from None
    return Official(api, path)


def _numpy_scalars() -> list:
    """The numpy globals a pickled numpy number needs, under numpy 2's names and numpy 1's (the
    official files predate numpy 2, whose `numpy.core` became `numpy._core`)."""
    import numpy as np

    scalar = np._core.multiarray.scalar
    dtypes = [type(np.dtype(kind)) for kind in ("float64", "float32", "int64", "int32")]
    return [scalar, np.dtype, *dtypes, (scalar, "numpy.core.multiarray.scalar")]
