"""What runs inside the sandboxed child (training/sandbox.py starts it): build the candidate
network from its source, check its output shape, count its FLOPs, train and score it.

    python -I training/trainer.py JOB.json      (the job says where to write result.json)

or `main(JOB.json)` in a child that training/zygote.py forked (the warm sandbox): the same steps.

Standalone on purpose: it imports only the standard library, numpy, torch and its
standalone sibling training/batches.py (the data loading), so it runs in isolated mode
(`-I`: no PYTHONPATH, no user site, no script folder on sys.path) and never imports the
project.  `count_forward` is also what
`tools/count_flops.measure` uses in the parent, so FLOPs mean one thing everywhere.

The guards are installed here: the kernel's (a network namespace, Landlock, seccomp) first
thing, while the process still has one thread, so every thread torch starts later inherits them;
resource limits and the audit hook after torch and the data are loaded and before the
candidate's code is executed.  What they cover is in training/sandbox.py.

The child never sees the held-out labels: it gets the training split and the validation
and test *images* (training/datasets.py:without_held_out_labels) and answers predicted
classes, which training/sandbox.py scores.  A candidate that patches the scoring code or
forges the result file has nothing to score itself against.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import resource
import sys
import time

try:  # the batches module beside this file, standalone too (training/batches.py)
    from training import batches
except ImportError:  # the sandboxed child: `python -I` leaves the project and this folder off sys.path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import batches
    del sys.path[0]

# Runtime guards (see training/sandbox.py for what they do not cover).
REFUSED_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym",
                  "os.chdir", "os.chmod", "os.chown", "shutil.rmtree")
# The interpreter's frames lead to the trainer's locals and every module's globals (the record of
# refusals, `os`): refuse the ways to a first frame (the attributes raise `object.__getattr__`)
# and to the object graph.  torch's training path uses none of them.
FRAME_ATTRIBUTES = ("gi_frame", "cr_frame", "ag_frame", "tb_frame")
INTROSPECTION_EVENTS = ("sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                        "gc.get_objects", "gc.get_referrers", "gc.get_referents")
PATH_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.symlink", "os.link")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Errors of the kernel's guards (Landlock: EACCES; no network in the namespace: ENETUNREACH) and of
# the file-size limit, as they reach Python, raised by native code the audit hook cannot see.
SANDBOX_ERRNOS = {errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
                  errno.ENETUNREACH: "no network", errno.EFBIG: "file-size limit"}
SANDBOX_MESSAGES = ("Permission denied", "Operation not permitted", "Network is unreachable", "File too large")


class SandboxViolation(PermissionError):
    """An operation the sandbox refuses (raised from the audit hook)."""


class Failure(Exception):
    """A typed failure: `kind` is one of spaces.base.FailureKind."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def install_guard(sandbox: str, protected: tuple[str, ...], violations: list[str]) -> None:
    """Refuse network, process creation, foreign libraries, frame introspection and writes
    outside `sandbox` (and to the `protected` files inside it, e.g. the result).  Refusals are recorded in
    `violations` so a candidate that swallows the exception is still reported."""
    realpath = os.path.realpath  # bound now: a candidate that patches os.path later does not change it
    root = realpath(sandbox)

    def outside(path) -> bool:
        if isinstance(path, int):  # an already-open descriptor: it was opened before the guard
            return False
        real = realpath(os.fsdecode(path))
        return real in protected or not (real == root or real.startswith(root + os.sep))

    def refuse(what: str) -> None:
        violations.append(what)
        raise SandboxViolation(f"refused by the sandbox: {what}")

    def hook(event: str, args: tuple) -> None:
        if event.startswith("socket."):
            refuse(event)
        elif event in REFUSED_EVENTS or event in INTROSPECTION_EVENTS:
            refuse(event)
        elif event == "object.__getattr__" and args[1] in FRAME_ATTRIBUTES:
            refuse(f"reading .{args[1]} (the interpreter's frames)")
        elif event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and outside(path):
                refuse(f"open {path!r} for writing")
        elif event in PATH_EVENTS and args and outside(args[0]):
            refuse(f"{event} {args[0]!r}")

    sys.addaudithook(hook)


def limit_resources(cpu_seconds: int | None, memory_mb: int | None, file_mb: int | None = None) -> None:
    """CPU time for the whole child; address space for what the candidate adds on top of
    what torch and the data already mapped (torch alone maps a few GB of address space);
    the size of any one file it writes (Python ignores SIGXFSZ, so a write past it fails
    with EFBIG instead of killing the child)."""
    if cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if memory_mb:
        current = _vm_size_bytes()
        limit = current + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if file_mb:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))


# --- the kernel's guards (Linux), installed while the child still has one thread -----------------

CLONE_NEWNET, PR_SET_NO_NEW_PRIVS = 0x40000000, 38
# The Landlock system calls have these numbers on every architecture (but alpha).
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
# Access rights (linux/landlock.h) by the ABI version that introduced them: EXECUTE .. MAKE_SYM (1),
# REFER (2), TRUNCATE (3), IOCTL_DEV (5).  Network: BIND_TCP | CONNECT_TCP (4).  Scopes: abstract
# UNIX sockets | signals (6): no signal to, and no abstract socket of, a process outside the sandbox.
FS_BY_ABI = {1: (1 << 13) - 1, 2: 1 << 13, 3: 1 << 14, 5: 1 << 15}
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR, FS_TRUNCATE, FS_IOCTL_DEV = 1, 2, 4, 8, 1 << 14, 1 << 15
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_TCP, SCOPES = 3, 3
# What the child may read besides the Python installation: system libraries, hardware facts.
# Not /etc, /home, /root, /tmp, the project folder or other processes' /proc entries.
READABLE_DIRS = ("/usr", "/lib", "/lib64", "/sys", "/proc/self")
READABLE_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
                  "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def confine(sandbox: str, data: str) -> str:
    """The kernel's guards for this process and every thread it will have: a network namespace
    with no interface (needs root; else TCP is refused by Landlock and the rest by the audit
    hook), a Landlock domain (write only under `sandbox`, read only the Python installation,
    system libraries and `data`, execute nothing, no TCP, no signal to a process outside) and a
    seccomp filter (no new process).  Returns what was installed (it goes into the result); a
    guard the kernel lacks is reported, not fatal."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    network = "network namespace: empty" if libc.unshare(CLONE_NEWNET) == 0 else \
        f"network namespace: not available ({os.strerror(ctypes.get_errno())})"
    return f"{network}; {_landlock(libc, sandbox, data)}; {_no_new_processes(libc)}"


def _landlock(libc, sandbox: str, data: str) -> str:
    abi = libc.syscall(LANDLOCK_CREATE_RULESET, None, 0, 1)  # 1: ask for the ABI version
    if abi < 1:
        return f"landlock: not available ({os.strerror(ctypes.get_errno())})"
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # landlock_restrict_self binds the calling thread and its future children only
        return f"landlock: not installed ({threads} threads already run)"
    handled = sum(bits for version, bits in FS_BY_ABI.items() if version <= abi)
    attr = (ctypes.c_uint64 * 3)(handled, NET_TCP if abi >= 4 else 0, SCOPES if abi >= 6 else 0)
    ruleset = libc.syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), 8 * (3 if abi >= 6 else 2 if abi >= 4 else 1), 0)
    if ruleset < 0:
        return f"landlock: ruleset refused ({os.strerror(ctypes.get_errno())})"
    try:  # a rule that fails leaves the ruleset unapplied: the child runs with the audit hook only
        read = FS_READ_FILE | FS_READ_DIR
        for path in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path, *READABLE_DIRS}:
            _allow(libc, ruleset, path, read)
        for path in (*READABLE_FILES, data):
            _allow(libc, ruleset, path, FS_READ_FILE)
        _allow(libc, ruleset, "/dev/null", FS_READ_FILE | FS_WRITE_FILE)
        for device in _gpu_devices():
            _allow(libc, ruleset, device, handled & (FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV | FS_READ_DIR))
        _allow(libc, ruleset, sandbox, handled & ~FS_EXECUTE)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return f"landlock: not installed ({os.strerror(ctypes.get_errno())})"
    except OSError as err:
        return f"landlock: not installed ({err})"
    finally:
        os.close(ruleset)
    return f"landlock ABI {abi}: writes only in the sandbox, reads only the Python installation and libraries" + \
        (", no TCP" if abi >= 4 else "") + (", no signal outside" if abi >= 6 else "")


# seccomp: threads (clone with CLONE_THREAD) but no new process.  Python's fork and spawn are refused by
# the audit hook, but `_posixsubprocess.fork_exec` raises no audit event (3.11) and can run Python in a
# child of another session, which the group kill misses.  clone3 answers ENOSYS (its flags lie behind a
# pointer a filter cannot read), so the C library falls back to clone; system calls of another ABI of
# the machine (i386, x32) are refused.  Numbers: linux/audit.h, the architectures' unistd.h.
SECCOMP_CALLS = {"x86_64": (0xC000003E, {"clone": 56, "clone3": 435, "fork": 57, "vfork": 58}),
                 "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435})}
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, CLONE_THREAD, X32_BIT = 22, 2, 0x10000, 0x40000000
BPF_LOAD, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06
SECCOMP_ENDS = {"allow": 0x7FFF0000, "eperm": 0x00050000 | errno.EPERM, "enosys": 0x00050000 | errno.ENOSYS}


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def seccomp_program(arch: int, calls: dict[str, int]) -> list[tuple[int, int, int, int]]:
    """The filter as BPF (code, jump if true, jump if false, k); jumps go to "next" or an end."""
    body = [(BPF_LOAD, 0, 0, 4), (BPF_JEQ, "next", "eperm", arch), (BPF_LOAD, 0, 0, 0),
            (BPF_JGE, "eperm", "next", X32_BIT), (BPF_JEQ, "enosys", "next", calls["clone3"]),
            *[(BPF_JEQ, "eperm", "next", calls[name]) for name in ("fork", "vfork") if name in calls],
            (BPF_JEQ, "next", "allow", calls["clone"]), (BPF_LOAD, 0, 0, 16),  # the low half of the flags
            (BPF_JSET, "allow", "eperm", CLONE_THREAD)]
    at = {end: len(body) + i for i, end in enumerate(SECCOMP_ENDS)}

    def jump(pc: int, to) -> int:
        return 0 if to in ("next", 0) else at[to] - pc - 1

    return [(code, jump(pc, jt), jump(pc, jf), k) for pc, (code, jt, jf, k) in enumerate(body)] + \
        [(BPF_RET, 0, 0, k) for k in SECCOMP_ENDS.values()]


def _no_new_processes(libc) -> str:
    machine = os.uname().machine
    if machine not in SECCOMP_CALLS:
        return f"seccomp: not installed (no system-call numbers for {machine})"
    program = seccomp_program(*SECCOMP_CALLS[machine])
    filters = (_Filter * len(program))(*[_Filter(*instruction) for instruction in program])
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(_Program(len(program), filters)), 0, 0) != 0:
        return f"seccomp: not installed ({os.strerror(ctypes.get_errno())})"
    return "seccomp: no new process"


def _allow(libc, ruleset: int, path: str, rights: int) -> None:
    """Add `rights` beneath `path` (a file gets only the rights that apply to files); a
    missing path is skipped."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        if libc.syscall(LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:  # 1: PATH_BENEATH
            raise OSError(ctypes.get_errno(), f"landlock rule for {path}")
    finally:
        os.close(fd)


def _gpu_devices() -> list[str]:
    """NVIDIA's device files and driver facts, when there are any (untested here: no GPU)."""
    devices = [os.path.join("/dev", name) for name in os.listdir("/dev") if name.startswith("nvidia")] \
        if os.path.isdir("/dev") else []
    return devices + (["/dev/dri", "/proc/driver/nvidia"] if devices else [])


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def build(code: str, nn):
    """Execute the candidate's source and instantiate its network class: the last
    nn.Module subclass it defines (the paper's code defines one class, `Net`)."""
    import math

    import torch

    # The allowed modules under their usual names, as if the candidate had imported them: a
    # model that forgets `import torch.nn as nn` (small ones often do) still gets its network
    # trained, and nothing outside the allow-list (spaces/torch_code.py) is offered.
    namespace: dict = {"__name__": "candidate", "torch": torch, "nn": nn, "F": torch.nn.functional, "math": math}
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)
    except SyntaxError as err:
        raise Failure("syntax", f"the code does not parse: {err.msg} (line {err.lineno})") from None
    except ImportError as err:
        raise Failure("import_refused", f"import failed: {err}") from None
    classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, nn.Module)
               and v.__module__ == "candidate"]
    if not classes:
        raise Failure("build_error", "the code defines no nn.Module subclass")
    try:
        return classes[-1]()
    except TypeError as err:
        raise Failure("build_error", f"{classes[-1].__name__}() cannot be built without arguments: {err}") from None


def count_forward(module, input_shape, torch) -> tuple[int, int]:
    """(FLOPs as FlopCounterMode counts them, parameters) for one forward pass of a batch of one."""
    from torch.utils.flop_counter import FlopCounterMode

    module.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.zeros(1, *input_shape))
    return counter.get_total_flops(), sum(p.numel() for p in module.parameters())


def width_and_depth(module, nn) -> tuple[int, int]:
    """LLMatic section 3: width = the largest output features of any layer, depth = the
    number of layers (convolutional, linear and recurrent ones)."""
    layers = [m for m in module.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear, nn.RNNBase))]
    widths = [getattr(m, "out_channels", None) or getattr(m, "out_features", None) or getattr(m, "hidden_size", 0)
              for m in layers]
    return max(widths, default=0), len(layers)


def warm_up(torch, job: dict) -> None:
    """Load before the audit hook what torch imports lazily at the first optimiser step and FLOP
    count (torch._dynamo and inductor: they import ctypes and write temporary files)."""
    import torch.utils.flop_counter  # noqa: F401

    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer([weight], {**job, "lr": 0.1}, torch)
    (weight * 2).sum().backward()
    optimizer.step()


def make_optimizer(parameters, job: dict, torch):
    """SGD with momentum (the paper's, seed 001 section 4) or Adam; both with L2 weight decay."""
    decay = job.get("weight_decay") or 0.0
    if job.get("optimizer", "sgd") == "adam":
        return torch.optim.Adam(parameters, lr=job["lr"], weight_decay=decay)
    return torch.optim.SGD(parameters, lr=job["lr"], momentum=job["momentum"], weight_decay=decay)


def check_shape(model, input_shape, classes: int, torch) -> None:
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *input_shape))
    except (RuntimeError, ValueError, IndexError, TypeError, AttributeError) as err:
        if kernel_refusal(err):
            raise
        raise Failure("shape_error", f"forward on a {tuple(input_shape)} input failed: {_first_line(err)}") from None
    shape = tuple(getattr(out, "shape", ()))
    if shape != (2, classes):
        raise Failure("shape_error", f"the output has shape {shape} for a batch of 2; expected (2, {classes})")


def kernel_refusal(err: BaseException) -> bool:
    """An error the kernel's guards or the file-size limit caused (seen by native code too)."""
    return (isinstance(err, OSError) and err.errno in SANDBOX_ERRNOS) or any(m in str(err) for m in SANDBOX_MESSAGES)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def resolve_device(name: str | None, torch):
    """`auto` (or None): CUDA when the child sees a GPU, else the CPU; `cuda` without one is our
    configuration's error (the parent checks first), reported as a crash, not the candidate's."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise Failure("crashed", "device cuda was asked for, but the sandboxed child sees no GPU")
    return torch.device(name)


class Precision:
    """Mixed precision where it pays: float16 with loss scaling on CUDA; bfloat16 on the CPU only
    when a job asks (`amp: true`: the tests run the CUDA path's code on the CPU this way)."""

    def __init__(self, device, enabled: bool | None, torch):
        self.enabled = device.type == "cuda" if enabled is None else bool(enabled)
        self.dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled and device.type == "cuda")
        self.torch = torch

    def autocast(self):
        return self.torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled)


def learning_rate(job: dict, step: int, total: int) -> float:
    """The job's rate at `step` of `total`: constant, or cosine decay to 0 (GENIUS's train.py)."""
    if job.get("schedule") == "cosine" and total > 0:
        return job["lr"] * 0.5 * (1.0 + math.cos(math.pi * step / total))
    return job["lr"]


def fit(model, data: dict, job: dict, torch, device, channels_last: bool) -> tuple[int, float]:
    """Minimise cross entropy with the job's optimiser and schedule, `steps` batches (or `epochs`
    passes) of the training images, augmented on the device when they are photos (random-resized
    crop and flip, as GENIUS's search trained).  Returns (images seen, seconds)."""
    x, y = data["x"]["train"], data["y_train"]
    batch, steps = job["batch_size"], job.get("steps")
    total = steps or job["epochs"] * (len(x) // batch + (len(x) % batch >= 2))
    optimizer = make_optimizer(model.parameters(), job, torch)
    precision, loss_fn = Precision(device, job.get("amp"), torch), torch.nn.CrossEntropyLoss()
    mean, std = _moments(data, device, torch)
    photos = bool(data["meta"].get("photos")) and job.get("augment", "auto") != "none"
    generator = torch.Generator().manual_seed(job["seed"])
    seen, started = 0, time.perf_counter()
    model.train()
    loader = batches.Batches(x, y, batches.index_batches(len(x), batch, job["epochs"], steps, job["seed"]),
                             job.get("loader_threads") or 2)
    for step, (images, labels) in enumerate(loader):
        xb = batches.to_input(images, device, mean, std, torch)
        if photos:
            xb = batches.augment(xb, generator, crop=job.get("augment", "auto") != "flip", flip=True, torch=torch)
        xb = xb.contiguous(memory_format=torch.channels_last) if channels_last else xb
        yb = torch.from_numpy(labels).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(job, step, total)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            loss = loss_fn(model(xb), yb)
        if not torch.isfinite(loss):
            raise Failure("nan_loss", f"the loss became {loss.item()} at step {step + 1} after {seen} images")
        precision.scaler.scale(loss).backward()
        precision.scaler.step(optimizer)
        precision.scaler.update()
        seen += len(labels)
    return seen, time.perf_counter() - started


def _moments(data: dict, device, torch):
    meta = data["meta"]
    return (torch.tensor(meta["mean"], dtype=torch.float32, device=device).view(1, -1, 1, 1),
            torch.tensor(meta["std"], dtype=torch.float32, device=device).view(1, -1, 1, 1))


def predict(model, data: dict, split: str, job: dict, torch, device, channels_last: bool, batch: int = 500) -> list[int]:
    """The predicted class of every image of `split` (scored by the parent, which alone has the labels)."""
    model.eval()
    x, (mean, std) = data["x"][split], _moments(data, device, torch)
    precision, predicted = Precision(device, job.get("amp"), torch), []
    with torch.no_grad(), precision.autocast():
        for start in range(0, len(x), batch):
            xb = batches.to_input(x[start:start + batch], device, mean, std, torch)
            logits = model(xb.contiguous(memory_format=torch.channels_last) if channels_last else xb)
            predicted += [int(c) for c in logits.argmax(1).cpu().tolist()]
    return predicted


# The data folders training/zygote.py opened before it forks (the warm sandbox): memory maps of
# the images, shared by its children through the page cache, and the training labels, read-only.
PRELOADED: dict[str, dict] = {}


def run(job: dict, violations: list[str]) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(job["seed"])
    torch.set_num_threads(max(1, job.get("threads") or 1))
    device = resolve_device(job.get("device"), torch)  # CUDA starts here: after the kernel's guards
    try:  # the training split and the held-out images: this folder has no held-out labels
        data = batches.open_data(job["data"], job, PRELOADED.get(job["data"]))
    except (OSError, KeyError, ValueError) as err:  # ours, not the candidate's
        raise Failure("crashed", f"cannot read the dataset: {err}") from None
    shape, classes = tuple(job["input_shape"]), int(job["classes"])
    warm_up(torch, job)

    limit_resources(job.get("cpu_seconds"), job.get("memory_mb") if device.type == "cpu" else None,
                    job.get("file_mb"))
    install_guard(job["sandbox"], tuple(os.path.realpath(p) for p in job.get("protected", [])), violations)

    model = build(job["code"], nn)
    check_shape(model, shape, classes, torch)
    flops, params = count_forward(model, shape, torch)
    width, depth = width_and_depth(model, nn)
    # channels_last for conv nets: 1.4-1.9x faster on this CPU (torch-code, MobileNetV2), and what
    # tensor cores want under mixed precision on CUDA.
    channels_last = job.get("channels_last", True) and any(isinstance(m, nn.Conv2d) for m in model.modules())
    model = model.to(device, memory_format=torch.channels_last) if channels_last else model.to(device)
    seen, seconds = fit(model, data, job, torch, device, channels_last)
    return {"val_predicted": predict(model, data, "val", job, torch, device, channels_last),
            "test_predicted": predict(model, data, "test", job, torch, device, channels_last),
            "flops": flops, "params": params, "width": width, "depth": depth,
            "train_seconds": round(seconds, 4), "images_per_second": round(seen / seconds, 1) if seconds else None,
            "device": device.type, "channels_last": channels_last, "images_seen": seen}


def classify(err: BaseException) -> tuple[str, str]:
    """An exception from building or training -> (failure kind, one-line detail)."""
    if isinstance(err, Failure):
        return err.kind, err.detail
    if isinstance(err, SandboxViolation) or (err.__context__ and isinstance(err.__context__, SandboxViolation)):
        return "refused", _first_line(err)
    if isinstance(err, MemoryError) or "can't allocate memory" in str(err) or "out of memory" in str(err).lower():
        return "oom", f"out of memory: {_first_line(err)}"
    if kernel_refusal(err):
        return "refused", f"refused by the sandbox: {type(err).__name__}: {_first_line(err)}"
    return "build_error", f"{type(err).__name__}: {_first_line(err)}"


def main(job_path: str) -> int:
    with open(job_path) as f:
        job = json.load(f)
    started = time.perf_counter()
    result_file = open(job["result"], "w")  # opened before the guard, which then protects it
    confinement = confine(job["sandbox"], job["data"])  # before torch starts any thread
    violations: list[str] = []
    try:
        result = run(job, violations)
        if violations:  # the candidate caught a refusal and carried on: it still broke the rules
            result = {"failure": "refused", "detail": f"refused by the sandbox: {violations[0]}"}
    except BaseException as err:  # noqa: BLE001  (every failure of the candidate is a result)
        kind, detail = classify(err)
        if violations and kind != "refused":
            kind, detail = "refused", f"refused by the sandbox: {violations[0]}"
        result = {"failure": kind, "detail": detail}
    result["child_seconds"] = round(time.perf_counter() - started, 4)
    result["confinement"] = confinement
    result_file.write(json.dumps(result))
    result_file.close()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads the candidate started (daemon or not) end here, with the process: an ordinary
    # exit would wait for them, and a candidate's atexit handler would run after the result.
    os._exit(code)
