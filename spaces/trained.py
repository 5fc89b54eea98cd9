"""What the spaces that train share (torch-code, mobilenetv2, and any space to come): binding to a
run (its training settings, sandbox folder and data cache), the space's defaults for the recipe
fields left unset, the user's data checked before the run folder exists, and submitting a
network's source to the sandbox (training/jobs.py).
"""

from __future__ import annotations

import tempfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

from errors import UserError
from spaces.base import Space


class TrainedSpace(Space):
    """Subclasses set RECIPE: their values for the TrainingSettings fields a user left None."""

    RECIPE: ClassVar[dict[str, Any]] = {}
    cheap_evidence: ClassVar[bool] = False  # a network's cost is measured in the sandbox unless a space counts it

    def __init__(self):
        from settings import TrainingSettings

        self.training = self.recipe(TrainingSettings())
        self.seed = 0
        self.dataset: str | None = None  # set when a run is bound
        self.workdir = Path(tempfile.gettempdir()) / "archagents-sandbox"
        self.data_dir = self.workdir.parent / "archagents-datasets"

    def recipe(self, training):
        """`training` with this space's defaults where it has None."""
        unset = {k: v for k, v in self.RECIPE.items() if getattr(training, k) is None}
        return training.model_copy(update=unset) if unset else training

    def configure(self, settings, run_path: Path) -> None:
        """Bind the space to a run: its training settings, its sandbox folder, the dataset cache."""
        self.training, self.seed, self.dataset = self.recipe(settings.training), settings.seed, settings.dataset
        self.workdir = Path(run_path) / "sandbox"
        self.data_dir = Path(settings.runs_dir) / ".datasets"
        self.check_settings(settings)

    def default_dataset(self, settings) -> str:
        from training import datasets

        return datasets.default(settings.training.cifar10, settings.training.data)

    def check_settings(self, settings) -> None:
        """Refuse, before the run folder is created (graphs/run.py prepare), a run whose data is
        missing or unreadable (the cache is written now: every image is decoded once) or whose
        device is not there."""
        from training import datasets, executors, jobs

        training = self.recipe(settings.training)
        if training.data is not None and settings.dataset != datasets.CUSTOM:
            raise UserError(f"--data is the dataset `{datasets.CUSTOM}`; drop --dataset {settings.dataset}")
        if training.device == "cuda" and training.executor == "local" and executors.gpu_count() == 0:
            raise UserError("--device cuda: this machine has no GPU that nvidia-smi lists; use --device auto or cpu")
        if settings.dataset is not None:  # None: not prepared yet (graphs/run.py prepare fills it in)
            jobs.data_folder(settings.dataset, training, None, str(Path(settings.runs_dir) / ".datasets"))

    def data_info(self, dataset: str) -> dict:
        """The cached dataset's metadata (classes, image side, ...): written on first use."""
        from training import datasets, jobs

        return datasets.meta(jobs.data_folder(dataset, self.training, str(self.workdir), str(self.data_dir)))

    def submit_code(self, code: str, canonical: str, dataset: str, training=None) -> Future:
        """Train this network source in the sandbox (or reuse its saved report): a Future of the report."""
        from training import jobs

        return jobs.submit(code, canonical, dataset, training or self.training, self.seed, str(self.workdir),
                           str(self.data_dir))
