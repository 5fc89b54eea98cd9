import json
import statistics

import pytest

import tests.tiny_space  # noqa: F401  (the synthetic space "tiny")
from agents.structured import Asker
from benchmark import grid as bench_grid
from benchmark import table as bench_table
from errors import UserError
from tests.fakes import Scripted

GRAPHS = ["genius", "random", "rea", "random+flops", "prior"]


def designer(settings):
    """The genius cells' designer: a scripted model that proposes one cell, then talks nonsense."""
    answer = {"rationale": "big", "architectures": [["large", "medium", "large"]] * 4}
    return {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=[answer, "nonsense"]))}


def tiny_grid(**overrides):
    fields = {"name": "t", "graphs": GRAPHS, "space": "tiny", "datasets": ["a", "b"], "budgets": [3], "seeds": 2,
              **overrides}
    return bench_grid.validate(bench_grid.Grid(**fields))


def test_the_table_is_what_the_run_folders_say(tmp_path):
    grid = tiny_grid()
    shared = bench_grid.shared_settings(grid, [], None)
    outcomes = bench_grid.run(grid, tmp_path, shared, askers=designer)
    assert len(outcomes) == len(GRAPHS) * 2 * 2 and set(outcomes.values()) == {"done"}
    rows = bench_table.write(tmp_path / "t", grid)
    # recomputed here independently, from each run's own result.json
    results = [json.loads(p.read_text()) for p in (tmp_path / "t" / "runs").glob("*/result.json")]
    for row in rows:
        group = [r for r in results if (r["graph"], r["dataset"], r["budget"]) == (row.graph, row.dataset, row.budget)]
        tests = [r["best"]["test_acc"] for r in group]
        assert row.seeds == len(group) == 2
        assert row.score_mean == pytest.approx(statistics.fmean(tests))
        assert row.score_std == pytest.approx(statistics.pstdev(tests))
        assert row.rank_mean == pytest.approx(statistics.fmean(r["best"]["rank"] for r in group))
        assert row.evaluations_mean == pytest.approx(statistics.fmean(r["evaluations"] for r in group))
        assert row.optimum == 98.0
    genius = [row for row in rows if row.graph == "genius"]
    assert all(row.tokens_mean > 0 and row.llm_share is not None for row in genius)
    assert all(row.llm_share is None and row.tokens_mean == 0 for row in rows if row.graph == "random")
    text = (tmp_path / "t" / "table.md").read_text()
    assert "| 3 | a | genius | none | 2 |" in text and (tmp_path / "t" / "table.csv").read_text().count("\n") == 11
    # what each row knew: nothing besides its own evaluations, but the transfer baseline its source's table
    assert {row.knowledge for row in rows if row.graph != "prior"} == {"none"}
    assert {row.knowledge for row in rows if row.graph == "prior" and row.dataset == "a"} == {"tiny/b (table)"}
    assert (tmp_path / "t" / "best_so_far_a_b3.png").stat().st_size > 1000
    # resumable: a finished cell is never run again
    assert bench_grid.run(grid, tmp_path, shared, askers=designer) == {}


def test_parallel_jobs_give_the_same_runs_as_one(tmp_path):
    grid = tiny_grid(graphs=["random", "rea", "random+flops"])
    shared = bench_grid.shared_settings(grid, [], None)
    bench_grid.run(grid, tmp_path / "one", shared)
    bench_grid.run(grid.model_copy(update={"jobs": 2}), tmp_path / "two", shared)
    one = bench_table.write(tmp_path / "one" / "t", grid)
    two = bench_table.write(tmp_path / "two" / "t", grid)
    assert [r.model_dump() for r in one] == [r.model_dump() for r in two]


def test_an_interrupted_cell_resumes_and_an_impossible_one_says_why(tmp_path):
    grid = tiny_grid(graphs=["random"], datasets=["a"], seeds=1)
    shared = bench_grid.shared_settings(grid, [], None)
    cell = grid.cells()[0]
    (tmp_path / "t" / "runs").mkdir(parents=True)
    from graphs.run import prepare
    from memory.runs import RunDir
    from settings import Settings

    values = {**shared, **cell.model_dump(exclude={"twin"}), "runs_dir": str(tmp_path / "t" / "runs"), "memory_write": False}
    RunDir.create(prepare(Settings.model_validate(values)), cell.id)  # created, never run (killed at once)
    assert bench_grid.run(grid, tmp_path, shared) == {cell.id: "resumed"}
    assert bench_grid.status(tmp_path / "t", cell) == "done"
    bad = tiny_grid(graphs=["prior"], datasets=["a"], seeds=1, settings={"transfer_from": "tiny/a"})
    outcome = bench_grid.run(bad, tmp_path / "bad", bench_grid.shared_settings(bad, [], None))
    assert "target task itself" in list(outcome.values())[0]
    rows = bench_table.write(tmp_path / "bad" / "t", bad)
    assert rows[0].seeds == 0 and "target task itself" in rows[0].not_applicable


def test_names_are_checked_before_anything_runs():
    with pytest.raises(UserError, match="unknown graph"):
        tiny_grid(graphs=["nope"])
    with pytest.raises(UserError, match="unknown dataset"):
        tiny_grid(datasets=["c"])
    trained = bench_grid.validate(bench_grid.Grid(name="x", graphs=["random"], space="mobilenetv2",
                                                  datasets=["digits"], budgets=[1]))
    assert trained.datasets == ["digits"]  # a trained space is benched too (its preset: genius-mobilenetv2-digits)


def test_llm_seeds_cap_only_the_graphs_that_call_a_model():
    cells = tiny_grid(seeds=4, llm_seeds=2, datasets=["a"]).cells()
    assert sum(c.graph == "genius" for c in cells) == 2 and sum(c.graph == "random" for c in cells) == 4


@pytest.mark.slow
def test_the_grid_runs_on_ray(tmp_path):
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    grid = bench_grid.validate(bench_grid.Grid(name="r", graphs=["random", "random+flops"], space="nb201",
                                               datasets=["cifar10"], budgets=[3], seeds=2, jobs=2, executor="ray"))
    try:
        outcomes = bench_grid.run(grid, tmp_path, bench_grid.shared_settings(grid, [], None))
    finally:
        ray.shutdown()
    assert sorted(outcomes.values()) == ["done"] * 4
    rows = bench_table.write(tmp_path / "r", grid)
    assert all(row.seeds == 2 and row.score_mean > 80 for row in rows)


def test_llmatic_offspring_count_as_the_model_s_only_when_the_model_wrote_them(tmp_path):
    """The 'from the model' column: LLMatic's random start and the Critic's picks from the
    contained search are not the model's (they were once all counted as the model's)."""
    from memory.journal import Journal

    journal = Journal(tmp_path / "events.jsonl")
    for operator, arch in (("init", "a"), ("baseline", "b"), ("mutation", "c"), ("crossover", "d")):
        journal.append(1, "offspring", data={"operator": operator, "arch": arch})
    assert bench_table._sources(tmp_path) == {"a": "random", "b": "baseline", "c": "llm", "d": "llm"}


def test_a_trained_space_is_scored_from_its_own_training_reports(tmp_path, monkeypatch):
    """mobilenetv2 has no table: the test accuracy of the best-by-validation architecture is the one
    its training reported (sandbox/<job>/report.json); no rank, no optimum.  Trainings faked here."""
    from spaces.base import Evaluation, FinalReport
    from spaces.mobilenetv2 import MobileNetV2Space

    def evaluate(self, arch, dataset):  # writes the report a real training would have saved
        flops = self.cost(arch, dataset)[0]
        key = self.workdir / f"job{abs(hash(arch)) % 10**8}"
        key.mkdir(parents=True)
        report = {"canonical": self.canonical(arch), "val_acc": flops / 4, "test_acc": flops / 5}
        (key / "report.json").write_text(json.dumps(report))
        return Evaluation(arch=arch, canonical=report["canonical"], val_acc=report["val_acc"], flops_m=flops)

    monkeypatch.setattr(MobileNetV2Space, "evaluate", evaluate)
    monkeypatch.setattr(MobileNetV2Space, "final_report", lambda self, arch, dataset: FinalReport(
        arch=arch, val_acc=0.0, test_acc=None, rank=None, of=None, flops_m=None, params_m=None))
    grid = bench_grid.validate(bench_grid.Grid(name="m", graphs=["random", "random+flops"], space="mobilenetv2",
                                               datasets=["digits"], budgets=[3], seeds=2,
                                               settings={"min_flops_m": 270, "max_flops_m": 330}))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "training_signal.md").write_text("# x\n\n**Spearman's rho, 300 steps vs 1500: 0.70**\n")
    bench_grid.run(grid, tmp_path, bench_grid.shared_settings(grid, [], None))
    rows = bench_table.write(tmp_path / "m", grid)
    for run in (tmp_path / "m" / "runs").glob("[!.]*"):  # .datasets: the data cache beside the runs
        evaluated = [json.loads(line)["data"] for line in (run / "events.jsonl").read_text().splitlines()
                     if json.loads(line)["kind"] == "evaluation"]
        assert all(270 <= e["flops_m"] <= 330 for e in evaluated)
        best = max(evaluated, key=lambda e: e["val_acc"])
        score = next(s for s in json.loads((tmp_path / "m" / "scores.json").read_text()) if s["run_id"] == run.name)
        assert score["test"] == pytest.approx(best["flops_m"] / 5) and score["rank"] is None
    assert all(row.seeds == 2 and row.optimum is None and row.rank_mean is None for row in rows)
    text = (tmp_path / "m" / "table.md").read_text()
    assert "held-out test split" in text and "Spearman's rho, 300 steps vs 1500: 0.70" in text


def test_the_no_model_twins_measure_what_the_model_added(tmp_path):
    grid = tiny_grid(graphs=["genius", "random"], ablate_model=True, seeds=3)
    assert [c.id for c in grid.cells() if c.twin][:1] == ["genius-nomodel-tiny-a-b3-s0"]
    bench_grid.run(grid, tmp_path, bench_grid.shared_settings(grid, [], None), askers=designer)
    rows = bench_table.write(tmp_path / "t", grid)
    results = [json.loads(p.read_text()) for p in (tmp_path / "t" / "runs").glob("*/result.json")]
    for dataset in ("a", "b"):
        mine = {r["seed"]: r["best"]["test_acc"] for r in results
                if (r["graph"], r["dataset"]) == ("genius", dataset) and r["contribution"].startswith(("0", "1", "2", "3"))}
        twin = {r["seed"]: r["best"]["test_acc"] for r in results
                if (r["graph"], r["dataset"]) == ("genius", dataset) and "twin" in r["contribution"]}
        assert sorted(mine) == sorted(twin) == [0, 1, 2]
        diffs = [mine[s] - twin[s] for s in mine]
        (row,) = [r for r in rows if (r.graph, r.dataset) == ("genius", dataset)]
        (twin_row,) = [r for r in rows if (r.graph, r.dataset) == ("genius (no model)", dataset)]
        assert row.delta_pairs == 3 and row.delta_mean == pytest.approx(statistics.fmean(diffs))
        if len(set(diffs)) > 1:  # the 95% t-interval with 2 degrees of freedom
            assert row.delta_ci == pytest.approx(4.302653 * statistics.stdev(diffs) / 3 ** 0.5, rel=1e-5)
        assert twin_row.tokens_mean == 0 and twin_row.llm_share == 0 and twin_row.delta_mean is None
    assert not any(r.graph.startswith("random (") for r in rows)  # a baseline has no model to take away
    assert "model vs no model" in (tmp_path / "t" / "table.md").read_text()


def test_a_darts_bench_scores_the_stand_alone_network_and_states_the_knowledge(tmp_path, monkeypatch):
    """A space without a table: no rank, no optimum; the score is the stand-alone test accuracy from
    the run's folder; LAPT's row says where its knowledge came from, the baselines' say none."""
    import spaces.darts as darts_space
    from benchmark import table as bench_table
    from tests.graphs.test_lapt_darts import TINY, answer, generated

    monkeypatch.setattr(darts_space.DartsSpace, "_data", generated)
    grid = bench_grid.validate(bench_grid.Grid(
        name="d", graphs=["lapt", "random"], space="darts", datasets=["digits"], budgets=[8], seeds=1,
        settings={"darts": TINY, "lapt": {"source_samples": 8, "learn_samples": 4, "top_r": 4, "population": 4,
                                          "generations": 1, "iterations": 1}}))
    shared = bench_grid.shared_settings(grid, [], None)
    askers = lambda settings: {"learner": Asker(role="learner", label="scripted", model=Scripted(answers=[answer]))} \
        if settings.graph == "lapt" else {}  # noqa: E731
    bench_grid.run(grid, tmp_path, shared, askers=askers)
    rows = {r.graph: r for r in bench_table.write(tmp_path / "d", grid)}
    assert rows["lapt"].knowledge == "darts/mnist (supernet)"
    assert rows["random"].knowledge == "none" and rows["random"].optimum is None and rows["random"].rank_mean is None
    run = next((tmp_path / "d" / "runs").glob("random-*"))
    result = json.loads((run / "result.json").read_text())
    assert rows["random"].score_mean == result["best"]["test_acc"]
    assert "| knowledge |" in (tmp_path / "d" / "table.md").read_text()
