"""Measure the trained space's costs, each as a ratio within one run (the machine is shared):

(a) training throughput of `train_on_gpu` (sandboxed child) against a plain PyTorch loop in
    this process, same network, data, batch size, optimiser and threads;
(b) sandbox start-up overhead per candidate (a job that trains one image);
(c) the same candidates through the local executor with 2 workers against 1 (wall time).

    python bench/train_throughput.py [--epochs 1] [--train 2000] [--candidates 6]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The sandboxed child runs with OMP_WAIT_POLICY=PASSIVE (training/sandbox.py); the plain loop gets the
# same, or on a busy machine it measures OpenMP spin-waiting, not training (--spin to see that).
if "--spin" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from spaces.torch_code import random_network  # noqa: E402
from training import datasets, executors  # noqa: E402
from spaces.torch_code import vet  # noqa: E402
from training import jobs  # noqa: E402


def train_here(code: str, **kwargs) -> dict:
    """One sandboxed training of vetted code, as an executor's worker runs it."""
    return jobs.train_here(*vet(code), **kwargs)

NET = """import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))
"""


def plain_loop(data_path: Path, epochs: int, train: int, batch: int, threads: int, channels_last: bool) -> float:
    """The textbook loop in this process: images per second over the training loop only."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    namespace: dict = {}
    exec(NET, namespace)  # our own benchmark network, not generated code
    model = namespace["Net"]()
    with np.load(data_path) as arrays:
        x = torch.from_numpy(arrays["x_train"][:train]).float() / 255.0
        y = torch.from_numpy(arrays["y_train"][:train]).long()
        x = (x - torch.from_numpy(arrays["mean"]).view(1, -1, 1, 1)) / torch.from_numpy(arrays["std"]).view(1, -1, 1, 1)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    started, seen = time.perf_counter(), 0
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            xb, yb = x[order[i:i + batch]], y[order[i:i + batch]]
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()
            seen += len(xb)
    return seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spin", action="store_true", help="leave OpenMP's default wait policy in this process")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="archagents-bench-"))
    data_dir = root / "data"
    data = datasets.materialise("mnist", data_dir)
    threads = os.cpu_count() or 1
    # the plain loop below is SGD, lr 0.001, momentum 0.9, batch 64: the sandbox trains with the same recipe
    training = {"epochs": args.epochs, "train_subset": args.train, "eval_subset": 500, "optimizer": "sgd",
                "lr": 0.001, "momentum": 0.9, "batch_size": 64}
    common = {"dataset": "mnist", "data_dir": str(data_dir), "training": training, "threads": threads}
    out: dict = {"cores": os.cpu_count(), "load_avg_start": os.getloadavg()}

    # (a) throughput, alternating so drifts in machine load hit both sides
    sandboxed, plain, plain_cf = [], [], []
    for r in range(args.repeats):
        report = train_here(NET, seed=r, workdir=str(root / "a"), **common)
        sandboxed.append(report["images_per_second"])
        plain.append(plain_loop(data, args.epochs, args.train, 64, threads, channels_last=True))
        plain_cf.append(plain_loop(data, args.epochs, args.train, 64, threads, channels_last=False))
    out["a_train_on_gpu_images_per_s"] = statistics.median(sandboxed)
    out["a_plain_loop_channels_last_images_per_s"] = statistics.median(plain)
    out["a_plain_loop_contiguous_images_per_s"] = statistics.median(plain_cf)
    out["a_ratio_train_on_gpu_over_plain"] = round(statistics.median(sandboxed) / statistics.median(plain), 3)
    out["a_end_to_end_seconds_per_candidate"] = report["sandbox_seconds"]
    out["a_train_seconds_per_candidate"] = report["train_seconds"]

    # (b) sandbox start-up: a job that trains and scores one image
    tiny = {**common, "training": {"epochs": 1, "train_subset": 1, "eval_subset": 1}}
    startup = [train_here(NET, seed=100 + r, workdir=str(root / "b"), **tiny)["sandbox_seconds"]
               for r in range(args.repeats)]
    bare = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "import torch, numpy"], check=True)
        bare.append(time.perf_counter() - t)
    out["b_sandbox_overhead_seconds"] = round(statistics.median(startup), 3)
    out["b_of_which_python_and_torch_import_seconds"] = round(statistics.median(bare), 3)

    # (c) the same candidates with 1 and 2 local workers
    rng = random.Random(0)
    candidates = [random_network(rng) for _ in range(args.candidates)]
    walls = {}
    for workers in (1, 2, 1, 2):
        pool = executors.LocalExecutor(workers=workers, gpus=0)
        workdir = root / f"c{workers}-{len(walls)}"
        started = time.perf_counter()
        reports = pool.map([{"arch": c, "workdir": str(workdir), **{k: v for k, v in common.items() if k != "threads"}}
                            for c in candidates])
        walls.setdefault(workers, []).append(round(time.perf_counter() - started, 2))
        pool.shutdown()
        assert all(r["failure"] is None for r in reports), [r["detail"] for r in reports]
    out["c_wall_seconds_1_worker"] = walls[1]
    out["c_wall_seconds_2_workers"] = walls[2]
    out["c_speedup_2_over_1"] = round(statistics.median(walls[1]) / statistics.median(walls[2]), 3)
    out["load_avg_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
