"""LAPT's DARTS protocol (seed 003, section 4.1) end to end on tiny generated data with a scripted
learner: the source task's random sample scored through its supernet, principles learned and
stored, the refined space searched with REA through a supernet trained on the target over it,
the adaptation, the best trained stand-alone; then the baselines on the same space."""

import json

import pytest
import torch

import spaces.darts as darts_space
from agents.structured import Asker
from graphs.remember import open_memory
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces import darts_genotype as G
from spaces import get
from spaces.darts_train import Data
from spaces.refined import RefinedSpace
from tests.fakes import Scripted
from tests.test_cli import run_cli

SPACE = get("darts")
OPS_KEPT = ["sep_conv_3x3", "skip_connect"]
LEARNED = {p: (OPS_KEPT if p.endswith("_op") else list(c[:2])) for p, c in G.POSITIONS.items()}
WIDER = {p: (["sep_conv_3x3", "dil_conv_3x3"] if p.endswith("_op") else list(c[-2:])) for p, c in G.POSITIONS.items()}
TINY = {"channels": 4, "cells": 3, "image_size": 8, "epochs": 1, "min_steps": 0, "batch_size": 16, "bn_batches": 1,
        "standalone_channels": 4, "standalone_cells": 3, "standalone_epochs": 1, "standalone_batch": 16}


def generated(self, dataset: str) -> Data:
    """Ten classes told apart by which pixel is bright, a different pixel per dataset."""
    g = torch.Generator().manual_seed(len(dataset))
    y = torch.randint(0, 10, (96,), generator=g)
    x = 0.1 * torch.randn(96, 3, 8, 8, generator=g)
    x[torch.arange(96), :, (y + len(dataset)) % 8, y // 2] += 3.0
    return Data(x[:48], y[:48], x[48:72], y[48:72], x[72:], y[72:], 10)


def answer(messages):
    prompt = messages[-1].content
    if "Update the design principles" in prompt or "found nothing better" in prompt:
        return {"principles": ["Use dil_conv_3x3 beside sep_conv_3x3 in the normal cell."], "refined": WIDER}
    return {"principles": ["Prefer sep_conv_3x3 on normal_n3a_op and normal_n4a_op.", "] {"], "refined": LEARNED}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(darts_space.DartsSpace, "_data", generated)


def run(tmp_path, graph="lapt", answers=(answer,), **overrides):
    settings = prepare(load_settings(runs_dir=tmp_path / "runs", graph=graph, space="darts", dataset="digits",
                                     darts=TINY, **overrides))
    run_dir = RunDir.create(settings)
    model = Scripted(answers=list(answers))
    askers = {"learner": Asker(role="learner", label="scripted", model=model)} if graph == "lapt" else {}
    return run_dir, execute(run_dir, askers), model


def test_lapt_on_darts_transfers_searches_adapts_trains_and_remembers(tmp_path, tiny):
    lapt_settings = {"source_samples": 12, "learn_samples": 6, "top_r": 4, "population": 4, "generations": 1,
                     "iterations": 2}
    run_dir, result, model = run(tmp_path, lapt=lapt_settings, memory_write=True)
    lapt = result["lapt"]
    assert lapt["source"] == "darts/mnist" and model.calls == 2  # learn on the source, adapt once
    learn_prompt = model.seen[0][-1].content
    assert "Statistics of the top 6 against the other 6" in learn_prompt and "5. [" in learn_prompt
    assert "6. [" not in learn_prompt  # at most 5 architectures of 32 positions shown
    # Table 1 shape at this size: 4 initial (the source's best) + 4 per round, 2 rounds
    assert result["evaluations"] == 12 == len({a for a, _ in lapt["trajectory"]})
    assert [r["evaluations"] for r in lapt["rounds"]] == [8, 4]
    first = RefinedSpace.model_validate(lapt["rounds"][0]["refined"])
    assert set(first.allowed["normal_n3a_op"]) == set(OPS_KEPT)
    searched = [a for a, _ in lapt["trajectory"][4:8]]  # round 1's REA children, after the transferred seeds
    assert all(first.contains(SPACE, arch) for arch in searched)
    # the source's knowledge: a scored sample kept beside the runs, its supernet trained once
    source = list((tmp_path / "runs" / ".supernets").glob("mnist-*"))
    assert len(source) == 1 and len((source[0] / "sample-12.jsonl").read_text().splitlines()) == 12
    # the target's supernet covers the first refined space, a fifth of its steps drawn from the whole space
    target = json.loads(next((run_dir.path / "supernets").glob("digits-*/spec.json")).read_text())
    assert target["allowed"] == first.allowed and target["mix"] == 0.2
    # the best architecture trained stand-alone, its test accuracy read once
    best = result["best"]
    assert best["notes"]["epochs"] == 1 and 0 <= best["test_acc"] <= 100
    assert best["search_val_acc"] == max(s for _, s in lapt["trajectory"])
    # memory: the source's principles and best architectures, the target's adapted principles
    memory = open_memory(load_settings())
    stored = memory.principles("darts/mnist")
    assert stored.texts() == ["Prefer sep_conv_3x3 on normal_n3a_op and normal_n4a_op."]
    assert len(stored.evidence) == 6 and memory.principles("darts/digits") is not None
    assert len(memory.best_architectures("darts", "mnist", 10)) == 6
    memory.close()
    shown = run_cli("principles", "show", "--task", "darts/mnist", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)[0]["task"] == "darts/mnist"


def test_a_second_lapt_run_reuses_the_source_and_its_stored_principles(tmp_path, tiny, monkeypatch):
    lapt_settings = {"source_samples": 8, "learn_samples": 4, "top_r": 4, "population": 4, "generations": 1,
                     "iterations": 1}
    run(tmp_path, lapt=lapt_settings, memory_write=True)
    monkeypatch.setattr(darts_space.DartsSpace, "scored_sample", lambda *a: pytest.fail("source scored again"))
    _, result, model = run(tmp_path, lapt=lapt_settings, seed=1)
    assert result["lapt"]["source_version"] == 1 and model.calls == 0  # principles and refined space from memory


@pytest.mark.parametrize("graph", ["random", "rea", "random+flops", "genius"])
def test_every_graph_evaluates_through_the_target_supernet(tmp_path, tiny, graph):
    answers = [{"edits": [], "new": None, "rationale": "no idea"}]
    settings = prepare(load_settings(runs_dir=tmp_path / "runs", graph=graph, space="darts", dataset="digits",
                                     budget=3, darts=TINY))
    run_dir = RunDir.create(settings)
    askers = {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=answers))} \
        if graph == "genius" else {}
    result = execute(run_dir, askers)
    assert result["evaluations"] == 3 and result["best"]["notes"]["epochs"] == 1
    specs = [json.loads(p.read_text()) for p in (run_dir.path / "supernets").glob("*/spec.json")]
    assert len(specs) == 1 and specs[0]["allowed"] is None  # one supernet over the whole space
    tools = {json.loads(line)["data"].get("tool") for line in (run_dir.path / "events.jsonl").read_text().splitlines()}
    assert "supernet_estimate" in tools


def test_llmatic_writes_darts_genotypes(tmp_path, tiny):
    """LLMatic's code answers on darts are genotypes (the model edits the one it is shown)."""
    import random
    import re

    def edit(messages) -> str:
        shown = re.search(r"Genotype\(.*?reduce_concat=\[2, 3, 4, 5\]\)", str(messages[-1].content)).group(0)
        return "A deeper normal cell:\n```python\n" + SPACE.mutate(shown, random.Random(shown)) + "\n```"

    settings = prepare(load_settings(runs_dir=tmp_path / "runs", graph="llmatic", space="darts", dataset="digits",
                                     critic="rules", darts=TINY,
                                     llmatic={"generations": 1, "batch": 3, "initial": 2, "answer": "code"}))
    run_dir = RunDir.create(settings)
    result = execute(run_dir, {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=[edit]))})
    children = [e.data for e in run_dir.journal().events() if e.kind == "offspring"]
    written = [c for c in children if c["operator"] in ("mutation", "crossover")]
    assert len(written) == 3 and all(c["arch"].startswith("Genotype(normal=[") and c["val_acc"] is not None
                                     for c in written)
    assert result["evaluations"] >= 4  # two random starts, and the new genotypes among the 3 answers
