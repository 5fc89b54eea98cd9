"""Evidence about an architecture that costs no evaluation: what the Critic ranks by.

- `flops`, `params`: from the space's `cost` (a table lookup on the benchmarks; a sandboxed
  forward pass for torch-code).
- `prior`: how typical the architecture is of a transfer source's best (tools/op_stats.py: the
  log-probability under their per-position operation frequencies), on spaces with positions,
  when the run was given a source (graphs/knowledge.py; LAPT's transfer, seed 003, as a number
  instead of principles).  Another task's results are knowledge: never used unasked.
- training-free proxies (`synflow`, `naswot`, `jacob_cov`, ...; tools/proxies.py) on the real
  PyTorch network of spaces that can build one (`Networked`), cached on disk.

`gather` returns only the kinds it could compute for this space; the Critic ranks by the
kinds every candidate has.
"""

from __future__ import annotations

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from errors import UserError
from spaces.base import Networked, Positional, Space, has
from tools import op_stats


COST_KINDS = ("flops", "params")


def gather(space: Space, arch: str, dataset: str, kinds: tuple[str, ...], seed: int = 0,
           prior: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    """The requested evidence for `arch` that this space can give (missing kinds are left out).
    `prior` is the transfer source's per-position operation frequencies (op_stats.frequencies)."""
    out: dict[str, float] = {}
    if "prior" in kinds and prior is not None and has(space, Positional):
        out["prior"] = op_stats.log_prior(prior, space, arch)
    if any(kind in COST_KINDS for kind in kinds):
        try:
            flops, params = space.cost(arch, dataset)
        except UserError:  # torch-code: the network does not build; the rules reject it elsewhere
            flops = params = None
        if flops is not None:
            out.update({k: v for k, v in (("flops", flops), ("params", params)) if k in kinds})
    proxies = tuple(kind for kind in kinds if kind not in (*COST_KINDS, "prior"))
    if proxies and has(space, Networked):
        from tools import cell_proxies

        out.update(cell_proxies.scores(space, arch, dataset, proxies, seed))
    return out


class EvidenceArgs(BaseModel):
    arch: str = Field(description="the architecture in the space's notation")
    dataset: str
    kinds: list[str] = Field(default_factory=lambda: list(COST_KINDS),
                             description="flops, params, prior, synflow, naswot, jacob_cov")


def make_tool(space: Space) -> StructuredTool:
    """`evidence` as a LangChain tool bound to one space (for agents that call tools)."""
    return StructuredTool.from_function(
        lambda arch, dataset, kinds=COST_KINDS: gather(space, arch, dataset, tuple(kinds)),
        name="evidence", args_schema=EvidenceArgs,
        description="Evidence that costs no evaluation: MFLOPs, M params and training-free proxy scores "
                    "(higher predicts higher accuracy).")
