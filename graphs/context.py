"""Run-time context handed to every node (LangGraph `Runtime.context`): what a node
needs but must not checkpoint: settings, the space, the journal, the role models."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from agents.structured import Asker
from memory.journal import Journal
from settings import Settings
from spaces.base import Space


@dataclass
class RunContext:
    settings: Settings
    space: Space
    journal: Journal
    askers: dict[str, Asker] = field(default_factory=dict)
    run_id: str = ""
    result_path: Path | None = None  # where `finish` writes result.json
    started: float = field(default_factory=time.monotonic)  # this session's start (graphs/limits.py)
