import random

import pytest

from memory.archive import AddStatus
from memory.qd import NetworkArchive, PromptArchive, _unit_centroids

RANGES = [(0.0, 100.0), (0.0, 3.0)]
NB201_LIKE = [(8.0, 220.0), (0.0, 3.0)]  # MFLOPs, conv depth: axes of very different size


# --- network archive ------------------------------------------------------------------------


def test_an_elite_is_replaced_only_by_a_strictly_better_one_in_its_niche():
    archive = NetworkArchive(RANGES)
    assert archive.add("a", 80.0, (50.0, 1.0)) is AddStatus.NEW
    assert archive.add("b", 79.0, (50.0, 1.0)) is AddStatus.NOT_ADDED
    assert archive.add("c", 80.0, (50.0, 1.0)) is AddStatus.NOT_ADDED  # a tie keeps the incumbent
    assert archive.add("d", 85.0, (50.0, 1.0)) is AddStatus.IMPROVE_EXISTING
    assert archive.add("e", 10.0, (0.0, 0.0)) is AddStatus.NEW  # another niche: any fitness fills it
    assert {e.key: e.fitness for e in archive.elites()} == {"d": 85.0, "e": 10.0}


def test_a_cell_has_cells_per_dim_squared_niches():
    assert NetworkArchive(RANGES).archive.cells == 100
    assert NetworkArchive(RANGES, cells_per_dim=4).archive.cells == 16


def test_out_of_range_descriptors_are_clipped():
    archive = NetworkArchive(RANGES)
    archive.add("far", 70.0, (1e6, -5.0))
    (elite,) = archive.elites()
    assert elite.descriptors == (100.0, 0.0)
    assert archive.add("corner", 75.0, (100.0, 0.0)) is AddStatus.IMPROVE_EXISTING  # the same niche


def test_both_descriptors_split_niches_even_when_their_ranges_differ_in_size():
    archive = NetworkArchive(NB201_LIKE)
    statuses = [archive.add(f"depth{d}", 50.0, (100.0, float(d))) for d in (0, 3)]
    assert statuses == [AddStatus.NEW, AddStatus.NEW]


def test_coverage_qd_score_and_best_on_a_hand_made_archive():
    archive = NetworkArchive(RANGES)
    assert archive.stats() == {"filled": 0, "coverage": 0.0, "qd_score": 0.0, "best_fitness": None}
    assert archive.best() is None
    archive.add("a", 80.0, (0.0, 0.0))
    archive.add("b", 70.0, (100.0, 3.0))
    archive.add("c", 60.0, (100.0, 3.0))  # worse than b: not counted
    archive.add("d", 90.0, (100.0, 3.0))  # replaces b: 80 + 90
    assert archive.stats() == {"filled": 2, "coverage": 0.02, "qd_score": 170.0, "best_fitness": 90.0}
    assert archive.best().key == "d"


def test_nearest_uses_range_normalised_distance_and_skips_the_anchor():
    archive = NetworkArchive(RANGES)
    archive.add("anchor", 50.0, (20.0, 1.5))
    archive.add("up", 50.0, (20.0, 3.0))     # raw distance 1.5, normalised 0.5
    archive.add("right", 50.0, (60.0, 1.5))  # raw distance 40, normalised 0.4
    archive.add("far", 50.0, (100.0, 0.0))
    assert len(archive.elites()) == 4
    assert archive.nearest("anchor", 2) == ["right", "up"]
    assert archive.nearest("anchor", 10) == ["right", "up", "far"]
    assert archive.nearest("missing", 2) == []


def test_sample_is_seeded_and_draws_without_replacement_while_it_can():
    archive = NetworkArchive(RANGES)
    assert archive.sample(random.Random(0), 3) == []
    for i in range(5):
        archive.add(f"k{i}", 50.0 + i, (i * 25.0, i * 0.7))
    keys = sorted(e.key for e in archive.elites())
    first = archive.sample(random.Random(1), 5)
    assert sorted(first) == keys
    assert archive.sample(random.Random(1), 5) == first
    eight = archive.sample(random.Random(2), 8)
    assert len(eight) == 8 and sorted(eight[:5]) == keys  # everyone once before any repeat


# --- prompt archive -------------------------------------------------------------------------


def _individual(prompts: PromptArchive, prompt_id: int, temperature: float):
    niche = prompts.niche_of(prompt_id, temperature)
    return next(i for i in prompts.individuals() if i.niche == niche)


def test_curiosity_and_collective_prompt_fitness_on_a_scripted_sequence():
    prompts = PromptArchive(n_prompts=16)
    script = [("added", True, 1.0, 1.0), ("not_added", False, 0.5, 1.0), ("untrainable", False, -0.5, 1.0),
              ("added", False, 0.5, 1.0), ("added", True, 1.5, 2.0)]
    for outcome, beat, curiosity, fitness in script:
        prompts.record(2, 0.6, outcome, beat_previous_best=beat)
        individual = _individual(prompts, 2, 0.6)
        assert (individual.curiosity, individual.fitness) == (curiosity, fitness)
    prompts.record(9, 0.1, "added", beat_previous_best=False)
    prompts.record(9, 0.1, "added", beat_previous_best=False)
    assert _individual(prompts, 9, 0.1).fitness == 0.0  # +1 only when beating the previous best
    stats = prompts.stats()
    assert (stats["filled"], stats["qd_score"], stats["best_fitness"], stats["max_curiosity"]) == (2, 2.0, 2.0, 2.0)
    assert prompts.most_curious(random.Random(0)) == (9, 0.1)


def test_an_individual_is_a_niche_represented_by_its_latest_fitness_gain():
    prompts = PromptArchive(n_prompts=16)
    assert prompts.niche_of(3, 0.50) == prompts.niche_of(3, 0.52) != prompts.niche_of(3, 0.95)
    prompts.record(3, 0.50, "added", beat_previous_best=False)
    prompts.record(3, 0.52, "not_added", beat_previous_best=False)  # same individual, no gain
    (individual,) = prompts.individuals()
    assert (individual.prompt_id, individual.temperature, individual.curiosity) == (3, 0.50, 0.5)
    prompts.record(3, 0.52, "added", beat_previous_best=True)  # a gain: 0.52 now represents it
    (individual,) = prompts.individuals()
    assert (individual.temperature, individual.curiosity, individual.fitness) == (0.52, 1.5, 1.0)


def test_most_curious_breaks_ties_with_the_rng():
    prompts = PromptArchive(n_prompts=4)
    prompts.record(0, 0.2, "added", False)
    prompts.record(3, 0.9, "added", False)
    prompts.record(1, 0.5, "not_added", False)
    picks = {prompts.most_curious(random.Random(seed)) for seed in range(20)}
    assert picks == {(0, 0.2), (3, 0.9)}
    assert prompts.most_curious(random.Random(5)) == prompts.most_curious(random.Random(5))
    assert {prompts.random_individual(random.Random(seed)) for seed in range(30)} == {(0, 0.2), (3, 0.9), (1, 0.5)}


def test_an_empty_prompt_archive_has_no_individual_and_ids_are_checked():
    prompts = PromptArchive(n_prompts=4)
    assert prompts.most_curious(random.Random(0)) is None
    assert prompts.random_individual(random.Random(0)) is None
    assert prompts.stats()["max_curiosity"] is None
    with pytest.raises(ValueError):
        prompts.record(4, 0.5, "added", False)


# --- both -----------------------------------------------------------------------------------


def test_replaying_the_same_calls_rebuilds_identical_archives():
    def build() -> tuple[NetworkArchive, PromptArchive]:
        _unit_centroids.cache_clear()  # recompute the CVT, as a resumed process would
        networks, prompts = NetworkArchive(NB201_LIKE, seed=3), PromptArchive(16, seed=3)
        rng = random.Random(7)
        for i in range(200):
            networks.add(f"k{i % 150}", rng.uniform(50, 95), (rng.uniform(0, 250), rng.uniform(-1, 3)))
            prompts.record(rng.randrange(16), rng.random(), rng.choice(["added", "not_added", "untrainable"]),
                           rng.random() < 0.3)
        return networks, prompts

    (n1, p1), (n2, p2) = build(), build()
    assert n1.elites() == n2.elites() and n1.stats() == n2.stats()
    assert p1.individuals() == p2.individuals() and p1.stats() == p2.stats()
    assert n1.nearest(n1.elites()[0].key, 3) == n2.nearest(n2.elites()[0].key, 3)
    assert p1.most_curious(random.Random(1)) == p2.most_curious(random.Random(1))
    assert 0 < n1.stats()["coverage"] < 1


def test_heatmaps_are_written_for_both_archives(tmp_path):
    networks, prompts = NetworkArchive(NB201_LIKE), PromptArchive(16)
    networks.add("a", 80.0, (100.0, 1.0))
    prompts.record(1, 0.5, "added", True)
    networks.heatmap(tmp_path / "networks.png", ("MFLOPs", "conv depth"), "network archive")
    prompts.heatmap(tmp_path / "prompts.png", ("prompt id", "temperature"), "prompt archive")
    for name in ("networks.png", "prompts.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
