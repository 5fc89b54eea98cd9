"""The dataset cache under concurrency (issue 16: threads of one process once shared a pid-named
temporary file, and a rename failed), and the label-free copy the sandboxed child reads."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from training import datasets

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"x_train": 1297, "x_val": 200, "x_test": 300}


def assert_valid(path: Path) -> None:
    with np.load(path) as arrays:
        assert {k: len(arrays[k]) for k in SIZES} == SIZES
        assert len(arrays["y_val"]) == 200 and arrays["mean"].shape == (3,)


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
    """Both wait at a barrier (a file), then write at once: each its own temporary file, then a
    link into place (the first wins); both must answer the same valid file."""
    children = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), str(i)], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    answers = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), answers
    paths = {Path(out.strip()) for out, _ in answers}
    assert paths == {tmp_path / "cache" / "digits.npz"}
    assert_valid(tmp_path / "cache" / "digits.npz")
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
    assert len(set(views)) == 1 and views[0] == tmp_path / "digits.inputs.npz"
    with np.load(views[0]) as view, np.load(full) as whole:
        assert set(view.files) == set(whole.files) - {"y_val", "y_test"}
        assert np.array_equal(view["x_val"], whole["x_val"]) and np.array_equal(view["y_train"], whole["y_train"])
    assert no_leftovers(tmp_path)


def test_a_file_in_place_is_never_replaced(tmp_path):
    """A second writer (another process that also found no file) leaves the first file, inode
    and bytes: a sandboxed child's Landlock rule holds that inode, and a rename over it once made
    the child's read fail with EACCES (two Ray workers, tests/training/test_executors.py)."""
    path = tmp_path / "x.npz"
    datasets._write_npz(path, {"a": np.zeros(3)})
    inode = path.stat().st_ino
    datasets._write_npz(path, {"a": np.ones(3)})
    assert path.stat().st_ino == inode
    with np.load(path) as arrays:
        assert arrays["a"].tolist() == [0.0, 0.0, 0.0]
    assert no_leftovers(tmp_path)
