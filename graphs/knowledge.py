"""What a run knows besides its own evaluations: one explicit input, stated in every result.

By default a search knows only the target task's own evaluations and evidence computed on the
candidate itself (FLOPs, params, training-free proxies): the setting of the GENIUS (seed 002)
and LLMatic (seed 001) papers, and of a user searching a dataset of their own.  Anything else
is knowledge the user asked for:

- transfer: another task's results, `--transfer-from SPACE/DATASET`: the best architectures of
  its benchmark table (or, on a space without one, what the memory stores of that task).  They
  give the `prior` evidence, LAPT's principles and first population, the `prior` baseline's
  frequencies.  LAPT and `prior` are transfer methods: without the flag they take the paper's
  source task (LAPT, seed 003, section 4.2), stated the same way.
- memory: what earlier runs stored (principles of a task, past architectures), read only where
  a flag asks for it (`--principles-from`, `--designer-memory`) or where LAPT finds its source's
  principles stored; `--memory off` reads none of it.

`of_run` is the `knowledge` of result.json, of the journal's run line and of every bench row:
"none", or a list of {task, source (table | memory | supernet), what}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from errors import UserError
from spaces.base import Networked, Positional, Tabular, WeightShared, has

if TYPE_CHECKING:
    from memory.journal import Journal
    from settings import Settings
    from spaces.base import Space

TRANSFER_GRAPHS = ("lapt", "prior")  # methods whose point is transfer: a source by default
PRIOR_SAMPLES = 50  # the source's best architectures the prior counts (LAPT: 50, section 4.2)
# The knowledge-free evidence `auto` ranks by, chosen by measurement (DEVELOPERS.md, "Evidence for the
# Critic"): the contained search alone (--designer none), 10 seeds x 3 NB201 tasks at budget 10, test
# accuracy C10 / C100 / IN16: synflow 94.04 / 72.04 / 45.87, flops+synflow 93.94 / 71.37 / 45.66, flops
# 93.85 / 72.02 / 45.56, naswot 93.64 on C10.  Synflow is also the cheapest proxy (0.07 CPU s a cell at
# 32x32, cached on disk by tools/cell_proxies.py).
FREE_EVIDENCE_NETWORKED: tuple[str, ...] = ("synflow",)
FREE_EVIDENCE: tuple[str, ...] = ("flops",)  # spaces that cannot build their network: the table's FLOPs


def transfer_source(settings: "Settings", space: "Space") -> str | None:
    """SPACE/DATASET whose results this run may use, or None.  `--transfer-from`; else, for the
    transfer methods, the paper's source task of the space (never the target itself: its best
    architectures would be the answer; then the first other task)."""
    if settings.transfer_from:
        return settings.transfer_from
    if settings.graph not in TRANSFER_GRAPHS or space.lapt is None or space.lapt.source is None:
        return None
    if settings.graph == "lapt" and settings.lapt.ablation == "no-transfer":
        return None
    source = space.lapt.source
    if source == settings.dataset:
        source = next(d for d in space.datasets if d != settings.dataset)
    return f"{space.name}/{source}"


def evidence_kinds(settings: "Settings", space: "Space") -> tuple[str, ...]:
    """The Critic's evidence with `auto` resolved: the transfer source's prior when the user gave
    one, else the knowledge-free default (synflow on spaces that build networks, else FLOPs)."""
    free = FREE_EVIDENCE_NETWORKED if has(space, Networked) else FREE_EVIDENCE
    kinds: list[str] = []
    for kind in settings.evidence:
        if kind == "auto":
            kinds += ["prior"] if settings.transfer_from and _can_prior(space) else list(free)
        else:
            kinds.append(kind)
    return tuple(dict.fromkeys(kinds))


def _can_prior(space: "Space") -> bool:
    return has(space, Positional)


def uses_transfer(settings: "Settings", space: "Space") -> bool:
    return settings.graph in TRANSFER_GRAPHS or "prior" in evidence_kinds(settings, space)


def source_task(settings: "Settings", space: "Space") -> tuple[str, str] | None:
    """(space, dataset) of the transfer source the run uses, validated; None when it uses none."""
    task = transfer_source(settings, space) if uses_transfer(settings, space) else None
    if task is None:
        return None
    import spaces

    name, _, dataset = task.partition("/")
    if name != space.name:
        raise UserError(f"--transfer-from {task}: the results of {name} cannot guide a search of {space.name} "
                        "(transfer within one space)")
    dataset = spaces.get(name).resolve_dataset(dataset)
    if dataset == settings.dataset:
        raise UserError(f"--transfer-from {name}/{dataset} is the target task itself (its best architectures are "
                        "the answer); transfer from another task")
    return name, dataset


def check(settings: "Settings", space: "Space") -> None:
    """Before the run folder is made: every piece of knowledge the settings ask for can be had."""
    kinds = evidence_kinds(settings, space)
    if "prior" in kinds and not settings.transfer_from and settings.graph not in TRANSFER_GRAPHS:
        raise UserError("the prior evidence reads another task's results: give --transfer-from SPACE/DATASET "
                        "(or rank by knowledge-free evidence: flops, params, synflow, naswot, jacob_cov)")
    if "prior" in kinds and not _can_prior(space):
        raise UserError(f"the prior evidence counts operations per position; {space.name} has no positions")
    if settings.memory == "off" and settings.principles_from:
        raise UserError("--principles-from reads the memory, and --memory off says not to: drop one of them")
    if settings.memory == "off" and settings.designer_memory:
        raise UserError("--designer-memory reads the memory, and --memory off says not to: drop one of them")
    task = source_task(settings, space)
    computed = settings.graph == "lapt" and has(space, WeightShared)  # LAPT scores a darts source through a supernet
    if task is not None and not has(space, Tabular) and not computed and settings.memory == "off":
        raise UserError(f"{space.name} has no table of {task[1]}: its results can only come from the memory, "
                        "and --memory off says not to read it")


def source_top(settings: "Settings", space: "Space", n: int) -> tuple[list[tuple[str, float]], str]:
    """The source task's n best architectures by validation score and where they came from
    ("table" or "memory").  On a benchmark table, the table; else what earlier runs stored."""
    task = source_task(settings, space)
    if task is None:
        raise UserError(f"this run has no transfer source (--transfer-from {space.name}/DATASET)")
    if has(space, Tabular):
        from tools import op_stats

        return op_stats.top_of(space, task[1], n), "table"
    from graphs.remember import open_memory

    stored = open_memory(settings).best_architectures(space.name, task[1], n)
    if not stored:
        raise UserError(f"the memory holds no architectures of {task[0]}/{task[1]}: run a search there first")
    return [(row["arch"], row["val_acc"]) for row in stored], "memory"


_PRIORS: dict[tuple, dict[str, dict[str, float]]] = {}


def prior_table(settings: "Settings", space: "Space") -> dict[str, dict[str, float]]:
    """Per-position operation frequencies of the source's PRIOR_SAMPLES best architectures (the
    `prior` evidence), counted once per process and source."""
    from tools import op_stats

    key = (space.name, source_task(settings, space), has(space, Tabular) or str(settings.memory_dir))
    if key not in _PRIORS:
        top, _ = source_top(settings, space, PRIOR_SAMPLES)
        _PRIORS[key] = op_stats.frequencies(space, [arch for arch, _ in top])
    return _PRIORS[key]


def declared(settings: "Settings", space: "Space") -> list[dict]:
    """What the settings give the run, known before it starts."""
    items: list[dict] = []
    task = source_task(settings, space)
    if task is not None:
        best = settings.lapt.samples(space)
        what = {"lapt": f"principles and first population from its {best} best architectures",
                "prior": f"operation frequencies of its {best} best architectures"}.get(
            settings.graph, f"prior evidence: operation frequencies of its {PRIOR_SAMPLES} best architectures")
        source = "table" if has(space, Tabular) else "memory"
        if settings.graph == "lapt" and has(space, WeightShared):  # darts: a random sample scored through a supernet
            samples = settings.lapt.source_samples or space.lapt.source_samples
            source, what = "supernet", (f"principles and first population from the {best} best of {samples} random "
                                        "architectures scored through a supernet trained on it (unless stored)")
        items.append({"task": "/".join(task), "source": source, "what": what})
    if settings.principles_from:
        items.append({"task": settings.principles_from, "source": "memory",
                      "what": "stored principles in the designer's prompt"})
    if settings.designer_memory:
        items.append({"task": f"{space.name}/{settings.dataset}", "source": "memory",
                      "what": f"the {settings.designer_memory} best architectures of earlier runs in the designer's "
                              "prompt"})
    return items


def note(journal: "Journal", step: int, item: dict) -> None:
    """Record knowledge a graph found while running (LAPT: its source's principles in memory)."""
    journal.append(step, "run", data={"event": "knowledge", "knowledge": item})


def of_run(settings: "Settings", space: "Space", journal: "Journal | None" = None) -> str | list[dict]:
    """The run's `knowledge`: "none", or every item it used (declared, then noted while running)."""
    items = declared(settings, space)
    for event in journal.events(("run",)) if journal is not None else ():
        if event.kind == "run" and event.data.get("event") == "knowledge" and event.data["knowledge"] not in items:
            items.append(event.data["knowledge"])
    return items or "none"


def label(knowledge: str | list[dict] | None) -> str:
    """One line: "none", or "nb201/imagenet16 (table); nb201/cifar10 (memory: principles ...)"."""
    if not knowledge or knowledge == "none":
        return "none"
    if isinstance(knowledge, str):
        return knowledge
    return "; ".join(f"{k['task']} ({k['source']})" for k in knowledge)
