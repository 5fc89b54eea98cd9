"""Training for the DARTS space: the data, the supernet (resumable, shared by every run that
asks for the same one), the weight-inheritance estimate, and stand-alone training.

DARTS genotypes are data, not code: the networks are built here from the eight operations,
so they train in the search's own process (no sandbox; that is for LLM-written code).

- `load_data`: the one place the DARTS space reads images (training/datasets.py's arrays,
  normalised, averaged down to `image_size`): train / validation / test.  The search sees
  validation accuracy; test accuracy is read once, for the final stand-alone network.
- `supernet(spec, folder, data)`: the supernet of `spec`, trained if it is not yet.  A
  checkpoint after every epoch in `folder` (written atomically), so a kill -9 loses at most
  the epoch in progress and a resumed run continues it: a finished supernet (`done`) is
  never trained again.  An flock on the folder lets one process train while another waits.
  Every epoch's path sampling, data order and learning rate are functions of (seed, epoch),
  so a resumed training ends where an uninterrupted one would.
- `estimate(supernet, genotype, data, bn_batches)`: validation accuracy of the architecture
  with inherited weights, its BatchNorm statistics recomputed on the first `bn_batches`
  training batches (fixed, so the estimate is deterministic).
- `standalone(genotype, spec, folder, data)`: the architecture trained from scratch (DARTS's
  recipe: SGD with momentum, cosine learning rate, optional auxiliary head and drop-path),
  checkpointed per epoch, its report saved; validation and test accuracy.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import random
import tempfile
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Callable, Literal, NamedTuple

import torch
from pydantic import BaseModel
from torch import nn

from spaces import darts_genotype as G
from spaces.darts_model import Network, count_parameters
from spaces.darts_supernet import Supernet, accuracy, inherit, recalibrate


# channels_last: 1.4x faster supernet steps and 2.2x faster estimates on this CPU (C 8, 16x16, measured).
FORMAT = torch.channels_last


class Data(NamedTuple):
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int


def load_data(dataset: str, image_size: int, cache_dir: Path, cifar10: Path | None = None) -> Data:
    """The dataset's splits as normalised float tensors at `image_size` (cached per process).  The
    supernet trains in this process on a named dataset (no candidate code runs here: an
    architecture is a genotype, built by our own code), so it reads the labelled cache directly."""
    from training import datasets

    path = datasets.materialise(dataset, Path(cache_dir), cifar10)
    return _arrays(str(path.resolve()), image_size)


@cache
def _arrays(path: str, image_size: int) -> Data:
    import numpy as np

    from training import datasets

    splits = datasets.load(Path(path))
    mean = torch.tensor(splits.meta["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(splits.meta["std"], dtype=torch.float32).view(1, -1, 1, 1)

    def images(split: str) -> torch.Tensor:
        x = (torch.from_numpy(np.array(splits.x[split])).float() / 255.0 - mean) / std
        if x.shape[-1] != image_size:
            x = nn.functional.interpolate(x, size=(image_size, image_size), mode="area")
        return x.contiguous(memory_format=FORMAT)

    def labels(split: str) -> torch.Tensor:
        return torch.from_numpy(splits.y[split].astype("int64"))

    return Data(images("train"), labels("train"), images("val"), labels("val"), images("test"), labels("test"),
                splits.classes)


# --- the supernet ---------------------------------------------------------------------------


class SupernetSpec(BaseModel):
    """What determines a trained supernet (its folder is keyed by all of it)."""

    dataset: str
    image_size: int
    channels: int
    cells: int
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    train_subset: int | None
    seed: int
    allowed: dict[str, list[str]] | None = None  # a refined space (LAPT); None: the whole space
    mix: float = 0.0  # share of steps whose path is drawn from the whole space instead of `allowed`
    sharing: Literal["edge", "node", "cell"] = "edge"  # which edges share weights (darts_supernet.SuperCell)

    def key(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def epochs_for(images: int, batch_size: int, epochs: int, min_steps: int) -> int:
    """`epochs`, or more where that many epochs make fewer than `min_steps` optimizer steps."""
    per_epoch = max(images // batch_size, 1)
    return max(epochs, -(-min_steps // per_epoch))


def folder_of(root: Path, spec: SupernetSpec) -> Path:
    return Path(root) / f"{spec.dataset}-{spec.key()}"


Progress = Callable[[int, int, float], None]  # (epoch done, epochs, mean loss)


def supernet(spec: SupernetSpec, folder: Path, data: Data, progress: Progress | None = None) -> Supernet:
    """The trained supernet of `spec` in `folder` (trained now, or the rest of it, if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder):
        model = _new_supernet(spec, data.classes)
        state = _load(folder / "supernet.pt")
        if state is not None and state["epoch"] >= spec.epochs:
            model.load_state_dict(state["model"])
            return model.eval()
        (folder / "spec.json").write_text(spec.model_dump_json(indent=2))
        _train_supernet(model, spec, data, folder, state, progress)
        return model.eval()


def _new_supernet(spec: SupernetSpec, classes: int) -> Supernet:
    torch.manual_seed(spec.seed)
    return Supernet(spec.channels, classes, spec.cells, sharing=spec.sharing).to(memory_format=FORMAT)


def _optimizer(model: nn.Module, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def cosine(lr: float, epoch: int, epochs: int) -> float:
    """DARTS's cosine annealing to zero, set per epoch (a function of the epoch: nothing to resume)."""
    return 0.5 * lr * (1 + math.cos(math.pi * epoch / epochs))


def _train_supernet(model: Supernet, spec: SupernetSpec, data: Data, folder: Path, state: dict | None,
                    progress: Progress | None) -> None:
    optimizer = _optimizer(model, spec.lr, spec.momentum, spec.weight_decay)
    start, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = state["epoch"], list(state.get("history", []))
    full, allowed = G.full(), spec.allowed or G.full()
    for epoch in range(start, spec.epochs):
        rng = random.Random(f"{spec.seed}:supernet:{epoch}")
        for group in optimizer.param_groups:
            group["lr"] = cosine(spec.lr, epoch, spec.epochs)
        model.train()
        losses = []
        for x, y in _batches(data, spec.batch_size, spec.train_subset, spec.seed, epoch):
            genotype = G.sample(full if rng.random() < spec.mix else allowed, rng)
            loss = nn.functional.cross_entropy(model(x, genotype), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # DARTS's gradient clip
            optimizer.step()
            losses.append(float(loss.detach()))
        history.append({"epoch": epoch + 1, "loss": round(sum(losses) / max(len(losses), 1), 4), "pid": os.getpid()})
        _save(folder / "supernet.pt", {"epoch": epoch + 1, "model": model.state_dict(),
                                       "optimizer": optimizer.state_dict(), "history": history})
        # the log is the checkpoint's own history, rewritten whole: a kill between the two files
        # can leave it one epoch behind, never ahead or with an epoch twice
        _write(folder / "epochs.jsonl", "".join(json.dumps(record) + "\n" for record in history))
        if progress is not None:
            progress(epoch + 1, spec.epochs, sum(losses) / max(len(losses), 1))


def _batches(data: Data, batch_size: int, subset: int | None, seed: int, epoch: int):
    """This epoch's training batches: a permutation that is a function of (seed, epoch)."""
    n = len(data.x_train) if subset is None else min(subset, len(data.x_train))
    order = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))[:n]
    for i in range(0, n - batch_size + 1 if n >= batch_size else n, batch_size):
        index = order[i:i + batch_size]
        yield data.x_train[index], data.y_train[index]


# --- the estimate ---------------------------------------------------------------------------


def estimate(model: Supernet, genotype: G.Genotype, data: Data, bn_batches: int, batch_size: int) -> float:
    """Validation accuracy (%) of `genotype` with the supernet's weights and recomputed BN statistics."""
    net = inherit(model, genotype).to(memory_format=FORMAT)
    recalibrate(net, (data.x_train[i:i + batch_size] for i in range(0, bn_batches * batch_size, batch_size)))
    return accuracy(net, data.x_val, data.y_val)


# --- stand-alone training -------------------------------------------------------------------


class StandaloneSpec(BaseModel):
    dataset: str
    image_size: int
    channels: int
    cells: int
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    auxiliary_weight: float
    drop_path: float
    train_subset: int | None
    seed: int

    def key(self, genotype: G.Genotype) -> str:
        blob = json.dumps([G.write(G.canonical(genotype)), self.model_dump()], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def standalone(genotype: G.Genotype, spec: StandaloneSpec, folder: Path, data: Data,
               progress: Progress | None = None) -> dict:
    """Train `genotype` from scratch (or finish, or read back, its training); its report."""
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder):
        report = folder / "report.json"
        if report.exists():
            return json.loads(report.read_text())
        torch.manual_seed(spec.seed)
        net = Network(genotype, spec.channels, data.classes, spec.cells, "cifar",
                      auxiliary=spec.auxiliary_weight > 0).to(memory_format=FORMAT)
        optimizer = _optimizer(net, spec.lr, spec.momentum, spec.weight_decay)
        state, start, started = _load(folder / "standalone.pt"), 0, time.perf_counter()
        if state is not None:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start = state["epoch"]
        for epoch in range(start, spec.epochs):
            for group in optimizer.param_groups:
                group["lr"] = cosine(spec.lr, epoch, spec.epochs)
            net.drop_path_prob = spec.drop_path * epoch / spec.epochs  # DARTS raises it linearly
            net.train()
            losses = []
            for x, y in _batches(data, spec.batch_size, spec.train_subset, spec.seed, epoch):
                loss = nn.functional.cross_entropy(net(x), y)
                if net.aux_logits is not None:
                    loss = loss + spec.auxiliary_weight * nn.functional.cross_entropy(net.aux_logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                optimizer.step()
                losses.append(float(loss.detach()))
            _save(folder / "standalone.pt", {"epoch": epoch + 1, "model": net.state_dict(),
                                             "optimizer": optimizer.state_dict()})
            if progress is not None:
                progress(epoch + 1, spec.epochs, sum(losses) / max(len(losses), 1))
        out = {"arch": G.write(genotype), "val_acc": accuracy(net, data.x_val, data.y_val),
               "test_acc": accuracy(net, data.x_test, data.y_test), "params_m": count_parameters(net) / 1e6,
               "epochs": spec.epochs, "train_seconds": round(time.perf_counter() - started, 1),
               "spec": spec.model_dump()}
        _write(report, json.dumps(out, indent=2))
        return out


# --- files ----------------------------------------------------------------------------------


@contextmanager
def exclusive(folder: Path):
    """One process trains a folder at a time (flock: the OS drops it when its holder dies)."""
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def _save(path: Path, state: dict) -> None:
    """Atomically: a kill -9 leaves the previous checkpoint or this one, never half of one."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False) as tmp:
        torch.save(state, tmp)
    os.replace(tmp.name, path)


def _write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".partial",
                                     delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)
