import json
import random
import re
from pathlib import Path

import pytest

from agents.structured import Asker
from errors import LLMError
from graphs import llmatic
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces import get
from spaces.nb201 import OPS, format_arch, parse
from spaces.nb201_code import cell_to_code, code_to_cell
from tests.fakes import Scripted

SPACE = get("nb201")
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def editing_model(**kwargs) -> Scripted:
    """Answers like a competent designer: takes the first cell in the prompt and puts a
    different operation on one edge, chosen from the prompt's text (deterministic)."""

    def edit(messages) -> str:
        prompt = str(messages[-1].content)
        ops = list(parse(code_to_cell(CODE_BLOCK.search(prompt).group(1))))
        rng = random.Random(prompt)
        k = rng.randrange(6)
        ops[k] = rng.choice([op for op in OPS if op != ops[k]])
        return "Here you go:\n```python\n" + cell_to_code(format_arch(ops)) + "```"

    return Scripted(answers=[edit], **kwargs)


def start(tmp_path, critic="rules", **llmatic_settings):
    """The paper's LLMatic (every readable offspring evaluated) unless another critic is asked for."""
    cfg = {"generations": 2, "batch": 6, "initial": 4, "answer": "code", **llmatic_settings}
    return RunDir.create(prepare(load_settings(runs_dir=tmp_path, graph="llmatic", critic=critic, llmatic=cfg)))


def designer(model):
    return {"designer": Asker(role="designer", label="scripted", model=model)}


def offspring(run):
    return [e.data for e in run.journal().events() if e.kind == "offspring"]


def test_llmatic_end_to_end(tmp_path):
    run = start(tmp_path)
    model = editing_model()
    result = execute(run, designer(model))
    children = offspring(run)
    assert len(children) == 4 + 2 * 6 and model.calls == 2 * 6
    assert {c["operator"] for c in children} <= {"init", "mutation", "crossover"}
    stats = result["llmatic"]["per_generation"]
    assert [s["generation"] for s in stats] == [0, 1, 2]
    assert all(0 < s["coverage"] <= 1 and s["qd_score"] > 0 for s in stats)
    assert result["llmatic"]["parsed_fraction"] == 1.0
    assert result["best"]["val_acc"] == max(s["best_val_acc"] for s in stats)
    for figure in result["llmatic"]["figures"]:
        assert (run.path / figure).stat().st_size > 1000
    mutations = [c for c in children if c["operator"] == "mutation"]
    assert mutations and all(0.0 <= c["temperature"] <= 1.0 for c in mutations)
    assert all(abs(c["next_temperature"] - c["temperature"]) == pytest.approx(0.05)
               or c["next_temperature"] in (0.0, 1.0) for c in mutations)


def test_unreadable_code_is_untrainable(tmp_path):
    run = start(tmp_path, generations=1, batch=4, p_mutation=1.0)
    result = execute(run, designer(Scripted(answers=["I would add more layers."])))
    llm_children = [c for c in offspring(run) if c["operator"] != "init"]
    assert all(c["outcome"] == "untrainable" and c["detail"] for c in llm_children)
    assert result["llmatic"]["parsed_fraction"] == 0.0 and result["llmatic"]["untrainable"] == 4
    assert all(c["next_temperature"] == pytest.approx(max(c["temperature"] - 0.05, 0.0)) for c in llm_children)


@pytest.mark.parametrize("ablation,operators", [
    ("mutation-only", {"mutation"}), ("crossover-only", {"crossover"}), ("random", {"random"}),
    ("none", {"mutation", "crossover"}), ("network-archive-only", {"mutation", "crossover"}),
    ("prompt-archive-only", {"mutation", "crossover"})])
def test_ablation_wiring(tmp_path, ablation, operators):
    run = start(tmp_path, generations=1, batch=12, ablation=ablation)
    result = execute(run, designer(editing_model()))
    made = {c["operator"] for c in offspring(run) if c["generation"] == 1}
    assert made == operators
    assert result["llmatic"]["settings"]["ablation"] == ablation


def test_temperature_adaptation():
    child = llmatic.Offspring(generation=1, index=0, operator="mutation", prompt_id=0, temperature=0.6, val_acc=80.0)
    up = llmatic.adapt(child, best=80.0, step=0.05)  # equal to the previous best: up, but no prompt fitness
    assert up.next_temperature == pytest.approx(0.65) and not up.beat_previous_best
    down = llmatic.adapt(child, best=81.0, step=0.05)
    assert down.next_temperature == pytest.approx(0.55) and not down.beat_previous_best
    better = llmatic.adapt(child, best=79.0, step=0.05)
    assert better.beat_previous_best
    assert llmatic.adapt(child.model_copy(update={"temperature": 1.0}), 0.0, 0.05).next_temperature == 1.0
    assert llmatic.adapt(child.model_copy(update={"temperature": 0.02, "val_acc": None}), 0.0, 0.05).next_temperature == 0.0
    crossover = child.model_copy(update={"operator": "crossover"})
    assert llmatic.adapt(crossover, 0.0, 0.05).next_temperature is None


def test_resume_mid_generation_repeats_nothing(tmp_path):
    run = start(tmp_path, generations=2, batch=5, max_concurrency=1)
    with pytest.raises(LLMError):
        execute(run, designer(editing_model(fail_on_call=8, crash=RuntimeError)))
    before = offspring(run)
    assert len(before) == 4 + 5  # init, generation 1; generation 2 had two answers when it crashed
    assert sum(e.kind == "answer" and e.data.get("generation") == 2 for e in run.journal().events()) == 2
    model = editing_model()
    result = execute(RunDir.open(tmp_path, run.id), designer(model))
    after = offspring(run)
    keys = [(c["generation"], c["index"]) for c in after]
    assert len(keys) == len(set(keys)) == 4 + 2 * 5
    assert model.calls == 3  # only the missing offspring of generation 2
    assert result["llmatic"]["offspring"] == 10
    evaluated = [e.data["arch"] for e in run.journal().events() if e.kind == "evaluation"]
    assert len(evaluated) == len(set(evaluated))


def test_concurrency_overlaps_calls(tmp_path):
    """With max_concurrency > 1 the LLM calls of a generation are in flight together."""
    from tests.fakes import Overlap

    overlap, model = Overlap(0.05), editing_model()
    inner = model.answers[0]

    def slow(messages):
        with overlap:
            return inner(messages)

    model.answers = [slow]
    execute(start(tmp_path, generations=1, batch=6, max_concurrency=3), designer(model))
    assert overlap.peak == 3


def test_the_evidence_critic_fills_each_batch_with_the_best_of_offspring_and_contained_search(tmp_path):
    run = start(tmp_path, critic="evidence", generations=None, batch=6, initial=4)
    settings = run.settings().model_copy(update={"budget": 16})
    run.config_path.write_text(settings.model_dump_json())
    result = execute(run, designer(editing_model()))
    assert result["evaluations"] == 16 and result["stop_reason"] == "budget reached"
    children = offspring(run)
    evaluated = [c for c in children if c["outcome"] in ("added", "not_added")]
    assert len({c["arch"] for c in evaluated}) == 16
    assert {c["operator"] for c in evaluated} <= {"init", "mutation", "crossover", "baseline"}
    # a generation's critic event holds the ranking it chose from
    rankings = [e.data for e in run.journal().events() if e.kind == "critic" and e.data.get("kind") == "ranked"]
    assert len(rankings) == 2 and all(r["pool"] >= 6 and r["kinds"] == ["flops", "synflow"] for r in rankings)
    # offspring the Critic ranked out cost nothing and their prompt hears it
    ranked_out = [c for c in children if c["outcome"] == "ranked_out"]
    assert all(c["arch"] and "not evaluated" in c["detail"] for c in ranked_out)
    assert len(evaluated) + len(ranked_out) + sum(c["outcome"] == "untrainable" for c in children) == len(children)


def test_a_model_that_writes_no_code_still_gets_the_contained_search(tmp_path):
    run = start(tmp_path, critic="evidence", generations=2, batch=4, initial=2)
    result = execute(run, designer(Scripted(answers=["I would add more layers."])))
    assert result["evaluations"] == 2 + 2 * 4 and result["llmatic"]["parsed_fraction"] == 0.0
    assert {c["operator"] for c in offspring(run) if c["outcome"] in ("added", "not_added")} == {"init", "baseline"}


def test_the_budget_cuts_the_last_generation(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, graph="llmatic", budget=9, critic="rules",
                                              llmatic={"batch": 4, "answer": "code"})))
    result = execute(run, designer(editing_model()))
    assert result["evaluations"] == 9  # 2 random (a fifth of the budget, at least 2), then batches of 4 cut to fit
    offspring_per_generation = [s["offspring"] for s in result["llmatic"]["per_generation"]]
    assert offspring_per_generation[:3] == [2, 4, 3]  # a repeat is not an evaluation: more generations may follow
    assert all(n <= 4 for n in offspring_per_generation)


def edit_answers(messages):
    """A small model answering the structured operators: a change of the first position to 3x3
    convolutions for a mutation, a fixed layer list for a crossover."""
    prompt = str(messages[-1].content)
    if "one or two changes" in prompt:
        op = "nor_conv_3x3" if "node1_from_0: nor_conv_3x3" not in prompt else "nor_conv_1x1"
        return {"changes": [{"position": "node1_from_0", "op": op}]}
    return {"architecture": ["nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                             "nor_conv_3x3"]}


def test_edit_answers_are_always_valid_architectures_and_resume_from_the_journal(tmp_path):
    run = start(tmp_path, answer="edit", generations=2, batch=5, initial=3)
    model = Scripted(answers=[edit_answers], fail_on_call=8, crash=RuntimeError)
    with pytest.raises(LLMError):
        execute(run, designer(model))
    model = Scripted(answers=[edit_answers])
    result = execute(RunDir.open(tmp_path, run.id), designer(model))
    assert model.calls == 3  # generation 2 had two answers journaled before the crash
    llm = [c for c in offspring(run) if c["operator"] in ("mutation", "crossover")]
    assert len(llm) == 10 and all(c["arch"] for c in llm) and result["llmatic"]["parsed_fraction"] == 1.0
    mutated = [c for c in llm if c["operator"] == "mutation"]
    for child in mutated:  # one change of the parent, at the position the answer named
        assert sum(a != b for a, b in zip(parse(child["parents"][0]), parse(child["arch"]))) == 1
    prompts = [e.data for e in run.journal().events() if e.kind == "prompt" and e.data.get("operator") == "mutation"]
    assert prompts and "node1_from_0:" in prompts[0]["messages"][-1]["content"]


@pytest.mark.slow
def test_real_embedded_model_runs_one_generation_from_the_cli(tmp_path):
    """The embedded model writes code for a real LLMatic generation; whatever it writes is
    classified (a parsed cell or a reason), and the CLI still prints its summary: loading
    the model from several threads at once once silenced stdout for good."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "cli.py"), "search", "--graph", "llmatic", "--generations", "1",
                           "--batch", "3", "--max-concurrency", "3", "--runs-dir", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "saved:" in done.stdout and "network archive" in done.stdout
    (run_dir,) = tmp_path.iterdir()
    run = RunDir(run_dir)
    children = [c for c in offspring(run) if c["generation"] == 1]
    planned = [c for c in children if c["operator"] != "baseline"]  # the model's three answers
    assert len(planned) == 3 and len(children) - len(planned) <= 3  # the Critic adds at most a batch of baseline cells
    assert all(c["arch"] is not None or c["detail"] for c in planned)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["usage"]["designer"]["calls"] == 3 and result["usage"]["designer"]["tokens_out"] > 0
    assert (run_dir / "network_archive.png").exists()


def test_the_next_prompts_quote_why_an_earlier_answer_could_not_be_used(tmp_path):
    run = start(tmp_path, generations=2, batch=2, p_mutation=1.0)
    model = Scripted(answers=["I would add more layers."])
    execute(run, designer(model))
    second = [m[-1].content for m in model.seen[2:]]
    assert second and all("An earlier answer could not be used: the code does not parse" in p for p in second)
    assert "An earlier answer" not in model.seen[0][-1].content


@pytest.mark.parametrize("seed", range(4))
def test_isomorphic_offspring_never_cost_an_evaluation_past_the_budget(tmp_path, seed):
    """A model that answers a network isomorphic to an evaluated one (NB201: an edit on an edge
    whose node is unused) must not be evaluated again: runs went to 11 evaluations of 10."""
    from spaces import get

    settings = load_settings(runs_dir=tmp_path, graph="llmatic", critic="evidence", budget=10, seed=seed,
                             llmatic={"answer": "code", "initial": 2})
    run = RunDir.create(prepare(settings))
    result = execute(run, designer(editing_model()))
    evaluated = [e.data for e in run.journal().events() if e.kind == "evaluation"]
    canonical = {get("nb201").canonical(e["arch"]) for e in evaluated}
    assert result["evaluations"] == len(canonical) == 10
    twins = [c for c in offspring(run) if "isomorphic" in (c.get("detail") or "")]
    assert all(c["outcome"] == "ranked_out" for c in twins)
