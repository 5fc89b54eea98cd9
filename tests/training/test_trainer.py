"""The child's training recipe (training/trainer.py), without a child process."""

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
