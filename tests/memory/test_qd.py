import random

import pytest

from memory.archive import AddStatus
from memory.qd import NetworkArchive, PromptArchive

RANGES = [(0.0, 100.0), (0.0, 3.0)]


def test_an_elite_is_replaced_only_by_a_better_one_in_its_niche():
    archive = NetworkArchive(RANGES, cells_per_dim=10, seed=0)
    assert archive.add("a", 80.0, (50.0, 1.0)) is AddStatus.NEW
    assert archive.add("b", 79.0, (50.0, 1.0)) is AddStatus.NOT_ADDED
    assert archive.add("c", 80.0, (50.0, 1.0)) is AddStatus.NOT_ADDED  # a tie keeps the incumbent
    assert archive.add("d", 85.0, (50.1, 1.0)) is AddStatus.IMPROVE_EXISTING
    assert [e.key for e in archive.elites()] == ["d"]


def test_out_of_range_descriptors_are_clipped():
    archive = NetworkArchive(RANGES, seed=0)
    archive.add("far", 70.0, (1e6, -5.0))
    (elite,) = archive.elites()
    assert elite.descriptors == (100.0, 0.0)


def test_coverage_and_qd_score():
    archive = NetworkArchive(RANGES, cells_per_dim=10, seed=0)
    archive.add("a", 80.0, (0.0, 0.0))
    archive.add("b", 70.0, (100.0, 3.0))
    archive.add("c", 60.0, (100.0, 3.0))
    stats = archive.stats()
    assert stats == {"filled": 2, "coverage": 0.02, "qd_score": 150.0, "best_fitness": 80.0}
    assert archive.best().key == "a"


def test_nearest_returns_other_elites_by_distance():
    archive = NetworkArchive(RANGES, seed=0)
    for key, x in (("a", 0.0), ("b", 20.0), ("c", 60.0), ("d", 100.0)):
        archive.add(key, 50.0, (x, 1.5))
    assert archive.nearest("b", 2) == ["a", "c"]
    assert archive.nearest("a", 3) == ["b", "c", "d"]
    assert archive.nearest("missing", 2) == []


def test_sample_is_seeded_and_without_replacement():
    archive = NetworkArchive(RANGES, seed=0)
    for i in range(5):
        archive.add(f"k{i}", 50.0 + i, (i * 25.0, i * 0.7))
    first = archive.sample(random.Random(1), 5)
    assert sorted(first) == sorted(e.key for e in archive.elites())
    assert archive.sample(random.Random(1), 5) == first
    assert len(archive.sample(random.Random(2), 8)) == 8  # more than there are: with replacement


def test_curiosity_and_prompt_fitness_arithmetic():
    prompts = PromptArchive(n_prompts=9, seed=0)
    prompts.record(2, 0.6, "added", beat_previous_best=True)
    prompts.record(2, 0.6, "not_added", beat_previous_best=False)
    prompts.record(2, 0.6, "untrainable", beat_previous_best=False)
    prompts.record(5, 0.1, "added", beat_previous_best=False)
    niche_2 = prompts.archive.index_of_single([2.5, 0.6])
    niche_5 = prompts.archive.index_of_single([5.5, 0.1])
    assert prompts.curiosity[niche_2] == pytest.approx(1.0 - 0.5 - 1.0)
    assert prompts.fitness[niche_2] == 1.0 and prompts.fitness[niche_5] == 0.0
    assert prompts.most_curious(random.Random(0)) == (5, 0.1)
    assert prompts.stats()["qd_score"] == 1.0


def test_most_curious_is_none_before_any_record():
    prompts = PromptArchive(n_prompts=9, seed=0)
    assert prompts.most_curious(random.Random(0)) is None and prompts.random_individual(random.Random(0)) is None


def test_replay_rebuilds_the_same_archives():
    def build():
        archive, prompts = NetworkArchive(RANGES, seed=3), PromptArchive(9, seed=3)
        rng = random.Random(7)
        for i in range(60):
            archive.add(f"k{i}", rng.uniform(50, 95), (rng.uniform(0, 100), rng.uniform(0, 3)))
            prompts.record(rng.randrange(9), rng.random(), rng.choice(["added", "not_added", "untrainable"]),
                           rng.random() < 0.3)
        return archive, prompts

    (a1, p1), (a2, p2) = build(), build()
    assert a1.elites() == a2.elites() and a1.stats() == a2.stats()
    assert p1.elites() == p2.elites() and p1.curiosity == p2.curiosity


def test_heatmaps_are_written(tmp_path):
    archive, prompts = NetworkArchive(RANGES, seed=0), PromptArchive(9, seed=0)
    archive.add("a", 80.0, (10.0, 1.0))
    prompts.record(1, 0.5, "added", True)
    archive.heatmap(tmp_path / "n.png", ("MFLOPs", "depth"), "networks")
    prompts.heatmap(tmp_path / "p.png", ("prompt", "temperature"), "prompts")
    assert (tmp_path / "n.png").stat().st_size > 1000 and (tmp_path / "p.png").stat().st_size > 1000
