import io

from rich.console import Console

from agents.structured import Asker
from graphs.run import execute, prepare
from memory.runs import RunDir
from render import ask_approval
from settings import load_settings
from tests.fakes import Scripted
from tests.graphs.test_genius import DISTINCT, events
from tests.graphs.test_lapt import POSITIONS, answer
from spaces.nb201_code import cell_to_code
from tests.graphs.test_llmatic import editing_model

EDITED = "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ADDED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MINE = "Prefer nor_conv_3x3 on node1_from_0 and skip_connect on node3_from_0."


def designer():
    return {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=DISTINCT))}


def test_user_rejects_edits_and_accepts_proposals(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, budget=2, approve=True)))
    shown, decisions = [], iter([{"action": "reject"}, {"action": "edit", "arch": EDITED}, {"action": "accept"}])

    def decide(proposal):
        shown.append(proposal)
        return next(decisions)

    # without an answer the run pauses at the first proposal, evaluates nothing, and is resumable
    assert execute(run, designer()) == {} and not events(run, "evaluation") and run.status() == "interrupted"
    states = []
    result = execute(run, designer(), on_state=states.append, on_interrupt=decide)
    assert result["evaluations"] == 2 and states[-1].done  # the pauses' own stream chunks are skipped
    assert [p["step"] for p in shown] == [1, 2, 3] and shown[0]["proposal"]["node1_from_0"] == "nor_conv_3x3"
    human = [e.data for e in events(run, "critic") if e.role == "human"]
    assert [(d["kind"], d["accept"]) for d in human] == [("reject", False), ("edit", True), ("accept", True)]
    evaluated = [(e.step, e.data["arch"]) for e in events(run, "evaluation")]
    assert evaluated[0] == (2, EDITED) and evaluated[1][0] == 3
    assert human[1]["proposed"] != EDITED and result["proposals"]["rejected_by_critic"] == 1


def test_an_invalid_edit_counts_as_a_rejection(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, budget=1, approve=True)))
    decisions = iter([{"action": "edit", "arch": "|conv~0|"}, {"action": "accept"}])
    execute(run, designer(), on_interrupt=lambda proposal: next(decisions))
    human = [e.data for e in events(run, "critic") if e.role == "human"]
    assert not human[0]["accept"] and "not a valid architecture" in human[0]["reason"]


def terminal(monkeypatch, lines: list[str]):
    """A user at the terminal typing `lines`, and the console the prompts print to."""
    typed = iter(lines)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    return Console(file=io.StringIO(), width=200)


def test_llmatic_batches_are_edited_and_rejected_at_the_terminal(tmp_path, monkeypatch):
    settings = prepare(load_settings(runs_dir=tmp_path, graph="llmatic", critic="rules", approve=True,
                                     llmatic={"generations": 2, "batch": 4, "initial": 4, "answer": "code"}))
    run, console = RunDir.create(settings), terminal(monkeypatch, [
        "e", "1", "|conv~0|", ADDED, "",  # generation 1: drop the first, a typo (asked again), add one
        "r"])                             # generation 2: evaluate none of them
    shown = []

    def ask(proposal):
        shown.append(proposal)
        return ask_approval(console, settings, proposal)

    result = execute(run, {"designer": Asker(role="designer", label="scripted", model=editing_model())},
                     on_interrupt=ask)
    first, second = ([c["arch"] for c in p["batch"]] for p in shown)
    children = {(e.data["generation"], e.data["arch"]): e.data for e in events(run, "offspring")}
    assert children[(1, first[0])]["outcome"] == "ranked_out" and "rejected by the user" in children[(1, first[0])]["detail"]
    assert children[(1, ADDED)]["operator"] == "human" and children[(1, ADDED)]["val_acc"] is not None
    assert all(children[(2, arch)]["outcome"] == "ranked_out" for arch in second)
    assert result["evaluations"] == 4 + 3 + 1 and result["proposals"]["by_source"]["human"] == 1
    human = [(e.step, e.data["kind"], e.data["accept"]) for e in events(run, "critic") if e.role == "human"]
    assert human == [(1, "reject", False)] + [(1, "edit", True)] * 3 + [(1, "edit", True)] + [(2, "reject", False)] * 4
    assert "not an NB201 arch string" in console.file.getvalue() and "[a]ccept" in console.file.getvalue()


def test_lapt_principles_and_spaces_are_edited_rejected_and_accepted_at_the_terminal(tmp_path, monkeypatch):
    settings = prepare(load_settings(runs_dir=tmp_path / "runs", graph="lapt", approve=True))
    first = POSITIONS[0]
    run, console = RunDir.create(settings), terminal(monkeypatch, [
        "e", MINE, "", "conv9", "nor_conv_3x3, skip_connect", *[""] * (len(POSITIONS) - 1),  # the transfer: edited
        "r",                                                                                  # round 2: rejected
        "a"])                                                                                 # round 3: accepted
    result = execute(run, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[answer]))},
                     on_interrupt=lambda proposal: ask_approval(console, settings, proposal))
    rounds = result["lapt"]["rounds"]
    assert [p["text"] for p in rounds[0]["principles"]] == [MINE] and rounds[0]["principles"][0]["origin"] == "human"
    assert rounds[0]["refined"]["allowed"][first] == ["nor_conv_3x3", "skip_connect"]
    assert rounds[1]["refined"] == rounds[0]["refined"] and rounds[1]["principles"] == rounds[0]["principles"]
    assert rounds[2]["refined"]["allowed"] != rounds[0]["refined"]["allowed"]  # the learner's adaptation, accepted
    human = [(e.data["kind"], e.data["accept"]) for e in events(run, "critic") if e.role == "human"]
    assert human == [("edit", True), ("reject", False), ("accept", True)]
    assert "takes one or more of" in console.file.getvalue()


def test_an_invalid_space_edit_counts_as_a_rejection(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path / "runs", graph="lapt", approve=True, budget=5)))
    decisions = iter([{"action": "edit", "refined": {POSITIONS[0]: ["conv9"]}}])
    result = execute(run, {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[answer]))},
                     on_interrupt=lambda proposal: next(decisions, {"action": "accept"}))
    human = [e.data for e in events(run, "critic") if e.role == "human"]
    assert not human[0]["accept"] and "takes one or more of" in human[0]["reason"]
    assert result["lapt"]["rounds"][0]["principles"] == []  # rejected at the start: no transfer, the whole space


def test_a_batch_holding_one_cell_twice_loses_no_offspring(tmp_path):
    settings = prepare(load_settings(runs_dir=tmp_path, graph="llmatic", critic="rules", approve=True,
                                     llmatic={"generations": 1, "batch": 3, "initial": 2, "answer": "code"}))
    run = RunDir.create(settings)
    same = "```python\n" + cell_to_code(ADDED) + "```"  # every offspring is the same cell
    execute(run, {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=[same]))},
            on_interrupt=lambda proposal: {"action": "reject"})
    bred = [e.data for e in events(run, "offspring") if e.data["generation"] == 1]
    assert len(bred) == 3 and all(c["outcome"] == "ranked_out" for c in bred)
    assert [e.data["kind"] for e in events(run, "critic") if e.role == "human"] == ["reject"] * 3
