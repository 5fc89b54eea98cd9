"""LLMatic (seed 001, sections 3-5, Algorithm 1): LLM mutation and crossover of
network code, steered by two CVT-MAP-Elites archives (networks, prompts).

    init (10 random networks) -> generation x G -> finish

A generation plans its whole batch first (operator, parent(s), prompt,
temperature), deterministically from the archives at its start and the seed;
then the LLM calls run concurrently (`max_concurrency`) and each offspring is
evaluated and offered to the archives as soon as its answer arrives.  The
archives are not checkpointed: they are rebuilt by replaying the recorded
offspring, and an offspring already journaled is reused on resume, so an
interrupted generation repeats no LLM call and no evaluation it finished.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel

from agents import mutator
from errors import UserError
from graphs import nodes
from graphs.context import RunContext
from graphs.state import SearchState
from memory.populations import NetworkPopulation, PromptPopulation
from memory.qd import NetworkArchive, PromptArchive
from settings import Settings
from spaces.base import Coded, Evaluation, Trained, Trial

NAME = "llmatic"
Operator = Literal["init", "mutation", "crossover", "random"]
Outcome = Literal["added", "not_added", "untrainable"]


class Plan(BaseModel):
    """What one offspring will be made from (fixed before any LLM call of its generation)."""

    generation: int
    index: int
    operator: Operator
    parents: list[str] = []
    prompt_id: int | None = None
    prompt_temperature: float | None = None  # the prompt individual's own temperature, before jitter
    temperature: float | None = None         # what the LLM is sampled at


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


class LLMaticState(SearchState):
    generation: int = 0
    offspring: list[Offspring] = []
    generation_stats: list[dict] = []
    empty_generations: int = 0

    def extra_result(self, ctx: RunContext) -> dict:
        """Coverage, QD score, cells filled and parse rate per generation; the archive figures."""
        llm = [c for c in self.offspring if c.operator != "init"]
        extra = {
            "settings": ctx.settings.llmatic.model_dump(),
            "offspring": len(llm),
            "parsed_fraction": round(sum(c.arch is not None for c in llm) / len(llm), 4) if llm else None,
            "untrainable": sum(c.outcome == "untrainable" for c in llm),
            "per_generation": self.generation_stats,
        }
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
REUSED = "evaluated before; result reused"
EMPTY_GENERATIONS = 3  # generations in a row without one evaluated offspring before the run stops


def roles(settings: Settings) -> list[str]:
    return ["designer"]


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
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "init")
    graph.add_conditional_edges("init", next_step, ["generation", "finish"])
    graph.add_conditional_edges("generation", next_step, ["generation", "finish"])
    graph.add_edge("finish", END)
    return graph


def next_step(state: LLMaticState, runtime: Runtime[RunContext]) -> str:
    settings = runtime.context.settings
    if state.done:
        return "finish"
    if settings.llmatic.generations is not None:
        return "generation" if state.generation < settings.llmatic.generations else "finish"
    return "generation" if state.evaluations < settings.budget else "finish"


def batch_size(state: LLMaticState, settings: Settings) -> int:
    """Offspring this generation: the batch, or what is left of the budget when generations
    follow the budget (so a run spends exactly `budget` evaluations at most)."""
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
    """Generation 0: random networks fill the archive before the operators start (section 4.1)."""
    ctx = runtime.context
    rng = random.Random(f"{ctx.settings.seed}:init")
    archives = Archives(ctx, len(edits(ctx)))
    recorded = _recorded(ctx, 0)
    archs = [ctx.space.sample_random(rng) for _ in range(ctx.settings.llmatic.initial_for(ctx.settings.budget))]
    ahead = {index: _train_ahead(ctx, archives, arch) for index, arch in enumerate(archs) if index not in recorded}
    children = []
    for index, arch in enumerate(archs):
        plan = Plan(generation=0, index=index, operator="init")
        if index in recorded:
            archives.offer(ctx, recorded[index])
            children.append(recorded[index])
        else:
            result = ahead[index].result() if ahead[index] is not None else None
            children.append(_evaluate(ctx, state, archives, plan, arch, result))
    return _close_generation(state, ctx, archives, children, usage=None)


def generation(state: LLMaticState, runtime: Runtime[RunContext]) -> dict:
    ctx = runtime.context
    gen = state.generation + 1
    archives = Archives.replay(ctx, len(edits(ctx)), state.offspring)
    plans = plan_generation(ctx, state, archives, gen)
    started = time.perf_counter()
    children, usage = asyncio.run(_breed(ctx, state, archives, plans))
    ctx.journal.append(gen, "generation", data={"llm_seconds": round(time.perf_counter() - started, 3),
                                                "llm_calls": usage.calls})
    return _close_generation(state, ctx, archives, children, usage)


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


async def _breed(ctx: RunContext, state: LLMaticState, archives: Archives, plans: list[Plan]):
    """Ask the LLM for every planned offspring, at most `max_concurrency` at a time, and
    evaluate/archive each one as its answer arrives."""
    from agents.structured import Usage

    semaphore = asyncio.Semaphore(ctx.settings.llmatic.max_concurrency)
    asker, usage, children = ctx.askers["designer"], Usage(), []

    recorded = _recorded(ctx, plans[0].generation) if plans else {}

    async def answer(plan: Plan) -> tuple[Plan, str | Offspring, Usage, dict | None]:
        if plan.index in recorded:
            return plan, recorded[plan.index], Usage(), None
        async with semaphore:
            text, spent = await asker.ask_text(
                _messages(ctx, plan), ctx.journal, plan.generation, temperature=plan.temperature,
                seed=ctx.settings.seed * 100_003 + plan.generation * 1_000 + plan.index,
                max_tokens=ctx.settings.llmatic.max_tokens, grammar=mutator.CODE_BLOCK_GBNF,
                tag={"generation": plan.generation, "index": plan.index, "operator": plan.operator})
        try:  # a trained space starts training now, while other answers are still being written
            future = _train_ahead(ctx, archives, ctx.space.from_code(text))
        except UserError:
            future = None
        return plan, text, spent, (await asyncio.wrap_future(future) if future is not None else None)

    for next_done in asyncio.as_completed([answer(plan) for plan in plans]):
        plan, text, spent, trained = await next_done
        usage = usage.add(spent)
        if isinstance(text, Offspring):  # finished before an interruption: replay it
            archives.offer(ctx, text)
            archives.credit(text)
            children.append(text)
            continue
        children.append(_from_answer(ctx, state, archives, plan, text, trained))
    return children, usage


def _messages(ctx: RunContext, plan: Plan):
    rules = mutator.rules_for(ctx.space.code_rules())
    if plan.operator == "mutation":
        return mutator.mutation_messages(ctx.space.to_code(plan.parents[0]), edits(ctx)[plan.prompt_id], rules)
    if plan.operator == "crossover":
        return mutator.crossover_messages([ctx.space.to_code(p) for p in plan.parents], rules)
    seed_network = ctx.space.to_code(ctx.space.sample_random(random.Random(f"{ctx.settings.seed}:seed-network")))
    return mutator.random_messages(seed_network, rules)


def _from_answer(ctx: RunContext, state: LLMaticState, archives: Archives, plan: Plan, text: str,
                 trained: dict | None = None) -> Offspring:
    try:
        arch = ctx.space.from_code(text)
    except UserError as err:
        child = Offspring(**plan.model_dump(), outcome="untrainable", detail=str(err))
        child = _adapt(ctx, state, child)
        ctx.journal.append(plan.generation, "offspring", data=child.model_dump())
        archives.credit(child)
        return child
    return _evaluate(ctx, state, archives, plan, arch, trained)


def _train_ahead(ctx: RunContext, archives: Archives, arch: str):
    """Start training `arch` now (trained spaces); a Future of the report, or None when
    nothing needs training (a table lookup, or evaluated before)."""
    if not isinstance(ctx.space, Trained) or arch in archives.evaluated \
            or ctx.journal.evaluation_of(arch, ctx.settings.dataset) is not None:
        return None
    return ctx.space.submit(arch, ctx.settings.dataset)


def _evaluate(ctx: RunContext, state: LLMaticState, archives: Archives, plan: Plan, arch: str,
              trained: dict | None = None) -> Offspring:
    """Query the benchmark or take the training's result (`trained`, from the executor), or
    reuse an earlier evaluation of the same network; archive, credit."""
    detail, descriptors = "", None
    if arch in archives.evaluated:
        evaluation, detail = archives.evaluated[arch], REUSED
    else:
        evaluation = nodes.evaluate_arch(ctx, arch, plan.generation, trained)
        descriptors = evaluation.descriptors
        detail = f"{evaluation.failure}: {evaluation.detail}" if evaluation.failure else ""
    child = Offspring(**plan.model_dump(), arch=arch, val_acc=evaluation.val_acc, descriptors=descriptors,
                      detail=detail)
    child.status = archives.offer(ctx, child)
    child.outcome = "untrainable" if evaluation.val_acc is None else \
        "added" if child.status in ("NEW", "IMPROVE_EXISTING") else "not_added"
    child = _adapt(ctx, state, child)
    archives.credit(child)
    ctx.journal.append(plan.generation, "offspring", data=child.model_dump())
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


def _recorded(ctx: RunContext, generation: int) -> dict[int, Offspring]:
    """Offspring of this generation already journaled by an interrupted run of its node."""
    return {event.data["index"]: Offspring.model_validate(event.data) for event in ctx.journal.events()
            if event.kind == "offspring" and event.data.get("generation") == generation}


def _close_generation(state: LLMaticState, ctx: RunContext, archives: Archives, children: list[Offspring],
                      usage) -> dict:
    trials = list(state.trials)
    seen = {t.arch for t in trials}
    for child in children:
        if child.arch is not None and child.val_acc is not None and child.arch not in seen:
            seen.add(child.arch)
            source = "random" if child.operator == "init" else "llm"
            trials.append(Trial(step=len(trials) + 1, arch=child.arch, source=source,
                                rationale=f"{child.operator} (generation {child.generation})",
                                evaluation=Evaluation(arch=child.arch, canonical=ctx.space.canonical(child.arch),
                                                      val_acc=child.val_acc)))
    gen = children[0].generation if children else state.generation + 1
    stats = {"generation": gen, **archives.networks.stats(),
             "prompt_archive": archives.prompts.stats(),
             "offspring": len(children), "untrainable": sum(c.outcome == "untrainable" for c in children),
             "added": sum(c.outcome == "added" for c in children),
             "best_val_acc": max((t.val_acc for t in trials), default=None)}
    ctx.journal.append(gen, "archive", data=stats)
    spent = sum(c.arch is not None and c.detail != REUSED for c in children)  # evaluations this generation
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
