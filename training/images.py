"""Image files for the dataset cache (training/datasets.py): an ImageFolder tree read once,
decoded, resized and written as uint8 arrays the sandboxed child memory-maps.

An ImageFolder tree has one folder per class holding its images (the layout torchvision's
ImageFolder reads; torchvision does not import beside this torch, so this is a plain reader
with PIL).  With `train/` and `val/` inside, both are used (the classes must be the same);
otherwise the class folders are at the top.  Every image is decoded with PIL, converted to
RGB, its shorter side resized to `size` and the centre `size` x `size` square kept: the
per-epoch augmentation (random-resized crop and flip) is done in the child on whole batches
(training/batches.py), so nothing is decoded per epoch.

Bad trees are one UserError line each: no class folder, a single class, a class without
images, an image PIL cannot read, train/ and val/ with different classes.
"""

from __future__ import annotations

import os
from pathlib import Path

from errors import UserError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
CHUNK = 64           # images per task of the decoding pool
PARALLEL_FROM = 512  # fewer images are decoded in this process (a pool costs more than it saves)


def is_tree(path: Path) -> bool:
    return path.is_dir() and any(child.is_dir() and not child.name.startswith(".") for child in path.iterdir())


def scan(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """(class names, [(image path, class index)]) of one ImageFolder level, sorted."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise UserError(f"{root} has no class folders: an ImageFolder tree has one folder of images per class")
    if len(classes) < 2:
        raise UserError(f"{root} has one class folder ({classes[0]}); a classifier needs at least two")
    items: list[tuple[str, int]] = []
    for index, name in enumerate(classes):
        files = sorted(str(f) for f in (root / name).rglob("*")
                       if f.suffix.lower() in EXTENSIONS and f.is_file() and not f.name.startswith("."))
        if not files:
            raise UserError(f"class folder {root / name} holds no images ({', '.join(sorted(EXTENSIONS))})")
        items += [(f, index) for f in files]
    return classes, items


def read_tree(root: Path) -> tuple[list[str], list[tuple[str, int]], list[tuple[str, int]] | None]:
    """(classes, training items, test items or None): `train/` and `val/` when both are there
    (val/ is the held-out test set, as GENIUS tests on ImageNet's official validation set)."""
    if not root.is_dir():
        raise UserError(f"{root} is not a folder")
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, train = scan(root / "train")
        val_classes, test = scan(root / "val")
        if val_classes != classes:
            only_train = sorted(set(classes) - set(val_classes))
            only_val = sorted(set(val_classes) - set(classes))
            raise UserError(f"the classes of {root}/train and {root}/val differ (only in train: "
                            f"{', '.join(only_train[:5]) or 'none'}; only in val: {', '.join(only_val[:5]) or 'none'})")
        return classes, train, test
    if not any(root.iterdir()):
        raise UserError(f"{root} is empty: an ImageFolder tree has one folder of images per class")
    classes, items = scan(root)
    return classes, items, None


def decode(path: str, size: int):
    """One image as uint8 (3, size, size): RGB, shorter side resized to `size`, centre crop."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            width, height = image.size
            scale = size / min(width, height)
            resized = image.resize((max(size, round(width * scale)), max(size, round(height * scale))),
                                   Image.Resampling.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise UserError(f"cannot read image {path}: {err}") from None
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    pixels = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8)
    return pixels.transpose(2, 0, 1)


def _decode_chunk(paths: list[str], size: int):
    import numpy as np

    try:
        return np.stack([decode(p, size) for p in paths]), None
    except UserError as err:
        return None, str(err)


def fill(out, paths: list[str], size: int) -> None:
    """Decode `paths` into the (memory-mapped) uint8 array `out`, in a process pool when there
    are many (decoding is the one costly step: ~5 ms per photo)."""
    if len(paths) < PARALLEL_FROM:
        for i, path in enumerate(paths):
            out[i] = decode(path, size)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    workers = max(1, min(8, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for index, (block, error) in enumerate(pool.map(_decode_chunk, chunks, [size] * len(chunks))):
            if error is not None:
                raise UserError(error)
            out[index * CHUNK:index * CHUNK + len(block)] = block
