"""GENIUS's FLOPs loop (agents/flops_loop.py, seed 002 section 5): a scripted designer that
overshoots twice is told its measured FLOPs and how far out, revises, and no evaluation is
spent until a design is within the bound; every round is journaled."""

import json

import pytest

from agents import designer, flops_loop
from agents.structured import Asker
from graphs.run import execute, prepare
from memory.journal import Journal
from memory.runs import RunDir
from settings import load_settings
from spaces import get
from spaces.base import Evaluation, FinalReport
from spaces.mobilenetv2 import MobileNetV2Space
from tests.fakes import Scripted

GENIUS_329 = [1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 4, 0, 4, 3, 0, 0, 4, 3, 0, 4, 4, 0, 5, 0, 5, 5, 5, 0]
OVER_TWICE = [[6] * 30, [5] * 30, GENIUS_329]  # 884.6, 762.3, then 329.4 MFLOPs


def answer(ids, why="deeper late stages"):
    return {"rationale": why, "architecture": {f"stage{s + 1}": ids[6 * s:6 * s + 6] for s in range(5)}}


def test_the_designer_revises_until_within_the_bound(tmp_path):
    space, journal = get("mobilenetv2"), Journal(tmp_path / "events.jsonl")
    model = Scripted(answers=[answer(ids) for ids in OVER_TWICE])
    asker = Asker(role="designer", label="scripted", model=model)

    def ask(followup):
        arch, rationale, usage = designer.propose(asker, space, "digits", [], journal, 1, followup=followup)
        return [designer.Candidate(arch=arch, source="llm", rationale=rationale)], usage

    found, usage = flops_loop.revise(ask, space, "digits", 270, 330, 3, journal, 1)
    assert json.loads(found[0].arch) == GENIUS_329 and usage.calls == 3
    second, third = model.seen[1], model.seen[2]
    assert "884.6 MFLOPs, 554.6 above the upper bound of 330" in second[-1].content
    assert "between 270 and 330" in second[-1].content
    assert json.loads(second[-2].content)["architecture"]["stage1"] == [6] * 6  # its own answer, then the feedback
    assert "762.3 MFLOPs, 432.3 above" in third[-1].content and len(third) == len(second) + 2
    rounds = [e.data for e in journal.events() if e.kind == "revision"]
    assert [r["revise"] for r in rounds] == [True, True, False]
    assert [c["flops_m"] for r in rounds for c in r["candidates"]] == pytest.approx([884.64, 762.26, 329.41], abs=0.01)


def test_revisions_stop_at_the_limit_and_the_critic_gets_the_rest(tmp_path):
    space, journal = get("mobilenetv2"), Journal(tmp_path / "events.jsonl")
    calls = []

    def ask(followup):
        calls.append(len(followup))
        return [designer.Candidate(arch=json.dumps([6] * 30), source="llm")], designer.Usage(calls=1)

    found, usage = flops_loop.revise(ask, space, "digits", None, 330, 2, journal, 4)
    assert calls == [0, 2, 4] and usage.calls == 3 and json.loads(found[0].arch) == [6] * 30
    assert flops_loop.revise(ask, space, "digits", None, None, 2, journal, 5)[1].calls == 1  # no bound: one call


def fake_training(monkeypatch):
    """Evaluations without the sandbox: accuracy grows with FLOPs (the graph's logic is under test)."""
    def evaluate(self, arch, dataset):
        flops, params = self.cost(arch, dataset)
        return Evaluation(arch=arch, canonical=self.canonical(arch), val_acc=flops / 10, flops_m=flops, params_m=params)

    def final_report(self, arch, dataset):
        return FinalReport(arch=arch, val_acc=0.0, test_acc=None, rank=None, of=None, flops_m=None, params_m=None)

    monkeypatch.setattr(MobileNetV2Space, "evaluate", evaluate)
    monkeypatch.setattr(MobileNetV2Space, "final_report", final_report)


def test_genius_spends_no_evaluation_outside_the_bound(tmp_path, monkeypatch):
    fake_training(monkeypatch)
    settings = prepare(load_settings(runs_dir=tmp_path, space="mobilenetv2", dataset="digits", designer="genius",
                                     critic="rules", budget=2, max_flops_m=330, min_flops_m=270))
    run = RunDir.create(settings)
    second = [1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 4, 0, 4, 3, 0, 0, 4, 3, 0, 4, 4, 0, 5, 0, 5, 5, 0, 0]
    model = Scripted(answers=[answer(ids) for ids in OVER_TWICE] + [answer([0] * 30), answer(second)])
    execute(run, {"designer": Asker(role="designer", label="scripted", model=model)})
    evaluated = [json.loads(e.data["arch"]) for e in run.journal().events() if e.kind == "evaluation"]
    assert evaluated == [GENIUS_329, second]
    rounds = [e for e in run.journal().events() if e.kind == "revision"]
    assert [(e.step, e.data["revise"]) for e in rounds] == [(1, True), (1, True), (1, False), (2, True), (2, False)]
    assert "below the lower bound of 270" in model.seen[4][-1].content  # the all-skip network: 23.2 MFLOPs
    assert "between 270 and 330 MFLOPs" in model.seen[0][1].content  # the bound is in the problem itself
