"""`archive_insert`: offer an evaluated architecture to the elite archive.

The tool is bound to one run's archive (an archive is state, a tool is not),
so `make_tool(archive, space)` builds it per run.
"""

from __future__ import annotations

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from memory.archive import Archive
from spaces.base import SearchSpace


class ArchiveInsert(BaseModel):
    arch: str
    fitness: float = Field(description="validation accuracy (%)")
    step: int = 0


def archive_insert(archive: Archive, space: SearchSpace, arch: str, fitness: float, step: int = 0) -> dict:
    status = archive.insert(space.canonical(arch), arch, fitness, step)
    return {"status": status.name, "elites": len(archive.elites)}


def make_tool(archive: Archive, space: SearchSpace) -> StructuredTool:
    return StructuredTool.from_function(
        lambda arch, fitness, step=0: archive_insert(archive, space, arch, fitness, step),
        name="archive_insert", args_schema=ArchiveInsert,
        description="Insert an evaluated architecture; it is kept if its niche is empty or it beats the elite.")
