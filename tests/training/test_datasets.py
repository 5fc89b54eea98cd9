"""The dataset cache under concurrency (issue 16: threads of one process once shared a pid-named
temporary file, and a rename failed), the label-free view the sandboxed child reads, and the
user's data (--data) from the spec to the cache."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from errors import UserError
from settings import TrainingSettings
from training import datasets

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"train": 1297, "val": 200, "test": 300}


def assert_valid(path: Path) -> None:
    splits = datasets.load(path)
    assert {s: len(x) for s, x in splits.x.items()} == SIZES
    assert {s: len(y) for s, y in splits.y.items()} == SIZES
    assert splits.classes == 10 and len(splits.meta["mean"]) == 3 and splits.meta["photos"] is False


def no_leftovers(folder: Path) -> bool:
    return not list(folder.glob(".*.partial"))


def test_materialise_from_8_threads_at_once(tmp_path):
    start, paths, errors = threading.Barrier(8), [], []

    def worker():
        start.wait()
        try:
            paths.append(datasets.materialise("digits", tmp_path))
        except Exception as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(paths) == 8 and len(set(paths)) == 1
    assert_valid(paths[0])
    assert no_leftovers(tmp_path)


SCRIPT = """
import sys, time
from pathlib import Path
from training import datasets
folder, me = Path(sys.argv[1]), sys.argv[2]
(folder / f"ready-{me}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
print(datasets.materialise("digits", folder / "cache"))
"""


def test_materialise_from_2_processes_at_once(tmp_path):
    """Both wait at a barrier (a file), then write at once: each its own temporary folder, then a
    rename into place (the first wins); both must answer the same valid folder."""
    children = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), str(i)], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    answers = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), answers
    paths = {Path(out.strip()) for out, _ in answers}
    assert len(paths) == 1 and next(iter(paths)).parent == tmp_path / "cache"
    assert_valid(next(iter(paths)))
    assert no_leftovers(tmp_path / "cache")


def test_the_child_gets_no_held_out_labels(tmp_path):
    full = datasets.materialise("digits", tmp_path)
    views = []
    threads = [threading.Thread(target=lambda: views.append(datasets.without_held_out_labels(full)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(views)) == 1 and views[0] == full.with_name(full.name + ".inputs")
    assert {p.name for p in views[0].iterdir()} == {p.name for p in full.iterdir()} - {"y_val.npy", "y_test.npy"}
    assert (views[0] / "x_val.npy").stat().st_ino == (full / "x_val.npy").stat().st_ino  # links, not copies
    assert no_leftovers(tmp_path)


def test_a_folder_in_place_is_never_replaced(tmp_path):
    """A second writer (another process that also found no cache) leaves the first folder, inode and
    bytes: a sandboxed child's Landlock rule holds that inode, and a rename over it once made the
    child's read fail with EACCES (two Ray workers, tests/training/test_executors.py)."""
    final = tmp_path / "x"
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, value in ((first, 0), (second, 1)):
        folder.mkdir()
        np.save(folder / "a.npy", np.full(3, value))
        (folder / "meta.json").write_text("{}")
    datasets._publish(first, final)
    inode = final.stat().st_ino
    datasets._publish(second, final)
    assert final.stat().st_ino == inode and np.load(final / "a.npy").tolist() == [0, 0, 0]
    assert not second.exists()


def test_the_spec_names_the_data(tmp_path):
    training = TrainingSettings(data=tmp_path / "pets.npz", image_size=48, val_fraction=0.01)
    spec = datasets.spec("custom", training)
    assert (spec.name, spec.path, spec.image_size, spec.val_fraction) == ("custom", tmp_path / "pets.npz", 48, 0.01)
    assert datasets.default(None, tmp_path) == "custom" and datasets.default(None) == "mnist"
    with pytest.raises(UserError, match="--data PATH"):
        datasets.spec("custom", TrainingSettings())
    with pytest.raises(UserError, match="no such file"):
        datasets.materialise(spec, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or no_leftovers(tmp_path / "cache")


def test_a_named_dataset_resized(tmp_path):
    spec = datasets.DataSpec(name="digits", image_size=64)
    splits = datasets.load(datasets.materialise(spec, tmp_path))
    assert splits.x["train"].shape == (1297, 3, 64, 64) and splits.meta["size"] == 64
    native = datasets.load(datasets.materialise("digits", tmp_path))
    # 32 -> 64 by a whole factor is nearest: every pixel is repeated, the strokes stay sharp
    assert np.array_equal(splits.x["train"][0][:, ::2, ::2], native.x["train"][0])
