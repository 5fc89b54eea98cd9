"""DARTS's genotype notation, read and written, and the cell as positions (no torch here).

A DARTS architecture (Liu, Simonyan & Yang 2018; LAPT seed 003, section 4.1) is a normal and a
reduction cell.  Each cell has two inputs (index 0: the output of the cell before the previous
one, c_{k-2}; index 1: the previous cell's, c_{k-1}) and four intermediate nodes 2-5; node n
sums two operations, each applied to one of the states 0 .. n-1; the cell's output is the
concatenation of the nodes listed in `*_concat` (always 2, 3, 4, 5 in this space).  The field
writes it as quark0/darts's named tuple, and published genotypes paste in as they are:

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
             reduce=[('max_pool_3x3', 0), ...], reduce_concat=range(2, 6))

`parse` reads that text (keywords or positional fields, lists or `range(2, 6)`, an assignment
`DARTS_V2 = Genotype(...)` or prose around it) and raises UserError with one sentence for an
unknown operation, an input that points forward, a node with one input, a concat outside the
nodes.  `write` is the one spelling the project stores (lists, the pairs in the order given).

The canonical form sorts each node's two (operation, input) pairs by input, then operation:
a node sums its two terms, so their order does not change the network.  The same order
defines the positions the statistics, the principles and the refined spaces speak of
(LAPT equation 3: candidate operations C_i and information sources S_i per layer): per cell
and node, layer `a` (the earlier input) and `b` (the later), each an operation position
(`normal_n3a_op`) and a source position (`normal_n3a_from`, choices c_k-2, c_k-1, node2..4).
"""

from __future__ import annotations

import ast
import random
import re
from typing import NamedTuple, Sequence

from errors import UserError

# quark0/darts cnn/genotypes.py PRIMITIVES, in its order.
OPS: tuple[str, ...] = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                        "dil_conv_3x3", "dil_conv_5x5")
NODES: tuple[int, ...] = (2, 3, 4, 5)
CONCAT: tuple[int, ...] = NODES
CELLS: tuple[str, ...] = ("normal", "reduce")
SOURCES: tuple[str, ...] = ("c_k-2", "c_k-1", "node2", "node3", "node4")  # the names of states 0..4
PARAMETRIC = ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")

Pair = tuple[str, int]


class Genotype(NamedTuple):
    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]


FIELDS = Genotype._fields


def write(genotype: Genotype) -> str:
    """The Genotype text, as quark0/darts prints a genotype (lists for the concatenations)."""
    def pairs(cell: Sequence[Pair]) -> str:
        return "[" + ", ".join(f"('{op}', {index})" for op, index in cell) + "]"

    return (f"Genotype(normal={pairs(genotype.normal)}, normal_concat={list(genotype.normal_concat)}, "
            f"reduce={pairs(genotype.reduce)}, reduce_concat={list(genotype.reduce_concat)})")


def parse(text: str) -> Genotype:
    """A Genotype from its text; UserError (one sentence) when it is not one of this space."""
    call = _call(text)
    values: dict[str, object] = {}
    if len(call.args) > len(FIELDS):
        raise UserError(f"a Genotype has {len(FIELDS)} fields ({', '.join(FIELDS)}); got {len(call.args)}")
    for name, node in zip(FIELDS, call.args):
        values[name] = node
    for keyword in call.keywords:
        if keyword.arg not in FIELDS:
            raise UserError(f"unknown Genotype field {keyword.arg!r}; the fields are {', '.join(FIELDS)}")
        values[keyword.arg] = keyword.value
    missing = [name for name in FIELDS if name not in values]
    if missing:
        raise UserError(f"the Genotype lacks {', '.join(missing)}")
    return Genotype(normal=_cell("normal", values["normal"]), normal_concat=_concat("normal", values["normal_concat"]),
                    reduce=_cell("reduce", values["reduce"]), reduce_concat=_concat("reduce", values["reduce_concat"]))


GENOTYPE_CALL = re.compile(r"\bGenotype\s*\(")


def _call(text: str) -> ast.Call:
    """The `Genotype(...)` call in `text` (the first one; prose or an assignment around it is fine)."""
    match = GENOTYPE_CALL.search(text)
    if match is None:
        raise UserError("not a DARTS genotype: write Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, "
                        "4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])")
    start, depth = match.end() - 1, 0
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            break
    else:
        raise UserError("the Genotype(...) is not closed: a parenthesis is missing")
    try:
        expression = ast.parse(text[match.start():end + 1], mode="eval").body
    except SyntaxError as err:
        raise UserError(f"the Genotype text does not parse: {err.msg}") from None
    return expression


def _literal(node: ast.AST, what: str):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise UserError(f"{what} must be written with literals (lists, tuples, strings, numbers)") from None


def _cell(name: str, node: ast.AST) -> tuple[Pair, ...]:
    value = _literal(node, name)
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        raise UserError(f"{name} must be a list of (operation, input) pairs")
    if len(value) % 2:
        raise UserError(f"{name} has {len(value)} pairs: every node takes exactly two inputs, so a node has one input")
    if len(value) != 2 * len(NODES):
        raise UserError(f"{name} has {len(value) // 2} nodes; a DARTS cell has {len(NODES)} (8 pairs)")
    pairs = []
    for k, (op, index) in enumerate(value):
        node_id = NODES[k // 2]
        if op not in OPS:
            raise UserError(f"unknown operation {op!r} in {name} (node {node_id}); DARTS's are {', '.join(OPS)}")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise UserError(f"input {index!r} of node {node_id} in {name} must be a state index 0 .. {node_id - 1}")
        if index >= node_id:
            raise UserError(f"node {node_id} of {name} takes input {index}, which points forward: node {node_id} may "
                            f"read states 0 .. {node_id - 1} only")
        pairs.append((op, index))
    return tuple(pairs)


def _concat(name: str, node: ast.AST) -> tuple[int, ...]:
    field = f"{name}_concat"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        value = list(range(*[_literal(a, field) for a in node.args]))
    else:
        value = _literal(node, field)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise UserError(f"{field} must be a list of node indices, e.g. [2, 3, 4, 5]")
    outside = [v for v in value if v not in NODES]
    if outside:
        raise UserError(f"{field} lists {outside}, outside the intermediate nodes {list(NODES)}")
    if sorted(set(value)) != list(CONCAT):
        raise UserError(f"{field} is {list(value)}; the DARTS space concatenates every intermediate node, "
                        f"{list(CONCAT)}")
    return tuple(value)


# --- canonical form and positions -----------------------------------------------------------


def node_pairs(cell: Sequence[Pair]) -> list[tuple[Pair, Pair]]:
    return [(cell[2 * i], cell[2 * i + 1]) for i in range(len(NODES))]


def sort_node(first: Pair, second: Pair) -> tuple[Pair, Pair]:
    """The node's two terms in canonical order: earlier input first, then the operation's name."""
    return tuple(sorted((first, second), key=lambda pair: (pair[1], pair[0])))  # type: ignore[return-value]


def canonical(genotype: Genotype) -> Genotype:
    def cell(pairs: Sequence[Pair]) -> tuple[Pair, ...]:
        return tuple(p for a, b in node_pairs(pairs) for p in sort_node(a, b))

    return Genotype(cell(genotype.normal), CONCAT, cell(genotype.reduce), CONCAT)


def positions() -> dict[str, tuple[str, ...]]:
    """Position name -> its choices, in the order `choices` lists an architecture's."""
    out: dict[str, tuple[str, ...]] = {}
    for cell in CELLS:
        for node in NODES:
            for layer in "ab":
                out[f"{cell}_n{node}{layer}_op"] = OPS
                out[f"{cell}_n{node}{layer}_from"] = SOURCES[:node]
    return out


POSITIONS = positions()


def choices(genotype: Genotype) -> tuple[str, ...]:
    """One choice per position (canonical order within each node)."""
    out: list[str] = []
    for cell in (canonical(genotype).normal, canonical(genotype).reduce):
        for op, index in cell:
            out += [op, SOURCES[index]]
    return tuple(out)


def from_choices(values: Sequence[str]) -> Genotype:
    """The genotype whose positions hold `values` (as `choices` lists them)."""
    if len(values) != len(POSITIONS):
        raise UserError(f"a DARTS architecture has {len(POSITIONS)} positions; got {len(values)}")
    cells = []
    for c in range(len(CELLS)):
        part = values[c * 16:(c + 1) * 16]
        pairs = []
        for k in range(8):
            op, source = part[2 * k], part[2 * k + 1]
            node = NODES[k // 2]
            if op not in OPS or source not in SOURCES[:node]:
                raise UserError(f"({op!r}, {source!r}) is not a choice of {CELLS[c]} node {node}")
            pairs.append((op, SOURCES.index(source)))
        cells.append(tuple(pairs))
    return canonical(Genotype(cells[0], CONCAT, cells[1], CONCAT))


# --- sampling inside a set of allowed choices per position ------------------------------------

Allowed = dict[str, Sequence[str]]


def full() -> dict[str, list[str]]:
    return {p: list(c) for p, c in POSITIONS.items()}


def sample(allowed: Allowed, rng: random.Random) -> Genotype:
    """A random genotype inside `allowed` (every position one of its allowed choices), the two
    inputs of a node distinct where the allowed sources let them be: DARTS derives and the
    LAPT count (section 4.1: prod k(k+1)/2 input pairs) assumes two different inputs."""
    cells = []
    for cell in CELLS:
        pairs: list[Pair] = []
        for node in NODES:
            a, b = (f"{cell}_n{node}{layer}" for layer in "ab")
            source_a = rng.choice(list(allowed[a + "_from"]))
            others = [s for s in allowed[b + "_from"] if s != source_a]
            source_b = rng.choice(others or list(allowed[b + "_from"]))
            pairs += [(rng.choice(list(allowed[a + "_op"])), SOURCES.index(source_a)),
                      (rng.choice(list(allowed[b + "_op"])), SOURCES.index(source_b))]
        cells.append(tuple(pairs))
    return canonical(Genotype(cells[0], CONCAT, cells[1], CONCAT))


def contains(allowed: Allowed, genotype: Genotype) -> bool:
    """Every node's two terms fit its two layers' allowed choices, in one order or the other
    (the order of a node's terms does not matter)."""
    for cell, pairs in zip(CELLS, (genotype.normal, genotype.reduce)):
        for node, (first, second) in zip(NODES, node_pairs(pairs)):
            a, b = (f"{cell}_n{node}{layer}" for layer in "ab")
            if not (_fits(allowed, a, first) and _fits(allowed, b, second)) and \
                    not (_fits(allowed, a, second) and _fits(allowed, b, first)):
                return False
    return True


def _fits(allowed: Allowed, layer: str, pair: Pair) -> bool:
    return pair[0] in allowed[layer + "_op"] and SOURCES[pair[1]] in allowed[layer + "_from"]


def mutate(genotype: Genotype, allowed: Allowed, rng: random.Random) -> Genotype:
    """One layer's operation or input changed to another allowed choice (LAPT's REA mutation);
    the genotype itself when no layer has another choice."""
    options = neighbours(genotype, allowed)
    return rng.choice(options) if options else genotype


def neighbours(genotype: Genotype, allowed: Allowed) -> list[Genotype]:
    """Every genotype one position away inside `allowed`, in canonical form, without repeats."""
    current = choices(genotype)
    out, seen = [], {canonical(genotype)}
    for k, (position, values) in enumerate(POSITIONS.items()):
        for value in allowed.get(position, values):
            if value == current[k]:
                continue
            child = from_choices(current[:k] + (value,) + current[k + 1:])
            if child not in seen and contains(allowed, child):
                seen.add(child)
                out.append(child)
    return out


def crossover(first: Genotype, second: Genotype, rng: random.Random) -> Genotype:
    """Uniform crossover by node: each node of each cell (its two operations and inputs) comes
    from one parent or the other, so a node's terms travel together."""
    cells = []
    for a, b in ((first.normal, second.normal), (first.reduce, second.reduce)):
        cells.append(tuple(p for pa, pb in zip(node_pairs(a), node_pairs(b)) for p in (pa if rng.random() < 0.5 else pb)))
    return canonical(Genotype(cells[0], CONCAT, cells[1], CONCAT))


def zero_cell(cell: Sequence[Pair]) -> bool:
    """True when every node of a normal cell is certain to be zero: each term is `none`, or an
    identity or pooling of a node that is itself zero (the cell inputs never are)."""
    zero: dict[int, bool] = {0: False, 1: False}
    for node, (a, b) in zip(NODES, node_pairs(cell)):
        zero[node] = all(op == "none" or (op in ("skip_connect", "max_pool_3x3", "avg_pool_3x3") and zero[index])
                         for op, index in (a, b))
    return all(zero[n] for n in NODES)


def depth(cell: Sequence[Pair]) -> int:
    """The longest chain of nodes in a cell (1: every node reads the cell inputs; 4: a chain)."""
    level: dict[int, int] = {0: 0, 1: 0}
    for node, (a, b) in zip(NODES, node_pairs(cell)):
        level[node] = 1 + max(level[a[1]], level[b[1]])
    return max(level[n] for n in NODES)
