"""Where trainings run: several at once, each in its own sandboxed child.

- `LocalExecutor` (default): `workers` trainings in parallel on this machine, one per GPU
  when there are GPUs (CUDA_VISIBLE_DEVICES set per child), else N CPU workers that
  share the cores (each child gets cores // N torch threads, so two workers on two
  cores do not fight over them).  Threads only wait for the children here; the work
  is in the child processes.  Each worker thread has its own zygote (the warm sandbox,
  training/warm.py), which ends with the thread.
- `RayExecutor` (`--executor ray`, the optional [ray] extra): schedules each training as
  a Ray task with `num_cpus` / `num_gpus` resources on an existing cluster (`--ray-address`
  or RAY_ADDRESS; a local one when neither is given).  A task runs the same sandbox on
  the node Ray picks, so the nodes need the project at the same path (a shared file
  system), as the data cache and the run folder are read and written there.  A Ray worker
  process runs one task at a time and is reused for the next (max_calls 0), so it keeps
  one zygote for all the tasks it runs.

`submit(kwargs)` takes `tools.train_on_gpu.train_here` arguments and returns a
concurrent Future of the report dict; `map` runs a batch.  `shared(training)` keeps one
executor per configuration for the process.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from errors import UserError
from settings import TrainingSettings

ROOT = Path(__file__).resolve().parent.parent
_shared: dict[tuple, "LocalExecutor | RayExecutor"] = {}
_lock = threading.Lock()


def gpu_count() -> int:
    """GPUs visible to this machine, without importing torch in the search process."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int = 1, gpus: int | None = None):
        self.workers = workers
        self.gpus = gpu_count() if gpus is None else gpus
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(workers):
            self._slots.put(slot)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="training")

    def submit(self, kwargs: dict) -> Future:
        return self._pool.submit(self._run, kwargs)

    def _run(self, kwargs: dict) -> dict:
        from training.jobs import train_here

        slot = self._slots.get()
        try:
            gpu = slot % self.gpus if self.gpus else None
            return train_here(**{"threads": self.threads, **kwargs, "gpu": gpu})
        finally:
            self._slots.put(slot)

    def map(self, batch: list[dict]) -> list[dict]:
        return [future.result() for future in [self.submit(kwargs) for kwargs in batch]]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0):
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs the [ray] extra: pip install -e \".[ray]\"") from None
        if not ray.is_initialized():
            # The project folder on the workers' path: tasks import tools.train_on_gpu by name.
            ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                     runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}}, log_to_driver=False)
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self._task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(_ray_task)

    def submit(self, kwargs: dict) -> Future:
        return self._task.remote({"threads": max(1, int(self.num_cpus)), **kwargs}).future()

    def map(self, batch: list[dict]) -> list[dict]:
        return [future.result() for future in [self.submit(kwargs) for kwargs in batch]]

    def shutdown(self) -> None:
        pass  # the cluster belongs to the user (or to ray.init's own atexit when local)


def _ray_task(kwargs: dict) -> dict:
    import ray

    from training.jobs import train_here

    gpu_ids = ray.get_gpu_ids()
    return train_here(**{**kwargs, "gpu": int(gpu_ids[0]) if gpu_ids else None})


def make(training: TrainingSettings) -> LocalExecutor | RayExecutor:
    if training.executor == "ray":
        return RayExecutor(training.ray_address, num_cpus=1, num_gpus=ray_gpus(training.device))
    return LocalExecutor(training.workers)


def ray_gpus(device: str) -> int:
    """GPUs a Ray trial asks for: one with --device cuda (the cluster's nodes may have GPUs this
    machine lacks), one with auto when this machine has any, none with cpu."""
    return {"cuda": 1, "cpu": 0}.get(device, 1 if gpu_count() else 0)


def shared(training: TrainingSettings) -> LocalExecutor | RayExecutor:
    """One executor per configuration for the whole process (a pool, or a Ray connection)."""
    key = (training.executor, training.workers, training.ray_address, training.device)
    with _lock:
        if key not in _shared:
            _shared[key] = make(training)
        return _shared[key]
