import json
import re

from langchain_core.messages import AIMessage

from agents.inspector import NOT_FOUND, Inspector, faithful, pick_schema, route
from agents.structured import Asker
from memory.journal import Journal
from tests.fakes import Scripted
from tools.inspect_run import Answer, Best, RunLog, call


def inspector(run, model, tmp_path, **kwargs):
    return Inspector(Asker(role="inspector", label="scripted", model=model), RunLog(run),
                     Journal(tmp_path / "inspector.jsonl"), **kwargs)


def facts_of(messages) -> str:
    return re.search(r"^Facts: (.*)$", messages[-1].content, re.M).group(1)


def copy_facts(messages):
    return {"answer": facts_of(messages)}


def test_router_lists_the_queries_a_question_may_mean(recorded_run):
    log = RunLog(recorded_run)
    first = {e.step: e.data["arch"] for e in log.events if e.kind == "evaluation"}[1]
    routes = lambda q: [call(x) for x in route(q, log)]  # noqa: E731
    assert routes("Which architecture was best and what was its validation accuracy?") == ["best()"]
    assert routes("How many proposals did the critic reject?") == ["count(kind='rejections')"]
    assert routes("Was a fallback used?") == ["count(kind='fallbacks')"]
    assert routes("How many tokens did the designer use?") == ["tokens(role='designer')"]
    assert routes("What did the critic say at step 2?") == ["critic_at(step=2)", "at_step(step=2)"]
    assert routes("Why was step 3 rejected?")[:2] == ["why(step=3)", "critic_at(step=3)"]
    assert routes(f"Why was {first} rejected?")[0] == "why(step=2)"  # its first rejection
    assert routes(f"When was {first} evaluated?") == [f"step_of(arch={first!r})"]
    assert routes("What were the top 3 cells?") == ["ranked()"]
    assert routes("What was the lowest validation accuracy?") == ["ranked(n=1, worst=True)"]
    assert routes("What was the best accuracy at step 5?")[0] == "at_step(step=5)"  # the step, not the run's best
    assert routes("What dropout rate was used?") == [] and routes("Which GPU ran it?") == []
    assert routes("Tell me a joke") == []


def test_not_in_the_log_without_asking_the_model(recorded_run, tmp_path):
    model = Scripted(answers=[{"query": "best"}])
    reply = inspector(recorded_run, model, tmp_path).ask("What learning rate schedule was used?")
    assert reply.answer == NOT_FOUND and not reply.found and model.calls == 0 and reply.chosen_by == "none"
    reply = inspector(recorded_run, model, tmp_path).ask("What did the critic say at step 40?")
    assert not reply.found and reply.answer.startswith("not in the log: the journal has no step 40")


def test_one_candidate_is_answered_without_a_pick_and_the_phrase_is_kept_when_faithful(recorded_run, tmp_path):
    model = Scripted(answers=[lambda m: {"answer": "The critic rejected 2 proposals, at steps 2 and 3."}])
    reply = inspector(recorded_run, model, tmp_path).ask("How many proposals did the critic reject?")
    assert model.calls == 1 and reply.chosen_by == "router" and reply.query == "count(kind='rejections')"
    assert reply.phrased_by == "model" and reply.answer == "The critic rejected 2 proposals, at steps 2 and 3."
    assert reply.found and reply.cited_steps == [2, 3]
    kinds = [e.kind for e in Journal(tmp_path / "inspector.jsonl").events()]
    assert kinds == ["prompt", "answer"]  # the inspector's own log, not the run's


def test_the_model_picks_among_the_candidates_only(recorded_run, tmp_path):
    question = "What did the critic say at step 2?"
    for pick, expected, chosen_by in (("at_step", "at_step(step=2)", "model"),
                                      ("critic_at", "critic_at(step=2)", "model"),
                                      ("run_info", "critic_at(step=2)", "router"),  # valid, but not a candidate
                                      ("banana", "critic_at(step=2)", "router")):  # not a query at all
        model = Scripted(answers=[{"query": pick}, copy_facts])
        reply = inspector(recorded_run, model, tmp_path).ask(question)
        assert (reply.query, reply.chosen_by) == (expected, chosen_by) and reply.cited_steps == [2]
    menu = Scripted(answers=[{"query": "at_step"}, copy_facts])
    inspector(recorded_run, menu, tmp_path).ask(question)
    assert "- critic_at: What the critic said at a step" in menu.seen[0][-1].content
    assert "- best:" not in menu.seen[0][-1].content


def test_pick_schema_offers_only_the_candidates():
    schema = pick_schema(["why", "critic_at"]).model_json_schema()
    assert schema["properties"]["query"]["enum"] == ["why", "critic_at"]


def test_an_unfaithful_phrase_is_replaced_by_the_query_sentence(recorded_run, tmp_path):
    best = recorded_run.result()["best"]
    question = "Which architecture was best and what was its validation accuracy?"
    template = RunLog(recorded_run).answer(Best()).text
    for phrase in (f"The best was {best['arch']} with 99.99% validation accuracy.",  # invented number
                   f"The best was {best['arch']}.",  # leaves the accuracy out
                   f"{best['arch']} {best['val_acc']} {best['test_acc']} step {best['step']}. " * 2,  # loops
                   "} " + template):  # JSON debris
        model = Scripted(answers=[{"answer": phrase}])
        reply = inspector(recorded_run, model, tmp_path).ask(question)
        assert reply.phrased_by == "template" and reply.answer == template and reply.cited_steps == [best["step"]]


def test_faithful_needs_every_value_as_a_whole_token():
    answer = Answer(query="count()", found=True, text="5 fallbacks were used, at steps 4, 7, 10, 13, 16.",
                    values=["5", "4", "7", "10", "13", "16"], steps=[4, 7, 10, 13, 16])
    question = "How many fallbacks?"
    assert faithful("Five... no: 5 fallbacks, at steps 4, 7, 10, 13 and 16.", answer, question)
    assert not faithful("5 fallbacks, at steps 4, 17, 10, 13 and 16.", answer, question)  # 7 only inside 17
    assert not faithful("5 fallbacks at steps 4, 7, 10, 13, 16, 19.", answer, question)  # 19 is invented
    assert not faithful("anything", answer.model_copy(update={"values": []}), question)  # nothing to check against


def test_why_cites_the_step_and_quotes_the_reason(recorded_run, tmp_path):
    model = Scripted(answers=[{"query": "why"}, {"answer": "It was a duplicate."}])
    reply = inspector(recorded_run, model, tmp_path).ask("Why was the proposal at step 3 rejected?")
    assert reply.query == "why(step=3)" and reply.cited_steps == [3] and reply.phrased_by == "template"
    assert "it is identical to the architecture evaluated at step 1" in reply.answer


class ToolCaller(Scripted):
    """A scripted model that can be bound to tools (as OpenAI models are); dict answers with
    `tool_calls` come back as tool calls."""

    def bind_tools(self, tools, **kwargs):
        self.bound.extend(t.name for t in tools)
        return self

    bound: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        from langchain_core.outputs import ChatGeneration, ChatResult

        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        if isinstance(answer, dict) and "tool_calls" in answer:
            self.counter[0] += 1
            self.seen.append(list(messages))
            return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=answer["tool_calls"]))])
        return super()._generate(messages, stop, run_manager, **kwargs)


def test_tool_calling_models_call_the_queries(recorded_run, tmp_path):
    model = ToolCaller(answers=[
        {"tool_calls": [{"name": "count", "args": {"kind": "fallbacks"}, "id": "c1"},
                        {"name": "count", "args": {"kind": "bananas"}, "id": "c2"}]},
        "I have what I need.",
        {"answer": "One fallback mutation was used, at step 4: 1 in all.", "found": True},
    ], bound=[])
    reply = inspector(recorded_run, model, tmp_path, tool_calling=True).ask("Was a fallback used?")
    assert "count" in model.bound and reply.found and reply.cited_steps == [4]
    assert reply.chosen_by == "model" and reply.phrased_by == "model" and reply.query == "count(kind='fallbacks')"
    calls = [e.data for e in Journal(tmp_path / "inspector.jsonl").events() if e.kind == "tool_call"]
    assert calls[0]["result"].endswith("[steps 4]") and calls[1]["result"].startswith("no query count")


def test_tool_calling_answers_are_checked_and_a_silent_model_falls_back_to_the_router(recorded_run, tmp_path):
    model = ToolCaller(answers=[{"tool_calls": [{"name": "best", "args": {}, "id": "c1"}]},
                                "done", {"answer": "The best cell reached 99.5%.", "found": True}], bound=[])
    reply = inspector(recorded_run, model, tmp_path, tool_calling=True).ask("Which cell was best?")
    assert reply.phrased_by == "template" and str(recorded_run.result()["best"]["val_acc"]) in reply.answer
    silent = ToolCaller(answers=["I know it.", json.dumps({"answer": "anything"})], bound=[])
    reply = inspector(recorded_run, silent, tmp_path, tool_calling=True).ask("How many tokens did the designer use?")
    assert reply.query == "tokens(role='designer')" and reply.chosen_by == "router"
