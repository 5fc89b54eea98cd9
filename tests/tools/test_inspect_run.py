import json
from pathlib import Path

import pytest

from memory.runs import RunDir
from tools.inspect_run import (ArchiveAt, AtStep, Best, Count, CriticAt, EvaluationAt, Principles, Ranked, RunInfo,
                               RunLog, StepOf, Tokens, Why, parse_query, tools)

FROZEN = Path(__file__).resolve().parents[1] / "data" / "inspector"  # three recorded runs (questions.json)


def evaluated(log):
    return {e.step: e.data for e in log.events if e.kind == "evaluation"}


def test_best_quotes_result_json_exactly_and_cites_its_step(recorded_run):
    log, best = RunLog(recorded_run), recorded_run.result()["best"]
    answer = log.answer(Best())
    assert answer.found and answer.steps == [best["step"]] and answer.query == "best()"
    for value in (best["arch"], str(best["val_acc"]), str(best["test_acc"]), str(best["rank"]), best["source"]):
        assert value in answer.text  # as journaled: 91.553333, not 91.55
    assert answer.values[:2] == [best["arch"], str(best["val_acc"])]


def test_counts_list_the_steps_they_count(recorded_run):
    log = RunLog(recorded_run)
    rejected = log.answer(Count(kind="rejections"))
    assert rejected.values[0] == "2" and rejected.steps == [2, 3] and "2 duplicate" in rejected.text
    fallbacks = log.answer(Count(kind="fallbacks"))
    assert fallbacks.values == ["1", "4"] and fallbacks.steps == [4] and "2 rounds in a row" in fallbacks.text
    assert log.answer(Count(kind="evaluations")).values == ["4"]
    assert log.answer(Count(kind="parse_failures")).text.startswith("0 LLM answers did not parse")


def test_tokens_per_role_are_summed_from_the_answers(recorded_run):
    log = RunLog(recorded_run)
    answers = [e for e in log.events if e.kind == "answer"]
    total = sum(e.tokens_in + e.tokens_out for e in answers)
    designer = log.answer(Tokens(role="designer"))
    assert designer.values == [str(len(answers)), str(total)] and designer.steps == sorted({e.step for e in answers})
    assert log.answer(Tokens(role="critic")).text == "The critic made no LLM call in this run (0 tokens)."
    assert log.answer(Count(kind="llm_calls")).values == designer.values


def test_step_queries_and_steps_the_log_does_not_have(recorded_run):
    log = RunLog(recorded_run)
    critic = log.answer(CriticAt(step=2))
    assert critic.found and critic.steps == [2] and "rejected (duplicate)" in critic.text
    assert log.answer(CriticAt(step=1)).values[1] == "accepted"
    evaluation = log.answer(EvaluationAt(step=5))
    assert evaluation.values == [evaluated(log)[5]["arch"], str(evaluated(log)[5]["val_acc"])]
    assert log.answer(EvaluationAt(step=2)).text == "No architecture was evaluated at step 2."
    assert 4 in log.answer(AtStep(step=4)).steps
    for query in (CriticAt(step=99), EvaluationAt(step=99), AtStep(step=99), Why(step=99)):
        missing = log.answer(query)
        assert not missing.found and missing.text.startswith("not in the log: the journal has no step 99")


def test_step_of_an_architecture(recorded_run):
    log = RunLog(recorded_run)
    first = evaluated(log)[1]["arch"]
    answer = log.answer(StepOf(arch=first))
    assert answer.steps == [1, 2, 3] and "evaluated at step 1" in answer.text and "rejected it at steps 2, 3" in answer.text
    assert not log.answer(StepOf(arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")).found


def test_why_quotes_the_journaled_reasons_at_a_step(recorded_run):
    log = RunLog(recorded_run)
    answer = log.answer(Why(step=5))
    assert answer.steps == [5] and '"Cheaper 1x1 convolutions may generalise better."' in answer.text
    assert "Cheaper 1x1 convolutions may generalise better." in answer.values
    assert '"2 rounds in a row were rejected"' in log.answer(Why(step=4)).text
    closest = log.answer(Why(text="why average pooling on the first edge?"))
    assert closest.steps[0] == 6 and "Average pooling" in closest.text
    assert not log.answer(Why(text="zebra quantum banana")).found


def test_a_genius_run_has_no_principles_but_an_archive_and_settings(recorded_run):
    log = RunLog(recorded_run)
    assert log.answer(Principles()).text == "not in the log: this genius run adopted no design principles"
    assert log.answer(ArchiveAt()).values == ["4"] and log.answer(ArchiveAt(step=1)).values == ["1"]
    info = log.answer(RunInfo())
    assert info.values == ["genius", "nb201", "cifar10"] and "budget 4" in info.text


def test_llmatic_steps_are_generations():
    log = RunLog(RunDir(FROZEN / "llmatic"))
    best = log.answer(Best())
    assert best.steps == [0] and "found at generation 0 (distinct cell no. 7)" in best.text
    assert log.steps() == {0, 1}  # the result event's step counts cells, not generations
    assert log.answer(CriticAt(step=1)).text == "not in the log: this llmatic run journaled no critic verdict"
    assert "journal has no generation 5 (it has generations 0 to 1)" in log.answer(AtStep(step=5)).text
    assert log.answer(Count(kind="parse_failures")).values == ["4"]  # LLM offspring that were not cells
    archive = log.answer(ArchiveAt(step=1))
    assert archive.values == ["6", "0.06", "495.414"] and archive.steps == [1]


def test_lapt_principles_history():
    log = RunLog(RunDir(FROZEN / "lapt"))
    history = log.answer(Principles())
    assert history.steps == [0, 1] and history.values == ["nb201/imagenet16", "update"]
    assert "step 1: update (improved)" in history.text and "(empty)" in history.text
    assert log.answer(Principles(step=0)).steps == [0]
    assert log.answer(Why(step=1)).values == ["the round improved the best"]
    assert [f.step for f in log.principles_at(9)] == [0] * 5 + [1] * 5  # the learner's answers (cli report)
    rounds = log.answer(ArchiveAt(step=2))
    assert rounds.steps == [1, 2] and "best 9.712%" in rounds.text


def _write_run(folder: Path, events: list[dict], config: dict, result: dict | None = None) -> RunDir:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    lines = [json.dumps({"seq": i, "ts": 1.0 + i, **e}) for i, e in enumerate(events)]
    (folder / "events.jsonl").write_text("\n".join(lines[:2] + ["{not json", "{\"seq\": 9}"] + lines[2:]) + "\n")
    if result is not None:
        (folder / "result.json").write_text(json.dumps(result))
    return RunDir(folder)


def test_unknown_kinds_fields_and_settings_are_read_not_refused(tmp_path):
    """Newer graphs journal kinds and fields this module does not know (a Critic ranking with
    evidence, trial sources such as edit or baseline, principle events with an origin), and newer
    settings have fields the current Settings refuses: the run must still be inspectable."""
    arch_a, arch_b = "|a~0|+|b~0|b~1|", "|c~0|+|d~0|d~1|"
    events = [
        {"step": 0, "kind": "run", "data": {"event": "started"}},
        {"step": 1, "kind": "ranking", "role": "critic", "data": {"pool": 3, "evidence": {arch_a: {"synflow": 1.5}}}},
        {"step": 1, "kind": "critic", "role": "critic", "data": {"arch": arch_a, "accept": True, "kind": "ranked",
                                                                 "reason": "best evidence", "source": "edit", "score": 0.9}},
        {"step": 1, "kind": "evaluation", "data": {"arch": arch_a, "val_acc": 70.5, "dataset": "cifar10"}},
        {"step": 2, "kind": "evaluation", "data": {"arch": arch_b, "val_acc": None, "failure": "timeout"}},
        {"step": 2, "kind": "principle", "data": {"principles": ["wide first edge"], "origin": "statistics"}},
        {"step": 3, "kind": "answer", "role": "designer", "model": "m", "tokens_in": 5, "tokens_out": 2,
         "data": {"parsed": {"rationale": "try it"}}, "shiny_new_field": 1},
    ]
    run = _write_run(tmp_path / "run", events, {"graph": "genius", "space": "nb201", "dataset": "cifar10",
                                                "seed": 0, "budget": 2, "future_setting": {"x": 1}})
    log = RunLog(run)
    assert [e.kind for e in log.events].count("ranking") == 1 and len(log.events) == len(events)
    best = log.answer(Best())  # no result.json yet: from the journal, without a test accuracy
    assert best.values[:2] == [arch_a, "70.5"] and "test accuracy is not in the log" in best.text
    assert log.answer(Count(kind="evaluations")).text == "2 architectures were evaluated (1 of them failed) at steps 1, 2 (budget 2)."
    assert log.answer(CriticAt(step=1)).values == [arch_a, "accepted"]
    principles = log.answer(Principles())
    assert principles.steps == [2] and "origin statistics" in principles.text
    assert "It has no result.json: it did not finish." in log.answer(RunInfo()).text
    assert log.timeline()  # cli show still works


def test_queries_parse_from_names_and_arguments():
    assert parse_query("critic_at", {"step": 3}) == CriticAt(step=3)
    assert parse_query("count", {"kind": "fallbacks"}) == Count(kind="fallbacks")
    assert parse_query("ranked", {"n": 2, "worst": True}) == Ranked(n=2, worst=True)
    assert parse_query("count", {"kind": "bananas"}) is None
    assert parse_query("critic_at", {}) is None
    assert parse_query("rm_rf", {}) is None


def test_tools_are_the_queries(recorded_run):
    by_name = {t.name: t for t in tools(RunLog(recorded_run))}
    assert set(by_name) == {"best", "ranked", "count", "tokens", "critic_at", "evaluation_at", "at_step", "step_of",
                            "why", "principles", "archive", "run_info"}
    assert by_name["count"].invoke({"kind": "fallbacks"}).endswith("[steps 4]")
    assert by_name["critic_at"].invoke({"step": 99}).startswith("not in the log")
    with pytest.raises(Exception):
        by_name["count"].invoke({"kind": "bananas"})


def test_reasoning_search_uses_the_chroma_memory_when_the_run_is_stored(tmp_path):
    from tests.recorded import record

    run = record(tmp_path / "runs", memory_write=True)  # conftest: a fresh memory folder, hashing embedding
    hits = RunLog(run).reasoning("Average pooling on the first edge smooths the input features.")
    assert hits[0].step == 6 and hits[0].text.startswith("the designer said: Average pooling")
    assert RunLog(run).reasoning("zebra quantum banana") == []  # nothing near: no evidence
