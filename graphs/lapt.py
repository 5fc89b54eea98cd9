"""LAPT (seed 003, Algorithm 1 and 2, Table 1): design principles learned on one task refine
the search space of another; a vanilla NAS method (REA) searches inside; the principles adapt.

    transfer -> search -> (adapt -> search) x (iterations - 1) -> finish

transfer  the source task's principles from memory (`--transfer-from`, default the
          paper's: nb201/imagenet16, transnas101/jigsaw; `--memory off` reads none); if none are stored, the
          Principle-Learner learns them now from the source task's `learn_samples` (50) best
          architectures, "established architectures" looked up in the benchmark table
          (section 4.2), and they are stored.  Their refined space Omega_r (the learning
          prompt asks for the operations per position, as the paper's reference prompt does)
          starts the search; stored principles without one are translated (Algorithm 1, l. 6).
search    REA in Omega_r: the first round samples `population` members, every round adds
          `generations x population` mutations (NB201: 5 + 5 per round, 3 rounds = 20
          evaluations; TransNAS-Bench-101: 10 + 10 per round, 4 rounds = 50, the paper's budget).
          The population carries over between rounds; children are mutations inside the
          current Omega_r of the tournament winner.
adapt     Algorithm 2: if the round raised the best validation score (Base < Best), the learner
          updates the principles from the top r architectures found on this task; otherwise it
          is asked about the operations the current space leaves out, to explore.  Each answer
          carries the new principles and their Omega_r in one call.
finish    result.json with the rounds; the adapted principles are stored under the target task.

Search cost, as the paper counts it (Table 2 "Archs."): architectures evaluated *on the target
task* during the refined-space search.  The source task's architectures the principles were
learned from are not counted: they are the established knowledge being transferred (and with
`no-transfer`, which learns from the target's own search, every evaluation is counted too).
`result["lapt"]["trajectory"]` lists every evaluation in order, so the cost to reach a given
quality (bench/lapt_nb201.py: the paper's "top 0.1%" protocol) is read off afterwards.

Ablations (section 5): `no-adaptation` keeps the first Omega_r for every round; `no-transfer`
starts from the whole space and learns the principles from the target task's own results.
"""

from __future__ import annotations

import random
import time

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel

import spaces
from agents import learner
from agents.structured import Usage
from errors import UserError
from graphs import knowledge, limits, nodes
from graphs import search as search_steps
from graphs.context import RunContext
from graphs.remember import open_memory
from graphs.state import SearchState
from memory.store import Principle, PrincipleSet
from settings import LAPTSettings, Settings
from spaces.base import Evaluation, Positional, Tabular, Trial, WeightShared, has
from spaces.refined import Individual, RefinedSpace, age, full_space, omega, refine, widen
from tools.op_stats import op_table, top_of

NAME = "lapt"


class Round(BaseModel):
    """One search round: the space it searched and what came of it."""

    index: int
    principles: list[Principle]
    refined: RefinedSpace
    members: int
    evaluations: int = 0
    best: float | None = None
    improved: bool | None = None  # did this round raise the best score (Algorithm 2's branch)
    adaptation: str = ""          # "update", "explore", "learn" (no-transfer), "kept" (no answer), ""


class LAPTState(SearchState):
    principles: list[Principle] = []
    seeds: list[str] = []             # the source task's best architectures: the first population
    refined: RefinedSpace | None = None
    population: list[Individual] = []
    base: float | None = None         # Algorithm 2's Base: best score before the last round
    rounds: list[Round] = []
    source: str = ""                  # where the starting principles came from
    source_version: int | None = None

    def extra_result(self, ctx: RunContext) -> dict:
        """The rounds, principles and trajectory; the principles as adapted to this task go to
        memory under its name (once: a finish that runs again on resume finds its version)."""
        cfg = config(ctx.settings, ctx.space)
        version = None
        if ctx.settings.memory_write and self.principles:
            memory, task = open_memory(ctx.settings), f"{ctx.space.name}/{ctx.settings.dataset}"
            again = [p for p in memory.all_principles(task) if p.run_id == ctx.run_id and p.principles == self.principles]
            if again:
                version = again[-1].version
            else:
                top = [(t.arch, t.val_acc) for t in sorted(self.evaluated(), key=lambda t: -t.val_acc)[:cfg.top_r]]
                version = memory.save_principles(task, self.principles, top,
                                                 self.refined.allowed if self.refined else None, run_id=ctx.run_id)
        return {"lapt": {
            "settings": cfg.model_dump(),
            "source": self.source, "source_version": self.source_version,
            "search_cost": self.evaluations,
            "principles": [p.text for p in self.principles], "stored_version": version,
            "principle_origins": [p.origin for p in self.principles],
            "rounds": [r.model_dump() for r in self.rounds],
            "trajectory": [[t.arch, t.val_acc] for t in self.evaluated()],
        }}


STATE = LAPTState
# A table to learn from and search in, or a supernet to estimate with (DARTS): `check` says which.
REQUIRES: tuple[type, ...] = (Positional,)


def config(settings: Settings, space=None) -> LAPTSettings:
    """The paper's settings for the space (Table 1).  A budget larger than the paper's keeps its
    number of adaptation rounds and gives each round more REA generations (so the learner is
    asked as often as in the paper, not once per five evaluations)."""
    space = space or spaces.get(settings.space)
    cfg = settings.lapt.resolved(space, knowledge.transfer_source(settings, space))
    if settings.lapt.generations is None and settings.budget:
        needed = -(-(settings.budget - cfg.population) // (cfg.iterations * cfg.population))
        cfg = cfg.model_copy(update={"generations": max(cfg.generations, needed)})
    return cfg


def roles(settings: Settings) -> list[str]:
    """`--designer none` (the no-model twin): principles from the statistics alone."""
    return ["learner"] if settings.designer != "none" else []


def planned_evaluations(settings: Settings) -> int:
    return settings.budget


def default_budget(settings: Settings) -> int:
    """The paper's: the initial population and every round's mutations (NB201: 5 + 3 x 5 = 20)."""
    cfg = config(settings)
    return cfg.population + cfg.iterations * cfg.generations * cfg.population


def build(settings: Settings) -> StateGraph:
    graph = StateGraph(LAPTState, context_schema=RunContext)
    graph.add_node("transfer", transfer)
    graph.add_node("search", search)
    graph.add_node("adapt", adapt)
    graph.add_node("halt", limits.halt)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "transfer")
    graph.add_conditional_edges("search", after_search, ["adapt", "search", "halt", "finish"])
    graph.add_conditional_edges("halt", next_round, ["adapt", "search"])
    graph.add_edge("finish", END)
    if settings.approve:  # the user sees the principles and the space before each round (graphs/approve.py)
        from graphs.approve import approve_space

        graph.add_node("approve", approve_space)
        graph.add_edge("transfer", "approve")
        graph.add_edge("adapt", "approve")
        graph.add_edge("approve", "search")
    else:
        graph.add_edge("transfer", "search")
        graph.add_edge("adapt", "search")
    return graph


def after_search(state: LAPTState, runtime: Runtime[RunContext]) -> str:
    """Rounds go on until the budget is spent (the paper's budget by default: `iterations` rounds);
    two rounds in a row that found nothing left to evaluate end the search, and say so."""
    cfg, budget = config(runtime.context.settings, runtime.context.space), runtime.context.settings.budget
    if state.evaluations >= budget or state.done or len(state.rounds) >= rounds_for(cfg, budget):
        return "finish"
    if limits.reached(state, runtime.context):
        return limits.HALT
    return next_round(state, runtime)


def next_round(state: LAPTState, runtime: Runtime[RunContext]) -> str:
    return "search" if config(runtime.context.settings, runtime.context.space).ablation == "no-adaptation" \
        else "adapt"


def rounds_for(cfg: LAPTSettings, budget: int) -> int:
    """The paper's `iterations`, or as many rounds as a larger budget needs."""
    per_round = cfg.generations * cfg.population
    return max(cfg.iterations, -(-(budget - cfg.population) // per_round))


# --- transfer -------------------------------------------------------------------------------


def check(settings: Settings, space) -> None:
    """Before the run folder is made: a space with a table or a supernet, a usable source task
    (or the no-transfer ablation) whose data is there."""
    if not (has(space, Tabular) or has(space, WeightShared)):
        raise UserError(f"graph lapt needs a benchmark table or a supernet to evaluate with; {space.name} has neither")
    cfg = config(settings, space)
    if cfg.ablation != "no-transfer":
        _, dataset = source_task_of(settings, space)
        if has(space, WeightShared):  # its supernet trains on the source's images
            space.check_dataset(dataset, settings.training.cifar10)


def source_task(ctx: RunContext) -> tuple[str, str]:
    return source_task_of(ctx.settings, ctx.space)


def source_task_of(settings: Settings, space) -> tuple[str, str]:
    """(space, dataset) of the source task, validated (graphs/knowledge.py)."""
    task = knowledge.source_task(settings, space)
    if task is None:
        raise UserError(f"LAPT transfers from another task: --transfer-from {space.name}/DATASET")
    return task


def min_cells(cfg: LAPTSettings) -> int:
    """The refined space's floor: the configured one, and never fewer than two rounds' evaluations."""
    return max(cfg.min_cells, 2 * (cfg.population + cfg.generations * cfg.population))


def transfer(state: LAPTState, runtime: Runtime[RunContext]) -> dict:
    """Start from the source task: its stored principles (learned now from its best architectures
    if none are stored), their refined space for this task, and its best architectures as the
    first population (the transferred knowledge a search can use at once, section 3.2)."""
    ctx, cfg = runtime.context, config(runtime.context.settings, runtime.context.space)
    if cfg.ablation == "no-transfer":
        ctx.journal.append(0, "run", data={"event": "lapt_transfer", "source": None})
        return {"refined": full_space(ctx.space), "source": "none (ablation: no-transfer)"}
    space_name, dataset = source_task(ctx)
    task = f"{space_name}/{dataset}"
    memory = open_memory(ctx.settings)
    stored, spent = memory.principles(task) if ctx.settings.memory == "on" else None, Usage()
    if stored is not None:  # what an earlier run learned: knowledge from memory, stated in the result
        knowledge.note(ctx.journal, 0, {"task": task, "source": "memory",
                                        "what": f"principles version {stored.version} stored by run {stored.run_id}"})
    scored = source_scores(ctx, dataset, cfg, stored)
    if stored is None:
        learned, usage = learner.learn(ctx.askers.get("learner"), ctx.space, dataset, scored, cfg.learn_samples,
                                       ctx.journal, 0, cfg.max_ops, min_cells(cfg))
        spent = spent.add(usage)
        stored = PrincipleSet(task=task, version=0, principles=learned.principles, refined=learned.refined,
                              evidence=scored[:cfg.learn_samples], run_id=ctx.run_id)
        if ctx.settings.memory_write:  # kept for later runs (memory_write = false: this run's alone)
            version = memory.save_principles(task, learned.principles, scored[:cfg.learn_samples], learned.refined,
                                             run_id=ctx.run_id)
            stored = memory.principles(task, version)
            if not has(ctx.space, Tabular):  # the source's best architectures, where no table keeps them
                _remember_source(ctx, dataset, scored[:cfg.learn_samples])
    order = learner.ranking(op_table(ctx.space, scored, cfg.learn_samples))
    if stored.refined:
        refined = widen(refine(ctx.space, stored.refined), order, min_cells(cfg))
    else:  # principles stored without a space: translate them for this task
        translated, usage = learner.translate(ctx.askers.get("learner"), ctx.space, ctx.settings.dataset,
                                              stored.principles, scored, cfg.learn_samples, ctx.journal, 0,
                                              cfg.max_ops, min_cells(cfg))
        spent = spent.add(usage)
        refined = RefinedSpace(allowed=translated.refined)
    seeds = [arch for arch, _ in (stored.evidence or scored[:cfg.learn_samples])]
    ctx.journal.append(0, "run", data={"event": "lapt_transfer", "source": task, "version": stored.version,
                                       "principles": [p.model_dump() for p in stored.principles],
                                       "refined": refined.allowed, "cells": refined.size(), "seeds": seeds[:10]})
    update = {"usage": state.add_usage("learner", spent)} if spent.calls else {}
    return {**update, "principles": stored.principles, "refined": refined, "source": task,
            "source_version": stored.version, "seeds": seeds}


def source_scores(ctx: RunContext, dataset: str, cfg: LAPTSettings, stored: PrincipleSet | None) -> list[tuple[str, float]]:
    """What the source task knows, best first: its whole table (benchmarks), or (a space without
    one, DARTS) the architectures stored principles were learned from, else `source_samples`
    random architectures scored through a supernet trained on the source (section 4.1: 5,000
    on CIFAR-100), computed once beside the runs and shared by every run that transfers from it."""
    if has(ctx.space, Tabular):
        return top_of(ctx.space, dataset, ctx.space.size)
    if stored is not None and stored.evidence:
        return sorted(stored.evidence, key=lambda item: -item[1])
    started = time.perf_counter()
    scored = ctx.space.scored_sample(dataset, cfg.source_samples)
    ctx.journal.append(0, "archive", data={"lapt_source": f"{ctx.space.name}/{dataset}", "samples": len(scored),
                                           "best": scored[:3], "seconds": round(time.perf_counter() - started, 1)})
    return scored


def _remember_source(ctx: RunContext, dataset: str, top: list[tuple[str, float]]) -> None:
    space = ctx.space
    evaluations = [Evaluation(arch=arch, canonical=space.canonical(arch), val_acc=score) for arch, score in top]
    open_memory(ctx.settings).add_evaluations(space, dataset, f"{ctx.run_id}-source", evaluations)


# --- search ---------------------------------------------------------------------------------


def search(state: LAPTState, runtime: Runtime[RunContext]) -> dict:
    """One REA round inside the current Omega_r; the first population is the source task's best
    architectures (the transfer), topped up with members of Omega_r.  Deterministic in (seed,
    round), and evaluations are read back from the journal, so a resumed round runs again."""
    ctx, cfg = runtime.context, config(runtime.context.settings, runtime.context.space)
    index = len(state.rounds) + 1
    refined = state.refined or full_space(ctx.space)
    pool = omega(ctx.space, refined)
    if not pool.size:  # Omega_r has no architecture in the table (possible on the TransNAS subset)
        ctx.journal.append(index, "error", data={"lapt": "refined space empty in the table; searching the full space",
                                                 "refined": refined.allowed})
        pool = omega(ctx.space, full_space(ctx.space))
    if has(ctx.space, WeightShared):
        bind_supernet(ctx, state, refined, cfg)
    rng = random.Random(f"{ctx.settings.seed}:lapt:{index}")
    seen = {ctx.space.canonical(t.arch) for t in state.trials}  # networks, not strings (spaces/refined.py)
    trials, population = list(state.trials), list(state.population)
    n_initial = 0 if state.population else cfg.population  # the population carries over rounds
    seeds = [arch for arch in state.seeds
             if ctx.space.canonical(arch) not in seen and search_steps.acceptable(ctx, state, arch)]
    for k in range(n_initial + cfg.generations * cfg.population):
        if len(trials) >= ctx.settings.budget:
            break
        initial = k < n_initial
        seeded = initial and bool(seeds)
        if seeded:
            arch = seeds.pop(0)
        else:
            arch = pool.fresh(seen, rng) if initial else \
                pool.child(population, seen, cfg.tournament, rng, cfg.crossover, cfg.mutation)
        if arch is None:
            break
        evaluation = nodes.evaluate_arch(ctx, arch, len(trials) + 1)
        seen.add(ctx.space.canonical(arch))
        why = "a best architecture of the source task" if seeded else \
            "initial population" if initial else "REA mutation"
        trials.append(Trial(step=len(trials) + 1, arch=arch, source="prior" if seeded else "random" if initial else "rea",
                            rationale=f"round {index}: {why}", evaluation=evaluation))
        if evaluation.val_acc is not None:
            population = age(population, Individual(arch=arch, fitness=evaluation.val_acc), cfg.population)
    new = [t for t in trials[len(state.trials):] if t.val_acc is not None]
    round_ = Round(index=index, principles=state.principles, refined=refined, members=pool.size,
                   evaluations=len(new), best=max((t.val_acc for t in new), default=None))
    if not any(e.kind == "archive" and e.step == index and "lapt_round" in e.data for e in ctx.journal.events()):
        ctx.journal.append(index, "archive", data={"lapt_round": round_.model_dump()})  # once, also on resume
    update = {"trials": trials, "population": population, "evaluations": len(trials), "step": len(trials),
              "rounds": state.rounds + [round_]}
    if not new and state.rounds and state.rounds[-1].evaluations == 0:
        update.update(done=True, stop_reason=f"two rounds in a row found no architecture left to evaluate in the "
                                             f"refined space ({pool.size} members), after {len(trials)} evaluations")
    return update


def bind_supernet(ctx: RunContext, state: LAPTState, refined: RefinedSpace, cfg: LAPTSettings) -> None:
    """The target's supernet (section 4.1: one "that covers the refined search space", pre-trained on
    the target task): trained over the first round's Omega_r, `supernet_mix` of its steps drawn
    from the whole space so that the operations a later round's adaptation adds have trained
    weights too.  One supernet for every round, so scores of different rounds compare (one
    retrained per round would make the population's fitness and Algorithm 2's Base incomparable)."""
    first = state.rounds[0].refined if state.rounds else refined
    whole = first.allowed == full_space(ctx.space).allowed
    ctx.space.use_supernet(None if whole else first.allowed, cfg.supernet_mix)


# --- adapt ----------------------------------------------------------------------------------


def adapt(state: LAPTState, runtime: Runtime[RunContext]) -> dict:
    """Algorithm 2.  `improved`: the last round raised the best score above Base (the
    reference implementation's strict test; Algorithm 2 prints Base <= Best, which once the
    population carries over would always hold).  The statistics are those of what was
    evaluated on this task; a round that found nothing better widens the space (the old one
    stays inside the new, which is at least twice its size)."""
    ctx, cfg = runtime.context, config(runtime.context.settings, runtime.context.space)
    best = state.best()
    best_score = best.val_acc if best else None
    improved = best_score is not None and (state.base is None or best_score > state.base)
    scored = [(t.arch, t.val_acc) for t in state.evaluated()]
    step = len(state.rounds)
    old = state.refined or full_space(ctx.space)
    current = learner.Principles(principles=state.principles, refined=old.allowed)
    if not state.principles:  # no-transfer: the first principles come from this task's own results
        answer, usage = learner.learn(ctx.askers.get("learner"), ctx.space, ctx.settings.dataset, scored, cfg.top_r,
                                      ctx.journal, step, cfg.max_ops, min_cells(cfg))
        branch = "learn"
    else:
        answer, usage = learner.adapt(ctx.askers.get("learner"), ctx.space, ctx.settings.dataset, current, scored,
                                      cfg.top_r, improved, ctx.journal, step, cfg.max_ops, min_cells(cfg))
        branch = "update" if improved else "explore"
    refined = RefinedSpace(allowed=answer.refined)
    if not improved and state.principles:  # explore: keep what was searched, add the most promising rest
        union = {p: sorted(set(old.allowed[p]) | set(ops)) for p, ops in answer.refined.items()}
        order = learner.ranking(op_table(ctx.space, scored, cfg.top_r))
        refined = widen(RefinedSpace(allowed=union), order, min(2 * old.size(), ctx.space.size))
    rounds = list(state.rounds)
    rounds[-1] = rounds[-1].model_copy(update={"improved": improved, "adaptation": branch})
    ctx.journal.append(step, "archive", data={"lapt_adaptation": branch, "principles": answer.texts(),
                                              "statistical": answer.statistical, "refined": refined.allowed,
                                              "cells": refined.size(), "improved": improved})
    return {"principles": answer.principles, "refined": refined, "rounds": rounds,
            "base": best_score if improved else state.base, "usage": state.add_usage("learner", usage)}


# --- the learning stage on its own (`python cli.py principles learn`) ------------------------


def learn_principles(settings: Settings, asker, journal) -> tuple[PrincipleSet, list[dict]]:
    """Learn principles from the `learn_samples` best architectures of settings.space/dataset
    against the rest of its table, and store them; returns the stored version and the model's
    principles that were dropped (text and reason)."""
    space = spaces.get(settings.space)
    dataset = space.resolve_dataset(settings.dataset)
    cfg = settings.lapt.resolved(space)
    if has(space, Tabular):
        scored = top_of(space, dataset, space.size)
    else:  # a random sample scored through the task's supernet (kept beside the runs, like a search's)
        space.configure(settings.model_copy(update={"dataset": dataset}), journal.path.parent)
        scored = space.scored_sample(dataset, cfg.source_samples)
    learned, _ = learner.learn(asker, space, dataset, scored, cfg.learn_samples, journal, 0, cfg.max_ops,
                               min_cells(cfg))
    memory = open_memory(settings)
    task = f"{space.name}/{dataset}"
    version = memory.save_principles(task, learned.principles, scored[:cfg.learn_samples], learned.refined)
    return memory.principles(task, version), learned.dropped
