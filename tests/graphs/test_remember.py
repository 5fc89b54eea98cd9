import pytest

from agents.structured import Asker
from errors import UserError
from graphs.remember import open_memory
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from tests.fakes import Scripted, cell

C3, C1, SK, AP = "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3"
CELLS = [cell(C3, C3, C3, SK, C3, C3, rationale="three by three convolutions everywhere"),
         cell(C1, C1, C1, SK, C1, C1, rationale="cheap one by one convolutions"),
         cell(AP, C3, C3, SK, C3, C3, rationale="pooling first smooths the input")]


def genius(tmp_path, model, **overrides):
    overrides = {"designer": "genius", "critic": "rules", **overrides}  # one whole proposal per call
    settings = prepare(load_settings(runs_dir=tmp_path / "runs", budget=3, **overrides))
    run = RunDir.create(settings)
    return run, execute(run, {"designer": Asker(role="designer", label="scripted", model=model)})


def test_a_finished_search_leaves_its_evaluations_and_reasoning_in_memory(tmp_path):
    run, result = genius(tmp_path, Scripted(answers=CELLS), memory_write=True)
    memory = open_memory(prepare(load_settings()))
    stored = memory.best_architectures("nb201", "cifar10", 10)
    assert len(stored) == 3 and {s["run_id"] for s in stored} == {run.id}
    assert stored[0]["val_acc"] == pytest.approx(result["best"]["val_acc"])
    hits = memory.search_reasoning("pooling smooths the input", run_id=run.id, k=1)
    assert hits[0]["text"] == "pooling first smooths the input" and hits[0]["role"] == "designer"


def test_nothing_is_written_when_memory_writing_is_off(tmp_path):
    genius(tmp_path, Scripted(answers=CELLS))  # conftest: ARCHAGENTS_MEMORY_WRITE=false
    assert open_memory(prepare(load_settings())).best_architectures("nb201", "cifar10", 10) == []


def test_the_designer_sees_stored_principles_and_past_results(tmp_path):
    genius(tmp_path, Scripted(answers=CELLS), memory_write=True)
    open_memory(prepare(load_settings())).save_principles("nb201/imagenet16", ["avoid pooling on the output"], [])
    model = Scripted(answers=list(reversed(CELLS)))
    genius(tmp_path, model, principles_from="nb201/imagenet16", designer_memory=2, seed=1)
    first = model.seen[0][1].content
    assert "Design principles learned on nb201/imagenet16 (version 1)" in first
    assert "- avoid pooling on the output" in first
    assert "earlier runs (from memory), best first" in first and first.count('{"node1_from_0"') == 2
    assert model.seen[2][1].content == first  # the same prefix at every step


def test_unknown_principles_are_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no principles stored for nb201/cifar100"):
        genius(tmp_path, Scripted(answers=CELLS), principles_from="nb201/cifar100")
