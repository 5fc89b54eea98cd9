from pathlib import Path

import pytest

from spaces import get
from spaces.nb201 import EDGES, OPS, format_arch
from spaces.nb201_code import OPERATION_SNIPPETS, CellCodeError, cell_to_code, code_to_cell

SPACE = get("nb201")


def test_round_trip_for_every_cell():
    assert all(code_to_cell(cell_to_code(arch)) == arch for arch in SPACE.all_archs())


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("edge", range(6))
def test_every_operation_on_every_edge(op, edge):
    ops = ["nor_conv_3x3"] * 6
    ops[edge] = op
    arch = format_arch(ops)
    code = cell_to_code(arch)
    assert code_to_cell(code) == arch
    if op != "none":
        assert OPERATION_SNIPPETS[op] in code


def test_empty_node_is_valid_code():
    arch = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    code = cell_to_code(arch)
    assert "x1 = 0 * x0" in code and code_to_cell(code) == arch
    compile(code, "<cell>", "exec")


LLM_STYLE = '''Sure! Here is the improved cell:

```python
import torch.nn as nn

class Cell(nn.Module):
    def __init__(self, C):
        super().__init__()
        # a deeper path
        self.conv_a = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(C, C, kernel_size=3, padding=1), nn.BatchNorm2d(C))
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.unused = nn.Dropout(0.5)
        self.small = nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, (1, 1)), nn.BatchNorm2d(C))

    def forward(self, inp):
        a = self.conv_a(inp)

        b = self.pool(inp) + a
        out = inp + self.small(b) + self.conv_a(a)
        return out
```
This adds a 1x1 convolution.'''


def test_tolerates_llm_style_edits():
    assert code_to_cell(LLM_STYLE) == "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


# The long form (LLMatic's listing, edge modules spelled out as nn.Sequential): still read back.
BASE = """import torch.nn as nn


class Cell(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.edge_1_0 = nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.edge_2_0 = nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.edge_2_1 = nn.AvgPool2d(3, stride=1, padding=1)
        self.edge_3_0 = nn.Identity()
        self.edge_3_1 = nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.edge_3_2 = nn.Identity()

    def forward(self, x0):
        x1 = self.edge_1_0(x0)
        x2 = self.edge_2_0(x0) + self.edge_2_1(x1)
        x3 = self.edge_3_0(x0) + self.edge_3_1(x1) + self.edge_3_2(x2)
        return x3
"""


def test_the_long_form_reads_as_the_compact_one():
    assert code_to_cell(BASE) == SPACE.arch_at(1) == code_to_cell(cell_to_code(SPACE.arch_at(1)))


def test_the_compact_form_is_short():
    assert len(cell_to_code(format_arch(["nor_conv_3x3"] * 6))) < 450  # characters, about 150 tokens


def test_an_answer_cut_by_max_tokens_is_read_from_what_is_there():
    code = cell_to_code(SPACE.arch_at(1))
    fenced = "Sure:\n```python\n" + code  # the closing fence never came
    assert code_to_cell(fenced) == SPACE.arch_at(1)
    cut = "```python\n" + code.replace("        return x3\n", "")  # cut before return
    assert code_to_cell(cut) == SPACE.arch_at(1)
    mid_line = "```python\n" + code.replace("        return x3\n", "        retu")
    assert code_to_cell(mid_line) == SPACE.arch_at(1)


@pytest.mark.parametrize("source,reason", [
    ("def broken(:\n  pass", "does not parse"),
    ("x = 1", "no class with a forward"),
    (BASE.replace("nn.Conv2d(C, C, 3, padding=1, bias=False)", "nn.Conv2d(C, C, 5, padding=2, bias=False)"),
     "kernel 5, which is not an NB201 operation"),
    (BASE.replace("self.edge_1_0 = nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, 3, padding=1, bias=False), "
                  "nn.BatchNorm2d(C))", "self.edge_1_0 = nn.Linear(C, C)"), "nn.Linear"),
    (BASE.replace("x1 = self.edge_1_0(x0)", "x1 = self.edge_1_0(self.edge_2_0(x0))"), "two operations on one edge"),
    (BASE.replace("x1 = self.edge_1_0(x0)", "x1 = self.edge_1_0(x0) + self.edge_2_0(x0)"), "given twice"),
    (BASE.replace("x1 = self.edge_1_0(x0)", "x1 = self.edge_1_0(x2)"), "not an earlier node"),
    (BASE.replace("return x3", "return x2"), "return the last node"),
    (BASE.replace("x1 = self.edge_1_0(x0)", "x1 = self.conv9(x0)"), "never defined"),
    (BASE.replace("        return x3", "        x4 = x3\n        return x4"), "more than three"),
])
def test_rejections_say_why(source, reason):
    with pytest.raises(CellCodeError, match=reason):
        code_to_cell(source)


def test_hostile_code_is_only_parsed(tmp_path: Path):
    sentinel = tmp_path / "pwned"
    hostile = BASE.replace("x1 = self.edge_1_0(x0)",
                           f"import os; os.system('touch {sentinel}')\n        x1 = self.edge_1_0(x0)")
    assert code_to_cell(hostile) == SPACE.arch_at(1)
    assert not sentinel.exists()


def test_edges_are_in_nb201_order():
    assert EDGES[0] == (0, 1) and EDGES[-1] == (2, 3)
