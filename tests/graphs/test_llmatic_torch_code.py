"""LLMatic on the PyTorch code space: real sandboxed trainings of tiny budgets on the offline data."""

import random
import re

import pytest

from agents.structured import Asker
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces.torch_code import TorchCodeSpace
from tests.fakes import Scripted

pytestmark = pytest.mark.slow  # ~10 sandboxed trainings

SPACE = TorchCodeSpace()
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
TINY = {"epochs": 1, "train_subset": 128, "eval_subset": 64, "workers": 2, "flops_bounds_m": (0.0, 2.0),
        "width_depth_bounds": (0.0, 32.0)}


def editing_model(**kwargs) -> Scripted:
    """A designer that edits the first network in the prompt (a seeded shape-preserving edit)."""

    def edit(messages) -> str:
        prompt = str(messages[-1].content)
        code = CODE_BLOCK.search(prompt).group(1)
        return "```python\n" + SPACE.mutate(code, random.Random(prompt)) + "```"

    return Scripted(answers=[edit], **kwargs)


def start(tmp_path):
    settings = load_settings(runs_dir=tmp_path, graph="llmatic", space="torch-code", dataset="digits",
                             llmatic={"generations": 1, "batch": 3, "initial": 3}, training=TINY)
    return RunDir.create(prepare(settings))


def designer(model):
    return {"designer": Asker(role="designer", label="scripted", model=model)}


def kinds(run, kind):
    return [e.data for e in run.journal().events() if e.kind == kind]


def test_llmatic_trains_code_end_to_end_and_resumes_without_retraining(tmp_path):
    run = start(tmp_path)
    with pytest.raises(KeyboardInterrupt):  # the designer's second call crashes the generation
        execute(run, designer(editing_model(fail_on_call=2)))
    trained = {p: p.stat().st_mtime_ns for p in (run.path / "sandbox").glob("*/report.json")}
    assert len(trained) >= 3  # the initial networks, and what finished before the crash
    result = execute(run, designer(editing_model()))
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in trained.items())  # nothing trained twice
    children = kinds(run, "offspring")
    assert len(children) == 6 and all(c["outcome"] != "untrainable" for c in children), children
    assert all(c["descriptors"] and c["val_acc"] is not None for c in children)
    assert result["space"] == "torch-code" and result["dataset"] == "digits"
    assert result["best"]["test_acc"] is not None and result["best"]["flops_m"] > 0
    assert len(list((run.path / "sandbox").glob("*/report.json"))) >= 4
