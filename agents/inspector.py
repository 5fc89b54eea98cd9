"""The Inspector: answers questions about a recorded run from typed queries over its journal.

Facts are never the model's: they come from one of the closed set of queries in
tools/inspect_run.py (best, ranked, count, tokens, critic_at, evaluation_at, at_step, step_of,
why, principles, archive, run_info), computed from events.jsonl and result.json, with the
numbers as journaled and the steps to cite.  The model has two small jobs:

1. choose the query.  A keyword router reads the question first (step numbers, architecture
   strings, words like best/worst/rejected/fallback/tokens/why) and lists the queries it could
   mean, most likely first, with their arguments.  None listed: the answer is "not in the log"
   without asking the model, which would otherwise pick something.  One listed: that is the
   query.  Several: the model picks among them with schema-constrained output (a 135M model
   can choose from an enum); a pick outside the list falls back to the router's first.
2. phrase the answer.  The rephrasing must quote every value of the query's answer verbatim
   and bring no number or architecture the answer does not hold; otherwise the template
   sentence built from the query result is what the user reads.

Providers that call tools (openai, openai-compatible) drive the same queries as tools
themselves; their final answer is held to the same check.  Either way the cited steps are the
query's, never the model's.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field, create_model

from agents.structured import Asker
from memory.journal import Journal
from memory.runs import RunDir
from settings import Settings
from tools.inspect_run import (LISTED, Answer, ArchiveAt, AtStep, Best, Count, CriticAt, EvaluationAt, Fact,
                               Principles, QueryName, Ranked, RunInfo, RunLog, StepOf, Tokens, Why, call,
                               parse_query, tools)

NOT_FOUND = "not in the log"
MAX_TOOL_ROUNDS = 6

PICK_SYSTEM = """\
You route a question about a neural architecture search run to the query that answers it. \
Answer with the name of one query."""

PICK = """\
Question: {question}

Queries:
{queries}

Which query answers the question?"""

PHRASE_SYSTEM = """\
You answer questions about a neural architecture search run from facts read in its log. Answer in \
one sentence, using only the facts. Copy every name and number exactly as written in the facts."""

PHRASE = """\
Facts: {facts}

Question: {question}"""

TOOLS = """\
Question about the run {run_id}: {question}
Call the query tools to look it up in the run's log. Answer only from what they return."""

FINAL = """\
Now answer the question from what the tools returned, in one sentence; copy names and numbers exactly. \
Set found to false if they do not answer it."""


class Reply(BaseModel):
    """What the Inspector tells the user."""

    question: str
    answer: str
    cited_steps: list[int] = []
    found: bool
    evidence: list[Fact] = []
    query: str = ""  # the typed query that produced the facts, e.g. critic_at(step=3)
    chosen_by: Literal["router", "model", "none"] = "none"
    phrased_by: Literal["model", "template"] = "template"


def pick_schema(names: list[str]) -> type[BaseModel]:
    """{query}: a query name; the JSON schema allows only `names` (a grammar-constrained model
    cannot name another), validation any query name."""
    return create_model("QueryPick", query=(QueryName, Field(json_schema_extra={"enum": names})))


def phrased_schema(limit: int) -> type[BaseModel]:
    """{answer}: at most `limit` characters (a longer rephrasing is refused anyway; the limit
    spares the time a small model spends looping)."""
    return create_model("Phrased", answer=(str, Field(description="one sentence",
                                                       json_schema_extra={"maxLength": limit})))


class FinalAnswer(BaseModel):
    answer: str = Field(description="one sentence")
    found: bool = Field(description="false if the tools' results do not answer the question")


# --- the router -------------------------------------------------------------------------------

STEP = re.compile(r"\b(?:step|generation|gen|iteration|round)s?\s*(?:#|no\.?\s*)?(\d+)\b")
TOP_N = re.compile(r"\b(?:top|best)[ -](\d+|two|three|four|five|ten)\b|\b(\d+|two|three|four|five|ten) (?:best|highest|top)\b")
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "ten": 10}
ROLES = ("designer", "critic", "learner")

WHY = ("why", "reason", "rationale", "because", "explain", "justif", "motivat")
COUNT = ("how many", "number of", "count", "how often", "total")
TOKENS = ("token", "cost", "spent", "spend", "usage")
CALLS = ("llm call", "model call", "calls")
REJECT = ("reject", "refus", "turned down", "duplicate", "isomorph")
CRITIC = ("critic", "verdict", "accept")
FALLBACK = ("fallback", "fall back", "fell back", "seeded mutation")
PARSE = ("pars", "malformed", "unreadable", "could not be read", "untrainable", "invalid answer")
EVALS = ("evaluat", "architecture", "cell", "network", "candidate", "trained", "tried")
BEST = ("best", "highest", "winner", "winning", "strongest", "rank", "test acc", "source of")
WORST = ("worst", "lowest", "poorest", "weakest")
PRINCIPLE = ("principle", "transferred", "source task")
ARCHIVE = ("archive", "coverage", "niche", "qd", "elite")
INFO = ("dataset", "search space", "which space", "which graph", "seed", "budget", "stop", "finish", "how long",
        "wall", "which model", "what model", "method", "temperature", "took")
# What a benchmark lookup (nb201, transnas101) never journals: training hyper-parameters and hardware.
UNJOURNALED = ("learning rate", "lr schedule", "dropout", "weight decay", "optimizer", "optimiser", "gpu", "cuda",
               "batch size", "momentum", "augment", "epoch")
TRAINED = ("torch-code",)  # spaces whose config.json holds the training recipe (run_info answers it)


def _has(q: str, words: tuple[str, ...]) -> bool:
    """Any of `words` at the start of a word of `q` ("pars" in "parsed", not "count" in "account")."""
    return any(re.search(rf"\b{re.escape(w)}", q) for w in words)


def route(question: str, log: RunLog) -> list[BaseModel]:
    """The queries the question may mean, most likely first, arguments filled in from the
    question itself (a step or an architecture the model cannot invent).  [] = not in the log."""
    q = " ".join(question.lower().split())
    if _has(q, UNJOURNALED):
        return [RunInfo()] if log.config.get("space") in TRAINED else []
    steps = [int(s) for s in STEP.findall(q)]
    step = steps[0] if steps else None
    archs = sorted((a for a in log.archs() if a.lower() in q), key=q.index)
    arch = archs[0] if archs else None
    role = next((r for r in ROLES if r in q), None)
    out: list[BaseModel] = []
    if _has(q, WHY):
        if step is not None:
            out.append(Why(step=step))
        elif arch is not None:
            out.append(Why(step=_first_step(log, arch)))
        else:
            out.append(Why(text=question))
    if _has(q, COUNT):
        if _has(q, TOKENS):
            out.append(Tokens(role=role))
        for words, kind in ((CALLS, "llm_calls"), (FALLBACK, "fallbacks"), (PARSE, "parse_failures"),
                            (REJECT + CRITIC, "rejections"), (EVALS, "evaluations")):
            if _has(q, words):
                out.append(Tokens(role=role) if kind == "llm_calls" and role else Count(kind=kind))
                break
    if _has(q, TOKENS):
        out.append(Tokens(role=role))
    if _has(q, ("round",)) and step is not None and not _has(q, WHY + PRINCIPLE) \
            and any("lapt_round" in e.data for e in log.of("archive")):
        out.append(ArchiveAt(step=step))  # LAPT: "round N" is the round, not evaluation N
    if step is not None:
        if _has(q, CRITIC + REJECT):
            out.append(CriticAt(step=step))
        if _has(q, PRINCIPLE):
            out.append(Principles(step=step))
        if _has(q, ARCHIVE):
            out.append(ArchiveAt(step=step))
        if _has(q, EVALS + ("accuracy",)) and not _has(q, BEST + WORST):
            out.append(EvaluationAt(step=step))
        out.append(AtStep(step=step))
    if arch is not None:
        out.append(StepOf(arch=arch))
    if step is None:  # a question naming a step is about that step, not about the whole run
        if (match := TOP_N.search(q)) is not None:
            n = match.group(1) or match.group(2)
            out.append(Ranked(n=min(max(int(NUMBERS.get(n, n)), 1), LISTED)))
        if _has(q, WORST):
            out.append(Ranked(n=1, worst=True))
        if match is None and (_has(q, BEST) or re.search(r"\btop\b", q)):
            out.append(Best())
    for words, kind in ((FALLBACK, "fallbacks"), (REJECT, "rejections"), (PARSE, "parse_failures")):
        if _has(q, words):
            out.append(Count(kind=kind))
    if _has(q, PRINCIPLE):
        out.append(Principles())
    if _has(q, ARCHIVE):
        out.append(ArchiveAt())
    if _has(q, INFO):
        out.append(RunInfo())
    return list({call(x): x for x in out}.values())  # in order of first mention, once each


def _capped(model, max_tokens: int):
    """The model with at most `max_tokens` to write, where it has the setting (llama.cpp, OpenAI)."""
    if "max_tokens" in type(model).model_fields:
        return model.model_copy(update={"max_tokens": min(max_tokens, model.max_tokens or max_tokens)})
    return model


def _first_step(log: RunLog, arch: str) -> int:
    """Where a "why" about an architecture points: its first rejection, else its first appearance."""
    hits = [e for e in log.events if e.kind in ("critic", "fallback", "evaluation") and e.data.get("arch") == arch]
    rejected = [e for e in hits if e.kind == "critic" and not e.data.get("accept")]
    return (rejected or hits)[0].step


# --- checking a phrased answer ----------------------------------------------------------------

SPECIFIC = re.compile(r"[\w.|~+%/-]*\d[\w.|~+%/-]*")


def _specific(text: str) -> set[str]:
    """Numbers and architecture-like strings, as written (`86.282`, `|none~0|+...`, `nb201/cifar10`)."""
    return {t.strip(".,;:%()") for t in SPECIFIC.findall(text)} - {""}


def _quotes(text: str, value: str) -> bool:
    """`value` appears in `text` as a whole token ("7" in "step 7", not in "17" or "9.7")."""
    return re.search(rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)", text, re.I) is not None


def faithful(phrased: str, answer: Answer, question: str) -> bool:
    """The rephrasing keeps every value of the answer, adds no number or architecture, is not
    longer than the answer by much and does not repeat itself (a small model loops: "The answer
    is 4. The answer is 4. ...")."""
    said, given = Counter(_sentences(phrased)), Counter(_sentences(answer.text))
    stray = set("{}[]") - set(answer.text)  # JSON debris: '89.928%} The answer is: ...'
    return (bool(answer.values) and len(phrased) <= max_chars(answer) and not stray & set(phrased)
            and (phrased[:1].isalnum() or phrased[:1] == answer.text[:1])
            and all(n <= max(1, given[s]) for s, n in said.items())
            and all(_quotes(phrased, v) for v in answer.values)
            and _specific(phrased) <= _specific(answer.text) | _specific(question))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def max_chars(answer: Answer) -> int:
    return len(answer.text) * 5 // 4 + 40


# --- the Inspector ----------------------------------------------------------------------------

class Inspector:
    """Answers questions about one run; `tool_calling` lets the model call the queries itself."""

    def __init__(self, asker: Asker, log: RunLog, journal: Journal, tool_calling: bool = False):
        self.asker, self.log, self.journal, self.tool_calling = asker, log, journal, tool_calling
        self.asked = 0

    @classmethod
    def for_run(cls, run: RunDir, settings: Settings) -> "Inspector":
        """The inspector model of `settings` over `run`; its calls go to the run's inspector.jsonl
        (events.jsonl stays the search's own record)."""
        from agents.llm import asker_for
        from agents.providers import provider

        spec = settings.models.for_role("inspector")
        return cls(asker_for("inspector", settings), RunLog(run), Journal(run.path / "inspector.jsonl"),
                   tool_calling=provider(spec.provider).tool_calling)

    def ask(self, question: str) -> Reply:
        self.asked += 1
        if self.tool_calling:
            reply = self._tool_loop(question)
            if reply is not None:
                return reply
        candidates = route(question, self.log)
        if not candidates:
            return Reply(question=question, answer=NOT_FOUND, found=False)
        query, chosen_by = self._choose(question, candidates)
        answer = self.log.answer(query)
        return self._reply(question, answer, chosen_by, self._phrase(question, answer))

    def _choose(self, question: str, candidates: list[BaseModel]) -> tuple[BaseModel, str]:
        if len(candidates) == 1:
            return candidates[0], "router"
        by_name = {}
        for query in candidates:
            by_name.setdefault(query.name, query)
        menu = "\n".join(f"- {name}: {' '.join(type(q).__doc__.split())}" for name, q in by_name.items())
        messages = [SystemMessage(PICK_SYSTEM), HumanMessage(PICK.format(question=question, queries=menu))]
        parsed, _ = self.asker.ask(messages, pick_schema(list(by_name)), self.journal, self.asked, retries=0)
        if parsed is None or parsed.query not in by_name:  # invalid, or contradicts the keywords
            return candidates[0], "router"
        return by_name[parsed.query], "model"

    def _phrase(self, question: str, answer: Answer) -> str | None:
        """The model's one-sentence answer if it is faithful to the query result, else None."""
        if not answer.found or not answer.values:
            return None
        messages = [SystemMessage(PHRASE_SYSTEM), HumanMessage(PHRASE.format(facts=answer.text, question=question))]
        limit = max_chars(answer)
        asker = self.asker.model_copy(update={"model": _capped(self.asker.model, limit // 3 + 24)})
        parsed, _ = asker.ask(messages, phrased_schema(limit), self.journal, self.asked, retries=0)
        if parsed is None or len(parsed.answer) >= limit:  # cut off at the limit: not a whole sentence
            return None
        text = " ".join(parsed.answer.split())
        return text if text and faithful(text, answer, question) else None

    def _reply(self, question: str, answer: Answer, chosen_by: str, phrased: str | None) -> Reply:
        text = phrased or (answer.text if answer.found or answer.text.startswith(NOT_FOUND) else NOT_FOUND)
        return Reply(question=question, answer=text, cited_steps=answer.steps, found=answer.found,
                     evidence=answer.evidence, query=answer.query, chosen_by=chosen_by,
                     phrased_by="model" if phrased else "template")

    def _tool_loop(self, question: str) -> Reply | None:
        """Let the model call the queries; its final answer must be faithful to one of their
        results, else that result's sentence is given.  None when it called no query (the
        router answers then)."""
        model = self.asker.model.bind_tools(tools(self.log))
        messages: list[BaseMessage] = [SystemMessage(PHRASE_SYSTEM),
                                       HumanMessage(TOOLS.format(run_id=self.log.run.id, question=question))]
        answers: list[Answer] = []
        for _ in range(MAX_TOOL_ROUNDS):
            reply = model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for tool_call in reply.tool_calls:
                query = parse_query(tool_call["name"], tool_call["args"])
                answer = self.log.answer(query) if query is not None else None
                output = answer.line() if answer else f"no query {tool_call['name']} with {tool_call['args']}"
                self.journal.append(self.asked, "tool_call", role="inspector",
                                    data={"tool": tool_call["name"], "args": tool_call["args"], "result": output})
                answers += [answer] if answer else []
                messages.append(ToolMessage(output, tool_call_id=tool_call["id"]))
        if not answers:
            return None
        messages.append(HumanMessage(FINAL))
        parsed, _ = self.asker.ask(messages, FinalAnswer, self.journal, self.asked, retries=0)
        text = " ".join(parsed.answer.split()) if parsed is not None else ""
        for answer in answers:
            if answer.found and text and faithful(text, answer, question):
                return self._reply(question, answer, "model", text)
        found = [a for a in answers if a.found]
        return self._reply(question, (found or answers)[-1], "model", None)


__all__ = ["Inspector", "Reply", "NOT_FOUND", "route", "faithful", "pick_schema"]
