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
