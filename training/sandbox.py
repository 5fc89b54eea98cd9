"""Run generated network code in a sandboxed child process, never in the search's process.

`run(job, folder)` writes the job to `folder/job.json` and starts

    python -I training/trainer.py folder/job.json

in its own process group, with `folder` (inside the run folder) as working directory
and an environment holding no API keys.  Every way it can end is a typed
`SandboxResult` (`failure` from spaces.base.FailureKind), never an exception here.

What is covered:
- wall clock: `wall_seconds`, then the whole process group is killed (SIGKILL), so
  threads or children of the candidate die with it -> `timeout`;
- CPU time: RLIMIT_CPU in the child -> SIGXCPU -> `timeout`;
- memory: RLIMIT_AS in the child, on top of what torch and the data already mapped ->
  MemoryError / allocator failure -> `oom` (a SIGKILL we did not send, the kernel's OOM
  killer, is reported as `oom` too);
- an audit hook (PEP 578, `sys.addaudithook`) installed before the candidate's code is
  executed refuses socket operations, process creation (subprocess, os.system, exec*,
  spawn*, fork, kill), ctypes library loading, and opening files for writing (or
  removing/renaming them) outside `folder` and the job's own files (job.json, result.json,
  so the candidate cannot forge its result); a refusal is recorded even when the
  candidate catches it -> `refused`.  HOME and TMPDIR point into `folder`.
- the rest of the file system stays readable, and the GPU (if any) is the one the
  executor assigned (CUDA_VISIBLE_DEVICES).

What is not covered (say so to users): an audit hook is not a security boundary.  Code
that reaches already-loaded native code (ctypes loaded by torch, `torch.ops`, numpy's
file writers that bypass `open`, an `os` module imported by torch and reached through
object graphs) can get around it; importing modules is not refused at run time (torch
imports lazily), only their dangerous operations.  Static
validation (spaces/torch_code.py: `ast` parse, import allow-list, forbidden names)
refuses such code before it runs; the two together stop mistakes and casual abuse of a
language model's output, not a determined attacker.  For untrusted users run the
search in a container or VM without network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from spaces.base import FailureKind

TRAINER = Path(__file__).resolve().parent / "trainer.py"
ENV_KEPT = ("PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


class TrainJob(BaseModel):
    """Everything the child needs; written to job.json."""

    code: str
    data: Path
    input_shape: tuple[int, int, int] = (3, 32, 32)
    classes: int = 10
    epochs: int = 1
    batch_size: int = 64
    lr: float = 0.001
    momentum: float = 0.9
    seed: int = 0
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None
    threads: int = 1
    device: str | None = None  # None: CUDA when the child sees a GPU, else CPU
    gpu: int | None = None     # the GPU this child may see (CUDA_VISIBLE_DEVICES), given by the executor
    channels_last: bool = True
    cpu_seconds: int | None = None
    memory_mb: int | None = None


class SandboxResult(BaseModel):
    failure: FailureKind | None = None
    detail: str = ""
    val_acc: float | None = None
    test_acc: float | None = None
    flops: int | None = None
    params: int | None = None
    width: int | None = None
    depth: int | None = None
    train_seconds: float | None = None
    images_per_second: float | None = None
    images_seen: int | None = None
    device: str | None = None
    channels_last: bool | None = None
    child_seconds: float | None = None  # inside the child, from reading the job to the result
    wall_seconds: float = 0.0           # from spawn to exit, as the parent saw it


def run(job: TrainJob, folder: Path, wall_seconds: float = 600.0) -> SandboxResult:
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / "result.json"
    result_path.unlink(missing_ok=True)
    job_path = folder / "job.json"
    job_path.write_text(json.dumps({**job.model_dump(mode="json"), "sandbox": str(folder),
                                    "result": str(result_path), "protected": [str(result_path), str(job_path)]}))
    started = time.perf_counter()
    with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
        child = subprocess.Popen([sys.executable, "-I", str(TRAINER), str(job_path)], cwd=folder,
                                 stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=_env(job, folder),
                                 start_new_session=True)
        timed_out = False
        try:
            child.wait(timeout=wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(child)
    elapsed = round(time.perf_counter() - started, 4)
    return _result(child.returncode, timed_out, result_path, folder, wall_seconds).model_copy(
        update={"wall_seconds": elapsed})


def _env(job: TrainJob, folder: Path) -> dict[str, str]:
    """A clean environment: nothing secret reaches the candidate."""
    env = {k: os.environ[k] for k in ENV_KEPT if k in os.environ}
    # TMPDIR: torch's own temporary files stay inside.  OMP_WAIT_POLICY=PASSIVE: OpenMP threads
    # that spin-wait on a shared, busy machine made 2-thread training 10-15x slower (measured).
    env.update({"OMP_NUM_THREADS": str(job.threads), "MKL_NUM_THREADS": str(job.threads), "HOME": str(folder),
                "TMPDIR": str(folder), "OMP_WAIT_POLICY": "PASSIVE"})
    if job.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(job.gpu)
    return env


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _result(returncode: int, timed_out: bool, result_path: Path, folder: Path, wall_seconds: float) -> SandboxResult:
    if timed_out:
        return SandboxResult(failure="timeout", detail=f"killed after the wall-clock limit of {wall_seconds:g} s")
    if returncode == -signal.SIGXCPU:
        return SandboxResult(failure="timeout", detail="killed at the CPU-time limit")
    if returncode == -signal.SIGKILL:
        return SandboxResult(failure="oom", detail="killed by SIGKILL (the kernel's out-of-memory killer)")
    if result_path.exists():
        try:
            return SandboxResult.model_validate_json(result_path.read_text())
        except ValueError:
            pass
    tail = (folder / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return SandboxResult(failure="crashed", detail=f"the child exited with code {returncode} and no result: "
                                                   f"{tail[0][:300]}")
