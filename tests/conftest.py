"""Shared fixtures: no test reaches the network or a real API key."""

import os

import pytest


@pytest.fixture(autouse=True)
def _no_api_keys(monkeypatch):
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("ARCHAGENTS_"):
            monkeypatch.delenv(name, raising=False)
