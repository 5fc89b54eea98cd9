"""Run generated network code in a sandboxed child process, never in the search's process.

`run(job, folder)` writes the job to `folder/job.json` and runs `trainer.main(folder/job.json)`
in a child of its own session, with `folder` (inside the run folder) as working directory and an
environment holding no API keys.  The child is either

- warm (the default): forked from this thread's zygote, a process that imported torch once
  (training/warm.py, training/zygote.py): a fork instead of an interpreter's start-up; or
- cold (`--sandbox cold`): a fresh `python -I training/trainer.py folder/job.json`.

Both confine themselves the same way, in trainer.main, before the candidate's code is read.
Every way it can end is a typed `SandboxResult` (`failure` from spaces.base.FailureKind), never
an exception here.  tests/training/test_hostile.py runs a catalogue of hostile candidates
(tests/training/hostile/) that pass the static check, on both paths.

What is covered:
- the metric: the child gets the training split and the held-out *images* only
  (datasets.without_held_out_labels); it answers predicted classes and this process scores
  them.  A candidate that patches the scoring, reads the trainer's memory or forges
  result.json has no labels to cheat with.
- the kernel's guards, installed first thing in the child (while it has one thread, so every
  thread and child it makes inherits them), where the kernel has them:
  - Landlock (Linux >= 5.13): writes only under `folder`; reads only the Python installation,
    system libraries (/usr, /lib), /sys, the child's own /proc entry and the label-free data
    (not /etc, /home, /root, /tmp, the project folder, other processes); executing any file
    is refused; from ABI 4 (Linux 6.7) TCP connect/bind; from ABI 6 (6.12) signals to, and
    abstract sockets of, processes outside the sandbox.  This holds for native code too
    (torch's own file writers, which the audit hook does not see).
    Landlock also refuses ptrace of (and so reading the memory of) processes outside the
    sandbox: the search's, and the zygote's on the warm path.
  - a network namespace with no interface, when the child may make one (root).
  - seccomp (x86_64, aarch64): no new process (fork, vfork, clone without CLONE_THREAD;
    threads are allowed), from Python or native code (`_posixsubprocess.fork_exec` raises
    no audit event).
  `SandboxResult.confinement` says what was installed; without them only the audit hook
  and the limits below remain (the candidate still runs).
- the zygote (warm path) never runs candidate code and holds no secret (the clean environment;
  no job file; the label-free arrays); a child is a copy-on-write copy of it, so what a
  candidate changes in memory (torch patched, the preloaded arrays overwritten) no later
  candidate sees; it is a subreaper and kills whatever a child left behind; a zygote that
  dies is replaced, and the job it ran runs once more.
- wall clock: `wall_seconds`, then the whole process group is killed (SIGKILL; by the zygote
  on the warm path), so threads or children of the candidate die with it -> `timeout`; the
  group is killed after a normal exit too, so nothing the candidate started outlives it;
- CPU time: RLIMIT_CPU -> SIGXCPU, or SIGKILL at the hard limit when the candidate ignores
  SIGXCPU (told apart by the child's CPU time) -> `timeout`;
- memory: RLIMIT_AS in the child, on top of what torch and the data already mapped ->
  MemoryError / allocator failure -> `oom` (a SIGKILL we did not send, the kernel's OOM
  killer, is reported as `oom` too);
- file size: RLIMIT_FSIZE (`file_mb`), a write past it fails -> `refused`;
- an audit hook (PEP 578, `sys.addaudithook`) installed before the candidate's code is
  executed refuses socket operations, process creation (subprocess, os.system, exec*,
  spawn*, fork, kill), ctypes library loading, the ways to the interpreter's frames and
  object graph (`gi_frame`/`tb_frame`/..., sys._getframe, settrace, gc.get_referrers...),
  and opening files for writing (or removing/renaming them) outside `folder` and the job's
  own files; a refusal is recorded even when the candidate catches it -> `refused`.  Errors of the kernel's guards (EACCES,
  ENETUNREACH, EFBIG) -> `refused` too.  HOME and TMPDIR point into `folder`.
- descriptors: the child inherits none of the search's open files (sockets, the journal, the
  checkpoint database), nor the zygote's (its socket to the search), only /dev/null as stdin
  and its own stdout/stderr files;
- the child ends with os._exit after writing its result: threads it started (daemon or not)
  and its atexit handlers do not run on.

What is not covered (say so to users):
- An audit hook is not a security boundary: the candidate shares its interpreter.  Modules
  torch imported are reachable by attribute (`torch._guards.threading._os`), so it can
  patch what the hook relies on (tests/training/hostile/subvert_hook.py fools its path
  check), call native code the hook never sees, forge result.json or exit early; only the
  kernel's guards and the parent-side scoring hold against that.  Static validation
  (spaces/torch_code.py) refuses the known ways in before anything runs.
- The cost the child reports (FLOPs, parameters, width, depth) is measured in the
  candidate's process: a candidate can misreport it (e.g. a forward that does less at
  batch size 1, or `parameters()` overridden).  Accuracy cannot be faked this way.
- Reading: without Landlock the candidate can read any file the user can (and put it into
  the failure detail the Designer sees); with it, only what is listed above, which holds
  no secrets unless the user put some in the Python installation.
- Without a network namespace: UDP and raw sockets from native code (the audit hook sees
  Python's sockets only; Landlock covers TCP only).  No torch API was found that opens them.
- Processes: without seccomp (another architecture), a process created by native code (or
  `_posixsubprocess.fork_exec`) and moved to another session escapes the group kill on the
  cold path (on the warm path the zygote, their subreaper, kills it after the job).  Python's
  fork/spawn are refused by the audit hook, and nothing can be executed under Landlock.
- The warm path's children share with the zygote what was mapped before the fork (copy-on-
  write, so nothing written is shared; what one child read, another cannot see), including
  the state of torch's random generators and the addresses of its libraries (no fresh
  address-space layout per candidate).
- Disk: the sandbox folder itself can be filled with many files of up to `file_mb` each;
  CPU caches, timing and the GPU (the one the executor assigned, CUDA_VISIBLE_DEVICES) are
  shared with the machine.
- Without Landlock (another OS, an older kernel, or when it fails) none of the kernel's
  guards hold.  For untrusted users run the search in a container or VM without network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from settings import Sandbox
from spaces.base import FailureKind
from training import datasets

TRAINER = Path(__file__).resolve().parent / "trainer.py"
ENV_KEPT = ("PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


class TrainJob(BaseModel):
    """Everything the child needs; written to job.json."""

    code: str
    data: Path  # the dataset's cache folder (training/datasets.py); the child gets the view without held-out labels
    input_shape: tuple[int, int, int] = (3, 32, 32)
    classes: int = 10
    epochs: int = 1
    steps: int | None = None   # optimiser steps; None: `epochs` passes over the training images
    batch_size: int = 64
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.001
    schedule: Literal["constant", "cosine"] = "constant"
    momentum: float = 0.9
    weight_decay: float = 0.0
    augment: Literal["auto", "none", "flip"] = "auto"  # auto: random-resized crop and flip of photos
    seed: int = 0
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None
    threads: int = 1
    loader_threads: int = 2    # threads gathering batches ahead (training/batches.py: not processes)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when the child sees a GPU, else CPU
    gpu: int | None = None     # the GPU this child may see (CUDA_VISIBLE_DEVICES), given by the executor
    amp: bool | None = None    # mixed precision; None: on CUDA only
    channels_last: bool = True
    cpu_seconds: int | None = None
    memory_mb: int | None = None
    file_mb: int | None = 64  # the largest file the child may write (RLIMIT_FSIZE)


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
    val_predicted: list[int] | None = None   # the child's answers, scored here and then dropped
    test_predicted: list[int] | None = None
    cpu_seconds: float | None = None    # the child's user + system time
    confinement: str = ""               # the kernel's guards the child installed (see above)
    sandbox: Sandbox | None = None      # warm: forked from a zygote; cold: a fresh interpreter


def run(job: TrainJob, folder: Path, wall_seconds: float = 600.0, sandbox: Sandbox = "warm") -> SandboxResult:
    """Train `job` in a child confined to `folder`; `job.data` is the whole dataset, of which
    the child sees all but the held-out labels.  `sandbox`: the child is forked from this
    thread's zygote (warm, training/warm.py) or is a fresh interpreter (cold)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / "result.json"
    result_path.unlink(missing_ok=True)
    job_path = folder / "job.json"
    inputs = datasets.without_held_out_labels(Path(job.data).resolve())
    job_path.write_text(json.dumps({**job.model_dump(mode="json"), "data": str(inputs), "sandbox": str(folder),
                                    "result": str(result_path), "protected": [str(result_path), str(job_path)]}))
    started = time.perf_counter()
    if sandbox == "warm":
        from training import warm

        request = {"job": str(job_path), "folder": str(folder), "env": _env(job, folder), "data": str(inputs)}
        try:
            returncode, timed_out, cpu = warm.for_this_thread(_clean_env()).run(request, wall_seconds)
        except warm.ZygoteDied as err:
            return SandboxResult(failure="crashed", detail=str(err)[:400], sandbox=sandbox,
                                 wall_seconds=round(time.perf_counter() - started, 4))
    else:
        returncode, timed_out, cpu = _cold(job_path, folder, _env(job, folder), wall_seconds)
    result = _result(returncode, timed_out, cpu, job.cpu_seconds, result_path, folder, wall_seconds)
    spent = time.perf_counter() - started
    if returncode in NATIVE_CRASHES and job.channels_last and not timed_out and wall_seconds - spent > 1:
        # Once more in the contiguous layout: torch 2.13's CPU kernels crashed the process on some valid
        # networks in channels_last (a strided 1x1 convolution, spaces/mobilenetv2_net.py: skip); a
        # network that crashes natively in both layouts is a crash, and it costs one more try.
        again = run(job.model_copy(update={"channels_last": False}), folder, wall_seconds - spent, sandbox)
        if again.failure is None:
            return again.model_copy(update={"wall_seconds": round(time.perf_counter() - started, 4)})
    return _scored(result, job).model_copy(update={"wall_seconds": round(spent, 4),
                                                   "cpu_seconds": round(cpu, 3), "sandbox": sandbox})


NATIVE_CRASHES = (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGILL)


def _cold(job_path: Path, folder: Path, env: dict[str, str], wall_seconds: float) -> tuple[int, bool, float]:
    """A fresh interpreter runs trainer.py: (returncode, timed out, CPU s)."""
    with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
        child = subprocess.Popen([sys.executable, "-I", str(TRAINER), str(job_path)], cwd=folder,
                                 stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        timed_out, cpu = _wait(child, wall_seconds)
    return child.returncode, timed_out, cpu


def _wait(child: subprocess.Popen, wall_seconds: float) -> tuple[bool, float]:
    """Wait for the child to end, or kill it at the wall-clock limit; then kill what is left of
    its process group (whatever the candidate started).  The group is killed while the child
    is an unreaped zombie, so its id cannot have been reused.  Reaped with os.wait4, not
    Popen.wait: its CPU time tells a CPU-limit kill from the OOM killer.  (timed out, CPU s)
    The zygote does the same for a warm child (training/zygote.py)."""
    deadline, pause, timed_out = time.monotonic() + wall_seconds, 0.005, False
    while os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:  # not reaped
        if time.monotonic() >= deadline:
            timed_out = True
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    _kill_group(child.pid)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return timed_out, usage.ru_utime + usage.ru_stime


def _clean_env() -> dict[str, str]:
    """What this process's environment passes on to a child: nothing secret."""
    return {k: os.environ[k] for k in ENV_KEPT if k in os.environ}


def _env(job: TrainJob, folder: Path) -> dict[str, str]:
    """A clean environment: nothing secret reaches the candidate."""
    env = _clean_env()
    # TMPDIR: torch's own temporary files stay inside.  OMP_WAIT_POLICY=PASSIVE: OpenMP threads
    # that spin-wait on a shared, busy machine made 2-thread training 10-15x slower (measured).
    env.update({"OMP_NUM_THREADS": str(job.threads), "MKL_NUM_THREADS": str(job.threads), "HOME": str(folder),
                "TMPDIR": str(folder), "OMP_WAIT_POLICY": "PASSIVE"})
    if job.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(job.gpu)
    return env


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # nobody left (a zombie leader counts as nobody)
        pass


def _result(returncode: int, timed_out: bool, cpu: float, cpu_limit: int | None, result_path: Path, folder: Path,
            wall_seconds: float) -> SandboxResult:
    if timed_out:
        return SandboxResult(failure="timeout", detail=f"killed after the wall-clock limit of {wall_seconds:g} s")
    if returncode == -signal.SIGXCPU or (returncode == -signal.SIGKILL and cpu_limit and cpu >= cpu_limit):
        return SandboxResult(failure="timeout", detail="killed at the CPU-time limit")
    if returncode == -signal.SIGKILL:
        return SandboxResult(failure="oom", detail="killed by SIGKILL (the kernel's out-of-memory killer)")
    if returncode == 0 and result_path.exists():
        try:
            return SandboxResult.model_validate_json(result_path.read_text())
        except ValueError:
            pass
    tail = (folder / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:] or [""]
    how = f"was killed by {signal.Signals(-returncode).name}" if returncode < 0 else f"exited with code {returncode}"
    return SandboxResult(failure="crashed", detail=f"the child {how} and no result: {tail[0][:300]}")


def _scored(result: SandboxResult, job: TrainJob) -> SandboxResult:
    """Validation and test accuracy of the child's predictions, against the labels only this
    process has; predictions of the wrong length (a forged result) are a crash."""
    if result.failure is not None:
        return result.model_copy(update={"val_predicted": None, "test_predicted": None})
    import numpy as np

    scores = {}
    for split, limit in (("val", job.val_subset), ("test", job.test_subset)):
        labels = datasets.labels(job.data, split)
        labels = labels[:limit] if limit else labels
        predicted = np.asarray(getattr(result, f"{split}_predicted") or [], dtype=np.int64)
        if predicted.shape != labels.shape:
            return SandboxResult(failure="crashed", detail=f"the child answered {predicted.size} {split} "
                                                           f"predictions for {labels.size} images")
        scores[f"{split}_acc"] = 100.0 * float((predicted == labels).mean()) if labels.size else 0.0
    return result.model_copy(update={**scores, "val_predicted": None, "test_predicted": None})
