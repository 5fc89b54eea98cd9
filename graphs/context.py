"""Run-time context handed to every node (LangGraph `Runtime.context`): what a node
needs but must not checkpoint: settings, the space, the journal, the role models."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from agents.structured import Asker
from memory.archive import Archive
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
    # The elite archive of the step graphs (one niche per canonical form), derived from the evaluated
    # trials, so it is not checkpointed (graphs/history.py): rebuilt after a resume (graphs/nodes.py).
    archive: Archive | None = None
    archived: int = -1  # state.evaluations the archive is up to date with
