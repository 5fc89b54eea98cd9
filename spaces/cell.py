"""The NAS-Bench-201 cell, shared by the modules that read, write, build and code it.

A cell is a DAG of 4 nodes; each of the 6 edges j->i (j < i) carries one operation.
NB201 writes a cell as `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`; TransNAS-Bench-101 uses
the same edges with four of the five operations.  Kept apart from spaces/nb201.py (the
table) so that nb201_code.py and nb201_torch.py need not import the space.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, Sequence, get_args

from errors import UserError

Op = Literal["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
OPS: tuple[str, ...] = get_args(Op)
# Edge order of the arch string and of the table's op_code: (0->1), (0->2), (1->2), (0->3), (1->3), (2->3).
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
EDGE_NAMES: tuple[str, ...] = tuple(f"node{i}_from_{j}" for j, i in EDGES)
CONVS = ("nor_conv_1x1", "nor_conv_3x3")


@cache
def parse(arch: str) -> tuple[str, ...]:
    """Arch string -> six ops in EDGES order; raises UserError when malformed (cached: a search
    parses the same few hundred cells many thousand times)."""
    ops: list[str] = []
    nodes = arch.strip().strip("|").split("|+|")
    if len(nodes) != 3:
        raise UserError(f"not an NB201 arch string (need 3 nodes separated by '|+|'): {arch!r}")
    for i, node in enumerate(nodes, start=1):
        tokens = node.split("|")
        if len(tokens) != i:
            raise UserError(f"node {i} of {arch!r} must have {i} inputs, got {len(tokens)}")
        for j, token in enumerate(tokens):
            op, _, src = token.partition("~")
            if op not in OPS or src != str(j):
                raise UserError(f"bad edge {token!r} in {arch!r}: want OP~{j} with OP one of {', '.join(OPS)}")
            ops.append(op)
    return tuple(ops)


def format_arch(ops: Sequence[str]) -> str:
    """Six ops in EDGES order -> arch string."""
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def op_code(arch: str) -> str:
    return "".join(str(OPS.index(op)) for op in parse(arch))


def unique_key(ops: Sequence[str]) -> str:
    """Canonical form merging isomorphic cells, with exactly the semantics of
    NB201's de-duplication key (`to_unique_str(consider_zero=True)`): skip is
    the identity, `none` or a zero input gives the zero term '#', and the terms
    summed at a node are sorted.  This yields the 6,466 classes that the
    benchmark (and the table's `iso_class`) uses; we keep the field's
    convention rather than a tighter one so counts compare with the papers."""
    edge_op = dict(zip(EDGES, ops))
    # The exact token spelling matters: the key is a flattened string, so the
    # class count depends on how terms sort; "0" and "(e)@op" reproduce NB201's.
    expr = {0: "0"}
    for i in (1, 2, 3):
        terms = []
        for j in range(i):
            op = edge_op[(j, i)]
            if op == "none" or expr[j] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(expr[j])
            else:
                terms.append(f"({expr[j]})@{op}")
        expr[i] = "+".join(sorted(terms))
    return expr[3]


def conv_depth(ops: Sequence[str]) -> int:
    """Most convolutions on any path from node 0 to node 3 through non-`none` edges (0 if cut)."""
    edge_op = dict(zip(EDGES, ops))
    depth: dict[int, int] = {0: 0}
    for i in (1, 2, 3):
        reachable = [depth[j] + (edge_op[(j, i)] in CONVS) for j in range(i)
                     if j in depth and edge_op[(j, i)] != "none"]
        if reachable:
            depth[i] = max(reachable)
    return depth.get(3, 0)


def zero_output(ops: Sequence[str]) -> str | None:
    """A space's `trivial` for a cell: why it scores at chance, when its output is always zero."""
    if disconnected(ops):
        return "no path of operations joins the cell's input to its output, so the cell outputs zeros"
    return None


def disconnected(ops: Sequence[str]) -> bool:
    """True when no path of non-`none` edges joins the cell's input to its output: the cell
    outputs zeros, and the network is at chance whatever else it has."""
    edge_op = dict(zip(EDGES, ops))
    reached = {0}
    for i in (1, 2, 3):
        if any(j in reached and edge_op[(j, i)] != "none" for j in range(i)):
            reached.add(i)
    return 3 not in reached
