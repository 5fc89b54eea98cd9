"""Read-only tools over one recorded run, for the Inspector (agents/inspector.py).

Everything is read from the run folder (events.jsonl, config.json, result.json);
nothing here writes to it.  Each tool returns `Fact`s: one short sentence tied
to the journal step it comes from, so an answer can cite steps.  In LLMatic
runs a journal step is a generation (0 = the random initial networks).

`tools(log)` wraps them as LangChain tools for models that call tools themselves.
"""

from __future__ import annotations

import re
from functools import cached_property

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel

from memory.journal import Event
from memory.runs import RunDir

MAX_DISTANCE = 0.6  # cosine distance; farther "nearest" reasoning is unrelated, and evidence it is not
TEXT_CHARS = 400  # a fact is a sentence, not a prompt dump; `prompt_and_answer` has the full text


class Fact(BaseModel):
    step: int
    text: str

    def line(self) -> str:
        return f"[step {self.step}] {self.text}"


def _acc(value: float | None) -> str:
    return "no accuracy (failed)" if value is None else f"{value:.2f}%"


def describe(event: Event) -> str | None:
    """One sentence for an event, or None for events that say nothing by themselves."""
    d = event.data
    if event.kind == "answer" and isinstance(d.get("parsed"), dict) and d["parsed"].get("rationale"):
        return f"the {event.role} ({event.model}) gave this rationale: {d['parsed']['rationale']}"
    if event.kind == "critic":
        verdict = "accepted" if d.get("accept") else f"rejected ({d.get('kind', 'rejected')})"
        return f"the {event.role or 'critic'} {verdict} {d.get('arch')}: {d.get('reason', '')}"
    if event.kind == "evaluation":
        extra = f", {d['flops_m']:.2f} MFLOPs, {d['params_m']:.3f} M params" if d.get("flops_m") is not None else ""
        return f"evaluated {d.get('arch')}: validation accuracy {_acc(d.get('val_acc'))}{extra}"
    if event.kind == "fallback":
        return f"fallback (not the LLM): seeded mutation {d.get('arch')} of {d.get('mutated_from')}, because {d.get('reason')}"
    if event.kind == "parse_error":
        return f"the {event.role}'s answer did not parse: {str(d.get('error'))[:120]}"
    if event.kind == "offspring":
        made = f"{d.get('arch')} with {_acc(d.get('val_acc'))}, archive {d.get('status') or d.get('outcome')}" \
            if d.get("arch") else f"untrainable ({str(d.get('detail'))[:120]})"
        return f"generation {d.get('generation')} offspring {d.get('index')} by {d.get('operator')}: {made}"
    if event.kind == "archive" and "coverage" in d:
        return (f"after generation {d.get('generation')}: {d.get('filled')} archive niches filled, coverage "
                f"{d['coverage']:.0%}, QD score {d.get('qd_score', 0):.1f}, best {_acc(d.get('best_val_acc'))}")
    if event.kind == "run":
        extra = f" from {d.get('parent')} at step {d.get('forked_at')}" if d.get("event") == "forked" else ""
        return f"run {d.get('event')}{extra}"
    if event.kind == "result":
        best = d.get("best") or {}
        return (f"run finished ({d.get('stop_reason')}) after {d.get('evaluations')} evaluations; best "
                f"{best.get('arch')} found at step {best.get('step')}, validation {_acc(best.get('val_acc'))}, "
                f"test {_acc(best.get('test_acc'))}, rank {best.get('rank')} of {best.get('of')}")
    return None


class RunLog:
    """The journal of one run, loaded once, with the queries the Inspector needs."""

    def __init__(self, run: RunDir):
        self.run = run
        self.events = list(run.journal().events())
        self.settings = run.settings()
        self.result = run.result()

    def _facts(self, events, limit: int | None = None) -> list[Fact]:
        facts = [Fact(step=e.step, text=text[:TEXT_CHARS]) for e in events if (text := describe(e))]
        return facts[:limit] if limit else facts

    @cached_property
    def _evaluations(self) -> list[Event]:
        return [e for e in self.events if e.kind == "evaluation" and e.data.get("val_acc") is not None]

    def _semantic(self, query: str, k: int) -> list[Fact]:
        """The Chroma memory's nearest reasoning of this run, if the run was stored there
        (`finish` journals where: graphs/remember.py); [] otherwise, without opening Chroma."""
        stored = next((e.data["memory"] for e in self.events if e.kind == "archive"
                       and isinstance(e.data.get("memory"), dict) and e.data["memory"].get("reasoning")), None)
        if stored is None:
            return []
        from memory.store import Memory

        hits = Memory(stored["memory"], stored["embedding"]).search_reasoning(query, run_id=self.run.id, k=k)
        return [Fact(step=int(h["step"]), text=f"the {h.get('role') or 'agent'} said: {h['text']}"[:TEXT_CHARS])
                for h in hits if h["distance"] <= MAX_DISTANCE]

    # --- the tools ---------------------------------------------------------------------------

    def search(self, step: int | None = None, role: str | None = None, kind: str | None = None,
               arch: str | None = None, text: str | None = None, limit: int = 20) -> list[Fact]:
        """Events matching every given filter (text: case-insensitive substring of the event)."""
        needle = text.lower() if text else None
        hits = [e for e in self.events
                if (step is None or e.step == step) and (role is None or e.role == role)
                and (kind is None or e.kind == kind) and (arch is None or arch in e.model_dump_json())
                and (needle is None or needle in (describe(e) or "").lower())]
        return self._facts(hits, limit)

    def overview(self) -> list[Fact]:
        """Counts over the whole run and the final result, one number per fact (a small model
        copies the right number from a short line, not from a sentence holding six)."""
        last = max(self.steps(), default=0)
        count = lambda kind, **match: sum(  # noqa: E731
            e.kind == kind and all(e.data.get(k) == v for k, v in match.items()) for e in self.events)
        s = self.settings
        texts = [f"this is a {s.graph} search on {s.space}/{s.dataset} with seed {s.seed}",
                 f"{len(self._evaluations)} architectures were evaluated (budget {s.budget})",
                 f"{count('critic', accept=False)} proposals were rejected by the critic",
                 f"{count('fallback')} fallback mutations were used",
                 f"{count('parse_error')} LLM answers did not parse"]
        result = next((e for e in reversed(self.events) if e.kind == "result"), None)
        facts = [Fact(step=last, text=t) for t in texts]
        best = (result.data.get("best") or {}) if result is not None else {}
        if best:  # cited at the step where the best was found
            facts += [Fact(step=best["step"], text=t) for t in (
                f"the best architecture was {best['arch']}",
                f"the best architecture was found at step {best['step']} (by {best['source']})",
                f"the best validation accuracy was {_acc(best['val_acc'])}",
                f"the best architecture's test accuracy was {_acc(best.get('test_acc'))}",
                f"the best architecture ranks {best.get('rank')} of {best.get('of')} by test accuracy")]
        if result is not None:
            facts.append(Fact(step=result.step, text=f"the run stopped because: {result.data.get('stop_reason')}"))
        return facts + self._facts([e for e in self.events if e.kind == "run" and e.data.get("event") == "forked"])

    def timeline(self) -> list[Fact]:
        """Every event that says something, in journal order (`cli.py show`)."""
        return self._facts(self.events)

    def archs(self) -> set[str]:
        """Every architecture the run proposed or evaluated."""
        return {e.data["arch"] for e in self.events
                if e.kind in ("critic", "evaluation", "fallback") and isinstance(e.data.get("arch"), str)}

    def steps(self) -> set[int]:
        return {e.step for e in self.events}

    def prompt_and_answer(self, step: int, role: str | None = None) -> dict:
        """The full prompt messages and answer texts at a step (every call made at that step)."""
        calls = [e for e in self.events if e.step == step and e.kind in ("prompt", "answer")
                 and (role is None or e.role == role)]
        return {"step": step, "calls": [{"kind": e.kind, "role": e.role, "model": e.model,
                                         "messages": e.data.get("messages"), "content": e.data.get("content")}
                                        for e in calls]}

    def ranked(self, worst: bool = False, n: int = 3) -> list[Fact]:
        """The n best (or worst) evaluations by validation accuracy."""
        order = sorted(self._evaluations, key=lambda e: e.data["val_acc"], reverse=not worst)
        word = "lowest" if worst else "highest"
        return [Fact(step=e.step, text=f"{'' if i else word + ' validation accuracy of the run: '}{describe(e)}")
                for i, e in enumerate(order[:n])]

    def archive_at(self, step: int) -> list[Fact]:
        """The archive as it stood after `step`: elites best first (GENIUS keeps one per
        isomorphism class; LLMatic's archive statistics per generation)."""
        stats = [e for e in self.events if e.kind == "archive" and "coverage" in e.data and e.step <= step]
        if stats:
            return self._facts(stats[-1:])
        best_per_class: dict[str, Event] = {}
        for e in self._evaluations:
            if e.step <= step:
                key = e.data.get("canonical") or e.data["arch"]
                if key not in best_per_class or e.data["val_acc"] > best_per_class[key].data["val_acc"]:
                    best_per_class[key] = e
        elites = sorted(best_per_class.values(), key=lambda e: -e.data["val_acc"])
        return [Fact(step=e.step, text=f"archive elite {i + 1} of {len(elites)} after step {step}: {describe(e)}")
                for i, e in enumerate(elites[:10])]

    def principles_at(self, step: int) -> list[Fact]:
        """Principles the learner stated up to `step` (LAPT runs; empty otherwise)."""
        facts = []
        for e in self.events:
            parsed = e.data.get("parsed") if e.kind == "answer" and e.role == "learner" else None
            if parsed and e.step <= step:
                facts += [Fact(step=e.step, text=f"principle: {p}") for p in parsed.get("principles", [])]
        return facts

    def compare(self, arch_a: str, arch_b: str) -> list[Fact]:
        """The evaluations of two architectures side by side (first evaluation of each)."""
        facts = []
        for arch in (arch_a, arch_b):
            found = next((e for e in self._evaluations if e.data["arch"] == arch), None)
            if found is not None:
                facts.append(Fact(step=found.step, text=describe(found)))
        if len(facts) == 2:
            a, b = (next(e for e in self._evaluations if e.data["arch"] == x) for x in (arch_a, arch_b))
            diff = a.data["val_acc"] - b.data["val_acc"]
            facts.append(Fact(step=max(a.step, b.step), text=f"{arch_a} is {abs(diff):.2f} points "
                                                              f"{'better' if diff >= 0 else 'worse'} than {arch_b}"))
        return facts

    def usage(self) -> list[Fact]:
        """LLM calls and tokens per role (summed over the journal's answers), one number per fact."""
        per_role: dict[tuple, list[int]] = {}
        for e in self.events:
            if e.kind == "answer":
                calls, tin, tout, _ = per_role.get((e.role, e.model), [0, 0, 0, 0])
                per_role[(e.role, e.model)] = [calls + 1, tin + (e.tokens_in or 0), tout + (e.tokens_out or 0), e.step]
        facts = []
        for (role, model), (calls, tin, tout, step) in per_role.items():
            facts += [Fact(step=step, text=f"the {role} used {tin + tout} tokens in total ({model})"),
                      Fact(step=step, text=f"the {role} made {calls} LLM calls"),
                      Fact(step=step, text=f"the {role} read {tin} tokens and wrote {tout} tokens")]
        return facts

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


def tools(log: RunLog) -> list[BaseTool]:
    """The queries as LangChain tools (for providers that call tools; see agents/inspector.py)."""
    def lines(facts: list[Fact]) -> str:
        return "\n".join(f.line() for f in facts) or "nothing in the log"

    def search_events(step: int | None = None, role: str | None = None, kind: str | None = None,
                      arch: str | None = None, text: str | None = None) -> str:
        """Search the run's event log by step, role (designer, critic, learner), kind (answer, critic,
        evaluation, fallback, offspring, archive, result), architecture string or text."""
        return lines(log.search(step=step, role=role, kind=kind, arch=arch, text=text))

    def step_prompt_and_answer(step: int) -> str:
        """The full prompt and answer of every LLM call made at a step."""
        import json

        return json.dumps(log.prompt_and_answer(step))[:6000]

    def best_or_worst(worst: bool = False, n: int = 3) -> str:
        """The n best (or worst) evaluated architectures by validation accuracy."""
        return lines(log.ranked(worst=worst, n=n))

    def archive_at_step(step: int) -> str:
        """The elite archive as it stood after a step."""
        return lines(log.archive_at(step))

    def principles_at_step(step: int) -> str:
        """Design principles the learner had stated by a step."""
        return lines(log.principles_at(step))

    def compare_architectures(arch_a: str, arch_b: str) -> str:
        """Validation accuracy, FLOPs and params of two evaluated architectures."""
        return lines(log.compare(arch_a, arch_b))

    def token_usage() -> str:
        """LLM calls and tokens per role."""
        return lines(log.usage())

    def search_reasoning(query: str) -> str:
        """The agents' rationales and verdicts closest to a query."""
        return lines(log.reasoning(query))

    return [StructuredTool.from_function(f) for f in (search_events, step_prompt_and_answer, best_or_worst,
                                                      archive_at_step, principles_at_step, compare_architectures,
                                                      token_usage, search_reasoning)]
