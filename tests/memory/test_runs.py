import fcntl

from memory.runs import RunDir
from settings import load_settings


def test_list_and_info_of_a_finished_run(recorded_run):
    (listed,) = RunDir.list(recorded_run.path.parent)
    info = listed.info()
    result = recorded_run.result()
    assert info.id == recorded_run.id and info.status == "finished"
    assert (info.graph, info.space, info.dataset, info.seed) == ("genius", "nb201", "cifar10", 3)
    assert info.evaluations == result["evaluations"] == 4
    assert info.best_val_acc == result["best"]["val_acc"] and info.best_arch == result["best"]["arch"]
    usage = result["usage"]["designer"]
    assert info.tokens == usage["tokens_in"] + usage["tokens_out"] > 0
    assert info.parent is None and set(info.tokens_by_role) <= {"designer"}
    from render import run_cost

    assert run_cost(info) == "local"  # embedded settings: free


def test_status_running_while_held_and_interrupted_after(tmp_path):
    run = RunDir.create(load_settings(runs_dir=tmp_path))
    assert run.status() == "interrupted"
    with run.hold():
        assert run.status() == "running"
    assert run.status() == "interrupted"


def test_a_second_runner_is_refused(tmp_path):
    import pytest

    from errors import UserError

    run = RunDir.create(load_settings(runs_dir=tmp_path))
    with run.lock_path.open("w") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process holds it
        with pytest.raises(UserError, match="already running"):
            with run.hold():
                pass


def test_list_of_a_missing_folder_is_empty(tmp_path):
    assert RunDir.list(tmp_path / "nope") == []
