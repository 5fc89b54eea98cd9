"""What a search knows (graphs/knowledge.py) and how the Critic allocates evaluations between the
sources of candidates (agents/critic.py: allocate), with scripted designers on the real NB201 table."""

import json
import random
import re

import pytest

import spaces.nb201 as nb201
from agents.structured import Asker
from graphs import knowledge
from graphs.remember import open_memory
from graphs.run import execute, prepare
from memory.runs import RunDir
from memory.store import Principle
from settings import load_settings
from spaces import get
from spaces.cell import EDGE_NAMES
from tests.fakes import Scripted
from tools import op_stats

SPACE = get("nb201")


def run(tmp_path, model=None, **overrides):
    settings = prepare(load_settings(runs_dir=tmp_path, **overrides))
    run_dir = RunDir.create(settings)
    askers = {"designer": Asker(role="designer", label="scripted", model=model)} if model is not None else {}
    result = execute(run_dir, askers)
    evaluated = [e.data["arch"] for e in run_dir.journal().events() if e.kind == "evaluation"]
    return run_dir, result, evaluated


def edits_of_the_best(messages):
    """A plain designer: edits of the best parent towards 3x3 convolutions, and one fixed new cell."""
    prompt = messages[-1].content
    if "Evaluated so far" not in prompt:
        return {"rationale": "wide", "architectures": [["nor_conv_3x3"] * 6, ["nor_conv_1x1"] * 6,
                                                      ["skip_connect"] + ["nor_conv_3x3"] * 5, ["nor_conv_3x3"] * 6]}
    parent = int(prompt.split("Evaluated so far")[1].split("\n")[1].split(":")[0])
    edits = [{"parent": parent, "position": p, "op": "nor_conv_3x3"} for p in EDGE_NAMES[:4]]
    return {"rationale": "more 3x3", "edits": edits, "architecture": ["nor_conv_3x3"] * 5 + ["skip_connect"]}


def proposing(cells: list[str]):
    """A scripted designer that proposes `cells` in order as its new architectures; its edits are
    no-ops (a parent's own operation), which the designer's reader drops."""
    queue = list(cells)

    def answer(messages):
        prompt = messages[-1].content
        if "Evaluated so far" not in prompt:
            return {"rationale": "these", "architectures": [list(SPACE.ops(queue.pop(0))) for _ in range(4)]}
        line = prompt.split("Evaluated so far")[1].split("\n")[1]
        parent, ops = int(line.split(":")[0]), re.search(r"\[(.*)\]", line).group(1).split(", ")
        noop = [{"parent": parent, "position": EDGE_NAMES[0], "op": ops[0]}] * 4
        return {"rationale": "this", "edits": noop, "architecture": list(SPACE.ops(queue.pop(0)))}

    return answer


# --- knowledge ---------------------------------------------------------------------------------


@pytest.fixture
def permuted_other_tasks(monkeypatch):
    """NB201 with CIFAR-100's and ImageNet16-120's results shuffled between cells (CIFAR-10's kept)."""
    table = nb201._table()
    archs = list(table)
    shuffled = archs[:]
    random.Random(7).shuffle(shuffled)
    rows = {}
    for arch, other in zip(archs, shuffled):
        row, donor = table[arch], table[other]
        rows[arch] = nb201._Row(index=row.index, iso_class=row.iso_class, flops_m=row.flops_m, params_m=row.params_m,
                                val={**donor.val, "cifar10": row.val["cifar10"]},
                                test={**donor.test, "cifar10": row.test["cifar10"]})

    def clear():
        op_stats._top.cache_clear()
        knowledge._PRIORS.clear()

    clear()
    monkeypatch.setattr(nb201, "_table", lambda: rows)
    yield
    clear()


def test_a_default_search_reads_no_other_tasks_results(tmp_path, permuted_other_tasks, monkeypatch):
    common = dict(budget=4, pool_rea=1, pool_random=4, seed=3)
    _, result, permuted = run(tmp_path / "permuted", Scripted(answers=[edits_of_the_best]), **common)
    assert result["knowledge"] == "none"
    _, _, transferred_permuted = run(tmp_path / "t1", Scripted(answers=[edits_of_the_best]),
                                     transfer_from="nb201/imagenet16", **common)
    monkeypatch.undo()  # the real table again
    op_stats._top.cache_clear()
    knowledge._PRIORS.clear()
    _, _, original = run(tmp_path / "original", Scripted(answers=[edits_of_the_best]), **common)
    assert permuted == original and len(original) == 4
    # the control: a run told to use ImageNet16-120's results does see the permutation
    _, result, transferred = run(tmp_path / "t2", Scripted(answers=[edits_of_the_best]),
                                 transfer_from="nb201/imagenet16", **common)
    assert transferred != transferred_permuted
    assert result["knowledge"] == [{"task": "nb201/imagenet16", "source": "table",
                                    "what": "prior evidence: operation frequencies of its 50 best architectures"}]


def test_knowledge_is_recorded_in_the_result_and_the_journal(tmp_path):
    run_dir, result, _ = run(tmp_path / "twin", designer="none", budget=2, pool_random=4, pool_rea=0)
    started = next(e for e in run_dir.journal().events() if e.kind == "run")
    assert result["knowledge"] == started.data["knowledge"] == "none"
    assert result["contribution"].startswith("no model")
    # the transfer methods take the paper's source, stated the same way
    _, result, _ = run(tmp_path / "prior", graph="prior", dataset="cifar100", budget=2)
    assert result["knowledge"][0]["task"] == "nb201/imagenet16" and result["knowledge"][0]["source"] == "table"


def test_principles_from_memory_are_knowledge_and_memory_off_reads_none(tmp_path):
    memory = open_memory(load_settings())
    memory.save_principles("nb201/cifar100", [Principle(text="Use nor_conv_3x3 on every edge.")], [])
    _, result, _ = run(tmp_path / "a", Scripted(answers=[edits_of_the_best]), budget=1, pool_random=2, pool_rea=0,
                       principles_from="nb201/cifar100")
    assert result["knowledge"] == [{"task": "nb201/cifar100", "source": "memory",
                                    "what": "stored principles in the designer's prompt"}]
    # LAPT finds its source's principles stored: that is memory, and --memory off ignores it
    lapt_answer = {"principles": ["Use nor_conv_3x3 on every edge."],
                   "refined": {p: ["nor_conv_3x3", "nor_conv_1x1"] for p in EDGE_NAMES}}
    memory.save_principles("nb201/imagenet16", [Principle(text="Use nor_conv_3x3 on every edge.")], [],
                           {p: ["nor_conv_3x3", "nor_conv_1x1"] for p in EDGE_NAMES})
    settings = prepare(load_settings(runs_dir=tmp_path / "lapt", graph="lapt", budget=6))
    lapt = RunDir.create(settings)
    result = execute(lapt, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[lapt_answer]))})
    assert [k["source"] for k in result["knowledge"]] == ["table", "memory"]
    assert "principles version 1" in result["knowledge"][1]["what"]
    settings = prepare(load_settings(runs_dir=tmp_path / "off", graph="lapt", budget=6, memory="off"))
    off = RunDir.create(settings)
    result = execute(off, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[lapt_answer]))})
    assert [k["source"] for k in result["knowledge"]] == ["table"]


@pytest.mark.parametrize("flags, message", [
    ({"evidence": ["bogus"]}, "invalid evidence"),
    ({"evidence": ["prior"]}, "needs --transfer-from|reads another task"),
    ({"transfer_from": "nb201/cifar10"}, "target task itself"),
    ({"transfer_from": "transnas101/jigsaw"}, "within one space"),
    ({"transfer_from": "cifar100"}, "SPACE/DATASET"),
    ({"designer": "nobody"}, "invalid designer"),
    ({"memory": "maybe"}, "invalid memory"),
    ({"memory": "off", "principles_from": "nb201/cifar100"}, "--memory off"),
])
def test_bad_knowledge_settings_are_one_line_before_any_run_folder(tmp_path, flags, message):
    from errors import UserError

    with pytest.raises(UserError, match=message):
        prepare(load_settings(runs_dir=tmp_path, **flags))
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


# --- allocation: a good designer earns evaluations, a bad one loses them -------------------------


def by_test(dataset: str = "cifar10") -> list[str]:
    table = nb201._table()
    return sorted(table, key=lambda a: -table[a].test[dataset])


def model_evaluations(run_dir) -> list[bool]:
    """Per evaluation in order: was it one of the designer's candidates?"""
    chosen = {e.data["arch"]: e.data["source"] for e in run_dir.journal().events()
              if e.kind == "critic" and e.data.get("accept") and e.data.get("source")}
    return [chosen.get(e.data["arch"]) in ("llm", "edit") for e in run_dir.journal().events() if e.kind == "evaluation"]


def test_an_oracle_designer_earns_most_evaluations_and_the_top_at_once(tmp_path):
    """Default evidence (FLOPs and synflow): the oracle proposes from the table's 20 best by test accuracy."""
    top = by_test()
    oracle = top[:20]
    run_dir, result, evaluated = run(tmp_path, Scripted(answers=[proposing(oracle)]), budget=10, seed=1)
    ranks = [top.index(arch) + 1 for arch in evaluated[:5]]
    assert min(ranks) <= 0.005 * len(top)  # the table's top 0.5% within 5 evaluations
    mine = model_evaluations(run_dir)
    assert sum(mine) >= 6, mine
    credits = [e.data["credits"] for e in run_dir.journal().events() if e.kind == "critic" and "credits" in e.data]
    assert credits[-1]["model"]["mean"] > max(c["mean"] or 0 for g, c in credits[-1].items() if g != "model")


def adversary_cells(n: int = 60) -> list[str]:
    """Cells the FLOPs evidence ranks in its top fifth that CIFAR-10 rates in its bottom half."""
    table = nb201._table()
    flops = sorted(row.flops_m["cifar10"] for row in table.values())
    median = sorted(row.val["cifar10"] for row in table.values())[len(table) // 2]
    high = flops[int(0.8 * len(flops))]
    cells = [a for a, row in table.items() if row.flops_m["cifar10"] >= high and row.val["cifar10"] < median]
    return sorted(cells, key=lambda a: -table[a].flops_m["cifar10"])[:n]


def test_an_adversary_designer_loses_its_evaluations_and_does_no_harm(tmp_path):
    """Its proposals win the evidence (FLOPs) and lose on the table: at most 2 of 10 evaluations, and the
    search ends where the no-model twin does, seed for seed, within noise."""
    bad = adversary_cells()
    assert len(bad) >= 40
    scores, twins = [], []
    for seed in range(3):
        run_dir, result, _ = run(tmp_path / f"adv{seed}", Scripted(answers=[proposing(bad)]), budget=10, seed=seed,
                                 evidence=["flops"])
        assert sum(model_evaluations(run_dir)) <= 2
        scores.append(result["best"]["test_acc"])
        _, twin, _ = run(tmp_path / f"twin{seed}", designer="none", budget=10, seed=seed, evidence=["flops"])
        twins.append(twin["best"]["test_acc"])
    assert sum(scores) / 3 >= sum(twins) / 3 - 0.5, (scores, twins)


def test_the_designer_is_shown_its_candidates_standing(tmp_path):
    model = Scripted(answers=[edits_of_the_best])
    run(tmp_path, model, budget=3, pool_rea=1, pool_random=3)
    later = model.seen[-1][-1].content
    assert "Your proposals so far" in later


def test_show_prints_the_knowledge_and_the_allocation(tmp_path):
    from typer.testing import CliRunner

    import cli

    run_dir, _, _ = run(tmp_path, designer="none", budget=2, pool_rea=1, pool_random=3)
    shown = CliRunner().invoke(cli.app, ["show", run_dir.id, "--runs-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "knew: none" in shown.output and "credit" in shown.output
    as_json = json.loads(CliRunner().invoke(cli.app, ["show", run_dir.id, "--runs-dir", str(tmp_path), "--json"]).output)
    assert as_json["result"]["knowledge"] == "none"
