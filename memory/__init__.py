"""What outlives a single LLM call: the run journal, run folders, archives."""

from memory.archive import AddStatus, Archive, Elite
from memory.journal import Event, Journal
from memory.runs import RunDir

__all__ = ["AddStatus", "Archive", "Elite", "Event", "Journal", "RunDir"]
