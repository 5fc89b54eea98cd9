"""An NB201 cell as editable PyTorch code, and back (LLMatic, seed 001, section 5 and appendix A).

LLMatic shows the LLM a network's code and an edit instruction; on NAS-Bench-201
the code is a small cell module whose edges hold the five NB201 operations.
`cell_to_code` writes that module; `code_to_cell` reads an edited one back
into the six-edge cell.  Reading uses `ast` only: generated code is never run.
Code that is not an NB201 cell raises `CellCodeError` with a one-sentence
reason (the search counts it as untrainable).
"""

from __future__ import annotations

import ast

from errors import UserError
from spaces import codeblock
from spaces.cell import EDGES, format_arch, parse

# The edge modules as the LLM sees them: short helper calls, so a whole cell is ~150 tokens and a
# small model's answer fits its token budget (the long nn.Sequential form is read back too).
OPERATION_SNIPPETS = {
    "nor_conv_3x3": "conv3x3(C)",
    "nor_conv_1x1": "conv1x1(C)",
    "avg_pool_3x3": "avgpool3x3()",
    "skip_connect": "nn.Identity()",
}
HELPERS = {
    "conv3x3(C)": "nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))",
    "conv1x1(C)": "nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, 1, bias=False), nn.BatchNorm2d(C))",
    "avgpool3x3()": "nn.AvgPool2d(3, stride=1, padding=1)",
}
HELPER_OPS = {"conv3x3": "nor_conv_3x3", "conv1x1": "nor_conv_1x1", "avgpool3x3": "avg_pool_3x3",
              "Identity": "skip_connect"}

# LLMatic's mutation instructions for NB201 (seed 001, appendix A), in our own words: nine edits
# restricted to the five operations.  The index is the prompt id the prompt archive uses.
EDITS = (
    "Improve the cell above by adding, on one edge, a ReLU, a 3x3 convolution and batch normalisation.",
    "Improve the cell above by adding, on one edge, a ReLU, a 1x1 convolution and batch normalisation.",
    "Improve the cell above by removing one operation.",
    "Improve the cell above by adding a 3x3 average pooling on one edge.",
    "Improve the cell above by adding a skip connection on one edge.",
    "Improve the cell above by removing one operation and adding a ReLU, 3x3 convolution and batch normalisation.",
    "Improve the cell above by removing one operation and adding a ReLU, 1x1 convolution and batch normalisation.",
    "Improve the cell above by removing one operation and adding a 3x3 average pooling.",
    "Improve the cell above by removing one operation and adding a skip connection.",
)

HEADER = '''class Cell(nn.Module):
    def __init__(self, C):
        super().__init__()
'''


# The rules quoted in every LLMatic prompt on this space (spaces/base.py Coded.code_rules).
RULES = """\
Rules for this cell: self.e<i>_<j> is the edge from node j to node i; each edge holds exactly one of \
these modules, or is left out of the sum:
{snippets}
(conv3x3 and conv1x1 are ReLU, convolution and batch norm; avgpool3x3 is 3x3 average pooling.) \
Keep the class name, the four nodes x0 to x3 and `return x3`. Answer with the whole class, short."""


def rules(ops) -> str:
    return RULES.format(snippets="\n".join(f"- {op}: {OPERATION_SNIPPETS[op]}" for op in ops if op != "none"))


class CellCodeError(UserError):
    """The code cannot be read as an NB201 cell."""


def cell_to_code(arch: str) -> str:
    """The cell as a compact module: one attribute per edge that is not `none` (self.e<i>_<j>
    carries node j to node i), and forward summing them into nodes x1, x2, x3."""
    ops = parse(arch)
    edge_op = dict(zip(EDGES, ops))
    lines = [f"        self.e{i}_{j} = {OPERATION_SNIPPETS[op]}" for (j, i), op in edge_op.items() if op != "none"]
    body = [HEADER + ("\n".join(lines) if lines else "        pass"), "    def forward(self, x0):"]
    for i in (1, 2, 3):
        terms = [f"self.e{i}_{j}(x{j})" for j in range(i) if edge_op[(j, i)] != "none"]
        body.append(f"        x{i} = " + (" + ".join(terms) if terms else "0 * x0"))
    body.append("        return x3\n")
    return "\n".join(body)


def code_to_cell(source: str) -> str:
    """The cell an answer's code describes (fenced or not, closed or cut short by max_tokens)."""
    try:
        tree, _ = codeblock.parse(source)
    except SyntaxError as err:
        raise CellCodeError(f"the code does not parse: {err.msg} (line {err.lineno})") from None
    cls = _cell_class(tree)
    modules = _modules(cls)
    forward = _method(cls, "forward")
    return format_arch(_edges(forward, modules))


def _cell_class(tree: ast.Module) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(isinstance(item, ast.FunctionDef) and item.name == "forward"
                                                  for item in node.body):
            return node
    raise CellCodeError("no class with a forward method was found")


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == name:
            return item
    raise CellCodeError(f"class {cls.name} has no {name} method")


def _modules(cls: ast.ClassDef) -> dict[str, str]:
    """Attribute name -> NB201 operation, or an explanation of why it is none."""
    try:
        init = _method(cls, "__init__")
    except CellCodeError:
        return {}
    modules = {}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                modules[target.attr] = _operation(node.value)
    return modules


def _operation(expr: ast.expr) -> str:
    """The NB201 operation an `nn.*` expression builds, or a reason starting with '!'."""
    name = _call_name(expr)
    if name in HELPER_OPS:
        return HELPER_OPS[name]
    if name == "AvgPool2d":
        kernel = _kernel(expr)
        return "avg_pool_3x3" if kernel == 3 else f"!nn.AvgPool2d with kernel {kernel}"
    if name == "Sequential":
        layers = [_call_name(arg) for arg in expr.args]
        convs = [arg for arg in expr.args if _call_name(arg) == "Conv2d"]
        if layers == ["ReLU", "Conv2d", "BatchNorm2d"]:
            kernel = _kernel(convs[0])
            if kernel in (1, 3):
                return f"nor_conv_{kernel}x{kernel}"
            return f"!nn.Conv2d with kernel {kernel}"
        return f"!nn.Sequential({', '.join(str(layer) for layer in layers)})"
    return f"!{'nn.' + name if name else ast.unparse(expr)[:40]}"


def _call_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Attribute):
            return func.attr
        if isinstance(func, ast.Name):
            return func.id
    return None


def _kernel(call: ast.Call) -> int | str:
    """kernel_size from the keyword or the first positional argument after the channels."""
    for keyword in call.keywords:
        if keyword.arg in ("kernel_size", "kernel"):
            return _constant(keyword.value)
    index = 2 if _call_name(call) == "Conv2d" else 0
    return _constant(call.args[index]) if len(call.args) > index else "?"


def _constant(expr: ast.expr) -> int | str:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, int):
        return expr.value
    if isinstance(expr, ast.Tuple) and expr.elts and all(isinstance(e, ast.Constant) for e in expr.elts):
        values = {e.value for e in expr.elts}
        return values.pop() if len(values) == 1 else ast.unparse(expr)
    return ast.unparse(expr)


def _edges(forward: ast.FunctionDef, modules: dict[str, str]) -> list[str]:
    """Read the node assignments of forward() into the six edge operations."""
    params = [arg.arg for arg in forward.args.args if arg.arg != "self"]
    if not params:
        raise CellCodeError("forward takes no input")
    nodes = {params[0]: 0}
    edge_op: dict[tuple[int, int], str] = {}
    returned = None
    for statement in forward.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            name, index = statement.targets[0].id, len(nodes)
            if index > 3:
                raise CellCodeError("the cell has more than three intermediate nodes")
            for source, op in _terms(statement.value, nodes, modules):
                if (source, index) in edge_op:
                    raise CellCodeError(f"edge {source}->{index} is given twice")
                edge_op[(source, index)] = op
            nodes[name] = index
        elif isinstance(statement, ast.Return):
            returned = statement.value
    if len(nodes) != 4:
        raise CellCodeError(f"the cell needs three intermediate nodes, found {len(nodes) - 1}")
    if returned is not None and not (isinstance(returned, ast.Name) and nodes.get(returned.id) == 3):
        raise CellCodeError("forward must return the last node")  # an answer cut before `return` is read as x3
    return [edge_op.get(edge, "none") for edge in EDGES]


def _terms(expr: ast.expr, nodes: dict[str, int], modules: dict[str, str]) -> list[tuple[int, str]]:
    """A node's right-hand side as (source node, operation) terms of a sum."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _terms(expr.left, nodes, modules) + _terms(expr.right, nodes, modules)
    if _is_zero(expr):
        return []
    if isinstance(expr, ast.Name):
        return [(_node(expr.id, nodes), "skip_connect")]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) \
            and isinstance(expr.func.value, ast.Name) and expr.func.value.id == "self":
        attr = expr.func.attr
        if len(expr.args) != 1 or not isinstance(expr.args[0], ast.Name):
            raise CellCodeError(f"self.{attr} must be applied to one node directly (two operations on one edge?)")
        if attr not in modules:
            raise CellCodeError(f"self.{attr} is used but never defined in __init__")
        op = modules[attr]
        source = _node(expr.args[0].id, nodes)
        if op.startswith("!"):
            raise CellCodeError(f"edge {source}->{len(nodes)} applies {op[1:]}, which is not an NB201 operation")
        return [(source, op)]
    raise CellCodeError(f"cannot read `{ast.unparse(expr)[:60]}` as a sum of edge operations")


def _is_zero(expr: ast.expr) -> bool:
    """`0`, `0 * x0` or `x0 * 0`: a node with no incoming operation."""
    if isinstance(expr, ast.Constant) and expr.value == 0:
        return True
    return isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult) and (
        _is_zero(expr.left) or _is_zero(expr.right))


def _node(name: str, nodes: dict[str, int]) -> int:
    if name not in nodes:
        raise CellCodeError(f"`{name}` is not an earlier node of the cell")
    return nodes[name]
