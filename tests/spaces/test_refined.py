import random

from spaces import get
from spaces.refined import Individual, age, full_space, members, mutate_within, positions, rea_child, refine

SPACE = get("nb201")
C3, C1, SK, AP, NO = "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"


def test_ops_outside_the_principles_are_excluded_and_every_position_keeps_one():
    suggested = {"node1_from_0": [C3, "dilated_conv_5x5"], "node2_from_0": [C3, C1], "node3_from_2": []}
    refined = refine(SPACE, suggested)
    assert refined.allowed["node1_from_0"] == [C3]              # unknown op ignored
    assert refined.allowed["node2_from_0"] == [C1, C3]          # in the space's op order
    assert refined.allowed["node3_from_2"] == list(positions(SPACE)["node3_from_2"])  # empty -> kept whole
    assert set(refined.repaired) == {"node2_from_1", "node3_from_0", "node3_from_1", "node3_from_2"}
    assert all(refined.allowed[p] for p in positions(SPACE))
    assert refined.excluded(SPACE)["node1_from_0"] == [NO, SK, C1, AP]


def test_members_are_exactly_the_refined_product():
    refined = refine(SPACE, {p: [C3, SK] for p in positions(SPACE)})
    inside = members(SPACE, refined)
    assert len(inside) == refined.size() == 2 ** 6
    assert all(set(SPACE.to_proposal(a).values()) <= {C3, SK} for a in inside)
    assert len(members(SPACE, full_space(SPACE))) == 15_625


def test_rea_inside_a_refined_space_only_samples_in_it():
    refined = refine(SPACE, {"node1_from_0": [C3, "none"], "node2_from_0": [C3, C1], "node2_from_1": [SK, C3],
                             "node3_from_0": [SK], "node3_from_1": [C3, AP], "node3_from_2": [C3, C1]})
    pool = members(SPACE, refined)  # with node1_from_0 = none, the edges out of node 1 carry zeros: twins
    rng, seen, population = random.Random(0), set(), []
    for _ in range(len(pool) + 5):  # more children than members: exhausts the space
        arch = rea_child(SPACE, population, pool, seen, 2, rng)
        if arch is None:
            break
        assert refined.contains(SPACE, arch) and SPACE.canonical(arch) not in seen
        seen.add(SPACE.canonical(arch))
        population = age(population, Individual(arch=arch, fitness=SPACE.evaluate(arch, "cifar10").val_acc), 5)
        assert len(population) <= 5
    networks = {SPACE.canonical(a) for a in pool}
    assert seen == networks and len(networks) < len(pool)  # no network twice (isomorphic cells are one), all reached


def test_mutation_changes_one_position_within_the_pool():
    refined = refine(SPACE, {p: [C3, C1] for p in positions(SPACE)})
    pool = set(members(SPACE, refined))
    parent = SPACE.validate(f"|{C3}~0|+|{C3}~0|{C3}~1|+|{C3}~0|{C3}~1|{C3}~2|")
    child = mutate_within(SPACE, parent, pool, set(), random.Random(1))
    diff = [p for p, op in SPACE.to_proposal(child).items() if op != SPACE.to_proposal(parent)[p]]
    assert len(diff) == 1 and SPACE.to_proposal(child)[diff[0]] == C1


def test_regularised_evolution_removes_the_oldest():
    population = [Individual(arch=str(i), fitness=100 - i) for i in range(3)]
    aged = age(population, Individual(arch="new", fitness=0.0), 3)
    assert [i.arch for i in aged] == ["1", "2", "new"]
