"""The benchmark grid: every graph x task x budget x seed as an ordinary run, resumable.

A grid lives in `bench/<name>/`: `grid.json` (what it runs), `runs/<cell>/` (one run folder per
cell, named graph-space-dataset-bBUDGET-sSEED, exactly like `cli.py search` writes them),
`table.md`, `table.csv` and the best-so-far plots (benchmark/table.py).  A finished cell is
never run again; an interrupted one resumes from its checkpoint; a cell its graph cannot run
(e.g. `prior` without a source task) is recorded as not applicable with the reason.

Cells run in worker processes (`jobs` at a time; a worker runs many cells, so it imports the
stack and loads a model once) or as Ray tasks (`executor="ray"`, on a cluster at
`ray_address`, else a local Ray), each cell writing its own folder.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from errors import UserError

NOT_APPLICABLE = "not_applicable.txt"


class Cell(BaseModel):
    graph: str
    space: str
    dataset: str
    budget: int
    seed: int
    twin: bool = False  # the graph's no-model twin (--designer none): same Critic and contained search

    @property
    def id(self) -> str:
        return f"{label(self.graph, self.twin, sep='-')}-{self.space}-{self.dataset}-b{self.budget}-s{self.seed}"


TWIN = "no model"


def label(graph: str, twin: bool, sep: str = " ") -> str:
    """A row's name: the graph, or its no-model twin ("genius (no model)"; in folder names "genius-nomodel")."""
    if not twin:
        return graph
    return f"{graph} ({TWIN})" if sep == " " else f"{graph}-nomodel"


class Grid(BaseModel):
    """What a benchmark runs.  `settings` are Settings fields every cell shares (models, graph
    options); `llm_seeds` caps the seeds of the graphs that call a model (they cost more)."""

    name: str
    graphs: list[str]
    space: str
    datasets: list[str]
    budgets: list[int]
    seeds: int = Field(10, gt=0)
    llm_seeds: int | None = Field(None, gt=0)
    settings: dict = {}
    ablate_model: bool = Field(False, description="add each model graph's no-model twin, on the same seeds")
    jobs: int = Field(1, gt=0)
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None

    def cells(self) -> list[Cell]:
        import graphs

        out = []
        for budget in self.budgets:
            for dataset in self.datasets:
                for graph in self.graphs:
                    calls_models = graph not in graphs.BASELINES
                    seeds = min(self.seeds, self.llm_seeds or self.seeds) if calls_models else self.seeds
                    for twin in (False, True) if calls_models and self.ablate_model else (False,):
                        out += [Cell(graph=graph, space=self.space, dataset=dataset, budget=budget, seed=seed,
                                     twin=twin) for seed in range(seeds)]
        return out

    def rows(self) -> list[tuple[str, bool]]:
        """(graph, twin) in table order: each model graph followed by its twin when ablated."""
        import graphs

        return [(g, twin) for g in self.graphs
                for twin in ((False, True) if self.ablate_model and g not in graphs.BASELINES else (False,))]


def validate(grid: Grid) -> Grid:
    """Names checked before anything runs (one clear line each)."""
    import graphs
    import spaces

    space = spaces.get(grid.space)
    if not isinstance(space, (spaces.Tabular, spaces.WeightShared)):
        comparable = [n for n, c in spaces.REGISTRY.items() if isinstance(c(), (spaces.Tabular, spaces.WeightShared))]
        raise UserError(f"bench compares on benchmark tables or through a supernet; {grid.space} trains every network "
                        f"(choose one of {', '.join(comparable)})")
    for graph in grid.graphs:
        graphs.get(graph)
    datasets = [space.resolve_dataset(d) for d in grid.datasets]
    return grid.model_copy(update={"datasets": datasets})


def folder(root: Path, name: str) -> Path:
    return Path(root) / name


def save(grid: Grid, root: Path) -> Path:
    path = folder(root, grid.name)
    path.mkdir(parents=True, exist_ok=True)
    (path / "grid.json").write_text(grid.model_dump_json(indent=2))
    return path


def load(root: Path, name: str) -> Grid:
    path = folder(root, name) / "grid.json"
    if not path.is_file():
        raise UserError(f"no benchmark {name!r} in {root}/ (run one with: python cli.py bench --name {name} ...)")
    return Grid.model_validate_json(path.read_text())


def status(path: Path, cell: Cell) -> Literal["done", "not_applicable", "todo"]:
    run = path / "runs" / cell.id
    if (run / "result.json").is_file():
        return "done"
    if (run / NOT_APPLICABLE).is_file():
        return "not_applicable"
    return "todo"


def run_cell(path: str, cell: dict, shared: dict, askers: Callable | None = None) -> tuple[str, str]:
    """Run (or resume) one cell to its end in this process; returns (cell id, outcome).
    `askers(settings)` builds the role models instead of the settings' providers (tests)."""
    from graphs.run import execute, prepare
    from memory.runs import RunDir
    from settings import Settings

    cell = Cell.model_validate(cell)
    runs = Path(path) / "runs"
    run_path = runs / cell.id
    if (run_path / "config.json").is_file():
        run = RunDir(run_path)
        execute(run, askers(run.settings()) if askers else None)
        return cell.id, "resumed"
    values = {**shared, "graph": cell.graph, "space": cell.space, "dataset": cell.dataset, "budget": cell.budget,
              "seed": cell.seed, "runs_dir": str(runs), "memory_write": False,
              "memory_dir": str(Path(path) / "memory")}  # nothing from the user's memory: runs are independent
    if cell.twin:
        values["designer"] = "none"
    try:
        settings = prepare(Settings.model_validate(values))
    except UserError as err:  # this graph cannot run this cell (e.g. prior without a source task)
        run_path.mkdir(parents=True, exist_ok=True)
        (run_path / NOT_APPLICABLE).write_text(str(err) + "\n")
        return cell.id, f"not applicable: {err}"
    execute(RunDir.create(settings, cell.id), askers(settings) if askers else None)
    return cell.id, "done"


def shared_settings(grid: Grid, model_flags: list[str], config: Path | None) -> dict:
    """Settings every cell shares: the file/environment, the model flags and the grid's overrides,
    resolved once here so every worker builds the same Settings."""
    from settings import load_settings

    base = load_settings(config, model_flags, **grid.settings)
    return base.model_dump(mode="json", exclude={"graph", "space", "dataset", "budget", "seed", "runs_dir"})


def run(grid: Grid, root: Path, shared: dict, on_done: Callable[[str, str, int, int], None] | None = None,
        askers: Callable | None = None) -> dict:
    """Run every cell not finished yet; returns {cell id: outcome} for the cells run now.
    `askers` (in-process only, jobs=1) replaces the role models, for tests."""
    path = save(grid, root)
    todo = [c for c in grid.cells() if status(path, c) == "todo"]
    outcomes: dict[str, str] = {}
    if not todo:
        return outcomes
    if grid.executor == "ray":
        return _run_ray(grid, path, todo, shared, on_done)
    if grid.jobs == 1:
        for i, cell in enumerate(todo, 1):
            cid, outcome = run_cell(str(path), cell.model_dump(), shared, askers)
            outcomes[cid] = outcome
            if on_done:
                on_done(cid, outcome, i, len(todo))
        return outcomes
    import multiprocessing

    # Workers are forked before any model is loaded here (the parent never loads one), so each
    # loads its own; "forkserver" would re-import the stack per worker for nothing.
    with ProcessPoolExecutor(max_workers=grid.jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(run_cell, str(path), cell.model_dump(), shared) for cell in todo]
        for i, future in enumerate(as_completed(futures), 1):
            cid, outcome = future.result()
            outcomes[cid] = outcome
            if on_done:
                on_done(cid, outcome, i, len(todo))
    return outcomes


def _run_ray(grid: Grid, path: Path, todo: list[Cell], shared: dict, on_done) -> dict:
    try:
        import ray
    except ImportError:
        raise UserError('--executor ray needs the [ray] extra: pip install -e ".[ray]"') from None
    from training.executors import ROOT

    if not ray.is_initialized():
        ray.init(address=grid.ray_address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
                 **({} if grid.ray_address else {"num_cpus": grid.jobs}))
    task = ray.remote(num_cpus=1, max_retries=0)(run_cell)
    pending = {task.remote(str(path), cell.model_dump(), shared): cell for cell in todo}
    outcomes: dict[str, str] = {}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        cid, outcome = ray.get(ready[0])
        pending.pop(ready[0])
        outcomes[cid] = outcome
        if on_done:
            on_done(cid, outcome, len(outcomes), len(todo))
    return outcomes


def summary(path: Path, grid: Grid) -> dict:
    cells = grid.cells()
    states = [status(path, c) for c in cells]
    return {"cells": len(cells), **{s: states.count(s) for s in ("done", "not_applicable", "todo")},
            "grid": json.loads(grid.model_dump_json())}
