"""The warm sandbox, the search's side: a zygote process (training/zygote.py) that has imported
torch forks one sandboxed child per candidate, so a candidate costs a fork, not a fresh
interpreter (`--sandbox cold` keeps the fresh interpreter: training/sandbox.py).

There is one zygote per thread that trains: one per local worker (training/executors.py runs
each worker on its own thread) and one per Ray worker process (a task runs on its worker's
main thread; Ray reuses the process for the next task).  A zygote is started on first use, is
replaced when it has died (whoever killed it), and ends when its thread or this process does
(the socket closes; the zygote kills a child it runs and exits).  A job whose zygote dies while
it runs is run once more on a new one; a second death is the candidate's `crashed`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

ZYGOTE = Path(__file__).resolve().parent / "zygote.py"
START_SECONDS = 600.0  # importing torch took 7-9 s at load 8-10 on 2 cores (DEVELOPERS.md)
MARGIN_SECONDS = 60.0  # past the wall-clock limit, for the zygote to kill and reap


class ZygoteDied(RuntimeError):
    """The zygote ended (or stopped answering) before it answered."""


class _Process:
    """One running zygote: the process, its socket, its log (stderr) and its home folder."""

    def __init__(self, env: dict[str, str]):
        self.home = tempfile.mkdtemp(prefix="archagents-zygote-")
        self.log = tempfile.TemporaryFile()
        ours, theirs = socket.socketpair()
        # PYTORCH_NVML_BASED_CUDA_CHECK: torch.cuda.is_available() asks NVML, which leaves CUDA
        # uninitialised in the zygote (a child forked after CUDA's initialisation cannot use it).
        # One thread and passive OpenMP until a child sets its own (training/zygote.py).
        env = {**env, "HOME": self.home, "TMPDIR": self.home, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OMP_WAIT_POLICY": "PASSIVE", "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}
        try:
            self.process = subprocess.Popen([sys.executable, "-I", str(ZYGOTE), str(theirs.fileno())],
                                            pass_fds=(theirs.fileno(),), cwd=self.home, env=env,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
                                            start_new_session=True)
        finally:
            theirs.close()
        self.socket, self.buffer = ours, b""
        try:
            self.pid = self.receive(START_SECONDS)["ready"]
        except ZygoteDied:
            self.stop()
            raise

    def send(self, message: dict) -> None:
        try:
            self.socket.sendall(json.dumps(message).encode() + b"\n")
        except OSError as err:
            raise ZygoteDied(f"the zygote is gone ({err})") from None

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ZygoteDied(f"the zygote did not answer within {timeout:g} s")
            self.socket.settimeout(left)
            try:
                chunk = self.socket.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError as err:
                raise ZygoteDied(f"the zygote is gone ({err})") from None
            if not chunk:
                raise ZygoteDied(f"the zygote ended: {self.tail()}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        self.log.seek(0)
        lines = self.log.read().decode(errors="replace").strip().splitlines()
        code = self.process.poll()
        return (lines[-1][:300] if lines else "no message") + (f" (exit status {code})" if code is not None else "")

    def stop(self) -> None:
        """Close the socket (the zygote exits at the end of file), then make sure."""
        self.socket.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


class Zygote:
    """A zygote for this thread's trainings, started on first use and whenever it has died."""

    def __init__(self, env: dict[str, str]):
        self.env, self.starts = env, 0
        self._box: list[_Process] = []  # the running one, if any (the finaliser must not hold self)
        weakref.finalize(self, _stop, self._box)
        _everyone.add(self)

    def forget(self) -> None:
        """In a forked copy of this process: the zygote is the original's; let it be."""
        for process in self._box:
            process.socket.close()  # our copy of the descriptor only
        self._box.clear()

    @property
    def pid(self) -> int | None:
        return self._box[0].pid if self._box and self._box[0].alive() else None

    def run(self, request: dict, wall_seconds: float) -> tuple[int, bool, float]:
        """Fork a child for `request` (job, folder, env, data); (returncode, timed out, CPU s)."""
        died = None
        for _ in range(2):
            try:
                return self._run(self._running(), {**request, "wall_seconds": wall_seconds}, wall_seconds)
            except ZygoteDied as err:
                died = err
                _stop(self._box)
        raise ZygoteDied(f"the warm sandbox's zygote died twice during this job: {died}")

    def status(self) -> dict:
        process = self._running()
        process.send({"status": True})
        return process.receive(60.0)

    def _running(self) -> _Process:
        if self._box and not self._box[0].alive():
            _stop(self._box)
        if not self._box:
            self._box.append(_Process(self.env))
            self.starts += 1
        return self._box[0]

    @staticmethod
    def _run(process: _Process, request: dict, wall_seconds: float) -> tuple[int, bool, float]:
        process.send({"run": request})
        child = process.receive(60.0)["started"]
        try:
            answer = process.receive(wall_seconds + MARGIN_SECONDS)
        except ZygoteDied:
            _kill_group(child)  # dies with its zygote (PR_SET_PDEATHSIG); its group may not
            raise
        return answer["returncode"], answer["timed_out"], answer["cpu"]


def _stop(box: list[_Process]) -> None:
    while box:
        box.pop().stop()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_local = threading.local()
_everyone: "weakref.WeakSet[Zygote]" = weakref.WeakSet()
# A process forked from this one (the benchmark grid's workers are) inherits the zygote handles:
# it must start its own, and never stop, wait for or clean up the original's.
os.register_at_fork(after_in_child=lambda: [zygote.forget() for zygote in list(_everyone)])


def for_this_thread(env: dict[str, str]) -> Zygote:
    """This thread's zygote (made on first use; `env` is its environment then)."""
    zygote = getattr(_local, "zygote", None)
    if zygote is None:
        zygote = _local.zygote = Zygote(env)
    return zygote
