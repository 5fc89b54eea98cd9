"""Shared fixtures: no test reaches the network or a real API key."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: cli.py says why

import pytest

pytest_plugins = ["tests.recorded"]  # the `recorded_run` fixture: a small GENIUS run for the inspection tests


@pytest.fixture(scope="session")
def _proxy_cache(tmp_path_factory):
    """Proxy scores are deterministic for (proxy, cell, dataset, seed): one cache for the session, outside
    every test's tmp_path (tests list the folders a run leaves there)."""
    return tmp_path_factory.mktemp("proxy-cache")


@pytest.fixture(autouse=True)
def _no_api_keys(monkeypatch, tmp_path, _proxy_cache):
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("ARCHAGENTS_"):
            monkeypatch.delenv(name, raising=False)
    # The persistent memory: a fresh folder per test, never the user's; searches do not write to
    # it unless a test asks (memory_write=True), and the hashing embedding spares the 9 s model load.
    monkeypatch.setenv("ARCHAGENTS_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("ARCHAGENTS_CACHE_DIR", str(_proxy_cache))  # proxy scores (tools/cell_proxies.py)
    monkeypatch.setenv("ARCHAGENTS_MEMORY_WRITE", "false")
    monkeypatch.setenv("ARCHAGENTS_MEMORY_EMBEDDING", "hashing")
