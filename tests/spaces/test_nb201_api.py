"""The official NAS-Bench-201 API reader (spaces/nb201_api.py, `--nb201-api FILE`) against the shipped
table, on the cells of a small file written in the official format (tests/spaces/nb201_official.py)."""

import json

import pytest

pytest.importorskip("nas_201_api", reason="needs the [nb201-api] extra (nas-bench-201)")

from errors import UserError  # noqa: E402
from settings import load_settings  # noqa: E402
from spaces import nb201_api  # noqa: E402
from spaces.nb201 import NB201Space, _table  # noqa: E402
from tests.spaces import nb201_official  # noqa: E402
from tests.test_cli import run_cli  # noqa: E402
from tools.query_nb201 import query_nb201  # noqa: E402

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
# The best cell of each task and a few ordinary ones, by the NB201 index of the shipped table.
INDEXES = (6111, 9930, 857, 0, 1, 4242, 15624)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    archs = [NB201Space().arch_at(i) for i in INDEXES]
    return nb201_official.write(tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-small.pth", archs), archs


def configured(path) -> NB201Space:
    space = NB201Space()
    space.configure(load_settings(nb201_api=path), None)
    return space


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16"])
def test_the_official_file_and_the_shipped_table_agree_on_what_they_share(official, dataset):
    path, archs = official
    read, table = configured(path), NB201Space()
    for arch in archs:
        ours, theirs = read.evaluate(arch, dataset), table.evaluate(arch, dataset)
        assert ours.val_acc == pytest.approx(theirs.val_acc, abs=1e-9)
        assert (ours.flops_m, ours.params_m) == pytest.approx((theirs.flops_m, theirs.params_m))
        final = read.final_report(arch, dataset)
        assert final.test_acc == pytest.approx(table.final_report(arch, dataset).test_acc, abs=1e-9)
        assert final.of == len(archs) and 1 <= final.rank <= len(archs)  # ranked among the file's cells
    assert set(read.all_archs()) == set(archs) and read.contains(archs[0]) and not read.contains(BEST[:-2] + "1|")


def test_every_metric_the_api_gives(official):
    path, archs = official
    reader = nb201_api.load(path)
    full, short = reader.record(BEST, "cifar10", 200), reader.record(BEST, "cifar10", 12)
    row = _table()[BEST]
    assert full.index == 9930 and full.seeds == list(nb201_official.SEEDS)
    assert full.valid.accuracy == pytest.approx(row.val["cifar10"]) and full.test.accuracy == pytest.approx(row.test["cifar10"])
    assert len(full.valid.accuracy_curve) == len(full.train.loss_curve) == 200 and len(short.valid.accuracy_curve) == 12
    assert full.valid.accuracy_curve[-1] == full.valid.accuracy and full.valid.accuracy_curve[0] < full.valid.accuracy
    assert short.valid.accuracy == pytest.approx(row.val["cifar10"] - 7.0)  # the 12-epoch schedule
    assert full.train.accuracy == pytest.approx(99.0) and full.valid.loss == pytest.approx(0.4)
    assert full.latency_s == pytest.approx(nb201_official.LATENCY_S) and full.train_seconds == pytest.approx(300.0)
    assert reader.record(archs[4], "imagenet16").test.accuracy == pytest.approx(_table()[archs[4]].test["imagenet16"])
    with pytest.raises(UserError, match="not in the benchmark file"):
        reader.record(NB201Space().arch_at(2), "cifar10")


def test_query_nb201_reads_the_official_file_when_given_one(official):
    path, _ = official
    answer = query_nb201(BEST, "cifar100", benchmark=path)
    assert answer["val_acc"] == pytest.approx(_table()[BEST].val["cifar100"]) and "test_acc" not in answer
    assert len(answer["valid_curve"]) == 200 and answer["val_acc_12"] == pytest.approx(answer["val_acc"] - 7.0)
    assert answer["latency_s"] == pytest.approx(nb201_official.LATENCY_S) and answer["train_acc"] == pytest.approx(99.0)
    assert "valid_curve" not in query_nb201(BEST, "cifar100")  # the shipped table by default


def test_numpy_numbers_load_without_running_code_and_a_code_pickle_is_refused(tmp_path):
    import torch

    numbers = nb201_official.write(tmp_path / "numpy.pth", [BEST], numpy_numbers=True)
    assert nb201_api.load(numbers).accuracy(BEST, "cifar10", "valid") == pytest.approx(_table()[BEST].val["cifar10"])
    torch.save({"meta_archs": [], "arch2infos": {0: UserError("a class")}, "evaluated_indexes": []}, tmp_path / "c.pth")
    with pytest.raises(UserError, match="would run code to load .*TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        nb201_api.load(tmp_path / "c.pth")


def test_a_search_reads_the_official_file_and_bad_files_are_one_line(official, tmp_path):
    path, archs = official
    done = run_cli("search", "--graph", "random", "--budget", "3", "--nb201-api", str(path), "--runs-dir",
                   str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr
    run = next(tmp_path.iterdir())
    result = json.loads((run / "result.json").read_text())
    evaluated = [json.loads(line)["data"]["arch"] for line in (run / "events.jsonl").read_text().splitlines()
                 if json.loads(line)["kind"] == "evaluation"]
    assert len(evaluated) == 3 and set(evaluated) <= set(archs) and result["best"]["of"] == len(archs)
    assert result["best"]["test_acc"] == pytest.approx(_table()[result["best"]["arch"]].test["cifar10"])
    (tmp_path / "junk.pth").write_bytes(b"not a benchmark")
    for bad, message in ((tmp_path / "missing.pth", "no such file"), (tmp_path / "junk.pth", "not a NAS-Bench-201"),
                         (path, "does not apply to space transnas101")):
        runs = tmp_path / "bad"
        space = ["--space", "transnas101"] if "transnas101" in message else []
        done = run_cli("search", "--graph", "random", "--nb201-api", str(bad), "--runs-dir", str(runs), *space)
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert not runs.exists()
