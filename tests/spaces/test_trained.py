"""What the trained spaces share (spaces/trained.py): each space's recipe defaults under the user's
settings, and the checks made before a run folder exists."""

import pytest

from errors import UserError
from settings import TrainingSettings, load_settings
from spaces import get
from training import executors


def test_each_space_fills_only_what_the_user_left_unset():
    mobilenet, code = get("mobilenetv2"), get("torch-code")
    assert (mobilenet.training.steps, mobilenet.training.image_size, mobilenet.training.width,
            mobilenet.training.schedule) == (300, 32, 0.5, "cosine")
    assert (code.training.steps, code.training.image_size, code.training.schedule) == (0, 32, "constant")
    mine = mobilenet.recipe(TrainingSettings(steps=50, image_size=64))
    assert (mine.steps, mine.image_size, mine.width) == (50, 64, 0.5)
    paper = mobilenet.recipe(load_settings(space="mobilenetv2", paper_scale=True).training)
    assert (paper.epochs, paper.steps, paper.lr, paper.batch_size, paper.image_size, paper.width, paper.val_fraction,
            paper.weight_decay, paper.optimizer) == (20, 0, 0.5, 1024, 196, 1.0, 0.01, 1e-4, "sgd")


def test_cuda_without_a_gpu_is_refused_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "gpu_count", lambda: 0)
    settings = load_settings(space="mobilenetv2", dataset="digits", runs_dir=tmp_path, training={"device": "cuda"})
    with pytest.raises(UserError, match="--device cuda: this machine has no GPU"):
        get("mobilenetv2").check_settings(settings)
    ray = settings.model_copy(update={"training": settings.training.model_copy(update={"executor": "ray"})})
    get("mobilenetv2").check_settings(ray)  # a Ray cluster's nodes may have the GPUs this machine lacks


def test_ray_trials_ask_for_one_gpu_each(monkeypatch):
    monkeypatch.setattr(executors, "gpu_count", lambda: 0)
    assert (executors.ray_gpus("cuda"), executors.ray_gpus("auto"), executors.ray_gpus("cpu")) == (1, 0, 0)
    monkeypatch.setattr(executors, "gpu_count", lambda: 4)
    assert (executors.ray_gpus("cuda"), executors.ray_gpus("auto"), executors.ray_gpus("cpu")) == (1, 1, 0)
