"""GENIUS on the PyTorch code space: the designer writes code, the Critic relays refusals,
accepted code is trained in the sandbox."""

import pytest

from agents.structured import Asker
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces.torch_code import SEED_NETWORK
from tests.fakes import Scripted

pytestmark = pytest.mark.slow  # two sandboxed trainings


def test_genius_trains_code_and_relays_refusals(tmp_path):
    settings = load_settings(runs_dir=tmp_path, space="torch-code", dataset="digits", budget=2,
                             training={"epochs": 1, "train_subset": 128, "eval_subset": 64})
    run = RunDir.create(prepare(settings))
    wider = SEED_NETWORK.replace("nn.Conv2d(3, 1, 1)", "nn.Conv2d(3, 1, 3, padding=1)")
    model = Scripted(answers=[{"rationale": "the paper's seed", "architecture": {"code": SEED_NETWORK}},
                              {"rationale": "shell out", "architecture": {"code": "import os\n" + SEED_NETWORK}},
                              {"rationale": "a 3x3 kernel sees more", "architecture": {"code": wider}}])
    result = execute(run, {"designer": Asker(role="designer", label="scripted", model=model)})
    verdicts = [e.data for e in run.journal().events() if e.kind == "critic"]
    assert [v["kind"] for v in verdicts] == ["ok", "malformed", "ok"]
    assert "importing `os` is not allowed" in verdicts[1]["reason"]
    assert "importing `os` is not allowed" in str(model.seen[2][-1].content)  # relayed to the designer
    assert result["evaluations"] == 2 and result["best"]["test_acc"] is not None
