"""The warm sandbox's zygote: a process that has imported torch and warmed up what a training
child needs, and forks one child per candidate (training/warm.py starts it and talks to it).

    python -I training/zygote.py FD      (FD: its end of a socket pair with the parent)

Standalone like trainer.py (the standard library, numpy, torch; trainer.py is loaded by path).
The zygote never runs candidate code and holds no secret: its environment is the sandbox's clean
one, it never reads a job file, and the dataset arrays it keeps are the label-free inputs
(datasets.without_held_out_labels).  Per job it forks a child that becomes exactly what the cold
path's fresh interpreter is: its own session, its own stdout/stderr files, the job's environment
and folder, and then `trainer.main(job.json)`, which reads the job, confines itself (network
namespace, Landlock, seccomp, while it has one thread), limits its resources, installs the audit
hook and only then executes the candidate's code.  The zygote waits for it (wall clock), kills
its process group, reaps it (its CPU time tells a CPU-limit kill from the OOM killer) and
answers.  What a child changes in memory (torch's modules patched, the arrays overwritten) is its
own copy-on-write copy: the next child is forked from the unchanged zygote.

Why the zygote stays single-threaded: fork copies only the calling thread, and GNU OpenMP's
thread pool (torch's intra-op threads) does not survive a fork; so torch runs with one thread
here and the warm-up calls no backward() (the autograd engine starts device threads on first
use, and on a CUDA build that would also initialise CUDA, which a forked child cannot use).
CUDA is initialised by each child after the fork, never here: torch.cuda.is_available() in this
process asks NVML (PYTORCH_NVML_BASED_CUDA_CHECK, set by training/warm.py), which does not.

Protocol, one JSON object per line: the zygote says {"ready": pid}; a request {"run": {...}}
is answered {"started": child pid} and then {"returncode", "timed_out", "cpu", "leftovers"};
{"status": true} is answered with what the tests check (threads, CUDA, file descriptors).  The
zygote exits when its parent closes the socket (or dies: end of file), killing a child it runs.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def load_trainer():
    spec = importlib.util.spec_from_file_location("trainer", os.path.join(HERE, "trainer.py"))
    trainer = importlib.util.module_from_spec(spec)
    sys.modules["trainer"] = trainer
    spec.loader.exec_module(trainer)
    return trainer


def warm_up(trainer) -> None:
    """Import and run once what every child needs, without starting a thread (see above)."""
    import numpy  # noqa: F401
    import torch
    import torch.nn.functional  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401

    torch.set_num_threads(1)
    weight = torch.nn.Parameter(torch.zeros(1))
    for optimizer in ("adam", "sgd"):  # their first step imports torch._dynamo and inductor
        weight.grad = torch.ones(1)  # set, not computed: no backward() here
        trainer.make_optimizer([weight], {"optimizer": optimizer, "lr": 0.1, "momentum": 0.9}, torch).step()
    import warnings

    # The preloaded arrays are read-only; torch warns once per child when it wraps one.
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


def preload(trainer, folder: str) -> None:
    """Open the data folder `folder` once (a folder the parent wrote; read here, by the zygote):
    its children inherit the memory maps and the read-only training labels."""
    stat = os.stat(os.path.join(folder, "meta.json"))
    stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if trainer.PRELOADED.get(folder, {}).get("stamp") == stamp:
        return
    data = trainer.batches.open_data(folder, {})
    data["y_train"].flags.writeable = False
    trainer.PRELOADED[folder] = {**data, "stamp": stamp}


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def status() -> dict:
    import torch

    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    with open("/proc/self/maps") as f:
        libcuda = "libcuda" in f.read()
    return {"pid": os.getpid(), "threads": threads(), "cuda_initialized": torch.cuda.is_initialized(),
            "libcuda_mapped": libcuda, "fds": fds, "environ": dict(os.environ)}


# --- the child: from the fork to trainer.main --------------------------------------------------

def become_child(request: dict, channel: int, zygote: int) -> None:
    """Never returns.  Until trainer.main installs its guards this is our code, not the candidate's."""
    code = 1
    try:
        os.setsid()  # its own session and process group, killed as a whole afterwards
        libc = ctypes.CDLL(None, use_errno=True)  # local: no handle stays within the candidate's reach
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the zygote dies: so does the child
        if os.getppid() != zygote:
            os._exit(1)
        folder = request["folder"]
        _redirect(folder, channel)
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # next asked from TMPDIR, the sandbox folder
        code = sys.modules["trainer"].main(request["job"])
    except BaseException:  # noqa: BLE001  (ours: reported on the child's stderr, like a cold child's)
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)  # as trainer.py's __main__: the candidate's threads and atexit handlers end here


def _redirect(folder: str, channel: int) -> None:
    """stdin /dev/null, stdout and stderr the job's own files; nothing else of the zygote's open
    (its socket to the parent above all), as close_fds does for a cold child."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    opened = [os.open("/dev/null", os.O_RDONLY), os.open(os.path.join(folder, "stdout.txt"), flags, 0o644),
              os.open(os.path.join(folder, "stderr.txt"), flags, 0o644)]
    for target, fd in enumerate(opened):
        os.dup2(fd, target)
    os.close(channel)
    os.closerange(3, 1 << 16)


# --- the zygote: one job at a time -------------------------------------------------------------

def run_job(request: dict, sock: socket.socket, trainer) -> dict:
    try:
        preload(trainer, request["data"])
    except (OSError, KeyError, ValueError):  # the child reads the file itself and reports what is wrong
        pass
    if threads() != 1:  # a thread here would be copied into no child, but OpenMP's pool breaks
        raise SystemExit(f"zygote: {threads()} threads before a fork; exiting to be replaced")
    sys.stdout.flush()
    sys.stderr.flush()
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        become_child(request, sock.fileno(), zygote)
    send(sock, {"started": pid})
    timed_out, parent_gone = wait(pid, sock, float(request["wall_seconds"]))
    kill_group(pid)
    _, status_, usage = os.wait4(pid, 0)
    leftovers = kill_leftovers()
    if parent_gone:
        raise SystemExit(0)
    return {"returncode": os.waitstatus_to_exitcode(status_), "timed_out": timed_out,
            "cpu": usage.ru_utime + usage.ru_stime, "leftovers": leftovers}


def wait(pid: int, sock: socket.socket, wall_seconds: float) -> tuple[bool, bool]:
    """Until the child exits (left unreaped: its group id cannot be reused before the group is
    killed), the wall clock runs out, or the parent goes away.  (timed out, parent gone)"""
    deadline = time.monotonic() + wall_seconds
    watch = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(watch, select.POLLIN)
        poller.register(sock.fileno(), select.POLLIN | select.POLLHUP)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True, False
            for fd, _ in poller.poll(left * 1000):
                if fd == watch:
                    return False, False
                if not sock.recv(1, socket.MSG_PEEK):  # end of file: the parent is gone
                    return False, True
                poller.unregister(sock.fileno())  # a request mid-job (the parent sends none): read later
    finally:
        os.close(watch)


def kill_group(pid: int) -> None:
    for kill in (os.kill, os.killpg):  # the child itself (were it killed before its setsid), then its group
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_leftovers(seconds: float = 5.0) -> int:
    """Kill what outlived the child: this process is a subreaper, so a descendant whose parent
    died (one that left the child's group included) is ours now.  The seccomp filter lets no
    child make a process; this holds where a kernel has no seccomp."""
    killed, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            return killed
        if pid:
            continue  # reaped one; look again
        for other in children(os.getpid()):
            kill_group(other)
            killed += 1
        time.sleep(0.01)
    return killed


def children(parent: int) -> list[int]:
    """The processes whose parent is `parent` (from /proc)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def requests(sock: socket.socket):
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        yield json.loads(line)


def main(fd: int) -> int:
    sock = socket.socket(fileno=fd)
    trainer = load_trainer()
    warm_up(trainer)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    del libc
    send(sock, {"ready": os.getpid()})
    for request in requests(sock):
        send(sock, status() if request.get("status") else run_job(request["run"], sock, trainer))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
