"""A small recorded run for the inspection tests: GENIUS on NB201 driven by a scripted designer
through the real graph (6 proposals: an evaluation, two rejected repeats, a fallback, two more
evaluations).  Built once per test session in a temporary folder; tests only read it."""

from __future__ import annotations

import pytest

from tests.fakes import cell

C3, C1, SK, AP = "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3"
ANSWERS = [
    cell(C3, C3, C3, SK, C3, C3, rationale="Wide 3x3 convolutions with a skip connection keep gradients flowing."),
    cell(C3, C3, C3, SK, C3, C3, rationale="Repeat the best cell since it worked."),
    cell(C3, C3, C3, SK, C3, C3, rationale="Repeat the best cell since it worked."),
    cell(C1, C1, C1, SK, C1, C1, rationale="Cheaper 1x1 convolutions may generalise better."),
    cell(AP, C3, C3, SK, C3, C3, rationale="Average pooling on the first edge smooths the input features."),
]


def record(runs_dir, **overrides):
    """The run; it leaves nothing in the persistent memory unless `memory_write=True` is given
    (session fixtures are built before the per-test environment of conftest.py applies)."""
    from agents.structured import Asker  # imported here: conftest loads this module for every test
    from graphs.run import execute, prepare
    from memory.runs import RunDir
    from settings import load_settings
    from tests.fakes import Scripted

    overrides = {"memory_write": False, "designer": "genius", "critic": "rules", **overrides}
    run = RunDir.create(prepare(load_settings(runs_dir=runs_dir, budget=4, max_rejections=2, seed=3, **overrides)))
    execute(run, {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=ANSWERS))})
    return run


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("recorded"))
