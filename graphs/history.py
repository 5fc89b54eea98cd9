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

The candidate pool (INTERNED) is not append-only, but most of it is carried from one step to the
next unchanged: GENIUS's pool held 75 candidates on average over a 1,000-evaluation run, 23 of
them new each step, and re-serialising all 75 into every checkpoint and write was ~100 KB of
SQLite per evaluation, the largest part of the framework's cost (bench/framework_overhead.py).
Each distinct item is written once, under a key; a checkpoint holds the keys.  An item is known
by identity (the same Python object in the next list), so nothing is compared or hashed.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any, Sequence

from langgraph.checkpoint.sqlite import SqliteSaver

LISTS = ("trials", "offspring", "generation_stats")  # the state fields that grow with the run
INTERNED = ("pool",)  # the state fields carried from step to step, mostly unchanged
MARK, KEYS = "__history__", "__interned__"


class History:
    """The append-only lists of one run, as written to `path` and read back."""

    def __init__(self, path: Path, serde):
        self.path, self.serde = Path(path), serde
        self.items: dict[str, list] = {name: [] for name in LISTS}
        self.synced: dict[str, int] = {name: 0 for name in LISTS}  # items known equal to a live list's
        self.lock = threading.Lock()
        # Interned items as written (type, base64), decoded when a checkpoint is loaded: ~0.5 KB each,
        # ~12 MB for GENIUS's 1,000 evaluations.  `recent`: id -> (item, key) for the items of the two
        # latest interned lists, the ones the next list carries over (the item is held, so its id stays its own).
        self.raw: dict[int, tuple[str, str]] = {}
        self.recent: tuple[dict[int, tuple[Any, int]], dict[int, tuple[Any, int]]] = ({}, {})
        self.next_key = 0
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        self.cut = bool(text) and not text.endswith("\n")  # a kill mid-line: the next line starts afresh
        if text:
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                    if "key" in row:  # an interned item: kept as written until a checkpoint asks for it
                        self.raw[row["key"]] = (row["type"], row["value"])
                        self.next_key = max(self.next_key, row["key"] + 1)
                        continue
                    value = self._decode(row["type"], row["value"])
                except (ValueError, KeyError, TypeError):  # a line cut by a crash mid-write: beyond any checkpoint
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
            kind, value = self._encode(values[index])
            lines.append(json.dumps({"name": name, "index": index, "type": kind, "value": value}))
            self._put(name, index, values[index])
        self._append(lines)
        self.synced[name] = len(values)
        return {MARK: name, "n": len(values)}

    def intern(self, name: str, values: list) -> dict:
        """Write the items of `values` not written before; returns the marker (their keys)."""
        with self.lock:
            latest, older = self.recent
            keys, lines, now = [], [], {}
            for item in values:
                hit = latest.get(id(item)) or older.get(id(item))
                if hit is not None and hit[0] is item:
                    key = hit[1]
                else:
                    key, self.next_key = self.next_key, self.next_key + 1
                    kind, value = self.raw[key] = self._encode(item)
                    lines.append(json.dumps({"name": name, "key": key, "type": kind, "value": value}))
                now[id(item)] = (item, key)
                keys.append(key)
            self._append(lines)
            self.recent = (now, latest)
            return {KEYS: name, "keys": keys}

    def interned(self, marker: dict) -> list:
        with self.lock:
            missing = [k for k in marker["keys"] if k not in self.raw]
            if missing:
                raise ValueError(f"{self.path} lacks {len(missing)} {marker[KEYS]} items a checkpoint names: the run "
                                 "folder is incomplete")
            values = [self._decode(*self.raw[k]) for k in marker["keys"]]
            self.recent = ({id(v): (v, k) for v, k in zip(values, marker["keys"])}, self.recent[0])
            return values

    def _encode(self, item: Any) -> tuple[str, str]:
        """(type, base64 text): one item as a line of the file holds it."""
        kind, blob = self.serde.dumps_typed(item)
        return kind, base64.b64encode(blob).decode("ascii")

    def _decode(self, kind: str, value: str) -> Any:
        return self.serde.loads_typed((kind, base64.b64decode(value)))

    def _append(self, lines: list[str]) -> None:
        if lines:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("\n" * self.cut + "\n".join(lines) + "\n")
            self.cut = False

    def load(self, marker: dict) -> list:
        name, n = marker[MARK], marker["n"]
        if n > len(self.items[name]):
            raise ValueError(f"{self.path} holds {len(self.items[name])} {name}, the checkpoint counts {n}: "
                             "the run folder is incomplete")
        return list(self.items[name][:n])


def _is_marker(value: Any) -> bool:
    return isinstance(value, dict) and MARK in value and set(value) == {MARK, "n"}


def _is_keys(value: Any) -> bool:
    return isinstance(value, dict) and KEYS in value and set(value) == {KEYS, "keys"}


class HistorySaver(SqliteSaver):
    """SqliteSaver with the LISTS and INTERNED channels kept in a History instead of in every checkpoint."""

    def __init__(self, conn, *, serde, history_path: Path):
        super().__init__(conn, serde=serde)
        self.history = History(history_path, self.serde)

    def _save(self, channel: str, value: Any) -> Any:
        if isinstance(value, list) and channel in LISTS:
            return self.history.store(channel, value)
        if isinstance(value, list) and channel in INTERNED:
            return self.history.intern(channel, value)
        return value

    def _load(self, value: Any) -> Any:
        if _is_marker(value):
            return self.history.load(value)
        return self.history.interned(value) if _is_keys(value) else value

    def _out(self, values: dict) -> dict:
        return {k: self._save(k, v) for k, v in values.items()}

    def _in(self, values: dict) -> dict:
        return {k: self._load(v) for k, v in values.items()}

    def put(self, config, checkpoint, metadata, new_versions):
        checkpoint = {**checkpoint, "channel_values": self._out(checkpoint["channel_values"])}
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = "") -> None:
        writes = [(c, self._save(c, v)) for c, v in writes]
        return super().put_writes(config, writes, task_id, task_path)

    def _restore(self, saved):
        if saved is None:
            return None
        checkpoint = {**saved.checkpoint, "channel_values": self._in(saved.checkpoint["channel_values"])}
        writes = [(task, c, self._load(v)) for task, c, v in saved.pending_writes or []]
        return saved._replace(checkpoint=checkpoint, pending_writes=writes)

    def get_tuple(self, config):
        return self._restore(super().get_tuple(config))

    def list(self, config, **kwargs):
        for saved in super().list(config, **kwargs):
            yield self._restore(saved)
