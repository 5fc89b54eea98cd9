"""The Inspector: answers questions about a recorded run, citing the journal steps it used.

Two ways to gather evidence, one answer schema:
- retrieve first (every provider; the only way for the embedded 135M model, which cannot
  drive a tool loop): the question picks the tools deterministically (step numbers,
  architecture strings, words like best/worst/rejected/fallback/tokens), and the model only
  phrases an answer from those few lines, with `cited_steps` constrained to their steps;
- a tool loop (providers that call tools: openai, openai-compatible): the model calls the
  read-only tools of tools/inspect_run.py itself, then gives the same structured answer.

Either way the citations are checked against the evidence, and with no evidence the answer
is "not in the log" without asking the model, so it cannot guess.
"""

from __future__ import annotations

import json
import re
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field, create_model

from agents.structured import Asker
from memory.journal import Journal
from memory.runs import RunDir
from settings import Settings
from tools.inspect_run import STOPWORDS, Fact, RunLog, tools

TOOL_CALLING = ("openai", "openai-compatible")  # providers that drive the tool loop themselves
NOT_FOUND = "not in the log"
UNANSWERED = "the model did not answer from the log; the closest line is {line}"
MAX_FACTS = 5
MAX_TOOL_ROUNDS = 6

SYSTEM = """\
You are the Inspector of a neural architecture search run. You answer questions about what happened \
in the run using only the evidence from its log. Every evidence line starts with the step it comes \
from. Copy names and numbers exactly from the evidence and list the steps you used. If the evidence \
does not answer the question, set found to false."""

QUESTION = """\
Evidence from the run's log:
{evidence}

Question: {question}
Answer in one sentence with the exact numbers and names from the evidence."""

TOOLS = """\
Question about the run {run_id}: {question}
Use the tools to look it up in the run's log. Answer only from what the tools return."""

FINAL = """\
Now answer the question from what the tools returned: one sentence, the steps you used, and \
found = false if they do not answer it."""


class Reply(BaseModel):
    """What the Inspector tells the user."""

    question: str
    answer: str
    cited_steps: list[int] = []
    found: bool
    evidence: list[Fact] = []


def answer_schema(steps: list[int]) -> type[BaseModel]:
    """{answer, cited_steps, found}.  The JSON schema lists the evidence steps as the only
    allowed citations (a grammar-constrained model cannot cite another); validation accepts any
    integer, since a provider may ignore the enum, and `Inspector.ask` drops the others."""
    items = {"type": "integer", "enum": steps} if steps else {"type": "integer"}
    return create_model(
        "InspectorAnswer",
        answer=(str, Field(description="one sentence", json_schema_extra={"maxLength": 300})),
        cited_steps=(list[int], Field(description="steps of the evidence lines used",
                                      json_schema_extra={"items": items, "maxItems": 5})),
        found=(bool, Field(description="false if the evidence does not answer the question")),
    )


STEP = re.compile(r"\b(?:step|generation|iteration)s?\s+(\d+)")


def retrieve(question: str, log: RunLog) -> list[Fact]:
    """The facts a question needs, chosen by rules rather than by the model."""
    q = question.lower()
    last = max(log.steps(), default=0)
    archs = sorted((a for a in log.archs() if a in question), key=question.index)
    steps = [int(s) for s in STEP.findall(q)]
    wants = lambda *words: any(w in q for w in words)  # noqa: E731
    # Counts first: a small model cannot count evidence lines, it can copy a number.
    facts: list[Fact] = log.overview() if wants("how many", "number of", "count", "total") else []
    if len(archs) >= 2:
        facts += log.compare(archs[0], archs[1])
    for arch in archs:
        facts += log.search(arch=arch, limit=4)
    for step in steps:
        if "archive" in q or "elite" in q:
            facts += log.archive_at(step)
        elif "principle" in q:
            facts += log.principles_at(step)
        else:
            facts += log.search(step=step, limit=6)
    if wants("best", "highest", "top", "winner"):
        facts += log.ranked(n=3 if wants("top") else 1) + log.overview()
    if wants("worst", "lowest", "poorest"):
        facts += log.ranked(worst=True, n=1)
    if wants("reject", "critic", "duplicate", "isomorph"):
        rejected = [f for f in log.search(kind="critic") if " rejected " in f.text]
        facts += rejected or [Fact(step=last, text="the critic rejected no proposal in this run")]
    if wants("fallback", "fall back", "seeded mutation"):
        facts += log.search(kind="fallback") or [Fact(step=last, text="no fallback was used in this run")]
    if wants("token", "llm call", "calls", "cost", "model"):
        facts += log.usage()
    if wants("budget", "finish", "stop", "test acc", "rank", "final", "found"):
        facts += log.overview()
    if wants("principle") and not steps:
        facts += log.principles_at(last)
    if wants("archive", "niche", "coverage", "qd score", "elite") and not steps:
        facts += log.archive_at(last)
    if wants("first", "initial", "start"):
        facts += log.search(kind="evaluation", limit=1)
    if not facts or wants("why", "reason", "rationale", "because", "explain"):
        facts += log.reasoning(question)
    unique = list({f.line(): f for f in facts}.values())
    # The lines sharing most words with the question first (stable: ties keep retrieval order),
    # since a small model leans on the first line it reads.
    return sorted(unique, key=lambda f: -len(_words(question) & _words(f.text)))[:MAX_FACTS]


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z]{3,}", text.lower())} - STOPWORDS


class Inspector:
    """Answers questions about one run; `tool_calling` lets the model pick the tools itself."""

    def __init__(self, asker: Asker, log: RunLog, journal: Journal, tool_calling: bool = False):
        self.asker, self.log, self.journal, self.tool_calling = asker, log, journal, tool_calling
        self.asked = 0

    @classmethod
    def for_run(cls, run: RunDir, settings: Settings) -> "Inspector":
        """The inspector model of `settings` over `run`; its calls go to the run's inspector.jsonl
        (events.jsonl stays the search's own record)."""
        from agents.llm import llm_for, structured_method

        spec = settings.models.for_role("inspector")
        asker = Asker(role="inspector", label=spec.label(), method=structured_method(spec),
                      model=llm_for("inspector", settings))
        return cls(asker, RunLog(run), Journal(run.path / "inspector.jsonl"),
                   tool_calling=spec.provider in TOOL_CALLING)

    def ask(self, question: str) -> Reply:
        self.asked += 1
        if self.tool_calling:
            messages, evidence = self._tool_loop(question)
            messages.append(HumanMessage(FINAL))
        else:
            evidence = retrieve(question, self.log)
            messages = [SystemMessage(SYSTEM), HumanMessage(QUESTION.format(
                evidence="\n".join(f.line() for f in evidence), question=question))]
        if not evidence:
            return Reply(question=question, answer=NOT_FOUND, found=False)
        steps = sorted({f.step for f in evidence})
        # One call, no re-asks: a small model repeats its mistake, and a chat should answer quickly.
        parsed, _ = self.asker.ask(messages, answer_schema(steps), self.journal, self.asked, retries=0)
        if parsed is not None:
            parsed.answer = _first_paragraph(parsed.answer)
        grounded = _grounding(parsed.answer, evidence) if parsed is not None else []
        # A 135M model sets `found` almost at random (measured: a correct, quoted answer with
        # found=false), so an answer that quotes a number or name of the evidence counts as found.
        if parsed is None or not (parsed.found or grounded):
            # The log has lines on the subject but the model did not answer from them: say so and
            # show the closest line, rather than "not in the log", which would be false.
            return Reply(question=question, answer=UNANSWERED.format(line=evidence[0].line()), found=False,
                         cited_steps=[evidence[0].step], evidence=evidence)
        cited = [s for s in dict.fromkeys(parsed.cited_steps) if s in steps] or grounded or [evidence[0].step]
        return Reply(question=question, answer=parsed.answer, cited_steps=cited, found=True, evidence=evidence)

    def _tool_loop(self, question: str) -> tuple[list[BaseMessage], list[Fact]]:
        """Let the model call the read-only tools; the facts it saw are the evidence."""
        available = {t.name: t for t in tools(self.log)}
        model = self.asker.model.bind_tools(list(available.values()))
        messages: list[BaseMessage] = [SystemMessage(SYSTEM),
                                       HumanMessage(TOOLS.format(run_id=self.log.run.id, question=question))]
        evidence: list[Fact] = []
        for _ in range(MAX_TOOL_ROUNDS):
            reply = model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                tool = available.get(call["name"])
                output = tool.invoke(call["args"]) if tool else f"no tool named {call['name']}"
                self.journal.append(self.asked, "tool_call", role="inspector",
                                    data={"tool": call["name"], "args": call["args"], "result": output[:2000]})
                evidence += _facts_in(output)
                messages.append(ToolMessage(output, tool_call_id=call["id"]))
        return messages, evidence


def _facts_in(text: str) -> list[Fact]:
    """Tool output lines back into facts (`[step N] text`; full prompts cite their step)."""
    facts = [Fact(step=int(m.group(1)), text=m.group(2)) for m in re.finditer(r"^\[step (\d+)\] (.*)$", text, re.M)]
    if not facts and text.startswith("{"):
        try:
            facts = [Fact(step=int(json.loads(text)["step"]), text="full prompt and answer")]
        except (ValueError, KeyError):
            pass
    return facts


def _first_paragraph(answer: str) -> str:
    """The answer without what a small model appends inside the JSON string (braces, a blank
    line, "The evidence is: ..." restating the prompt)."""
    return answer.strip(" \n{}").split("\n\n")[0].strip(" \n{}") or answer


def _grounding(answer: str, evidence: list[Fact]) -> list[int]:
    """Steps of the evidence lines that share a specific token with the answer: a number
    (`88.48`, `15`) or an architecture-like string; words alone do not count."""
    def specific(text: str) -> set[str]:
        return {t.strip(".,%") for t in re.findall(r"[\w.|~+%-]*\d[\w.|~+%-]*", text.lower())} - {""}

    tokens = specific(answer)
    return list(dict.fromkeys(f.step for f in evidence if tokens & specific(f.text)))[:3]
