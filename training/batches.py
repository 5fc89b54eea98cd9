"""Batches for the sandboxed child (training/trainer.py): read from the memory-mapped dataset
cache (training/datasets.py), gathered ahead of the training step by threads, augmented and
normalised on the training device.  Standalone like trainer.py: the standard library, numpy
and torch only, never the project (the child runs `python -I`).

Why threads and not DataLoader worker processes: DataLoader's workers need POSIX semaphores
and shared memory, both files in /dev/shm (multiprocessing's SemLock and torch's tensor
sharing call sem_open and shm_open), which the child's Landlock rules refuse; granting
/dev/shm would open every shared-memory segment of the user to the candidate.  Nothing heavy
is left to do per batch anyway: images are decoded and resized once, when the cache is
written; per batch there is a gather of uint8 rows from the memory map (numpy copies without
holding the GIL, so threads overlap it with the step) and one batched random-resized crop and
flip (`augment`: one grid_sample for the whole batch, on the GPU when there is one).
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

SPLITS = ("train", "val", "test")


def open_data(folder: str, job: dict, opened: dict | None = None) -> dict:
    """The label-free cache folder the child may read: memory-mapped images of every split, the
    training labels, and the metadata (mean, std, photos), cut to the job's subsets.  `opened`:
    the whole folder as the warm sandbox's zygote opened it already (`open_data(folder, {})`)."""
    import numpy as np

    if opened is None:
        meta = json.loads(open(os.path.join(folder, "meta.json")).read())
        x = {s: np.load(os.path.join(folder, f"x_{s}.npy"), mmap_mode="r") for s in SPLITS}
        y_train = np.load(os.path.join(folder, "y_train.npy"))
    else:
        meta, x, y_train = opened["meta"], opened["x"], opened["y_train"]
    limits = {"train": job.get("train_subset"), "val": job.get("val_subset"), "test": job.get("test_subset")}
    x = {s: a[:limits[s]] if limits[s] else a for s, a in x.items()}
    return {"x": x, "y_train": y_train[:len(x["train"])], "meta": meta}


def index_batches(n: int, batch: int, epochs: int, steps: int | None, seed: int):
    """Index arrays of the training batches: a seeded permutation per epoch, cut in batches (a
    last batch of one is skipped: batch norm cannot train on it); `steps`, when given, is the
    number of batches, whatever the epochs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    done, epoch = 0, 0
    while (steps is not None and done < steps) or (steps is None and epoch < epochs):
        order = rng.permutation(n)
        epoch += 1
        for start in range(0, n, batch):
            index = order[start:start + batch]
            if len(index) < 2:
                continue
            yield np.sort(index)  # sorted: the memory map is read forwards
            done += 1
            if steps is not None and done >= steps:
                return
        if n < 2:
            return


class Batches:
    """(uint8 images, int64 labels) numpy batches in order, each gathered by one of `threads`
    threads, up to 2 x threads batches ahead of the consumer."""

    def __init__(self, x, y, indices, threads: int = 2):
        self.x, self.y, self.indices, self.threads = x, y, indices, max(1, threads)

    def _gather(self, index):
        import numpy as np

        return np.ascontiguousarray(self.x[index]), self.y[index]

    def __iter__(self):
        with ThreadPoolExecutor(self.threads, thread_name_prefix="batches") as pool:
            ahead: deque = deque()
            for index in self.indices:
                ahead.append(pool.submit(self._gather, index))
                if len(ahead) > 2 * self.threads:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()


def crop_scale(side: int) -> tuple[float, float]:
    """RandomResizedCrop's area range: torchvision's (0.08, 1) for ImageNet-sized images; for
    small ones (below 128 px: CIFAR's 32, the CPU default) 0.35 at least, where 8% of a
    32-pixel image would be 9 x 9 pixels blown up."""
    return (0.08, 1.0) if side >= 128 else (0.35, 1.0)


def augment(x, generator, crop: bool, flip: bool, torch):
    """Random-resized crop (area from `crop_scale`, aspect 3/4 to 4/3) and horizontal flip of a
    whole float batch (N, C, S, S) at once: each image's crop and flip is an affine map, applied
    by one grid_sample (bilinear) to the batch."""
    n, side = x.shape[0], x.shape[-1]
    if crop:
        low, high = crop_scale(side)
        area = torch.empty(n).uniform_(low, high, generator=generator)
        aspect = torch.exp(torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator))
        w, h = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
    else:
        w = h = torch.ones(n)
    cx = (torch.rand(n, generator=generator) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=generator) * 2 - 1) * (1 - h)
    sign = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * sign, cx, h, cy
    grid = torch.nn.functional.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def to_input(images, device, mean, std, torch):
    """A uint8 numpy batch as normalised floats on `device` (augmentation commutes with the
    per-channel normalisation: bilinear sampling is affine in the pixel values)."""
    images = images if images.flags.writeable else images.copy()  # a memory-map slice is read-only
    x = torch.from_numpy(images).to(device, non_blocking=True).float().div_(255.0)
    return (x - mean) / std
