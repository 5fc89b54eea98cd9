"""The child's training recipe (training/trainer.py), without a child process, and its seccomp filter."""

from pathlib import Path

import pytest
import torch

from training import trainer


@pytest.mark.parametrize("job,kind", [
    ({"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0}, torch.optim.SGD),
    ({"optimizer": "adam", "lr": 0.003, "momentum": 0.9, "weight_decay": 1e-4}, torch.optim.Adam),
    ({"lr": 0.001, "momentum": 0.9}, torch.optim.SGD),  # a job written before the optimizer field
])
def test_make_optimizer_follows_the_job(job, kind):
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = trainer.make_optimizer([weight], job, torch)
    assert type(optimizer) is kind
    group = optimizer.param_groups[0]
    assert group["lr"] == job["lr"] and group["weight_decay"] == job.get("weight_decay", 0.0)
    if kind is torch.optim.SGD:
        assert group["momentum"] == 0.9


def test_kernel_refusals_are_typed_refused():
    assert trainer.classify(PermissionError(13, "Permission denied", "/etc/passwd"))[0] == "refused"
    assert trainer.classify(OSError(27, "File too large"))[0] == "refused"
    assert trainer.classify(RuntimeError("open file failed with strerror: Permission denied"))[0] == "refused"
    assert trainer.classify(ValueError("a mistake"))[0] == "build_error"


def test_seccomp_refuses_new_processes_and_allows_threads():
    """In a fresh interpreter (the filter cannot be undone): threads start; fork and a subprocess
    (`_posixsubprocess.fork_exec`, which raises no audit event) fail with EPERM."""
    import subprocess
    import sys

    script = f"""
import os, subprocess, sys, threading
sys.path.insert(0, {str(Path(trainer.__file__).parent)!r})
import ctypes, trainer
print(trainer._no_new_processes(ctypes.CDLL(None, use_errno=True)))
t = threading.Thread(target=print, args=("thread ran",)); t.start(); t.join()
for name, attempt in [("fork", os.fork), ("spawn", lambda: subprocess.run(["true"]))]:
    try:
        attempt() == 0 and os._exit(0)
        print(name, "allowed")
    except PermissionError:
        print(name, "refused")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if "not installed" in done.stdout:
        pytest.skip(done.stdout.strip())
    assert done.stdout.split("\n")[:4] == ["seccomp: no new process", "thread ran", "fork refused", "spawn refused"]


def test_devices_resolve_in_the_child():
    assert trainer.resolve_device("auto", torch).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert trainer.resolve_device(None, torch).type == trainer.resolve_device("auto", torch).type
    assert trainer.resolve_device("cpu", torch).type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(trainer.Failure, match="no GPU") as caught:
            trainer.resolve_device("cuda", torch)
        assert caught.value.kind == "crashed"  # our configuration, not the candidate's fault


def test_cosine_schedule_and_constant():
    job = {"lr": 0.5, "schedule": "cosine"}
    assert [trainer.learning_rate(job, s, 4) for s in (0, 2, 4)] == pytest.approx([0.5, 0.25, 0.0])
    assert trainer.learning_rate({"lr": 0.5}, 3, 4) == 0.5


def test_the_mixed_precision_path_trains_on_the_cpu():
    """What CUDA runs (autocast, the scaler's step), here in bfloat16: the same code path."""
    precision = trainer.Precision(torch.device("cpu"), True, torch)
    assert precision.enabled and precision.dtype == torch.bfloat16 and not precision.scaler.is_enabled()
    assert not trainer.Precision(torch.device("cpu"), None, torch).enabled  # off by default on a CPU
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    with precision.autocast():
        loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 0, 1]))
    assert loss.dtype == torch.float32 and model[0](torch.zeros(1, 3, 8, 8)).dtype == torch.float32
    precision.scaler.scale(loss).backward()
    precision.scaler.step(optimizer)
    precision.scaler.update()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
