import re

from langchain_core.messages import AIMessage

from agents.inspector import NOT_FOUND, UNANSWERED, Inspector, answer_schema, retrieve
from agents.structured import Asker
from memory.journal import Journal
from tests.fakes import Scripted
from tools.inspect_run import RunLog


def evidence_steps(messages) -> list[int]:
    return [int(s) for s in re.findall(r"^\[step (\d+)\]", messages[-1].content, re.M)]


def inspector(run, model, tmp_path, **kwargs):
    return Inspector(Asker(role="inspector", label="scripted", model=model), RunLog(run),
                     Journal(tmp_path / "inspector.jsonl"), **kwargs)


def test_retrieval_picks_the_steps_a_question_needs(recorded_run):
    log = RunLog(recorded_run)
    steps = lambda q: {f.step for f in retrieve(q, log)}  # noqa: E731
    assert steps("Which proposals did the critic reject?") == {2, 3}
    assert steps("Was a fallback used?") == {4}
    assert 4 in steps("What happened at step 4?")
    best = log.ranked(n=1)[0].step
    assert best in steps("What was the best validation accuracy?")
    assert retrieve("What dropout rate was used?", log) == []
    counted = retrieve("How many proposals did the critic reject?", log)[0]
    assert counted.text == "2 proposals were rejected by the critic"  # a count to copy, not lines to count
    test = retrieve("What was the test accuracy of the best architecture?", log)[0]
    assert test.text.startswith("the best architecture's test accuracy was")  # the closest line first


def test_answer_cites_only_steps_in_the_evidence(recorded_run, tmp_path):
    def answer(messages):
        steps = evidence_steps(messages)
        return {"answer": "The critic rejected two repeats.", "cited_steps": steps + [999], "found": True}

    model = Scripted(answers=[answer])
    reply = inspector(recorded_run, model, tmp_path).ask("Which proposals did the critic reject?")
    assert reply.found and reply.cited_steps == [2, 3] and reply.answer.startswith("The critic")
    prompt = model.seen[0][-1].content
    assert "Which proposals did the critic reject?" in prompt and "[step 2]" in prompt
    kinds = [e.kind for e in Journal(tmp_path / "inspector.jsonl").events()]
    assert kinds == ["prompt", "answer"]  # the inspector's own log, not the run's


def test_found_without_valid_citations_is_grounded_in_the_evidence(recorded_run, tmp_path):
    best = RunLog(recorded_run).ranked(n=1)[0]
    acc = re.search(r"\d+\.\d\d%", best.text).group(0)
    model = Scripted(answers=[{"answer": f"The best was {acc}.", "cited_steps": [], "found": True}])
    reply = inspector(recorded_run, model, tmp_path).ask("What was the best validation accuracy?")
    assert reply.cited_steps == [best.step]


def test_absent_facts_get_not_in_the_log_without_guessing(recorded_run, tmp_path):
    model = Scripted(answers=[{"answer": "0.3", "cited_steps": [], "found": True}])
    reply = inspector(recorded_run, model, tmp_path).ask("What dropout rate was used?")
    assert reply.answer == NOT_FOUND and not reply.found and model.calls == 0
    # the log has lines on it, but the model does not answer from them: no guess, the closest line
    model = Scripted(answers=[{"answer": "unknown", "cited_steps": [], "found": False}])
    reply = inspector(recorded_run, model, tmp_path).ask("Why was step 2 rejected by the critic?")
    assert not reply.found and model.calls == 1 and reply.cited_steps == [reply.evidence[0].step]
    assert reply.answer == UNANSWERED.format(line=reply.evidence[0].line()) and "rejected" in reply.answer


def test_schema_restricts_citations_to_the_evidence():
    schema = answer_schema([2, 3]).model_json_schema()
    assert schema["properties"]["cited_steps"]["items"]["enum"] == [2, 3]


class ToolCaller(Scripted):
    """A scripted model that can be bound to tools (as OpenAI models are); dict answers with
    `tool_calls` come back as tool calls."""

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        from langchain_core.outputs import ChatGeneration, ChatResult

        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        if isinstance(answer, dict) and "tool_calls" in answer:
            self.counter[0] += 1
            self.seen.append(list(messages))
            return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=answer["tool_calls"]))])
        return super()._generate(messages, stop, run_manager, **kwargs)


def test_tool_loop_for_tool_calling_models(recorded_run, tmp_path):
    model = ToolCaller(answers=[
        {"tool_calls": [{"name": "search_events", "args": {"kind": "fallback"}, "id": "c1"}]},
        "I have what I need.",
        {"answer": "A fallback mutation was used at step 4.", "cited_steps": [4, 7], "found": True},
    ])
    reply = inspector(recorded_run, model, tmp_path, tool_calling=True).ask("Was a fallback used?")
    assert reply.found and reply.cited_steps == [4]
    assert [f.step for f in reply.evidence] == [4]
    tool_calls = [e for e in Journal(tmp_path / "inspector.jsonl").events() if e.kind == "tool_call"]
    assert tool_calls[0].data["tool"] == "search_events" and "[step 4]" in tool_calls[0].data["result"]


def test_an_answer_quoting_the_evidence_counts_as_found(recorded_run, tmp_path):
    """SmolLM2-135M answered "The best validation accuracy in this run was 88.48%" with found=false."""
    best = RunLog(recorded_run).ranked(n=1)[0]
    acc = re.search(r"\d+\.\d\d%", best.text).group(0)
    model = Scripted(answers=[{"answer": f"It was {acc}.", "cited_steps": [], "found": False}])
    reply = inspector(recorded_run, model, tmp_path).ask("What was the best validation accuracy?")
    assert reply.found and reply.cited_steps == [best.step]
