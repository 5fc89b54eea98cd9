"""One training job: run vetted code in the sandbox (or reuse its saved report) and report.

LLMatic (seed 001, section 4) trains every generated network with SGD (lr 0.001,
momentum 0.9, cross entropy) for 50 epochs on CIFAR-10 (`--paper-scale`); the CPU default
is one epoch of 2,000 images with Adam (lr 0.001, batch 32), where the paper's SGD left
sound networks near chance (settings.TrainingSettings, bench/training_signal.py).
Runs on CUDA when the child sees a GPU, else on CPU (channels_last for conv nets,
measured 1.4-1.9x faster here).

The report carries what the search may see (validation accuracy, FLOPs, params, the
LLMatic descriptors) and, beside it, the test accuracy that only the final report reads.
It is saved in `workdir/<key>/report.json`, keyed by the code's canonical form, the
dataset and the training recipe, so a resumed run (or a duplicate candidate) never
trains a finished candidate again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from settings import TrainingSettings
from spaces.base import FailureKind

DEFAULT_WORKDIR = Path("runs") / "sandbox"


class TrainReport(BaseModel):
    """One training, as saved and returned (the Evaluation fields plus what only the end reads)."""

    arch: str
    canonical: str
    dataset: str
    val_acc: float | None = None
    test_acc: float | None = None
    flops_m: float | None = None   # multiply-accumulates in millions, the 'FLOPs' of NAS papers
    params_m: float | None = None
    width: int | None = None
    depth: int | None = None
    descriptors: tuple[float, float] | None = None  # (MFLOPs, width/depth), LLMatic section 3
    failure: FailureKind | None = None
    detail: str = ""
    epochs: int = 0
    images_per_second: float | None = None
    train_seconds: float | None = None
    sandbox_seconds: float | None = None  # start (fork or spawn) to exit, as the parent saw it
    device: str | None = None
    confinement: str = ""  # the kernel's guards the sandbox installed (training/sandbox.py)
    sandbox: str | None = None  # warm (forked from a zygote) or cold (a fresh interpreter)
    key: str = ""


def refused(arch: str, dataset: str, kind: FailureKind, detail: str) -> dict:
    """The report of code that was never run (it did not pass the static check)."""
    return TrainReport(arch=arch, canonical="", dataset=dataset, failure=kind, detail=detail).model_dump(mode="json")


def job_key(canonical: str, dataset: str, training: TrainingSettings, seed: int) -> str:
    """What makes two trainings the same: the code's canonical form, the data, the recipe."""
    recipe = training.model_dump(mode="json", include=RECIPE, exclude_none=True)
    if training.data is not None:
        recipe["data"] = str(Path(training.data).expanduser().resolve())
    blob = json.dumps([canonical, dataset, recipe, seed], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# What changes a training's outcome (None values are left out, so a key made before a field existed
# stays the same).  Not here: where and how fast it runs (device, threads, workers, limits).
RECIPE = {"epochs", "batch_size", "lr", "momentum", "optimizer", "weight_decay", "train_subset", "eval_subset",
          "steps", "schedule", "image_size", "val_fraction", "augment", "width", "amp"}


def _folder(canonical: str, dataset: str, training: TrainingSettings, seed: int, workdir: str | None) -> Path:
    return Path(workdir or DEFAULT_WORKDIR) / job_key(canonical, dataset, training, seed)


def saved(canonical: str, dataset: str, training: TrainingSettings, seed: int, workdir: str | None) -> dict | None:
    """The saved report of this job, if it ran before."""
    path = _folder(canonical, dataset, training, seed, workdir) / "report.json"
    return json.loads(path.read_text()) if path.exists() else None


def submit(code: str, canonical: str, dataset: str, training: TrainingSettings, seed: int = 0,
           workdir: str | None = None, data_dir: str | None = None, threads: int | None = None) -> Future:
    """A Future of the report: done at once when the job ran before, else queued on the
    configured executor (local sandbox workers or Ray)."""
    report = saved(canonical, dataset, training, seed, workdir)
    if report is not None:
        done: Future = Future()
        done.set_result(report)
        return done
    from training import executors

    kwargs = {"code": code, "canonical": canonical, "dataset": dataset, "seed": seed, "workdir": workdir,
              "data_dir": data_dir, "training": training.model_dump(mode="json")}
    if threads:
        kwargs["threads"] = threads
    return executors.shared(training).submit(kwargs)


def train_here(code: str, canonical: str, dataset: str = "mnist", seed: int = 0, workdir: str | None = None,
               data_dir: str | None = None, training: dict | None = None, threads: int | None = None,
               gpu: int | None = None) -> dict:
    """One training in a sandboxed child on this machine (what an executor's worker runs)."""
    settings = TrainingSettings.model_validate(training or {})
    report = saved(canonical, dataset, settings, seed, workdir)
    if report is not None:
        return report
    folder = _folder(canonical, dataset, settings, seed, workdir)
    with _exclusive(folder):
        report = saved(canonical, dataset, settings, seed, workdir)  # a twin job finished while we waited
        if report is not None:
            return report
        return _train(code, canonical, dataset, seed, workdir, data_dir, settings, threads, gpu, folder)


@contextmanager
def _exclusive(folder: Path):
    """One training per job folder at a time, across threads and processes: two identical
    candidates of one generation (duplicates run at once with several workers) once shared the
    sandbox folder, and one child's result.json was removed under it (issue 16).  flock: the OS
    drops it when its holder dies."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def data_folder(dataset: str, settings: TrainingSettings, workdir: str | None, data_dir: str | None) -> Path:
    """The dataset's cache folder (training/datasets.py), written on first use."""
    from training import datasets

    folder = Path(data_dir or (Path(workdir or DEFAULT_WORKDIR).parent / ".datasets"))
    return datasets.materialise(datasets.spec(dataset, settings), folder).resolve()  # the child runs elsewhere


def _train(code: str, canonical: str, dataset: str, seed: int, workdir: str | None, data_dir: str | None,
           settings: TrainingSettings, threads: int | None, gpu: int | None, folder: Path) -> dict:
    from training import datasets, sandbox

    data = data_folder(dataset, settings, workdir, data_dir)
    info = datasets.meta(data)
    job = sandbox.TrainJob(code=code, data=data, input_shape=(3, info["size"], info["size"]), classes=info["classes"],
                           epochs=settings.epochs, steps=settings.steps or None, batch_size=settings.batch_size,
                           optimizer=settings.optimizer, lr=settings.lr, schedule=settings.schedule or "constant",
                           momentum=settings.momentum, weight_decay=settings.weight_decay, augment=settings.augment,
                           seed=seed, train_subset=settings.train_subset, val_subset=settings.eval_subset,
                           test_subset=settings.eval_subset, threads=threads or os.cpu_count() or 1,
                           loader_threads=settings.loader_threads, device=settings.device, amp=settings.amp,
                           cpu_seconds=settings.cpu_seconds, memory_mb=settings.memory_mb, gpu=gpu)
    result = sandbox.run(job, folder / "sandbox", settings.wall_seconds, settings.sandbox)
    report = to_report(result, code, canonical, dataset, settings.epochs, folder.name)
    write_atomically(folder / "report.json", report.model_dump_json())
    return report.model_dump(mode="json")


def write_atomically(path: Path, text: str) -> None:
    """Write to a uniquely named temporary file beside `path`, then rename: a crash leaves either
    no file or a whole one, and two writers (threads of one process included) never share a
    temporary name."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".partial",
                                     delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def to_report(result, code: str, canonical: str, dataset: str, epochs: int, key: str) -> TrainReport:
    flops_m = result.flops / 2e6 if result.flops is not None else None  # FlopCounterMode counts 2 per MAC
    descriptors = (flops_m, result.width / max(result.depth, 1)) \
        if flops_m is not None and result.width is not None else None
    return TrainReport(arch=code, canonical=canonical, dataset=dataset, val_acc=result.val_acc,
                       test_acc=result.test_acc, flops_m=flops_m,
                       params_m=result.params / 1e6 if result.params is not None else None,
                       width=result.width, depth=result.depth, descriptors=descriptors, failure=result.failure,
                       detail=result.detail, epochs=epochs, images_per_second=result.images_per_second,
                       train_seconds=result.train_seconds, sandbox_seconds=result.wall_seconds,
                       device=result.device, confinement=result.confinement, sandbox=result.sandbox, key=key)
