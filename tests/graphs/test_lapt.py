import pytest
from errors import UserError

from agents.structured import Asker
from graphs.remember import open_memory
from graphs.run import execute, prepare
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


def answer(messages):
    """A learner that answers each LAPT prompt with the schema it asks for."""
    prompt = messages[-1].content
    if "Turn these principles into a smaller search space" in prompt:
        return LEARNED
    if "found nothing better" in prompt:
        return {"principles": ["try 1x1 convolutions too"], "refined": {p: [C1, SK] for p in POSITIONS}}
    if "Update the design principles" in prompt:
        return {"principles": ["3x3 and 1x1 convolutions both help"], "refined": UPDATED}
    return {"principles": ["prefer 3x3 convolutions", "keep a skip connection"], "refined": LEARNED}


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


def test_full_graph_learns_transfers_searches_adapts_and_stores(tmp_path):
    run, result, model = run_lapt(tmp_path, dataset="cifar100", seed=3)
    lapt = result["lapt"]
    # learning on the paper's source (ImageNet16-120 top 50), then two adaptations
    assert lapt["source"] == "nb201/imagenet16" and lapt["source_version"] == 1
    assert model.calls == 3 and "1. [" in prompts(model)[0] and prompts(model)[0].count("\n") > 50
    # NB201, Table 1: 5 initial + 5 per round, 3 rounds = 20 evaluations, all distinct
    assert result["evaluations"] == lapt["search_cost"] == 20 == result["budget"]
    assert len({a for a, _ in lapt["trajectory"]}) == 20
    assert [r["evaluations"] for r in lapt["rounds"]] == [10, 5, 5]
    # every evaluation of a round lies inside that round's refined space
    position = 0
    for index, rnd in enumerate(lapt["rounds"]):
        refined = RefinedSpace.model_validate(rnd["refined"])
        for arch, _ in lapt["trajectory"][position:position + rnd["evaluations"]]:
            assert refined.contains(SPACE, arch)
        position += rnd["evaluations"]
    assert ops(lapt["rounds"][0]["refined"]["allowed"]) == ops(LEARNED)
    assert lapt["rounds"][0]["improved"] is True and lapt["rounds"][0]["adaptation"] == "update"
    assert lapt["rounds"][1]["adaptation"] == ("update" if lapt["rounds"][1]["improved"] else "explore")
    assert result["best"]["val_acc"] == max(v for _, v in lapt["trajectory"])
    # the source's and the adapted target's principles are in memory, with their tasks
    memory = open_memory(prepare(load_settings()))
    assert memory.principles("nb201/imagenet16").principles == ["prefer 3x3 convolutions", "keep a skip connection"]
    assert len(memory.principles("nb201/imagenet16").evidence) == 50
    assert memory.principles("nb201/cifar100").version == lapt["stored_version"] == 1
    assert len(memory.best_architectures("nb201", "cifar100", 50)) == 20  # every evaluation stored


def test_transfer_loads_the_source_tasks_principles(tmp_path):
    memory = open_memory(prepare(load_settings()))
    memory.save_principles("nb201/cifar10", ["pooling hurts"], [], {p: [C3, C1] for p in POSITIONS})
    run, result, model = run_lapt(tmp_path, dataset="cifar100", lapt={"transfer_from": "nb201/cifar10"})
    assert result["lapt"]["source"] == "nb201/cifar10"
    assert result["lapt"]["rounds"][0]["principles"] == ["pooling hurts"]
    assert ops(result["lapt"]["rounds"][0]["refined"]["allowed"]) == {p: {C1, C3} for p in POSITIONS}
    assert model.calls == 2  # adaptations only: nothing was learned again
    assert "P1. pooling hurts" in prompts(model)[0]


def test_stored_principles_without_a_space_are_translated(tmp_path):
    open_memory(prepare(load_settings())).save_principles("nb201/cifar10", ["3x3 convolutions win"], [])
    run, result, model = run_lapt(tmp_path, dataset="cifar100",
                                  lapt={"transfer_from": "nb201/cifar10", "ablation": "no-adaptation"})
    assert model.calls == 1 and "Turn these principles" in prompts(model)[0]
    assert ops(result["lapt"]["rounds"][0]["refined"]["allowed"]) == ops(LEARNED)


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
    assert ops(rounds[1]["refined"]["allowed"]) == ops(LEARNED)


def test_transnas101_uses_the_papers_budget(tmp_path):
    run, result, model = run_lapt(tmp_path, space="transnas101", dataset="class_object")
    lapt = result["lapt"]
    assert lapt["source"] == "transnas101/jigsaw"
    assert lapt["settings"]["top_r"] == 15 and lapt["settings"]["tournament"] == 5
    assert len(lapt["rounds"]) == 4 and lapt["rounds"][0]["members"] < 64  # the table has a few of the 2^6
    # a round stops early when its refined space (within the 711 cells) is exhausted
    assert [r["evaluations"] for r in lapt["rounds"]][0] == min(20, lapt["rounds"][0]["members"])
    assert result["evaluations"] <= 50
    table = set(get("transnas101").all_archs())
    position = 0
    for rnd in lapt["rounds"]:
        refined = RefinedSpace.model_validate(rnd["refined"])
        for arch, _ in lapt["trajectory"][position:position + rnd["evaluations"]]:
            assert arch in table and refined.contains(get("transnas101"), arch)
        position += rnd["evaluations"]


def test_transfer_between_spaces_is_refused(tmp_path):
    from errors import UserError

    with pytest.raises(UserError, match="within one space"):
        run_lapt(tmp_path, lapt={"transfer_from": "transnas101/jigsaw"})


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
        start(tmp_path, dataset="cifar10", lapt={"transfer_from": "nb201/cifar10"})
    assert not any(tmp_path.iterdir())


def test_the_default_source_is_never_the_target(tmp_path):
    settings = prepare(load_settings(runs_dir=tmp_path, graph="lapt", dataset="imagenet16"))
    assert settings.lapt.resolved(get("nb201"), "imagenet16").transfer_from == "nb201/cifar10"
