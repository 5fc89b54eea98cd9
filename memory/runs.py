"""Where a run lives on disk: `runs/<run_id>/`.

    config.json         the resolved settings (resume reads them back)
    events.jsonl        the append-only journal (memory/journal.py)
    checkpoints.sqlite  LangGraph checkpoints, one per super-step
    result.json         the final summary, written once at the end
    lock                held (flock) by the process running the search: a run is "running"
                        while it is held; the OS releases it even after kill -9

A fork (`cli.py fork`) is a new run folder whose journal starts with the parent's events
up to the fork step and a `run` event `{"event": "forked", "parent": ..., "forked_at": ...}`.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel

from errors import UserError
from memory.journal import Journal, dumps
from settings import Settings

Status = Literal["finished", "running", "interrupted", "stopped"]  # stopped: at a limit, resumable


class RunInfo(BaseModel):
    """One line of `cli.py runs`: what a run is and how far it got (read from disk only)."""

    id: str
    graph: str
    space: str
    dataset: str
    seed: int
    status: Status
    evaluations: int
    best_val_acc: float | None = None
    best_arch: str | None = None
    tokens: int = 0
    path: str = ""
    tokens_by_role: dict[str, tuple[int, int]] = {}  # role -> (in, out): the cost is priced from it (render.py)
    started: str = ""
    parent: str | None = None
    forked_at: int | None = None


class RunDir:
    def __init__(self, path: Path):
        self.path = path
        self.id = path.name

    @classmethod
    def create(cls, settings: Settings, run_id: str | None = None) -> "RunDir":
        """A new run folder; `run_id` names it (the benchmark grid's cells), else a timestamped id."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = run_id or \
            f"{stamp}-{settings.graph}-{settings.space}-{settings.dataset}-s{settings.seed}-{secrets.token_hex(2)}"
        run = cls(settings.runs_dir / run_id)
        run.path.mkdir(parents=True)
        run.config_path.write_text(settings.model_dump_json(indent=2))
        return run

    @classmethod
    def list(cls, runs_dir: Path) -> list["RunDir"]:
        """Every run folder in `runs_dir`, oldest first (ids start with a timestamp)."""
        if not runs_dir.is_dir():
            return []
        return [cls(p) for p in sorted(runs_dir.iterdir()) if (p / "config.json").is_file()]

    @classmethod
    def open(cls, runs_dir: Path, run_id: str) -> "RunDir":
        path = runs_dir / run_id
        if not (path / "config.json").is_file():
            raise UserError(f"no run {run_id!r} in {runs_dir}/ (see the folder names there)")
        return cls(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoints.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.path / "lock"

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Mark the run as running for as long as the block lasts; refuse a second runner."""
        with self.lock_path.open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"run {self.id} is already running in another process") from None
            yield

    def status(self) -> Status:
        if self.result_path.exists():
            return "stopped" if (self.result() or {}).get("resumable") else "finished"
        if self.lock_path.exists():
            with self.lock_path.open() as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return "running"
        return "interrupted"

    def info(self) -> RunInfo:
        """Summary from config.json and the journal (works for unfinished runs too)."""
        settings = self.settings()
        evaluations, best, tokens, started, parent, forked_at = 0, None, 0, "", None, None
        by_role: dict[str, tuple[int, int]] = {}
        for event in self.journal().events():
            if not started:
                started = datetime.fromtimestamp(event.ts).strftime("%Y-%m-%d %H:%M")
            if event.kind == "evaluation" and event.data.get("val_acc") is not None:
                evaluations += 1
                if best is None or event.data["val_acc"] > best.data["val_acc"]:
                    best = event
            elif event.kind == "answer":
                tokens += (event.tokens_in or 0) + (event.tokens_out or 0)
                spent = by_role.get(event.role or "", (0, 0))
                by_role[event.role or ""] = (spent[0] + (event.tokens_in or 0), spent[1] + (event.tokens_out or 0))
            elif event.kind == "run" and event.data.get("event") == "forked":
                parent, forked_at = event.data.get("parent"), event.data.get("forked_at")
        return RunInfo(id=self.id, graph=settings.graph, space=settings.space, dataset=settings.dataset,
                       seed=settings.seed, status=self.status(), evaluations=evaluations,
                       best_val_acc=best.data["val_acc"] if best else None,
                       best_arch=best.data.get("arch") if best else None, tokens=tokens,
                       path=str(self.path), tokens_by_role=by_role, started=started, parent=parent, forked_at=forked_at)

    @property
    def result_path(self) -> Path:
        return self.path / "result.json"

    def settings(self) -> Settings:
        return Settings.model_validate_json(self.config_path.read_text())

    def update_limits(self, raised: dict) -> Settings:
        """The run's settings with these limits (resume with a higher one), written back to config.json."""
        settings = self.settings()
        settings = settings.model_copy(update={"limits": settings.limits.model_copy(update=raised)})
        self.config_path.write_text(settings.model_dump_json(indent=2))
        return settings

    def journal(self) -> Journal:
        return Journal(self.path / "events.jsonl")

    def write_result(self, result: dict) -> None:
        self.result_path.write_text(dumps(result))

    def result(self) -> dict | None:
        return json.loads(self.result_path.read_text()) if self.result_path.exists() else None
