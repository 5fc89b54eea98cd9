from tools.inspect_run import RunLog, tools


def evaluated(log):
    return {e.step: e.data for e in log.events if e.kind == "evaluation"}


def test_search_by_step_role_kind_arch_and_text(recorded_run):
    log = RunLog(recorded_run)
    rejected = [f for f in log.search(kind="critic") if "rejected" in f.text]
    assert [f.step for f in rejected] == [2, 3]
    assert all("duplicate" in f.text or "isomorphic" in f.text for f in rejected)
    assert [f.step for f in log.search(kind="fallback")] == [4]
    assert {f.step for f in log.search(step=5)} == {5}
    assert [f.step for f in log.search(role="designer", text="1x1 convolutions")] == [5]
    first = evaluated(log)[1]["arch"]
    assert {f.step for f in log.search(arch=first)} >= {1, 2, 3}
    assert log.search(text="transformer") == []


def test_best_worst_and_compare(recorded_run):
    log = RunLog(recorded_run)
    evals = evaluated(log)
    best_step = max(evals, key=lambda s: evals[s]["val_acc"])
    worst_step = min(evals, key=lambda s: evals[s]["val_acc"])
    assert log.ranked(n=1)[0].step == best_step and f"{evals[best_step]['val_acc']:.2f}%" in log.ranked(n=1)[0].text
    assert log.ranked(worst=True, n=1)[0].step == worst_step
    a, b = evals[best_step]["arch"], evals[worst_step]["arch"]
    diff = log.compare(a, b)
    assert [f.step for f in diff[:2]] == [best_step, worst_step]
    assert f"{evals[best_step]['val_acc'] - evals[worst_step]['val_acc']:.2f} points better" in diff[2].text


def test_archive_at_a_step_holds_only_what_was_evaluated_by_then(recorded_run):
    log = RunLog(recorded_run)
    assert [f.step for f in log.archive_at(1)] == [1]
    assert sorted(f.step for f in log.archive_at(4)) == [1, 4]
    assert len(log.archive_at(99)) == len(evaluated(log))
    assert log.principles_at(99) == []  # GENIUS has no learner


def test_prompt_and_answer_and_usage(recorded_run):
    log = RunLog(recorded_run)
    calls = log.prompt_and_answer(5)["calls"]
    assert [c["kind"] for c in calls] == ["prompt", "answer"]
    assert "1x1" in calls[1]["content"] and calls[0]["messages"][0]["role"] == "system"
    assert log.prompt_and_answer(4)["calls"] == []  # the fallback asked nobody
    total, calls, _ = log.usage()
    answers = [e for e in log.events if e.kind == "answer"]
    tokens = sum(e.tokens_in + e.tokens_out for e in answers)
    assert total.text == f"the designer used {tokens} tokens in total (scripted)"
    assert calls.text == f"the designer made {len(answers)} LLM calls" and calls.step == answers[-1].step


def test_overview_states_one_number_per_fact(recorded_run):
    texts = [f.text for f in RunLog(recorded_run).overview()]
    best = recorded_run.result()["best"]
    for expected in ("4 architectures were evaluated (budget 4)", "2 proposals were rejected by the critic",
                     "1 fallback mutations were used", f"the best architecture was {best['arch']}",
                     f"the best architecture's test accuracy was {best['test_acc']:.2f}%"):
        assert expected in texts


def test_reasoning_search_falls_back_to_word_overlap(recorded_run):
    hits = RunLog(recorded_run).reasoning("why average pooling on the first edge?")
    assert hits and hits[0].step == 6


def test_tools_are_langchain_tools(recorded_run):
    by_name = {t.name: t for t in tools(RunLog(recorded_run))}
    assert "[step 4]" in by_name["search_events"].invoke({"kind": "fallback"})
    assert by_name["archive_at_step"].invoke({"step": 0}) == "nothing in the log"


def test_reasoning_search_uses_the_chroma_memory_when_the_run_is_stored(tmp_path):
    from tests.recorded import record

    run = record(tmp_path / "runs", memory_write=True)  # conftest: a fresh memory folder, hashing embedding
    hits = RunLog(run).reasoning("Average pooling on the first edge smooths the input features.")
    assert hits[0].step == 6 and hits[0].text.startswith("the designer said: Average pooling")
    assert RunLog(run).reasoning("zebra quantum banana") == []  # nothing near: no evidence
