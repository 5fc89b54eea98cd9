"""Checkpoints whose size does not grow with the run: the history lives beside them, once.

LangGraph's SQLite saver serialises the whole state at every super-step, and each node's writes
again.  A search's history (every trial; LLMatic's offspring and per-generation figures) grows
with every evaluation, so the cost of a step grew with the run (27 ms per GENIUS evaluation at
300, most of it re-serialising the trials; DEVELOPERS.md).  These lists are append-only: a node
returns the old list plus new items, never a changed old item.  So `HistorySaver` keeps them in
`history.jsonl` in the run folder, one line per item written once, and a checkpoint (and a
write) holds only each list's length; loading a checkpoint reads the first n items back.

Crash safety: an item's line is flushed before the checkpoint that counts it is committed, so a
kill -9 can only leave lines beyond what the last checkpoint counts.  A node re-run on resume
writes its items again at the same positions; a later line for a position replaces an earlier
one, so the file always agrees with every checkpoint's prefix.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any, Sequence

from langgraph.checkpoint.sqlite import SqliteSaver

LISTS = ("trials", "offspring", "generation_stats")  # the state fields that grow with the run
MARK = "__history__"


class History:
    """The append-only lists of one run, as written to `path` and read back."""

    def __init__(self, path: Path, serde):
        self.path, self.serde = Path(path), serde
        self.items: dict[str, list] = {name: [] for name in LISTS}
        self.synced: dict[str, int] = {name: 0 for name in LISTS}  # items known equal to a live list's
        self.lock = threading.Lock()
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        self.cut = bool(text) and not text.endswith("\n")  # a kill mid-line: the next line starts afresh
        if text:
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                    value = self.serde.loads_typed((row["type"], base64.b64decode(row["value"])))
                except (ValueError, KeyError):  # a line cut by a crash mid-write: beyond any checkpoint
                    continue
                self._put(row["name"], row["index"], value)

    def _put(self, name: str, index: int, value: Any) -> None:
        items = self.items[name]
        if index < len(items):
            items[index] = value
            del items[index + 1:]  # what followed belonged to the attempt this line replaces
        elif index == len(items):
            items.append(value)

    def store(self, name: str, values: list) -> dict:
        """Write what `values` has beyond the items already equal to it; returns the marker.
        Serialised: LangGraph saves a task's writes from a background thread while the step's
        checkpoint is saved (seen as positions written out of order in a 1,000-step run)."""
        with self.lock:
            return self._store(name, values)

    def _store(self, name: str, values: list) -> dict:
        items, start = self.items[name], self.synced[name]
        if start > len(values):
            start = 0  # an older, shorter list (a checkpoint before the newest): check it all
        while start < len(values) and start < len(items) and (items[start] is values[start]
                                                               or items[start] == values[start]):
            start += 1
        lines = []
        for index in range(start, len(values)):
            kind, blob = self.serde.dumps_typed(values[index])
            lines.append(json.dumps({"name": name, "index": index, "type": kind,
                                     "value": base64.b64encode(blob).decode("ascii")}))
            self._put(name, index, values[index])
        if lines:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("\n" * self.cut + "\n".join(lines) + "\n")
            self.cut = False
        self.synced[name] = len(values)
        return {MARK: name, "n": len(values)}

    def load(self, marker: dict) -> list:
        name, n = marker[MARK], marker["n"]
        if n > len(self.items[name]):
            raise ValueError(f"{self.path} holds {len(self.items[name])} {name}, the checkpoint counts {n}: "
                             "the run folder is incomplete")
        return list(self.items[name][:n])


def _is_marker(value: Any) -> bool:
    return isinstance(value, dict) and MARK in value and set(value) == {MARK, "n"}


class HistorySaver(SqliteSaver):
    """SqliteSaver with the LISTS channels kept in a History instead of in every checkpoint."""

    def __init__(self, conn, *, serde, history_path: Path):
        super().__init__(conn, serde=serde)
        self.history = History(history_path, self.serde)

    def _out(self, values: dict) -> dict:
        return {k: self.history.store(k, v) if k in LISTS and isinstance(v, list) else v for k, v in values.items()}

    def _in(self, values: dict) -> dict:
        return {k: self.history.load(v) if _is_marker(v) else v for k, v in values.items()}

    def put(self, config, checkpoint, metadata, new_versions):
        checkpoint = {**checkpoint, "channel_values": self._out(checkpoint["channel_values"])}
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = "") -> None:
        writes = [(c, self.history.store(c, v) if c in LISTS and isinstance(v, list) else v) for c, v in writes]
        return super().put_writes(config, writes, task_id, task_path)

    def _restore(self, saved):
        if saved is None:
            return None
        checkpoint = {**saved.checkpoint, "channel_values": self._in(saved.checkpoint["channel_values"])}
        writes = [(task, c, self.history.load(v) if _is_marker(v) else v) for task, c, v in saved.pending_writes or []]
        return saved._replace(checkpoint=checkpoint, pending_writes=writes)

    def get_tuple(self, config):
        return self._restore(super().get_tuple(config))

    def list(self, config, **kwargs):
        for saved in super().list(config, **kwargs):
            yield self._restore(saved)
