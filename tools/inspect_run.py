"""Read-only queries over one recorded run: the facts the Inspector answers (agents/inspector.py),
the timeline of `cli.py show` and the tables of `cli.py report`.

Everything is read from the run folder (events.jsonl, config.json, result.json); nothing here
writes to it.  Facts come from a small closed set of typed queries (`Query`): each is computed
from the journal and result.json and returns an `Answer` with the numbers exactly as journaled
(no rounding), the steps to cite and a sentence built from them.  A model only picks the query
and may rephrase the sentence; agents/inspector.py checks the rephrasing.  For models that call
tools, the queries are the tools (`tools`).

In LLMatic runs a journal step is a generation (0 = the random initial networks).  The journal
is read leniently: event kinds and fields this module does not know are kept and ignored, so
runs of newer graphs stay inspectable.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from memory.journal import Event
from memory.runs import RunDir

MAX_DISTANCE = 0.6  # cosine distance; farther "nearest" reasoning is unrelated, and evidence it is not
TEXT_CHARS = 400  # a fact is a sentence, not a prompt dump
QUOTE_CHARS = 160  # a quoted reason or principle in an answer
LISTED = 12  # steps or items listed in one answer; the rest are counted


class Fact(BaseModel):
    step: int
    text: str

    def line(self) -> str:
        return f"[step {self.step}] {self.text}"


class Record(Event):
    """A journal line read leniently: any kind, including ones newer than memory/journal.py's."""

    kind: str  # type: ignore[assignment]


# --- the queries ------------------------------------------------------------------------------

CountKind = Literal["evaluations", "rejections", "fallbacks", "parse_failures", "llm_calls"]


class Best(BaseModel):
    """The best architecture: its validation and test accuracy, rank, and the step and source that found it."""
    name: Literal["best"] = "best"


class Ranked(BaseModel):
    """The n best (or with worst=true the n worst) evaluated architectures by validation accuracy."""
    name: Literal["ranked"] = "ranked"
    n: int = Field(3, ge=1, le=LISTED)
    worst: bool = False


class Count(BaseModel):
    """How many evaluations, critic rejections, fallback mutations, unparsed LLM answers or LLM calls, and at which steps."""
    name: Literal["count"] = "count"
    kind: CountKind


class Tokens(BaseModel):
    """LLM calls and tokens (in, out, total) of one role (designer, critic, learner) or of every role."""
    name: Literal["tokens"] = "tokens"
    role: str | None = None


class CriticAt(BaseModel):
    """What the critic said at a step: accepted or rejected, the kind and the reason."""
    name: Literal["critic_at"] = "critic_at"
    step: int


class EvaluationAt(BaseModel):
    """The architectures evaluated at a step and their validation accuracy, FLOPs and params."""
    name: Literal["evaluation_at"] = "evaluation_at"
    step: int


class AtStep(BaseModel):
    """Everything the journal holds for a step."""
    name: Literal["at_step"] = "at_step"
    step: int


class StepOf(BaseModel):
    """At which steps an architecture was proposed, rejected or evaluated, and its validation accuracy."""
    name: Literal["step_of"] = "step_of"
    arch: str


class Why(BaseModel):
    """The journaled reasons at a step (designer rationale, critic reason, fallback reason, learner adaptation),
    or without a step the journaled reasoning closest to `text`."""
    name: Literal["why"] = "why"
    step: int | None = None
    text: str = ""


class Principles(BaseModel):
    """How the design principles changed (LAPT): transferred, then updated or explored after each round."""
    name: Literal["principles"] = "principles"
    step: int | None = None


class ArchiveAt(BaseModel):
    """The archive after a step (default: the end): LLMatic niches, coverage and QD score; LAPT rounds; GENIUS elites."""
    name: Literal["archive"] = "archive"
    step: int | None = None


class RunInfo(BaseModel):
    """What the run was: graph, space, dataset, seed, budget, models, why it stopped, how long it took."""
    name: Literal["run_info"] = "run_info"


QUERIES = (Best, Ranked, Count, Tokens, CriticAt, EvaluationAt, AtStep, StepOf, Why, Principles, ArchiveAt, RunInfo)
Query = Annotated[Union[QUERIES], Field(discriminator="name")]  # type: ignore[valid-type]
QueryName = Literal["best", "ranked", "count", "tokens", "critic_at", "evaluation_at", "at_step", "step_of", "why",
                    "principles", "archive", "run_info"]
QUERY = TypeAdapter(Query)


def call(query: BaseModel) -> str:
    """`critic_at(step=3)`: how an answer names its query."""
    args = ", ".join(f"{k}={v!r}" for k, v in query.model_dump(exclude={"name"}, exclude_defaults=True).items())
    return f"{query.name}({args})"


class Answer(BaseModel):
    """A query's result: the sentence, the values a rephrasing must quote verbatim, the steps to cite."""

    query: str
    found: bool
    text: str
    values: list[str] = []
    steps: list[int] = []
    evidence: list[Fact] = []

    def line(self) -> str:
        return self.text + (f" [steps {', '.join(map(str, self.steps))}]" if self.steps else "")


# --- formatting -------------------------------------------------------------------------------

def num(value: Any) -> str:
    """A journaled number as it stands in the file (JSON's shortest form): no rounding."""
    return str(value)


def pct(value: float | None) -> str:
    return "no accuracy (failed)" if value is None else f"{num(value)}%"


def listing(steps: list[int]) -> str:
    shown = ", ".join(map(str, steps[:LISTED]))
    return shown + (f" and {len(steps) - LISTED} more" if len(steps) > LISTED else "")


def quote(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 3] + "..."


def describe(event: Event) -> str | None:
    """One sentence for an event, or None for events that say nothing by themselves."""
    d = event.data
    if event.kind == "answer" and isinstance(d.get("parsed"), dict) and d["parsed"].get("rationale"):
        return f"the {event.role} ({event.model}) gave this rationale: {d['parsed']['rationale']}"
    if event.kind == "critic":
        verdict = "accepted" if d.get("accept") else f"rejected ({d.get('kind', 'rejected')})"
        credits = "; credits: " + ", ".join(f"{g} {c['credit']:.2f} ({c['evaluated']} evaluated)"
                                           for g, c in d["credits"].items()) if d.get("credits") else ""
        return f"the {event.role or 'critic'} {verdict} {d.get('arch')}: {d.get('reason', '')}{credits}"
    if event.kind == "evaluation":
        extra = f", {num(d['flops_m'])} MFLOPs, {num(d['params_m'])} M params" if d.get("flops_m") is not None else ""
        return f"evaluated {d.get('arch')}: validation accuracy {pct(d.get('val_acc'))}{extra}"
    if event.kind == "fallback":
        return f"fallback (not the LLM): seeded mutation {d.get('arch')} of {d.get('mutated_from')}, because {d.get('reason')}"
    if event.kind == "parse_error":
        return f"the {event.role}'s answer did not parse: {str(d.get('error'))[:120]}"
    if event.kind == "offspring":
        made = f"{d.get('arch')} with {pct(d.get('val_acc'))}, archive {d.get('status') or d.get('outcome')}" \
            if d.get("arch") else f"untrainable ({str(d.get('detail'))[:120]})"
        return f"generation {d.get('generation')} offspring {d.get('index')} by {d.get('operator')}: {made}"
    if event.kind == "archive" and "coverage" in d:
        return (f"after generation {d.get('generation')}: {d.get('filled')} archive niches filled, coverage "
                f"{num(d['coverage'])}, QD score {num(d.get('qd_score'))}, best {pct(d.get('best_val_acc'))}")
    if event.kind == "archive" and "lapt_adaptation" in d:
        return f"principles adapted ({d['lapt_adaptation']}, improved: {d.get('improved')}): " \
               + "; ".join(map(str, d.get("principles") or []))
    if event.kind == "run" and d.get("event") == "knowledge":
        k = d.get("knowledge") or {}
        return f"the run used knowledge: {k.get('task')} ({k.get('source')}): {k.get('what')}"
    if event.kind == "run":
        extra = f" from {d.get('parent')} at step {d.get('forked_at')}" if d.get("event") == "forked" else ""
        if "knowledge" in d:
            from graphs.knowledge import label

            extra += f"; knew: {label(d['knowledge'])}"
        return f"run {d.get('event')}{extra}"
    if event.kind == "result":
        best = d.get("best") or {}
        return (f"run finished ({d.get('stop_reason')}) after {d.get('evaluations')} evaluations; best "
                f"{best.get('arch')}, validation {pct(best.get('val_acc'))}, test {pct(best.get('test_acc'))}")
    return None


def _read(path) -> list[Record]:
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(Record.model_validate_json(line))
            except ValueError:  # a line cut by a crash mid-write, or not an event: skip it
                continue
    return records


def _json(path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        return {}


# --- the run ----------------------------------------------------------------------------------

class RunLog:
    """The journal, config and result of one run, loaded once, with the queries over them.
    config.json is read as plain JSON, not as Settings, so runs of older or newer settings load."""

    def __init__(self, run: RunDir):
        self.run = run
        self.events: list[Record] = _read(run.path / "events.jsonl")
        self.config: dict = _json(run.config_path)
        self.result: dict | None = _json(run.result_path) or None
        self.graph = str(self.config.get("graph", "genius"))
        self.unit = "generation" if self.graph == "llmatic" else "step"

    def of(self, kind: str, **match: Any) -> list[Record]:
        return [e for e in self.events if e.kind == kind and all(e.data.get(k) == v for k, v in match.items())]

    def _facts(self, events, limit: int | None = None) -> list[Fact]:
        facts = [Fact(step=e.step, text=text[:TEXT_CHARS]) for e in events if (text := describe(e))]
        return facts[:limit] if limit else facts

    @cached_property
    def evaluations(self) -> list[Record]:
        return self.of("evaluation")

    @cached_property
    def evaluated(self) -> list[Record]:
        return [e for e in self.evaluations if isinstance(e.data.get("val_acc"), (int, float))]

    def timeline(self) -> list[Fact]:
        """Every event that says something, in journal order (`cli.py show`)."""
        return self._facts(self.events)

    def archs(self) -> set[str]:
        """Every architecture the run proposed or evaluated."""
        return {e.data["arch"] for e in self.events
                if e.kind in ("critic", "evaluation", "fallback", "offspring") and isinstance(e.data.get("arch"), str)}

    def steps(self) -> set[int]:
        """Journal steps (not the result event's: in LLMatic it carries the number of cells, not a generation)."""
        return {e.step for e in self.events if e.kind != "result"}

    def at(self, step: int) -> str:
        return f"{self.unit} {step}"

    def _units(self, steps: list[int]) -> str:
        return f"{self.unit}{'s' if len(steps) > 1 else ''} {listing(steps)}"

    def answer(self, query: BaseModel) -> Answer:
        """Run one typed query."""
        args = query.model_dump(exclude={"name"})
        out = getattr(self, f"q_{query.name}")(**args)
        return out.model_copy(update={"query": call(query)})

    def _absent(self, why: str) -> Answer:
        return Answer(query="", found=False, text=f"not in the log: {why}")

    def _unknown_step(self, step: int) -> Answer | None:
        steps = self.steps()
        if step in steps:
            return None
        return self._absent(f"the journal has no {self.at(step)} (it has {self.unit}s {min(steps, default=0)}"
                            f" to {max(steps, default=0)})")

    # --- best, ranked, counts, tokens ---------------------------------------------------------

    def _best(self) -> dict | None:
        """result.json's best, with the journal step of its first evaluation (in LLMatic the
        generation; result.json's `step` there counts distinct cells); from the journal alone
        while the run has no result."""
        best = dict((self.result or {}).get("best") or {})
        if not best and self.evaluated:
            top = max(self.evaluated, key=lambda e: e.data["val_acc"])
            best = {"arch": top.data.get("arch"), "val_acc": top.data["val_acc"]}
        if not best:
            return None
        first = next((e for e in self.evaluated if e.data.get("arch") == best["arch"]), None)
        best["trial"], best["step"] = best.get("step"), first.step if first else best.get("step")
        if "source" not in best:
            best["source"] = "fallback" if self.of("fallback", arch=best["arch"]) else None
        return best

    def q_best(self) -> Answer:
        best = self._best()
        if best is None:
            return self._absent("no architecture was evaluated")
        arch, val, step = best["arch"], pct(best.get("val_acc")), best["step"]
        values = [arch, num(best.get("val_acc")), str(step)]
        if best.get("test_acc") is not None:
            test = f"test accuracy {pct(best['test_acc'])}, rank {num(best.get('rank'))} of {num(best.get('of'))}"
            values.append(num(best["test_acc"]))
        else:
            test = "its test accuracy is not in the log (it is looked up when the run finishes)"
        trial = f" (distinct cell no. {best['trial']})" if self.unit == "generation" and best.get("trial") else ""
        source = f" (source: {best['source']})" if best.get("source") else ""
        return Answer(query="", found=True, values=values, steps=[step], evidence=self._facts(
            [e for e in self.evaluated if e.data.get("arch") == arch][:1]),
            text=f"The best architecture was {arch} with validation accuracy {val} ({test}); it was found at "
                 f"{self.at(step)}{trial}{source}.")

    def q_ranked(self, n: int = 3, worst: bool = False) -> Answer:
        order = sorted(self.evaluated, key=lambda e: e.data["val_acc"], reverse=not worst)[:n]
        if not order:
            return self._absent("no architecture was evaluated")
        word = "lowest" if worst else "highest"
        items = [f"{e.data.get('arch')} with {pct(e.data['val_acc'])} at {self.at(e.step)}" for e in order]
        head = f"The {word} validation accuracy was" if n == 1 else f"The {n} {word} validation accuracies were"
        return Answer(query="", found=True, text=f"{head}: " + "; ".join(items) + ".",
                      values=[v for e in order for v in (e.data.get("arch"), num(e.data["val_acc"]))],
                      steps=list(dict.fromkeys(e.step for e in order)), evidence=self._facts(order))

    def q_count(self, kind: str) -> Answer:
        return {"evaluations": self._count_evaluations, "rejections": self._count_rejections,
                "fallbacks": self._count_fallbacks, "parse_failures": self._count_parse_failures,
                "llm_calls": lambda: self.q_tokens(None)}[kind]()

    def _count_evaluations(self) -> Answer:
        evals, failed = self.evaluations, len(self.evaluations) - len(self.evaluated)
        steps = sorted({e.step for e in evals})
        where = f" at {self._units(steps)}" if steps else ""
        budget = (self.result or {}).get("budget", self.config.get("budget"))
        text = (f"{len(evals)} architectures were evaluated" + (f" ({failed} of them failed)" if failed else "") + where
                + (f" (budget {num(budget)})" if budget is not None and self.graph != "llmatic" else "") + ".")
        return Answer(query="", found=True, text=text, values=[str(len(evals))], steps=steps)

    def _count_rejections(self) -> Answer:
        verdicts = self.of("critic")
        rejected = [e for e in verdicts if not e.data.get("accept")]
        if not verdicts:
            return Answer(query="", found=True, values=["0"], text=f"0 proposals were rejected: this {self.graph} run "
                          "journaled no critic verdict.")
        kinds: dict[str, int] = {}
        for e in rejected:
            kind = f"{e.data.get('kind', 'rejected')}" + (f" by the {e.role}" if e.role not in (None, "critic") else "")
            kinds[kind] = kinds.get(kind, 0) + 1
        steps = [e.step for e in rejected]
        text = f"The critic rejected {len(rejected)} of {len(verdicts)} proposals"
        if rejected:
            text += f" ({', '.join(f'{n} {k}' for k, n in kinds.items())}), at steps {listing(steps)}"
        return Answer(query="", found=True, text=text + ".", values=[str(len(rejected))] + [str(s) for s in steps[:LISTED]],
                      steps=list(dict.fromkeys(steps)), evidence=self._facts(rejected, LISTED))

    def _count_fallbacks(self) -> Answer:
        used = self.of("fallback")
        steps = [e.step for e in used]
        text = f"{len(used)} fallback mutations (seeded mutations of the best cell, not LLM proposals) were used"
        if used:
            text += f", at steps {listing(steps)}; the first because {quote(used[0].data.get('reason'))}"
        return Answer(query="", found=True, text=text + ".", values=[str(len(used))] + [str(s) for s in steps[:LISTED]],
                      steps=steps, evidence=self._facts(used, LISTED))

    def _count_parse_failures(self) -> Answer:
        errors = self.of("parse_error")
        unread = [e for e in self.of("offspring") if e.data.get("arch") is None and e.data.get("operator") != "init"]
        total = len(errors) + len(unread)
        text = f"{total} LLM answers did not parse"
        if errors:
            text += f" ({len(errors)} structured answers at steps {listing([e.step for e in errors])})"
        if unread:
            text += (f" ({len(unread)} LLM offspring whose code could not be read as a cell, at "
                     f"{self._units(sorted({e.step for e in unread}))})")
        return Answer(query="", found=True, text=text + ".", values=[str(total)],
                      steps=sorted({e.step for e in errors + unread}), evidence=self._facts(errors + unread, LISTED))

    def q_tokens(self, role: str | None = None) -> Answer:
        per_role: dict[tuple, list] = {}
        for e in self.of("answer"):
            if role is None or e.role == role:
                row = per_role.setdefault((e.role, e.model), [0, 0, 0, []])
                row[0], row[1], row[2] = row[0] + 1, row[1] + (e.tokens_in or 0), row[2] + (e.tokens_out or 0)
                row[3].append(e.step)
        if not per_role:
            who = f"The {role}" if role else "No role"
            return Answer(query="", found=True, values=["0"], text=f"{who} made no LLM call in this run (0 tokens).")
        sentences, values, steps = [], [], []
        for (who, model), (calls, tin, tout, at) in per_role.items():
            sentences.append(f"the {who} ({model}) made {calls} LLM calls and used {tin + tout} tokens "
                             f"({tin} in, {tout} out)")
            values += [str(calls), str(tin + tout)]
            steps += at
        text = "; ".join(sentences)
        if len(per_role) > 1:
            total = sum(r[1] + r[2] for r in per_role.values())
            text += f"; {sum(r[0] for r in per_role.values())} LLM calls and {total} tokens in all"
        return Answer(query="", found=True, text=text[0].upper() + text[1:] + ".", values=values,
                      steps=sorted(set(steps)))

    # --- steps and architectures --------------------------------------------------------------

    def q_critic_at(self, step: int) -> Answer:
        if (absent := self._unknown_step(step)) is not None:
            return absent
        verdicts = [e for e in self.of("critic") if e.step == step]
        if not self.of("critic"):
            return self._absent(f"this {self.graph} run journaled no critic verdict")
        if not verdicts:
            return Answer(query="", found=True, steps=[step], values=[str(step)],
                          text=f"The critic gave no verdict at {self.at(step)}.", evidence=self._facts(self._at(step)))
        texts, values = [], []
        for e in verdicts:
            d = e.data
            verdict = "accepted" if d.get("accept") else f"rejected ({d.get('kind', 'rejected')})"
            texts.append(f"At {self.at(step)} the {e.role or 'critic'} {verdict} {d.get('arch')}: {quote(d.get('reason', ''))}")
            values += [str(d.get("arch")), "accepted" if d.get("accept") else str(d.get("kind", "rejected"))]
        return Answer(query="", found=True, text=" ".join(t if t.endswith(".") else t + "." for t in texts),
                      values=values, steps=[step], evidence=self._facts(verdicts))

    def q_evaluation_at(self, step: int) -> Answer:
        if (absent := self._unknown_step(step)) is not None:
            return absent
        evals = sorted((e for e in self.evaluations if e.step == step), key=lambda e: -(e.data.get("val_acc") or -1))
        if not evals:
            return Answer(query="", found=True, steps=[step], values=[str(step)],
                          text=f"No architecture was evaluated at {self.at(step)}.", evidence=self._facts(self._at(step)))
        shown = evals[:5]
        text = f"At {self.at(step)} " + "; ".join(describe(e) for e in shown)
        if len(evals) > len(shown):
            text += f" (the 5 best of {len(evals)} evaluated there)"
        return Answer(query="", found=True, text=text + ".", steps=[step], evidence=self._facts(shown),
                      values=[v for e in shown for v in (str(e.data.get("arch")), num(e.data.get("val_acc")))])

    def _at(self, step: int) -> list[Record]:
        return [e for e in self.events if e.step == step]

    def q_at_step(self, step: int) -> Answer:
        if (absent := self._unknown_step(step)) is not None:
            return absent
        facts = self._facts(self._at(step), LISTED)
        return Answer(query="", found=True, steps=[step], evidence=facts,
                      text=f"At {self.at(step)}: " + "; ".join(f.text for f in facts) + "." if facts
                      else f"The journal holds nothing to tell at {self.at(step)}.")

    def q_step_of(self, arch: str) -> Answer:
        hits = [e for e in self.events if e.kind in ("critic", "evaluation", "fallback") and e.data.get("arch") == arch]
        if not hits:
            return self._absent(f"{arch} was never proposed or evaluated in this run")
        parts, values = [], []
        evaluated = [e for e in hits if e.kind == "evaluation"]
        for e in evaluated[:1]:
            parts.append(f"{arch} was evaluated at {self.at(e.step)} with validation accuracy {pct(e.data.get('val_acc'))}")
            values += [str(e.step), num(e.data.get("val_acc"))]
        rejected = [e for e in hits if e.kind == "critic" and not e.data.get("accept")]
        if rejected:
            parts.append(f"the critic rejected it at steps {listing([e.step for e in rejected])} "
                         f"({rejected[0].data.get('kind')})")
            values += [str(e.step) for e in rejected[:LISTED]]
        if not evaluated:
            parts.insert(0, f"{arch} was proposed at steps {listing(sorted({e.step for e in hits}))} and never evaluated")
        text = "; ".join(parts)
        return Answer(query="", found=True, text=text[0].upper() + text[1:] + ".", values=values,
                      steps=sorted({e.step for e in hits}), evidence=self._facts(hits, LISTED))

    # --- reasons and principles ---------------------------------------------------------------

    def _reasons(self, step: int) -> list[tuple[str, str]]:
        """(who, quoted reason) journaled at a step, in journal order."""
        out = []
        for e in self._at(step):
            d, parsed = e.data, e.data.get("parsed") if isinstance(e.data.get("parsed"), dict) else {}
            if e.kind == "answer" and parsed.get("rationale"):
                out.append((f"the {e.role}'s rationale", quote(parsed["rationale"])))
            elif e.kind == "critic":
                verdict = "accepted" if d.get("accept") else f"rejected ({d.get('kind')})"
                out.append((f"the {e.role or 'critic'} {verdict} {d.get('arch')}", quote(d.get("reason", ""))))
            elif e.kind == "fallback":
                out.append((f"a fallback mutation {d.get('arch')} was used", quote(d.get("reason", ""))))
            elif "lapt_adaptation" in d:
                improved = "the round improved the best" if d.get("improved") else "the round did not improve the best"
                out.append((f"the learner's adaptation was {d['lapt_adaptation']}", improved))
            elif e.kind == "offspring" and d.get("operator") != "init":
                made = d.get("arch") or f"nothing usable ({d.get('detail', '')})"
                out.append((f"offspring {d.get('index')} came from {d.get('operator')}", quote(made)))
        return out

    def q_why(self, step: int | None = None, text: str = "") -> Answer:
        if step is None:
            hits = self.reasoning(text, k=3)
            if not hits:
                return self._absent("no journaled reasoning matches the question")
            return Answer(query="", found=True, evidence=hits, steps=[f.step for f in hits],
                          values=[quote(hits[0].text)],
                          text=f"The closest journaled reasoning is at step {hits[0].step}: {quote(hits[0].text)}.")
        if (absent := self._unknown_step(step)) is not None:
            return absent
        reasons = self._reasons(step)[:LISTED]
        if not reasons:
            return self._absent(f"the journal holds no rationale or reason at {self.at(step)}")
        text = f"At {self.at(step)}: " + "; ".join(f'{who}: "{why}"' for who, why in reasons) + "."
        return Answer(query="", found=True, text=text, steps=[step], values=[why for _, why in reasons],
                      evidence=self._facts(self._at(step), LISTED))

    def _principle_events(self) -> list[Record]:
        """Principles the run adopted: the transfer (step 0), each adaptation, and any newer kind
        of event that carries a `principles` list (learner answers are proposals, not adoptions)."""
        return [e for e in self.events if isinstance(e.data.get("principles"), list) and e.kind != "answer"
                and e.data["principles"]]

    def q_principles(self, step: int | None = None) -> Answer:
        events = [e for e in self._principle_events() if step is None or e.step <= step]
        if not events:
            return self._absent(f"this {self.graph} run adopted no design principles"
                                + (f" by step {step}" if step is not None and self._principle_events() else ""))
        parts, values = [], []
        for e in events:
            d = e.data
            if d.get("event") == "lapt_transfer":
                how = f"transferred from {d.get('source')} (stored version {d.get('version')})"
                values.append(str(d.get("source")))
            elif "lapt_adaptation" in d:
                how = f"{d['lapt_adaptation']} ({'improved' if d.get('improved') else 'not improved'})"
                values.append(str(d["lapt_adaptation"]))
            else:
                how = str(d.get("event") or e.kind)
            if d.get("origin"):
                how += f", origin {d['origin']}"
            parts.append(f"step {e.step}: {how}: " + " ".join(f"P{i}. {quote(p) or '(empty)'}"
                                                              for i, p in enumerate(d["principles"], 1)))
        return Answer(query="", found=True, text="The principles changed as follows. " + " | ".join(parts),
                      values=values, steps=[e.step for e in events], evidence=self._facts(events))

    def principles_at(self, step: int) -> list[Fact]:
        """Principles the learner stated up to `step` (LAPT runs; empty otherwise; `cli.py report`)."""
        facts = []
        for e in self.of("answer"):
            parsed = e.data.get("parsed") if e.role == "learner" else None
            if isinstance(parsed, dict) and e.step <= step:
                facts += [Fact(step=e.step, text=f"principle: {p}") for p in parsed.get("principles", [])]
        return facts

    # --- archive and the run ------------------------------------------------------------------

    def q_archive(self, step: int | None = None) -> Answer:
        upto = lambda e: step is None or e.step <= step  # noqa: E731
        stats = [e for e in self.of("archive") if "coverage" in e.data and upto(e)]
        if stats:
            d, e = stats[-1].data, stats[-1]
            return Answer(query="", found=True, steps=[e.step], evidence=self._facts([e]),
                          values=[num(d.get("filled")), num(d["coverage"]), num(d.get("qd_score"))],
                          text=f"After {self.at(e.step)} the network archive had {num(d.get('filled'))} niches filled, "
                               f"coverage {num(d['coverage'])}, QD score {num(d.get('qd_score'))}, best validation "
                               f"accuracy {pct(d.get('best_val_acc'))}.")
        rounds = [e for e in self.of("archive") if isinstance(e.data.get("lapt_round"), dict) and upto(e)]
        if rounds:
            items = [(e.step, e.data["lapt_round"]) for e in rounds]
            return Answer(query="", found=True, steps=[s for s, _ in items],
                          values=[num(r.get("best")) for _, r in items],
                          text="; ".join(f"Round {r.get('index')}: {num(r.get('evaluations'))} evaluations in a refined "
                                         f"space of {num(r.get('members'))} cells, best {pct(r.get('best'))}"
                                         for _, r in items) + ".")
        elites: dict[str, Record] = {}
        for e in self.evaluated:
            key = e.data.get("canonical") or e.data.get("arch")
            if upto(e) and (key not in elites or e.data["val_acc"] > elites[key].data["val_acc"]):
                elites[key] = e
        if not elites:
            return self._absent("no architecture was archived" + (f" by step {step}" if step is not None else ""))
        ranked = sorted(elites.values(), key=lambda e: -e.data["val_acc"])
        return Answer(query="", found=True, values=[str(len(ranked))], steps=[e.step for e in ranked[:LISTED]],
                      text=f"The archive held {len(ranked)} elite{'s' if len(ranked) > 1 else ''} (one per isomorphism class)"
                           + (f" after step {step}" if step is not None else "")
                           + f"; the best {ranked[0].data.get('arch')} with {pct(ranked[0].data['val_acc'])}.")

    def q_run_info(self) -> Answer:
        c, r = self.config, self.result or {}
        models = r.get("models") or {e.role: e.model for e in self.of("answer")}
        text = (f"This is a {self.graph} search on {c.get('space')}/{c.get('dataset')} with seed {num(c.get('seed'))}"
                + (f", budget {num(r.get('budget', c.get('budget')))}" if self.graph != "llmatic" else "")
                + (f", designer temperature {num(c.get('temperature'))}, critic {c.get('critic')}" if self.graph == "genius" else "")
                + "; models: " + (", ".join(f"{role} {m}" for role, m in models.items()) or "none called"))
        training = c.get("training") or {}
        if c.get("space") == "torch-code" and training:  # the only space whose runs train networks themselves
            text += (f"; training: {num(training.get('epochs'))} epochs, {training.get('optimizer', 'sgd')} with learning rate {num(training.get('lr'))}, "
                     f"momentum {num(training.get('momentum'))}, batch size {num(training.get('batch_size'))}")
        if r:
            text += (f". It stopped because: {r.get('stop_reason')}, after {num(r.get('evaluations'))} evaluations "
                     f"and {num(r.get('wall_seconds'))} s")
        else:
            text += ". It has no result.json: it did not finish"
        last = max(self.steps(), default=0)
        return Answer(query="", found=True, text=text + ".", steps=[last],
                      values=[self.graph, str(c.get("space")), str(c.get("dataset"))])

    # --- reasoning, for "why" without a step ---------------------------------------------------

    def _semantic(self, query: str, k: int) -> list[Fact]:
        """The Chroma memory's nearest reasoning of this run, if the run was stored there
        (`finish` journals where: graphs/remember.py); [] otherwise, without opening Chroma."""
        stored = next((e.data["memory"] for e in self.events if e.kind == "archive"
                       and isinstance(e.data.get("memory"), dict) and e.data["memory"].get("reasoning")), None)
        if stored is None or not Path(str(stored.get("memory"))).is_dir():  # a store since moved or deleted
            return []
        from memory.store import Memory

        hits = Memory(stored["memory"], stored["embedding"]).search_reasoning(query, run_id=self.run.id, k=k)
        return [Fact(step=int(h["step"]), text=f"the {h.get('role') or 'agent'} said: {h['text']}"[:TEXT_CHARS])
                for h in hits if h["distance"] <= MAX_DISTANCE]

    def reasoning(self, query: str, k: int = 5) -> list[Fact]:
        """Rationales closest to `query`: the Chroma memory when it holds this run, else word overlap."""
        semantic = self._semantic(query, k)
        if semantic:
            return semantic
        words = set(re.findall(r"[a-z0-9_]{3,}", query.lower())) - STOPWORDS
        scored = []
        for e in self.events:
            text = describe(e)
            if text and e.kind in ("answer", "critic", "fallback", "offspring"):
                overlap = len(words & set(re.findall(r"[a-z0-9_]{3,}", text.lower())))
                if overlap >= min(2, len(words)):  # one shared word is too often chance
                    scored.append((overlap, e))
        scored.sort(key=lambda pair: -pair[0])  # stable: ties stay in run order
        return self._facts([e for _, e in scored], k)


STOPWORDS = {"the", "and", "for", "was", "were", "what", "which", "why", "how", "did", "does", "this", "that",
             "with", "run", "step", "search", "many", "much", "are", "its", "from", "when", "who", "about", "there"}


def parse_query(name: str, args: dict) -> BaseModel | None:
    """A tool call or a model's pick as a typed query; None when the name or arguments are invalid."""
    try:
        return QUERY.validate_python({**args, "name": name})
    except ValidationError:
        return None


def tools(log: RunLog) -> list[BaseTool]:
    """The queries as LangChain tools (for providers that call tools; see agents/inspector.py)."""
    def tool(cls: type[BaseModel]) -> BaseTool:
        fields = {k: (f.annotation, f) for k, f in cls.model_fields.items() if k != "name"}
        name = cls.model_fields["name"].default

        def run(**args) -> str:
            return log.answer(cls(**args)).line()

        return StructuredTool.from_function(run, name=name, description=" ".join(cls.__doc__.split()),
                                            args_schema=create_model(f"{cls.__name__}Args", **fields))

    return [tool(cls) for cls in QUERIES]
