"""Where a run lives on disk: `runs/<run_id>/`.

    config.json         the resolved settings (resume reads them back)
    events.jsonl        the append-only journal (memory/journal.py)
    checkpoints.sqlite  LangGraph checkpoints, one per super-step
    result.json         the final summary, written once at the end
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from errors import UserError
from memory.journal import Journal, dumps
from settings import Settings


class RunDir:
    def __init__(self, path: Path):
        self.path = path
        self.id = path.name

    @classmethod
    def create(cls, settings: Settings) -> "RunDir":
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{settings.graph}-{settings.space}-{settings.dataset}-s{settings.seed}-{secrets.token_hex(2)}"
        run = cls(settings.runs_dir / run_id)
        run.path.mkdir(parents=True)
        run.config_path.write_text(settings.model_dump_json(indent=2))
        return run

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
    def result_path(self) -> Path:
        return self.path / "result.json"

    def settings(self) -> Settings:
        return Settings.model_validate_json(self.config_path.read_text())

    def journal(self) -> Journal:
        return Journal(self.path / "events.jsonl")

    def write_result(self, result: dict) -> None:
        self.result_path.write_text(dumps(result))

    def result(self) -> dict | None:
        return json.loads(self.result_path.read_text()) if self.result_path.exists() else None
