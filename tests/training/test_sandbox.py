"""The sandbox's runtime guards, tested directly: these jobs bypass static validation
(spaces/torch_code.py would refuse most of them) to show the child contains them anyway."""

import json
import os
import textwrap

import numpy as np
import pytest

from training import sandbox

child = pytest.mark.slow  # each such case starts a child that imports torch (~3-9 s)

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
NET = HEAD + textwrap.dedent("""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            {init}
            self.fc = nn.Linear(3 * 32 * 32, 10)

        def forward(self, x):
            {forward}
            return self.fc(torch.flatten(x, 1))
""")


def net(init: str = "pass", forward: str = "pass") -> str:
    return NET.format(init=init, forward=forward)


def fabricated(folder, photos: bool = False):
    """A dataset cache folder in the format training/datasets.py writes (random images)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for split, n in (("train", 64), ("val", 32), ("test", 32)):
        np.save(folder / f"x_{split}.npy", rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8))
        np.save(folder / f"y_{split}.npy", rng.integers(0, 10, n).astype(np.int64))
    (folder / "meta.json").write_text(json.dumps({"classes": 10, "mean": [0.5] * 3, "std": [0.29] * 3, "size": 32,
                                                  "photos": photos}))
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fabricated(tmp_path_factory.mktemp("data") / "tiny")


def run(data, tmp_path, code, wall=60.0, **job):
    return sandbox.run(sandbox.TrainJob(code=code, data=data, batch_size=16, threads=1, **job), tmp_path / "box", wall)


@child
def test_a_valid_network_trains_writes_inside_and_sees_no_secrets(data, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    init = "import os\n        assert 'OPENAI_API_KEY' not in os.environ, 'leaked'\n" \
           "        open('notes.txt', 'w').write('fine')"
    result = run(data, tmp_path, net(init=init, forward="x = F.relu(x)"), memory_mb=2048, cpu_seconds=60)
    assert result.failure is None, result.detail
    assert (tmp_path / "box" / "notes.txt").read_text() == "fine"
    assert 0 <= result.val_acc <= 100 and result.images_seen == 64
    assert result.flops == 2 * 3 * 32 * 32 * 10 and result.params == 3 * 32 * 32 * 10 + 10
    assert result.width == 10 and result.depth == 1
    assert result.val_predicted is None and result.test_predicted is None  # scored here, then dropped
    if landlock_available():
        assert "landlock ABI" in result.confinement, result.confinement


@child
@pytest.mark.parametrize("name,init,kind", [
    ("os.system", "import os; os.system('touch /tmp/archagents-owned')", "refused"),
    ("subprocess", "import subprocess; subprocess.run(['true'])", "refused"),
    ("socket", "import socket; socket.create_connection(('127.0.0.1', 9))", "refused"),
    ("write outside", "open('/tmp/archagents-owned', 'w').write('x')", "refused"),
    ("forge the result", "open('result.json', 'w').write('{\"val_acc\": 100}')", "refused"),
    ("swallowed refusal", "import os\n        try:\n            os.system('true')\n        except Exception:\n"
                          "            pass", "refused"),
    ("builtins eval trick", "b = __builtins__\n        ev = b['ev' + 'al'] if isinstance(b, dict) else getattr(b, 'eval')\n"
                            "        ev(\"__import__('os').system('true')\")", "refused"),
])
def test_runtime_guards(data, tmp_path, name, init, kind):
    result = run(data, tmp_path, net(init=init))
    assert result.failure == kind, (name, result)
    assert not os.path.exists("/tmp/archagents-owned")


@child
def test_infinite_loop_is_killed_at_the_wall_clock(data, tmp_path):
    result = run(data, tmp_path, net(init="while True: pass"), wall=8.0)
    assert result.failure == "timeout" and result.wall_seconds < 30


@child
def test_cpu_time_limit(data, tmp_path):
    result = run(data, tmp_path, net(init="while True: pass"), wall=60.0, cpu_seconds=4)
    assert result.failure == "timeout" and "CPU" in result.detail


@child
def test_memory_bomb_is_out_of_memory(data, tmp_path):
    result = run(data, tmp_path, net(init="self.buffer = torch.ones(1 << 31)"), memory_mb=512)
    assert result.failure == "oom", result


@child
def test_nan_loss(data, tmp_path):
    result = run(data, tmp_path, net(forward="x = x * float('nan')"))
    assert result.failure == "nan_loss"


@child
def test_shape_error(data, tmp_path):
    wrong_classes = net().replace("nn.Linear(3 * 32 * 32, 10)", "nn.Linear(3 * 32 * 32, 7)")
    result = run(data, tmp_path, wrong_classes)
    assert result.failure == "shape_error" and "expected (2, 10)" in result.detail


@child
def test_a_dying_child_is_a_crash_not_an_exception(data, tmp_path):
    result = run(data, tmp_path, net(init="import os; os._exit(3)"))
    assert result.failure == "crashed" and "code 3" in result.detail



@child
def test_photos_train_with_loader_threads_augmentation_and_mixed_precision(tmp_path):
    """The batch loader's threads, the on-device crop and flip and the mixed-precision step (bfloat16
    here; float16 on CUDA) all run under the child's Landlock rules and audit hook."""
    photos = fabricated(tmp_path / "photos", photos=True)
    result = run(photos, tmp_path, net(forward="x = F.relu(x)"), steps=6, loader_threads=3, amp=True,
                 schedule="cosine")
    assert result.failure is None, result.detail
    assert result.images_seen == 6 * 16 and result.device == "cpu"


@child
def test_the_allowed_modules_are_there_without_imports(data, tmp_path):
    """Small models often forget `import torch.nn as nn`; the allowed names are pre-bound."""
    result = run(data, tmp_path, net().replace(HEAD, ""))
    assert result.failure is None, result.detail


def landlock_available() -> bool:
    """The kernel answers Landlock's ABI version (a query that changes nothing)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(444, None, 0, 1) >= 1


def test_predictions_are_scored_against_labels_the_child_never_had(data):
    y_val, y_test = np.load(data / "y_val.npy"), np.load(data / "y_test.npy")
    job = sandbox.TrainJob(code="", data=data, val_subset=10)
    answered = sandbox.SandboxResult(val_predicted=list(y_val[:10]), test_predicted=[int(c) for c in (y_test + 1) % 10])
    scored = sandbox._scored(answered, job)
    assert scored.val_acc == 100.0 and scored.test_acc == 0.0 and scored.failure is None
    assert scored.val_predicted is None and scored.test_predicted is None
    view = sandbox.datasets.without_held_out_labels(data)
    assert not (view / "y_val.npy").exists() and not (view / "y_test.npy").exists()


def test_a_result_without_predictions_is_a_crash(data):
    """A forged result.json (e.g. {"val_acc": 100}) has no answers to score."""
    forged = sandbox.SandboxResult.model_validate({"val_acc": 100.0, "test_acc": 100.0})
    scored = sandbox._scored(forged, sandbox.TrainJob(code="", data=data))
    assert scored.failure == "crashed" and scored.val_acc is None and "0 val predictions" in scored.detail


@child
@pytest.mark.parametrize("box", ["warm", "cold"])
def test_a_network_that_crashes_only_in_channels_last_trains_contiguous(data, tmp_path, box):
    # What torch 2.13's CPU strided 1x1 convolution did to valid networks (spaces/mobilenetv2_net.py)
    forward = ("import os\n        if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):\n"
               "            os.abort()\n        x = self.conv(x)")
    result = sandbox.run(sandbox.TrainJob(code=net(init="self.conv = nn.Conv2d(3, 3, 1)", forward=forward), data=data,
                                          batch_size=16, threads=1), tmp_path / "box", 60.0, box)
    assert result.failure is None and result.channels_last is False, result.detail
    always = net(forward="import os\n        os.abort()")  # crashes in both layouts: a crash, tried twice
    result = sandbox.run(sandbox.TrainJob(code=always, data=data, batch_size=16, threads=1), tmp_path / "b2", 60.0, box)
    assert result.failure == "crashed" and "SIGABRT" in result.detail
