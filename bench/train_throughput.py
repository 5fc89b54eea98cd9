"""Measure the trained space's costs, each as a ratio within one run (the machine is shared):

(a) start-up per candidate (a job that trains and scores one image, spawn or fork to exit) on
    the warm path (forked from a zygote, the default; the zygote's own start is reported apart)
    and on the cold path (a fresh interpreter), and a bare `python -I -c "import torch"`;
(b) training throughput of a sandboxed child (warm and cold) against a plain PyTorch loop in
    this process, same network, data, batch size, optimiser and threads;
(c) the same candidates through the local executor with 2 workers against 1 (wall time).

    python bench/train_throughput.py [--json] [--epochs 1] [--train 2000] [--candidates 6] [--repeats 3]
    python bench/train_throughput.py --smoke --json      # tiny sizes: that it runs (tests/bench)

`--json` prints one line: startup_s (warm, median), startup_cold_s, train_s, images_per_s,
plain_images_per_s, ratio_to_plain and the rest below.
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The sandboxed child runs with OMP_WAIT_POLICY=PASSIVE (training/sandbox.py); the plain loop gets the
# same, or on a busy machine it measures OpenMP spin-waiting, not training (--spin to see that).
if "--spin" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from settings import TrainingSettings  # noqa: E402
from spaces.torch_code import random_network, vet  # noqa: E402
from training import batches, datasets, executors, jobs  # noqa: E402

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
# The plain loop below is SGD, lr 0.001, momentum 0.9, batch 64: the sandbox trains with the same recipe.
RECIPE = {"optimizer": "sgd", "lr": 0.001, "momentum": 0.9, "batch_size": 64}


def plain_loop(data_path: Path, epochs: int, train: int, batch: int, threads: int, channels_last: bool) -> float:
    """The textbook loop in this process: images per second over the training loop only."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    namespace: dict = {}
    exec(NET, namespace)  # our own benchmark network, not generated code
    model = namespace["Net"]()
    data = batches.open_data(str(data_path), {"train_subset": train})  # the cache folder the sandbox reads
    x = torch.from_numpy(np.array(data["x"]["train"])).float() / 255.0
    y = torch.from_numpy(np.array(data["y_train"])).long()
    mean = torch.tensor(data["meta"]["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(data["meta"]["std"], dtype=torch.float32).view(1, -1, 1, 1)
    x = (x - mean) / std
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


class Bench:
    """Sandboxed trainings of one network, each a new job (a new seed or folder: none is reused)."""

    def __init__(self, root: Path, data_dir: Path, threads: int):
        self.root, self.data_dir, self.threads, self.jobs = root, data_dir, threads, 0
        self.code, self.canonical = vet(NET)

    def train(self, sandbox: str, training: dict) -> dict:
        self.jobs += 1
        settings = TrainingSettings(**{**RECIPE, **training, "sandbox": sandbox}).model_dump(mode="json")
        report = jobs.train_here(self.code, self.canonical, "mnist", self.jobs, str(self.root / f"job{self.jobs}"),
                                 str(self.data_dir), settings, self.threads)
        assert report["failure"] is None, report["detail"]
        return report


def startup(bench: Bench, repeats: int) -> dict:
    """(a): a job that trains and scores one image, alternating warm and cold."""
    one = {"epochs": 1, "train_subset": 1, "eval_subset": 1}
    started = time.perf_counter()
    bench.train("warm", one)  # starts this thread's zygote
    out = {"zygote_start_s": round(time.perf_counter() - started, 3)}
    warm, cold, bare = [], [], []
    for _ in range(repeats):
        warm.append(bench.train("warm", one)["sandbox_seconds"])
        cold.append(bench.train("cold", one)["sandbox_seconds"])
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "import torch, numpy"], check=True)
        bare.append(time.perf_counter() - t)
    return {**out, "startup_s": round(statistics.median(warm), 3), "startup_cold_s": round(statistics.median(cold), 3),
            "startup_ratio_cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 1),
            "python_and_torch_import_s": round(statistics.median(bare), 3)}


def throughput(bench: Bench, data: Path, args, threads: int) -> dict:
    """(b), alternating so drifts in machine load hit every side."""
    training = {"epochs": args.epochs, "train_subset": args.train, "eval_subset": 500}
    warm, cold, plain, plain_cf, train_s = [], [], [], [], []
    for _ in range(args.repeats):
        report = bench.train("warm", training)
        warm.append(report["images_per_second"])
        train_s.append(report["train_seconds"])
        cold.append(bench.train("cold", training)["images_per_second"])
        plain.append(plain_loop(data, args.epochs, args.train, 64, threads, channels_last=True))
        plain_cf.append(plain_loop(data, args.epochs, args.train, 64, threads, channels_last=False))
    median = statistics.median
    return {"train_s": round(median(train_s), 3), "images_per_s": round(median(warm), 1),
            "images_per_s_cold": round(median(cold), 1), "plain_images_per_s": round(median(plain), 1),
            "plain_contiguous_images_per_s": round(median(plain_cf), 1),
            "ratio_to_plain": round(median(warm) / median(plain), 3),
            "ratio_cold_to_plain": round(median(cold) / median(plain), 3)}


def workers(root: Path, data_dir: Path, candidates: int, train: int, rounds: int) -> dict:
    """(c): the same random networks with 1 and 2 local workers (warm), `rounds` times each, alternating."""
    rng = random.Random(0)
    networks = [vet(random_network(rng)) for _ in range(candidates)]
    training = TrainingSettings(**RECIPE, train_subset=train, eval_subset=500).model_dump(mode="json")
    walls: dict[int, list[float]] = {1: [], 2: []}
    for round_, count in enumerate((1, 2) * rounds):
        pool = executors.LocalExecutor(workers=count, gpus=0)
        batch = [{"code": code, "canonical": canonical, "dataset": "mnist", "training": training,
                  "workdir": str(root / f"c{round_}"), "data_dir": str(data_dir)} for code, canonical in networks]
        pool.map(batch[:count])  # start the workers' zygotes: what a search pays once
        started = time.perf_counter()
        reports = pool.map(batch[count:])
        walls[count].append(round(time.perf_counter() - started, 2))
        pool.shutdown()
        assert all(r["failure"] is None for r in reports), [r["detail"] for r in reports]
    return {"wall_s_1_worker": walls[1], "wall_s_2_workers": walls[2],
            "speedup_2_over_1": round(statistics.median(walls[1]) / statistics.median(walls[2]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one line of JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to see that it runs")
    parser.add_argument("--spin", action="store_true", help="leave OpenMP's default wait policy in this process")
    args = parser.parse_args()
    if args.smoke:
        args.train, args.candidates, args.repeats = 64, 4, 1
    root = Path(tempfile.mkdtemp(prefix="archagents-bench-"))
    data_dir = root / "data"
    data = datasets.materialise("mnist", data_dir)
    threads = os.cpu_count() or 1
    out: dict = {"cores": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    out.update(_on_a_thread(lambda: {**startup(Bench(root / "a", data_dir, threads), args.repeats),
                                     **throughput(Bench(root / "b", data_dir, threads), data, args, threads)}))
    out.update(workers(root, data_dir, args.candidates, args.train, 1 if args.smoke else 2))
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


def _on_a_thread(measure):
    """Run on a thread of its own, whose zygote ends with it (as a worker's does)."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(measure()))
    thread.start()
    thread.join()
    if not out:
        raise SystemExit("the measurement failed (see above)")
    return out[0]


if __name__ == "__main__":
    main()
