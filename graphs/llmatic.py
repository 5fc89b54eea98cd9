"""LLMatic (seed 001, sections 3-5, Algorithm 1): LLM mutation and crossover of
network code, steered by two CVT-MAP-Elites archives (networks, prompts).

    init (random networks) -> generation x G -> finish

A generation plans its whole batch first (operator, parent(s), prompt, temperature),
deterministically from the archives at its start and the seed; the LLM calls then run
concurrently (`max_concurrency`), and their answers are read back as architectures
(spaces/codeblock.py: fenced or not, cut by max_tokens or not).

Which answers cost an evaluation is the Critic's call (settings.critic):
- `rules` / `off` (the paper): every new, valid offspring is evaluated.
- `evidence` / `llm` (default): the offspring join children of REA tournament winners and
  random samples in one pool, the Critic ranks the pool by evidence that costs no
  evaluation (tools/evidence.py) and the batch's evaluations go to the best of it.  An
  offspring ranked out counts, for its prompt, as not added to the archive.  So a model
  that writes poor code cannot make LLMatic worse than the search it contains.  (On
  trained spaces evidence costs a sandboxed forward pass per candidate, so only the
  rules apply there.)

Evaluated children are offered to the archives and credit their prompt (curiosity,
temperature adaptation, section 4.1).  The archives are not checkpointed: they are rebuilt
by replaying the recorded offspring.  A generation interrupted by a crash runs again on
resume and repeats nothing it finished: answers are read back from the journal
(`Journal.tagged`), evaluations too (graphs/nodes.py: evaluate_arch), and an offspring is
journaled once.

Budget: generations continue until `budget` architectures are evaluated (the last batch is
cut to fit), or run exactly `llmatic.generations` when that is set (the paper: 20 x 100).
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import cache
from typing import Annotated, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from agents import critic, mutator
from agents.structured import Usage
from errors import UserError
from graphs import limits, nodes, search
from graphs.context import RunContext
from graphs.state import SearchState
from memory.populations import NetworkPopulation, PromptPopulation
from memory.qd import NetworkArchive, PromptArchive
from settings import Settings
from spaces.base import Coded, Evaluation, Positional, Trained, Trial

NAME = "llmatic"
# baseline: a candidate of the contained search (REA child, random sample) that won the ranking;
# human: an architecture the user added to a batch (search --approve)
Operator = Literal["init", "mutation", "crossover", "random", "baseline", "human"]
# Where an offspring came from, by operator (a trial's `source`; the bench table reads it too):
# the random start, the user, else the model; the Critic's picks from the contained search carry their
# own (`Plan.source`: rea or random).
OFFSPRING_SOURCE = {"init": "random", "baseline": "baseline", "human": "human"}
Outcome = Literal["added", "not_added", "untrainable", "ranked_out"]
REUSED = "evaluated before; result reused"
EMPTY_GENERATIONS = 3  # generations in a row without one evaluated offspring before the run stops


class Plan(BaseModel):
    """What one offspring will be made from (fixed before any LLM call of its generation)."""

    generation: int
    index: int
    operator: Operator
    parents: list[str] = []
    prompt_id: int | None = None
    prompt_temperature: float | None = None  # the prompt individual's own temperature, before jitter
    temperature: float | None = None         # what the LLM is sampled at
    source: str | None = None                # operator baseline: the contained search's source (rea, random)

    def trial_source(self) -> str:
        return self.source or OFFSPRING_SOURCE.get(self.operator, "llm")


class Offspring(Plan):
    """A plan and what came of it."""

    arch: str | None = None
    val_acc: float | None = None
    descriptors: tuple[float, float] | None = None  # as measured by the evaluation (torch-code), else the space's
    outcome: Outcome = "untrainable"
    status: str = ""
    detail: str = ""
    next_temperature: float | None = None  # the prompt individual's adapted temperature
    beat_previous_best: bool = False


class HeldBatch(BaseModel):
    """A generation bred and chosen, held for the user's approval (search --approve) before its
    evaluations: `chosen` to evaluate, `children` already journaled (unreadable, ranked out)."""

    generation: int
    chosen: list[Offspring]
    children: list[Offspring] = []
    usage: Usage = Usage()
    critic_usage: Usage | None = None


class LLMaticState(SearchState):
    generation: int = 0
    offspring: list[Offspring] = []
    generation_stats: list[dict] = []
    empty_generations: int = 0  # generations in a row in which no offspring could be evaluated
    held: HeldBatch | None = None  # a batch awaiting the user (graphs/approve.py: approve_batch)

    def extra_result(self, ctx: RunContext) -> dict:
        """Coverage, QD score, cells filled and parse rate per generation; the archive figures."""
        llm = [c for c in self.offspring if c.operator in ("mutation", "crossover", "random")]
        extra = {
            "settings": ctx.settings.llmatic.model_dump(),
            "offspring": len(llm),
            "parsed_fraction": round(sum(c.arch is not None for c in llm) / len(llm), 4) if llm else None,
            "untrainable": sum(c.outcome == "untrainable" for c in llm),
            "per_generation": self.generation_stats,
        }
        best = self.best()
        if best is not None:  # result.json's best.step counts distinct cells; the journal's steps are generations
            extra["best_generation"] = next((c.generation for c in self.offspring if c.arch == best.arch), None)
        if ctx.result_path is not None:
            archives = Archives.replay(ctx, len(ctx.space.edits), self.offspring)
            folder = ctx.result_path.parent
            archives.networks.heatmap(folder / "network_archive.png", ctx.space.descriptor_names,
                                      f"network archive ({ctx.settings.dataset}, val acc %)")
            archives.prompts.heatmap(folder / "prompt_archive.png", ("prompt id", "temperature"),
                                     "prompt archive (prompt fitness)")
            _plot_curve(folder / "best_per_generation.png", self.generation_stats)
            extra["figures"] = ["network_archive.png", "prompt_archive.png", "best_per_generation.png"]
        return {"llmatic": extra}


STATE = LLMaticState
REQUIRES: tuple[type, ...] = (Coded,)


def roles(settings: Settings) -> list[str]:
    """`--designer none` (the no-model twin): the contained search fills every batch."""
    return (["designer"] if settings.designer != "none" else []) + (["critic"] if settings.critic == "llm" else [])


def check(settings: Settings, space) -> None:
    """The no-model twin needs the contained search, which runs beside the evidence Critic."""
    if settings.designer == "none" and not nodes.contained(settings, space):
        raise UserError("--designer none runs llmatic's Critic and contained search without the model; that "
                        "search runs with --critic evidence or llm on a space whose candidates cost nothing to "
                        f"rank ({space.name} trains each one)")


def default_budget(settings: Settings) -> int:
    """10 random networks and 3 generations of 8 offspring: the paper's shape (20 x 100) at CPU size."""
    return 34


def planned_evaluations(settings: Settings) -> int:
    """The budget; with explicit generations (the paper's 20), the offspring they make."""
    cfg = settings.llmatic
    if cfg.generations is None:
        return settings.budget
    return cfg.initial_for(settings.budget) + cfg.generations * cfg.batch


def build(settings: Settings) -> StateGraph:
    graph = StateGraph(LLMaticState, context_schema=RunContext)
    graph.add_node("init", initialise)
    graph.add_node("generation", generation)
    graph.add_node("halt", limits.halt)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "init")
    graph.add_conditional_edges("init", next_step, ["generation", "halt", "finish"])
    if settings.approve:  # generation -> approve -> evaluate: the user sees each batch before it is evaluated
        from graphs.approve import approve_batch

        graph.add_node("approve", approve_batch, destinations=("evaluate",))
        graph.add_node("evaluate", evaluate_held)
        graph.add_conditional_edges("generation", next_step, ["approve", "generation", "halt", "finish"])
        graph.add_conditional_edges("evaluate", next_step, ["generation", "halt", "finish"])
    else:
        graph.add_conditional_edges("generation", next_step, ["generation", "halt", "finish"])
    graph.add_edge("halt", "generation")
    graph.add_edge("finish", END)
    return graph


def next_step(state: LLMaticState, runtime: Runtime[RunContext]) -> str:
    settings = runtime.context.settings
    if state.held is not None:
        return "approve"
    if state.done:
        return "finish"
    if settings.llmatic.generations is not None:
        more = state.generation < settings.llmatic.generations
    else:
        more = state.evaluations < settings.budget
    if not more:
        return "finish"
    return limits.HALT if limits.reached(state, runtime.context) else "generation"


def batch_size(state: LLMaticState, settings: Settings) -> int:
    """Offspring this generation: the batch, or what is left of the budget when generations
    follow the budget (so a run spends `budget` evaluations at most)."""
    if settings.llmatic.generations is not None:
        return settings.llmatic.batch
    return max(1, min(settings.llmatic.batch, settings.budget - state.evaluations))


# --- archives, rebuilt from the record -------------------------------------------------------


class Archives:
    """The network and prompt archives, or, in the ablations that drop one, the plain
    population that replaces it (memory/populations.py)."""

    def __init__(self, ctx: RunContext, n_prompts: int):
        cfg, dataset, seed = ctx.settings.llmatic, ctx.settings.dataset, ctx.settings.seed
        self.networks = NetworkPopulation(ctx.space.encode) if cfg.ablation == "prompt-archive-only" else \
            NetworkArchive(ctx.space.descriptor_ranges(dataset), cfg.cells_per_dim, seed)
        self.prompts = PromptPopulation(n_prompts, seed) if cfg.ablation == "network-archive-only" else \
            PromptArchive(n_prompts, cfg.cells_per_dim, seed)
        self.evaluated: dict[str, Evaluation] = {}  # every cell evaluated so far: never paid for twice
        self.descriptors: dict[str, tuple[float, float]] = {}  # measured once (torch-code measures in the sandbox)

    def offer(self, ctx: RunContext, child: Offspring) -> str:
        """Insert an evaluated child into the network archive; returns the AddStatus name."""
        if child.arch is None or child.val_acc is None:
            return "UNTRAINABLE"
        self.evaluated.setdefault(child.arch, Evaluation(arch=child.arch, canonical=ctx.space.canonical(child.arch),
                                                         val_acc=child.val_acc))
        descriptors = child.descriptors or self.descriptors.get(child.arch) or \
            ctx.space.descriptors(child.arch, ctx.settings.dataset)
        self.descriptors[child.arch] = descriptors
        return self.networks.add(child.arch, child.val_acc, descriptors).name

    def credit(self, child: Offspring) -> None:
        """Curiosity and prompt fitness for the prompt individual that made `child` (section 4.1)."""
        if child.operator == "mutation" and child.prompt_id is not None:
            origin = {"origin": (child.prompt_id, child.prompt_temperature)} \
                if isinstance(self.prompts, PromptPopulation) else {}
            self.prompts.record(child.prompt_id, child.next_temperature, child.outcome, child.beat_previous_best,
                                **origin)

    @classmethod
    def replay(cls, ctx: RunContext, n_prompts: int, offspring: list[Offspring]) -> "Archives":
        archives = cls(ctx, n_prompts)
        for child in offspring:
            archives.offer(ctx, child)
            archives.credit(child)
        return archives


def edits(ctx: RunContext) -> tuple[str, ...]:
    return ctx.space.edits


# --- nodes ------------------------------------------------------------------------------------


def initialise(state: LLMaticState, runtime: Runtime[RunContext]) -> dict:
    """Generation 0: random networks fill the archive before the operators start (section 4.1);
    never one the Critic can tell is at chance."""
    ctx = runtime.context
    archives = Archives(ctx, len(edits(ctx)))
    n = ctx.settings.llmatic.initial_for(ctx.settings.budget)
    drawn = search.random_new(ctx, state, random.Random(f"{ctx.settings.seed}:init"), n, "random")
    plans = [(Plan(generation=0, index=i, operator="init"), trial.arch) for i, trial in enumerate(drawn)]
    children = _evaluate_all(ctx, state, archives, plans)
    return _close_generation(state, ctx, archives, children, usage=None)


def generation(state: LLMaticState, runtime: Runtime[RunContext]) -> dict:
    ctx = runtime.context
    gen = state.generation + 1
    archives = Archives.replay(ctx, len(edits(ctx)), state.offspring)
    plans = plan_generation(ctx, state, archives, gen)
    started = time.perf_counter()
    answers, usage = asyncio.run(_ask_all(ctx, plans, state.offspring)) if ctx.settings.designer != "none" \
        else ([], Usage())  # the twin: no offspring of the model; _select fills the batch from the contained search
    ctx.journal.append(gen, "generation", data={"llm_seconds": round(time.perf_counter() - started, 3),
                                                "llm_calls": usage.calls})
    readable, children = [], []
    for plan, text in answers:
        try:
            readable.append((plan, ctx.space.from_code(text)))
        except UserError as err:
            children.append(_journal(ctx, _adapt(ctx, state, Offspring(**plan.model_dump(), outcome="untrainable",
                                                                    detail=str(err)))))
    chosen, ranked_out, update = _select(ctx, state, archives, readable, gen, len(plans))
    for plan, arch, why in ranked_out:
        children.append(ranked_out_child(ctx, state, plan, arch, why))
    if ctx.settings.approve:  # the user sees the batch before it costs evaluations (next: approve)
        held = [Offspring(**plan.model_dump(), arch=arch) for plan, arch in chosen]
        return {"held": HeldBatch(generation=gen, chosen=held, children=children, usage=usage,
                                  critic_usage=update.get("critic_usage"))}
    return _complete(ctx, state, archives, children, chosen, usage, update.get("critic_usage"))


def ranked_out_child(ctx: RunContext, state: LLMaticState, plan: Plan, arch: str, why: str) -> Offspring:
    """An offspring not evaluated (the Critic ranked it out, or the user rejected it), journaled."""
    return _journal(ctx, _adapt(ctx, state, Offspring(**plan.model_dump(include=set(Plan.model_fields)), arch=arch,
                                                      outcome="ranked_out", status="RANKED_OUT",
                                                      detail=f"not evaluated: {why}")))


def evaluate_held(state: LLMaticState, runtime: Runtime[RunContext]) -> dict:
    """The approved batch's evaluations, and the end of its generation."""
    ctx, held = runtime.context, state.held
    archives = Archives.replay(ctx, len(edits(ctx)), state.offspring)
    chosen = [(Plan(**c.model_dump(include=set(Plan.model_fields))), c.arch) for c in held.chosen]
    return {**_complete(ctx, state, archives, list(held.children), chosen, held.usage, held.critic_usage),
            "held": None}


def _complete(ctx: RunContext, state: LLMaticState, archives: Archives, children: list[Offspring],
              chosen: list[tuple[Plan, str]], usage: Usage, critic_usage: Usage | None) -> dict:
    """Evaluate the chosen offspring, credit the prompts and close the generation."""
    children += _evaluate_all(ctx, state, archives, chosen)
    for child in children:
        archives.credit(child)
    result = _close_generation(state, ctx, archives, sorted(children, key=lambda c: c.index), usage)
    if critic_usage is not None:  # the critic model's calls (critic=llm), beside the designer's
        result["usage"] = {**result["usage"], "critic": state.usage.get("critic", Usage()).add(critic_usage)}
    return result


def plan_generation(ctx: RunContext, state: LLMaticState, archives: Archives, gen: int) -> list[Plan]:
    """Operators, parents, prompts and temperatures for a whole batch (section 4.1)."""
    cfg = ctx.settings.llmatic
    rng = random.Random(f"{ctx.settings.seed}:gen{gen}")
    n_prompts = len(edits(ctx))
    p_mutation = {"mutation-only": 1.0, "crossover-only": 0.0}.get(cfg.ablation, cfg.p_mutation)
    crossover_pool = archives.networks.sample(rng, cfg.crossover_networks)
    plans = []
    for i in range(batch_size(state, ctx.settings)):
        if cfg.ablation == "random":
            plans.append(Plan(generation=gen, index=i, operator="random", temperature=cfg.temperature))
        elif rng.random() < p_mutation:
            plans.append(_plan_mutation(cfg, archives, rng, gen, i, n_prompts))
        else:
            parent = crossover_pool[i % len(crossover_pool)]
            partners = archives.networks.nearest(parent, rng.choice((2, 3)))
            plans.append(Plan(generation=gen, index=i, operator="crossover", parents=[parent, *partners],
                              temperature=cfg.crossover_temperature))
    return plans


def _plan_mutation(cfg, archives: Archives, rng: random.Random, gen: int, i: int, n_prompts: int) -> Plan:
    """Half the batch takes the most curious prompt individual, half a random one (a random
    prompt at the initial temperature while the prompt archive is empty); half gets a
    random temperature jitter."""
    pick = archives.prompts.most_curious(rng) if i % 2 == 0 else archives.prompts.random_individual(rng)
    prompt_id, own = pick if pick is not None else (rng.randrange(n_prompts), cfg.temperature)
    jitter = rng.uniform(-cfg.jitter, cfg.jitter) if i % 4 < 2 else 0.0
    parent = archives.networks.sample(rng, 1)[0]
    return Plan(generation=gen, index=i, operator="mutation", parents=[parent], prompt_id=prompt_id,
                prompt_temperature=own, temperature=min(max(own + jitter, 0.0), 1.0))


def answers_as_edits(ctx: RunContext) -> bool:
    """settings.llmatic.answer: `auto` asks embedded (small, local) models for structured edits
    on spaces with positions, others for code as the paper does."""
    mode = ctx.settings.llmatic.answer
    if mode == "auto":
        mode = "edit" if ctx.settings.models.designer.provider == "embedded" else "code"
    return mode == "edit" and isinstance(ctx.space, Positional)


async def _ask_all(ctx: RunContext, plans: list[Plan], offspring: list[Offspring] = ()) -> \
        tuple[list[tuple[Plan, str]], Usage]:
    """Every planned offspring's answer, at most `max_concurrency` calls in flight; an answer
    journaled before an interruption is read back instead of asked again.  The most recent
    earlier answer that could not be used is quoted, so the model hears what went wrong."""
    if answers_as_edits(ctx):
        return _ask_edits(ctx, plans)
    failed = [c for c in offspring if c.outcome == "untrainable" and c.detail]
    lesson = f"An earlier answer could not be used: {' '.join(failed[-1].detail.split())[:300]}" if failed else ""
    semaphore = asyncio.Semaphore(ctx.settings.llmatic.max_concurrency)
    asker, usage = ctx.askers["designer"], Usage()

    async def answer(plan: Plan) -> tuple[Plan, str, Usage]:
        recorded = ctx.journal.tagged("answer", plan.generation, plan.index)
        if recorded is not None:
            return plan, recorded.data.get("content", ""), Usage()
        async with semaphore:
            text, spent = await asker.ask_text(
                _messages(ctx, plan, lesson), ctx.journal, plan.generation, temperature=plan.temperature,
                seed=ctx.settings.seed * 100_003 + plan.generation * 1_000 + plan.index,
                max_tokens=ctx.settings.llmatic.max_tokens, grammar=ctx.space.code_grammar or mutator.CODE_BLOCK_GBNF,
                tag={"generation": plan.generation, "index": plan.index, "operator": plan.operator})
        return plan, text, spent

    answered = []
    for done in asyncio.as_completed([answer(plan) for plan in plans]):
        plan, text, spent = await done
        usage = usage.add(spent)
        answered.append((plan, text))
    return sorted(answered, key=lambda pair: pair[0].index), usage


POOL_CAP = 1_000  # most contained-search candidates the Critic ranks per generation


def _distinct(ctx: RunContext, ranked: list) -> list:
    """The ranking with isomorphic twins (an offspring and a drawn candidate) kept once, at the
    better rank: two of them in one batch would pay one evaluation for nothing."""
    seen, out = set(), []
    for candidate in ranked:
        key = ctx.space.canonical(candidate.arch)
        if key not in seen:
            seen.add(key)
            out.append(candidate)
    return out


def _select(ctx: RunContext, state: LLMaticState, archives: Archives, readable: list[tuple[Plan, str]], gen: int,
            batch: int) -> tuple[list[tuple[Plan, str]], list[tuple[Plan, str, str]], dict]:
    """(offspring to evaluate, offspring ranked out with the reason, a state update).  The paper evaluates every
    readable offspring; the evidence Critic fills the batch with the best of the offspring and
    the contained search's candidates."""
    if not nodes.ranks_by_evidence(ctx):
        return readable, [], {}
    rng = nodes.seeded(ctx, gen, "llmatic-pool")
    # An offspring evaluated before has its result reused at no cost: it takes no place in the batch.
    # One isomorphic to an evaluated cell (another string, the same network) is not evaluated again.
    known = state.index()
    reused, twins, fresh = [], [], []
    for plan, arch in readable:
        if arch in known.by_arch:
            reused.append((plan, arch))
        elif ctx.space.canonical(arch) in known.by_canonical:
            twins.append((plan, arch, "the same network as an evaluated architecture (isomorphic)"))
        else:
            fresh.append((plan, arch))
    pool = [Trial(step=0, arch=arch, source="llm", rationale=f"{plan.operator} (generation {gen})")
            for plan, arch in fresh]
    # The contained search's share of the pool per evaluation, as GENIUS gets it per step: a batch
    # of 8 chosen from one step's 20 candidates was barely better than random (NB201 CIFAR-10,
    # budget 10: 93.17 against GENIUS's 94.34).  Capped so a paper-scale batch (100) stays cheap.
    scale = min(batch, POOL_CAP // max(ctx.settings.pool_rea + ctx.settings.pool_random, 1))
    # The contained search draws as the no-model twin does: the offspring are not in its way (a
    # drawn twin of an offspring is merged by _distinct below).
    own = search.rea_child(ctx, state.model_copy(update={"pool": []}), rng, ctx.settings.pool_rea * scale, "rea")
    own += search.random_new(ctx, state.model_copy(update={"pool": own}), rng, ctx.settings.pool_random * scale,
                             "random")
    pool += own
    ranked, record, usage = nodes.rank_pool(ctx, state, pool, gen, batch)
    update = {"critic_usage": usage} if usage is not None else {}
    ranked = _distinct(ctx, ranked)
    winners = {r.arch for r in ranked[:batch]}
    chosen, ranked_out, taken = list(reused), list(twins), set()
    for plan, arch in fresh:
        if arch in winners and arch not in taken:
            chosen.append((plan, arch))
            taken.add(arch)
        else:
            ranked_out.append((plan, arch, "the Critic ranked other candidates higher"))
    extra = [r for r in ranked[:batch] if r.arch not in taken and r.source != "llm"]
    next_index = max((plan.index for plan, _ in readable), default=batch - 1) + 1
    chosen += [(Plan(generation=gen, index=next_index + i, operator="baseline", source=r.source), r.arch)
               for i, r in enumerate(extra)]
    ctx.journal.append(gen, "critic", role="critic", data=record)
    return chosen, ranked_out, update


def _evaluate_all(ctx: RunContext, state: LLMaticState, archives: Archives,
                  chosen: list[tuple[Plan, str]]) -> list[Offspring]:
    """Evaluate the chosen offspring (trained spaces: all trainings started at once on the
    executor), offer them to the archive and journal them."""
    ahead = {plan.index: _train_ahead(ctx, archives, arch) for plan, arch in chosen}
    children = []
    for plan, arch in chosen:
        future = ahead[plan.index]
        children.append(_evaluate(ctx, state, archives, plan, arch, future.result() if future else None))
    return children


def _ask_edits(ctx: RunContext, plans: list[Plan]) -> tuple[list[tuple[Plan, str]], Usage]:
    """The operators as structured answers (agents/mutator.py): a mutation answers with one or two
    (position, operation) changes, a crossover or random creation with a whole layer list.  Each
    answer becomes the architecture's code, so it is read back like any code answer; an answer
    that never parsed becomes an empty text (untrainable, with the reason)."""
    space, dataset, usage, out = ctx.space, ctx.settings.dataset, Usage(), []
    for plan in plans:
        tag = {"generation": plan.generation, "index": plan.index, "operator": plan.operator}
        recorded = ctx.journal.tagged("answer", plan.generation, plan.index)
        if recorded is not None:
            parsed = recorded.data.get("parsed")
            out.append((plan, _edit_code(space, plan, parsed) if parsed else ""))
            continue
        if plan.operator == "mutation":
            messages = mutator.edit_mutation_messages(space, dataset, plan.parents[0], edits(ctx)[plan.prompt_id])
        else:
            parents = plan.parents or [space.sample_random(random.Random(f"{ctx.settings.seed}:seed-network"))]
            instruction = mutator.COMBINE if plan.operator == "crossover" else mutator.CREATE
            messages = mutator.edit_combine_messages(space, dataset, parents, instruction)
        schema = _edit_schema(space, plan.operator == "mutation")
        answer, spent = ctx.askers["designer"].ask(
            messages, schema, ctx.journal, plan.generation, temperature=plan.temperature,
            seed=ctx.settings.seed * 100_003 + plan.generation * 1_000 + plan.index, tag=tag)
        usage = usage.add(spent)
        out.append((plan, _edit_code(space, plan, answer.model_dump()) if answer else ""))
    return out, usage


def _edit_code(space, plan: Plan, answer: dict) -> str:
    """The code of the architecture a structured answer describes ("" when it describes none)."""
    if "changes" in answer:
        ops = list(space.ops(plan.parents[0]))
        names = list(space.positions())
        for change in answer["changes"]:
            if change["op"] in space.positions()[change["position"]]:
                ops[names.index(change["position"])] = change["op"]
    else:
        ops = answer["architecture"]
    if not all(op in choices for op, choices in zip(ops, space.positions().values())):
        return ""
    return space.to_code(space.from_ops(ops))


@cache
def _edit_schema(space, mutation: bool):
    positions = space.positions()
    ops = tuple(dict.fromkeys(op for choices in positions.values() for op in choices))
    if mutation:
        change = create_model("Change", position=(Literal[tuple(positions)], ...),  # type: ignore[valid-type]
                              op=(Literal[ops], ...))  # type: ignore[valid-type]
        return create_model("Mutation", changes=(list[change], Field(min_length=1, max_length=2)))
    layer_list = Annotated[list[Literal[ops]], Field(min_length=len(positions), max_length=len(positions))]
    return create_model("Combination", architecture=(layer_list, ...))


def _messages(ctx: RunContext, plan: Plan, lesson: str = ""):
    """The operator's prompt; `lesson` (why an earlier answer could not be used) joins the rules."""
    rules = ctx.space.code_rules() + (f"\n{lesson}" if lesson else "")
    if plan.operator == "mutation":
        return mutator.mutation_messages(ctx.space.to_code(plan.parents[0]), edits(ctx)[plan.prompt_id], rules)
    if plan.operator == "crossover":
        return mutator.crossover_messages([ctx.space.to_code(p) for p in plan.parents], rules)
    seed_network = ctx.space.to_code(ctx.space.sample_random(random.Random(f"{ctx.settings.seed}:seed-network")))
    return mutator.random_messages(seed_network, rules)


def _train_ahead(ctx: RunContext, archives: Archives, arch: str):
    """Start training `arch` now (trained spaces); a Future of the report, or None when
    nothing needs training (a table lookup, or evaluated before)."""
    if not isinstance(ctx.space, Trained) or arch in archives.evaluated \
            or ctx.journal.evaluation_of(arch, ctx.settings.dataset) is not None:
        return None
    return ctx.space.submit(arch, ctx.settings.dataset)


def _evaluate(ctx: RunContext, state: LLMaticState, archives: Archives, plan: Plan, arch: str,
              trained: dict | None = None) -> Offspring:
    """Evaluate (or reuse an earlier evaluation of the same network), archive, journal."""
    detail, descriptors = "", None
    if arch in archives.evaluated:
        evaluation, detail = archives.evaluated[arch], REUSED
        descriptors = archives.descriptors.get(arch)
    else:
        evaluation = nodes.evaluate_arch(ctx, arch, plan.generation, trained)
        descriptors = evaluation.descriptors
        detail = f"{evaluation.failure}: {evaluation.detail}" if evaluation.failure else ""
    child = Offspring(**plan.model_dump(), arch=arch, val_acc=evaluation.val_acc, descriptors=descriptors,
                      detail=detail)
    child.status = archives.offer(ctx, child)
    child.outcome = "untrainable" if evaluation.val_acc is None else \
        "added" if child.status in ("NEW", "IMPROVE_EXISTING") else "not_added"
    return _journal(ctx, _adapt(ctx, state, child))


def _journal(ctx: RunContext, child: Offspring) -> Offspring:
    """Journal an offspring once (a generation re-run on resume finds it there)."""
    if ctx.journal.tagged("offspring", child.generation, child.index) is None:
        ctx.journal.append(child.generation, "offspring", data=child.model_dump())
    return child


def _adapt(ctx: RunContext, state: LLMaticState, child: Offspring) -> Offspring:
    return adapt(child, _best_before(state), ctx.settings.llmatic.temperature_step)


def adapt(child: Offspring, best: float, step: float) -> Offspring:
    """Temperature mutation (section 4.1): +step when the child is at least as good as the
    previous generation's best, -step otherwise (clipped to 0-1); it beats that best for
    the prompt fitness only when strictly better."""
    if child.operator != "mutation":
        return child
    better_or_equal = child.val_acc is not None and child.val_acc >= best
    return child.model_copy(update={
        "next_temperature": min(max(child.temperature + (step if better_or_equal else -step), 0.0), 1.0),
        "beat_previous_best": child.val_acc is not None and child.val_acc > best})


def _best_before(state: LLMaticState) -> float:
    """Best validation accuracy up to the end of the previous generation."""
    return max((t.val_acc for t in state.evaluated()), default=float("-inf"))


def _close_generation(state: LLMaticState, ctx: RunContext, archives: Archives, children: list[Offspring],
                      usage) -> dict:
    trials = list(state.trials)
    seen = {t.arch for t in trials}
    for child in children:
        if child.arch is not None and child.val_acc is not None and child.arch not in seen:
            seen.add(child.arch)
            trials.append(Trial(step=len(trials) + 1, arch=child.arch, source=child.trial_source(),
                                rationale=f"{child.operator} (generation {child.generation})",
                                evaluation=Evaluation(arch=child.arch, canonical=ctx.space.canonical(child.arch),
                                                      val_acc=child.val_acc)))
    gen = children[0].generation if children else state.generation + 1
    stats = {"generation": gen, **archives.networks.stats(),
             "prompt_archive": archives.prompts.stats(),
             "offspring": len(children), "untrainable": sum(c.outcome == "untrainable" for c in children),
             "ranked_out": sum(c.outcome == "ranked_out" for c in children),
             "added": sum(c.outcome == "added" for c in children),
             "best_val_acc": max((t.val_acc for t in trials), default=None)}
    if not any(e.kind == "archive" and e.step == gen and e.data.get("generation") == gen
               for e in ctx.journal.events()):  # once, also when the generation runs again on resume
        ctx.journal.append(gen, "archive", data=stats)
    spent = sum(c.arch is not None and c.outcome != "ranked_out" and c.detail != REUSED for c in children)
    empty = 0 if spent else state.empty_generations + 1
    update = {"generation": gen, "offspring": state.offspring + children, "trials": trials,
              "evaluations": state.evaluations + spent, "step": len(trials),
              "generation_stats": state.generation_stats + [stats], "empty_generations": empty}
    if empty >= EMPTY_GENERATIONS:
        update.update(done=True, stop_reason=f"no offspring could be evaluated in {empty} generations in a row "
                                             "(see the parse errors in events.jsonl)")
    if usage is not None:
        update["usage"] = state.add_usage("designer", usage)
    return update


def _plot_curve(path, stats: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([s["generation"] for s in stats], [s["best_val_acc"] for s in stats], marker="o")
    ax.set_xlabel("generation")
    ax.set_ylabel("best validation accuracy (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
