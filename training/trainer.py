"""What runs inside the sandboxed child (training/sandbox.py starts it): build the candidate
network from its source, check its output shape, count its FLOPs, train and score it.

    python -I training/trainer.py JOB.json      (the job says where to write result.json)

Standalone on purpose: it imports only the standard library, numpy and torch, so it
runs in isolated mode (`-I`: no PYTHONPATH, no user site, no script folder on
sys.path) and never imports the project.  `count_forward` is also what
`tools/count_flops.measure` uses in the parent, so FLOPs mean one thing everywhere.

The guards (resource limits, audit hook) are installed here, after torch and the data
are loaded and before the candidate's code is executed; what they cover is in
training/sandbox.py.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

# Runtime guards (see training/sandbox.py for what they do not cover).
REFUSED_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym",
                  "os.chdir", "os.chmod", "os.chown", "shutil.rmtree")
PATH_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.symlink", "os.link")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class SandboxViolation(PermissionError):
    """An operation the sandbox refuses (raised from the audit hook)."""


class Failure(Exception):
    """A typed failure: `kind` is one of spaces.base.FailureKind."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def install_guard(sandbox: str, protected: tuple[str, ...], violations: list[str]) -> None:
    """Refuse network, process creation, foreign libraries and writes outside `sandbox`
    (and to the `protected` files inside it, e.g. the result).  Refusals are recorded in
    `violations` so a candidate that swallows the exception is still reported."""
    root = os.path.realpath(sandbox)

    def outside(path) -> bool:
        if isinstance(path, int):  # an already-open descriptor: it was opened before the guard
            return False
        real = os.path.realpath(os.fsdecode(path))
        return real in protected or not (real == root or real.startswith(root + os.sep))

    def refuse(what: str) -> None:
        violations.append(what)
        raise SandboxViolation(f"refused by the sandbox: {what}")

    def hook(event: str, args: tuple) -> None:
        if event.startswith("socket."):
            refuse(event)
        elif event in REFUSED_EVENTS:
            refuse(event)
        elif event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and outside(path):
                refuse(f"open {path!r} for writing")
        elif event in PATH_EVENTS and args and outside(args[0]):
            refuse(f"{event} {args[0]!r}")

    sys.addaudithook(hook)


def limit_resources(cpu_seconds: int | None, memory_mb: int | None) -> None:
    """CPU time for the whole child; address space for what the candidate adds on top of
    what torch and the data already mapped (torch alone maps a few GB of address space)."""
    if cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if memory_mb:
        current = _vm_size_bytes()
        limit = current + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


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


def warm_up(torch) -> None:
    """Load before the guard what torch imports lazily at the first optimiser step and FLOP
    count (torch._dynamo and inductor: they import ctypes and write temporary files)."""
    import torch.utils.flop_counter  # noqa: F401

    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    (weight * 2).sum().backward()
    optimizer.step()


def check_shape(model, input_shape, classes: int, torch) -> None:
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *input_shape))
    except (RuntimeError, ValueError, IndexError, TypeError, AttributeError) as err:
        raise Failure("shape_error", f"forward on a {tuple(input_shape)} input failed: {_first_line(err)}") from None
    shape = tuple(getattr(out, "shape", ()))
    if shape != (2, classes):
        raise Failure("shape_error", f"the output has shape {shape} for a batch of 2; expected (2, {classes})")


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def tensors(data, split: str, limit: int | None, torch, mean, std):
    x, y = data[f"x_{split}"], data[f"y_{split}"]
    if limit:
        x, y = x[:limit], y[:limit]
    x = (torch.from_numpy(x).float() / 255.0 - mean) / std
    return x, torch.from_numpy(y).long()


def fit(model, x, y, job: dict, torch, device, channels_last: bool) -> tuple[int, float]:
    """SGD with the paper's defaults (seed 001, section 4: lr 0.001, momentum 0.9, cross
    entropy).  Returns (images seen, seconds)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=job["lr"], momentum=job["momentum"])
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(job["seed"])
    batch, seen, started = job["batch_size"], 0, time.perf_counter()
    model.train()
    for epoch in range(job["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            if len(index) < 2:  # batch norm cannot train on a batch of one
                continue
            xb, yb = _to(x[index], device, channels_last), y[index].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            if not torch.isfinite(loss):
                raise Failure("nan_loss", f"the loss became {loss.item()} in epoch {epoch + 1} "
                                          f"after {seen} images")
            loss.backward()
            optimizer.step()
            seen += len(index)
    return seen, time.perf_counter() - started


def accuracy(model, x, y, torch, device, channels_last: bool, batch: int = 500) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            logits = model(_to(x[start:start + batch], device, channels_last))
            correct += (logits.argmax(1).cpu() == y[start:start + batch]).sum().item()
    return 100.0 * correct / max(len(x), 1)


def _to(x, device, channels_last: bool):
    import torch

    x = x.to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def run(job: dict, violations: list[str]) -> dict:
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(job["seed"])
    torch.set_num_threads(max(1, job.get("threads") or 1))
    device = torch.device(job.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        with np.load(job["data"]) as archive:
            data = {key: archive[key] for key in archive.files}
    except OSError as err:  # ours, not the candidate's
        raise Failure("crashed", f"cannot read the dataset: {err}") from None
    shape, classes = tuple(job["input_shape"]), int(job["classes"])
    mean = torch.from_numpy(data["mean"]).float().view(1, -1, 1, 1)
    std = torch.from_numpy(data["std"]).float().view(1, -1, 1, 1)
    splits = {s: tensors(data, s, job.get(f"{s}_subset"), torch, mean, std) for s in ("train", "val", "test")}
    warm_up(torch)

    limit_resources(job.get("cpu_seconds"), job.get("memory_mb") if device.type == "cpu" else None)
    install_guard(job["sandbox"], tuple(os.path.realpath(p) for p in job.get("protected", [])), violations)

    model = build(job["code"], nn)
    check_shape(model, shape, classes, torch)
    flops, params = count_forward(model, shape, torch)
    width, depth = width_and_depth(model, nn)
    channels_last = device.type == "cpu" and job.get("channels_last", True) and \
        any(isinstance(m, nn.Conv2d) for m in model.modules())
    model = model.to(device, memory_format=torch.channels_last) if channels_last else model.to(device)
    seen, seconds = fit(model, *splits["train"], job, torch, device, channels_last)
    return {"val_acc": accuracy(model, *splits["val"], torch, device, channels_last),
            "test_acc": accuracy(model, *splits["test"], torch, device, channels_last),
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
    return "build_error", f"{type(err).__name__}: {_first_line(err)}"


def main(job_path: str) -> int:
    with open(job_path) as f:
        job = json.load(f)
    started = time.perf_counter()
    result_file = open(job["result"], "w")  # opened before the guard, which then protects it
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
    result_file.write(json.dumps(result))
    result_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
