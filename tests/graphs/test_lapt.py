import pytest
from errors import UserError

from agents.structured import Asker
from graphs import knowledge
from graphs.remember import open_memory
from graphs.run import execute, prepare
from memory.store import Principle
from memory.runs import RunDir
from settings import load_settings
from spaces import get
from spaces.refined import RefinedSpace
from tests.fakes import Scripted

SPACE = get("nb201")
C3, C1, SK, AP, NO = "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"
POSITIONS = tuple(SPACE.proposal_schema.model_fields)
LEARNED = {p: [C3, SK] for p in POSITIONS}
UPDATED = {p: [C3, C1] for p in POSITIONS}


GOOD = ["Prefer nor_conv_3x3 on node2_from_1 and node1_from_0.",
        "Keep skip_connect on node3_from_0 as a residual path to the output."]
BAD = ["] {", "Use avg_pool_3x3 on node1_from_0 edges."]  # a fragment; a claim the statistics contradict


def answer(messages):
    """A learner that answers each LAPT prompt with the schema it asks for."""
    prompt = messages[-1].content
    if "Turn these principles into a smaller search space" in prompt:
        return LEARNED
    if "found nothing better" in prompt:
        return {"principles": ["Try nor_conv_1x1 next to skip_connect on every edge."],
                "refined": {p: [C1, SK] for p in POSITIONS}}
    if "Update the design principles" in prompt:
        return {"principles": ["Both nor_conv_3x3 and nor_conv_1x1 help on every edge."], "refined": UPDATED}
    return {"principles": GOOD + BAD, "refined": LEARNED}


def start(tmp_path, **overrides):
    settings = prepare(load_settings(runs_dir=tmp_path / "runs", graph="lapt", memory_write=True, **overrides))
    return RunDir.create(settings)


def run_lapt(tmp_path, **overrides):
    run = start(tmp_path, **overrides)
    model = Scripted(answers=[answer])
    result = execute(run, {"learner": Asker(role="learner", label="scripted", model=model)})
    return run, result, model


def ops(allowed: dict) -> dict:
    return {p: set(v) for p, v in allowed.items()}


def prompts(model):
    return [m[-1].content for m in model.seen]


def inside(rounds, trajectory, space=SPACE):
    """Every evaluation a round made by search (not a transferred seed) lies inside its refined space."""
    position = 0
    for rnd in rounds:
        refined = RefinedSpace.model_validate(rnd["refined"])
        for arch, _ in trajectory[position:position + rnd["evaluations"]]:
            yield arch, refined.contains(space, arch)
        position += rnd["evaluations"]


def test_full_graph_learns_transfers_searches_adapts_and_stores(tmp_path):
    run, result, model = run_lapt(tmp_path, dataset="cifar100", seed=3)
    lapt = result["lapt"]
    # learning on the paper's source (ImageNet16-120: its top 50 against the rest), then two adaptations
    assert lapt["source"] == "nb201/imagenet16" and lapt["source_version"] == 1
    first = prompts(model)[0]
    assert model.calls == 3 and "1. [" in first and "Statistics of the top 50 against the other 15575" in first
    assert "node3_from_0: skip_connect 70%/20%" in first
    # NB201, Table 1: 5 initial + 5 per round, 3 rounds = 20 evaluations, all distinct
    assert result["evaluations"] == lapt["search_cost"] == 20 == result["budget"]
    assert len({a for a, _ in lapt["trajectory"]}) == 20
    assert [r["evaluations"] for r in lapt["rounds"]] == [10, 5, 5]
    # the first population is the source's best architectures; the rest of the search stays inside Omega_r
    seeds = [e.data["arch"] for e in run.journal().events() if e.kind == "evaluation"][:5]
    transferred = next(e.data for e in run.journal().events() if e.data.get("event") == "lapt_transfer")
    assert seeds == transferred["seeds"][:5] and result["proposals"]["by_source"]["prior"] == 5
    assert all(ok for arch, ok in inside(lapt["rounds"], lapt["trajectory"]) if arch not in seeds)
    assert ops(lapt["rounds"][0]["refined"]["allowed"]) == ops(LEARNED)
    assert lapt["rounds"][0]["improved"] is True and lapt["rounds"][0]["adaptation"] == "update"
    assert lapt["rounds"][1]["adaptation"] == ("update" if lapt["rounds"][1]["improved"] else "explore")
    assert result["best"]["val_acc"] == max(v for _, v in lapt["trajectory"])
    # the fragment and the contradicted claim were dropped, with the reason journaled
    vetted = next(e.data for e in run.journal().events() if e.kind == "principles")
    assert [p["text"] for p in vetted["kept"]] == GOOD and not vetted["statistical"]
    assert [d["text"] for d in vetted["dropped"]] == BAD and "contradicts the statistics" in vetted["dropped"][1]["reason"]
    # the source's and the adapted target's principles are in memory, with their origin and evidence
    memory = open_memory(prepare(load_settings()))
    stored = memory.principles("nb201/imagenet16")
    assert stored.texts() == GOOD and {p.origin for p in stored.principles} == {"model"}
    assert "node3_from_0 skip_connect: top 35 (70%)" in stored.principles[1].evidence
    assert len(stored.evidence) == 50
    assert memory.principles("nb201/cifar100").version == lapt["stored_version"] == 1
    assert len(memory.best_architectures("nb201", "cifar100", 50)) == 20  # every evaluation stored


def test_transfer_loads_the_source_tasks_principles(tmp_path):
    memory = open_memory(prepare(load_settings()))
    saved = [Principle(text="Pooling hurts every cell, so avoid avg_pool_3x3 everywhere.")]
    memory.save_principles("nb201/cifar10", saved, [], {p: [C3, C1] for p in POSITIONS})
    run, result, model = run_lapt(tmp_path, dataset="cifar100", transfer_from="nb201/cifar10")
    assert result["lapt"]["source"] == "nb201/cifar10"
    assert [p["text"] for p in result["lapt"]["rounds"][0]["principles"]] == [saved[0].text]
    assert ops(result["lapt"]["rounds"][0]["refined"]["allowed"]) == {p: {C1, C3} for p in POSITIONS}
    assert model.calls == 2  # adaptations only: nothing was learned again
    assert "P1. Pooling hurts every cell" in prompts(model)[0]


def test_stored_principles_without_a_space_are_translated(tmp_path):
    open_memory(prepare(load_settings())).save_principles(
        "nb201/cifar10", [Principle(text="Use nor_conv_3x3 wherever a convolution fits.")], [])
    run, result, model = run_lapt(tmp_path, dataset="cifar100",
                                  transfer_from="nb201/cifar10", lapt={"ablation": "no-adaptation"})
    assert model.calls == 1 and "Turn these principles" in prompts(model)[0]
    assert ops(result["lapt"]["rounds"][0]["refined"]["allowed"]) == ops(LEARNED)


def test_degenerate_principles_never_reach_memory_and_the_statistics_stand_in(tmp_path):
    junk = {"principles": ["] {", "", "1.1.1.1.1", "Use sep_conv_5x5 on node1_from_0 edges."],
            "refined": {p: [C3] for p in POSITIONS}}
    run = start(tmp_path, dataset="cifar100", lapt={"ablation": "no-adaptation"})
    result = execute(run, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[junk]))})
    vetted = next(e.data for e in run.journal().events() if e.kind == "principles")
    assert vetted["statistical"] and len(vetted["dropped"]) == 4
    stored = open_memory(prepare(load_settings())).principles("nb201/imagenet16")
    assert stored.principles and {p.origin for p in stored.principles} == {"statistics"}
    assert all("% of the top 50" in p.text and p.evidence for p in stored.principles)
    assert result["lapt"]["principle_origins"] == ["statistics"] * len(stored.principles)
    # the refined space was not the one-cell answer: the statistics widened it to the floor
    assert result["lapt"]["rounds"][0]["members"] >= 32 and result["evaluations"] == 20


def test_a_thin_refined_space_is_widened_to_its_floor(tmp_path):
    thin = {"principles": GOOD, "refined": {p: [C3] for p in POSITIONS}}
    run = start(tmp_path, dataset="cifar100", lapt={"ablation": "no-adaptation", "min_cells": 40})
    result = execute(run, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[thin]))})
    rounds = result["lapt"]["rounds"]
    assert all(r["members"] >= 40 for r in rounds)
    assert all(C3 in ops for ops in rounds[0]["refined"]["allowed"].values())  # the model's choice is kept


def test_a_search_that_runs_out_says_so(tmp_path):
    one = {"principles": GOOD, "refined": {p: [C3] for p in POSITIONS}}
    run = start(tmp_path, dataset="cifar100", budget=40,
                lapt={"ablation": "no-adaptation", "min_cells": 1, "population": 2, "generations": 1})
    result = execute(run, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[one]))})
    assert result["evaluations"] < 40
    assert "no architecture left to evaluate" in result["stop_reason"] and "budget" not in result["stop_reason"]


def test_without_adaptation_the_first_space_is_searched_every_round(tmp_path):
    run, result, model = run_lapt(tmp_path, lapt={"ablation": "no-adaptation"})
    assert model.calls == 1  # the learning stage only
    assert all(ops(r["refined"]["allowed"]) == ops(LEARNED) for r in result["lapt"]["rounds"])
    assert result["evaluations"] == 20


def test_without_transfer_the_first_round_searches_the_whole_space(tmp_path):
    run, result, model = run_lapt(tmp_path, lapt={"ablation": "no-transfer"})
    rounds = result["lapt"]["rounds"]
    assert result["lapt"]["source"].startswith("none")
    assert all(len(ops) == 5 for ops in rounds[0]["refined"]["allowed"].values())
    assert rounds[0]["adaptation"] == "learn" and "These architectures performed well" in prompts(model)[0]
    assert all(set(LEARNED[p]) <= set(ops) for p, ops in rounds[1]["refined"]["allowed"].items())


def test_transnas101_uses_the_papers_budget(tmp_path):
    run, result, model = run_lapt(tmp_path, space="transnas101", dataset="class_object")
    lapt = result["lapt"]
    assert lapt["source"] == "transnas101/jigsaw"
    assert lapt["settings"]["top_r"] == 15 and lapt["settings"]["tournament"] == 5
    assert len(lapt["rounds"]) == 4 and result["evaluations"] <= 50
    table = set(get("transnas101").all_archs())
    assert all(arch in table for arch, _ in lapt["trajectory"])
    seeds = set(next(e.data for e in run.journal().events() if e.data.get("event") == "lapt_transfer")["seeds"])
    assert all(ok for arch, ok in inside(lapt["rounds"], lapt["trajectory"], get("transnas101")) if arch not in seeds)


def test_transfer_between_spaces_is_refused(tmp_path):
    from errors import UserError

    with pytest.raises(UserError, match="within one space"):
        run_lapt(tmp_path, transfer_from="transnas101/jigsaw")


def test_resume_after_a_crash_gives_the_uninterrupted_result(tmp_path):
    run = start(tmp_path)
    crashing = Scripted(answers=[answer], fail_on_call=2)  # in the first adaptation
    with pytest.raises(KeyboardInterrupt):
        execute(run, {"learner": Asker(role="learner", label="scripted", model=crashing)})
    resumed = execute(run, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[answer]))})
    _, clean, model = run_lapt(tmp_path / "clean")
    assert model.calls == 2  # the source principles the crashed run learned were kept in memory
    assert resumed["lapt"]["trajectory"] == clean["lapt"]["trajectory"] and resumed["evaluations"] == 20


def test_transferring_from_the_target_task_itself_is_refused_before_the_run_folder(tmp_path):
    with pytest.raises(UserError, match="target task itself"):
        start(tmp_path, dataset="cifar10", transfer_from="nb201/cifar10")
    assert not any(tmp_path.iterdir())


def test_the_default_source_is_never_the_target(tmp_path):
    settings = prepare(load_settings(runs_dir=tmp_path, graph="lapt", dataset="imagenet16"))
    assert knowledge.transfer_source(settings, get("nb201")) == "nb201/cifar10"


def test_a_larger_budget_keeps_the_papers_rounds_with_longer_ones(tmp_path):
    run, result, model = run_lapt(tmp_path, dataset="cifar100", budget=50)
    lapt = result["lapt"]
    assert len(lapt["rounds"]) == 3 and result["evaluations"] == 50 and model.calls == 3
    assert lapt["settings"]["generations"] == 3  # 5 + 3 rounds x 3 generations x 5 = 50
