"""Shared fixtures: no test reaches the network or a real API key."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: cli.py says why

import pytest

pytest_plugins = ["tests.recorded"]  # the `recorded_run` fixture: a small GENIUS run for the inspection tests


@pytest.fixture(autouse=True)
def _no_api_keys(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("ARCHAGENTS_"):
            monkeypatch.delenv(name, raising=False)
    # The persistent memory: a fresh folder per test, never the user's; searches do not write to
    # it unless a test asks (memory_write=True), and the hashing embedding spares the 9 s model load.
    monkeypatch.setenv("ARCHAGENTS_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("ARCHAGENTS_CACHE_DIR", str(tmp_path / "cache"))  # proxy scores (tools/cell_proxies.py)
    monkeypatch.setenv("ARCHAGENTS_MEMORY_WRITE", "false")
    monkeypatch.setenv("ARCHAGENTS_MEMORY_EMBEDDING", "hashing")
