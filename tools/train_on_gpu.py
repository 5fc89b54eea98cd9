"""`train_on_gpu`: train one candidate network (PyTorch source) in the sandbox and score it.

The code is vetted first (spaces/torch_code.py: `ast` only, never run here); what passes is
trained by training/jobs.py on the configured executor (a local sandboxed child, or Ray),
with the training settings' recipe (the CPU default: Adam, lr 0.001, batch 32; `--paper-scale`:
the paper's SGD, lr 0.001, momentum 0.9, 50 epochs, seed 001 section 4) or the recipe the
training settings give.  A finished job's saved report is reused, never retrained.
Failures come back typed in the report (settings.TrainingSettings, spaces.base.FailureKind).
"""

from __future__ import annotations

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from settings import TrainingSettings
from spaces.torch_code import CodeError, vet
from training import jobs


class TrainOnGPU(BaseModel):
    arch: str = Field(description="Python source of an nn.Module subclass for 3x32x32 inputs")
    dataset: str = Field("mnist", description="cifar10 (needs the archive), mnist or digits")
    epochs: int | None = Field(None, gt=0, description="default: the training settings' (paper: 50)")
    seed: int = 0
    workdir: str | None = Field(None, description="folder for the sandboxes and reports")
    data_dir: str | None = Field(None, description="folder for the cached dataset arrays")
    training: dict = Field(default_factory=dict, description="settings.TrainingSettings fields")
    threads: int | None = Field(None, description="torch threads in the child (default: all cores)")


def train_on_gpu(arch: str, dataset: str = "mnist", epochs: int | None = None, seed: int = 0,
                 workdir: str | None = None, data_dir: str | None = None, training: dict | None = None,
                 threads: int | None = None) -> dict:
    """Vet, then train through the configured executor (or reuse the saved report); the report as a dict."""
    settings = TrainingSettings.model_validate({**(training or {}), **({"epochs": epochs} if epochs else {})})
    try:
        code, canonical = vet(arch)
    except CodeError as err:
        return jobs.refused(arch, dataset, err.kind, str(err))
    return jobs.submit(code, canonical, dataset, settings, seed, workdir, data_dir, threads).result()


tool = StructuredTool.from_function(
    train_on_gpu, name="train_on_gpu", args_schema=TrainOnGPU,
    description="Train a PyTorch network (source code) in a sandbox with the run's recipe and report validation accuracy (%), "
                "MFLOPs, M params, width/depth, images/s; failures come back typed.")
