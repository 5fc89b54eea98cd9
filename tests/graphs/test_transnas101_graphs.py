"""Every graph completes a few evaluations on TransNAS-Bench-101 (the table's 711 cells)."""

import pytest

from agents.structured import Asker
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces import get
from tests.fakes import Scripted

SPACE = get("transnas101")
CELL = SPACE.ops(SPACE.all_archs()[0])


def answer(messages):
    """One answer for every schema the graphs ask for on this space (extra keys are ignored)."""
    prompt = messages[-1].content
    if "one or two changes" in prompt:
        return {"changes": [{"position": "node3_from_2", "op": "nor_conv_3x3"}]}
    return {"rationale": "convolutions", "architectures": [list(CELL)] * 4, "architecture": list(CELL),
            "edits": [], "principles": ["Prefer nor_conv_3x3 on node3_from_2 and node2_from_1."],
            "refined": {p: ["nor_conv_3x3", "nor_conv_1x1"] for p in SPACE.positions()}}


@pytest.mark.parametrize("graph", ["genius", "llmatic", "lapt", "random", "rea", "local", "random+flops", "prior"])
def test_every_graph_runs_on_transnas101(tmp_path, graph):
    overrides = {"llmatic": {"answer": "edit", "batch": 2}} if graph == "llmatic" else {}
    settings = prepare(load_settings(runs_dir=tmp_path, graph=graph, space="transnas101", dataset="class_object",
                                     budget=4, candidates=1, **overrides))
    model = Scripted(answers=[answer])
    askers = {role: Asker(role=role, label="scripted", model=model) for role in ("designer", "learner")}
    result = execute(RunDir.create(settings), askers)
    assert result["evaluations"] == 4 and result["best"]["arch"] in SPACE.all_archs()
