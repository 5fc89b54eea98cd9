import json

import pytest

import training.jobs
from settings import TrainingSettings
from spaces import get
from spaces.torch_code import SEED_NETWORK, vet
from tests.fakes import Overlap
from training import executors


@pytest.fixture
def recorded(monkeypatch):
    """train_here replaced by a stand-in that records its arguments and overlap."""
    calls, overlap = [], Overlap(0.2)

    def fake(**kwargs):
        with overlap:
            calls.append(kwargs)
        return {"arch": kwargs["arch"], "val_acc": 1.0}

    monkeypatch.setattr(training.jobs, "train_here", fake)
    return calls, overlap


def test_local_executor_runs_workers_in_parallel_and_splits_the_cores(recorded, monkeypatch):
    calls, overlap = recorded
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 4)
    pool = executors.LocalExecutor(workers=2, gpus=0)
    results = pool.map([{"arch": str(i)} for i in range(4)])
    assert [r["arch"] for r in results] == ["0", "1", "2", "3"]  # in submission order
    assert overlap.peak == 2 and all(c["threads"] == 2 and c["gpu"] is None for c in calls)


def test_local_executor_gives_each_child_one_gpu(recorded):
    calls, overlap = recorded
    executors.LocalExecutor(workers=2, gpus=2).map([{"arch": str(i)} for i in range(4)])
    assert {c["gpu"] for c in calls} == {0, 1}


def test_one_worker_runs_one_at_a_time(recorded):
    calls, overlap = recorded
    executors.LocalExecutor(workers=1, gpus=0).map([{"arch": str(i)} for i in range(3)])
    assert overlap.peak == 1 and len(calls) == 3


def test_shared_keeps_one_executor_per_configuration():
    a = executors.shared(TrainingSettings(workers=3))
    assert executors.shared(TrainingSettings(workers=3)) is a
    assert executors.shared(TrainingSettings(workers=2)) is not a


@pytest.mark.slow
def test_ray_executor_trains_on_a_local_cluster(tmp_path):
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(executors.ROOT)}})
    try:
        pool = executors.RayExecutor(num_cpus=1, num_gpus=executors.ray_gpus("auto"))
        training = {"epochs": 1, "train_subset": 64, "eval_subset": 64}
        code, canonical = vet(SEED_NETWORK)
        batch = [{"code": code, "canonical": canonical, "dataset": "digits", "workdir": str(tmp_path / "sandbox"),
                  "data_dir": str(tmp_path / "data"), "training": training, "seed": seed} for seed in (0, 1)]
        # GENIUS's MobileNetV2 through the path a GPU run takes (device auto, mixed precision: bfloat16 here)
        mobilenet = get("mobilenetv2")
        batch.append({**batch[0], "code": mobilenet.source(json.dumps([1, 0, 0, 0, 0, 0] * 5), "digits"),
                      "canonical": "mobilenetv2", "training": {**training, "steps": 4, "amp": True, "width": 0.5}})
        reports = pool.map(batch)
        assert all(r["failure"] is None and 0 <= r["val_acc"] <= 100 for r in reports), \
            [(r["failure"], r["detail"]) for r in reports]
        assert reports[0]["key"] != reports[1]["key"] and reports[2]["device"] == "cpu"
        assert all(r["sandbox"] == "warm" for r in reports)  # forked from a zygote in the Ray worker
    finally:
        ray.shutdown()
