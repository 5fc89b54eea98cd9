"""`cli.py arch` on every kind of space, and the bad inputs of a mobilenetv2 search with the user's
data: one line, exit 2, no run folder."""

import json
import sys

import pytest

import cli
from tests.training.test_images import tree

GENIUS_329 = "[1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 4, 0, 4, 3, 0, 0, 4, 3, 0, 4, 4, 0, 5, 0, 5, 5, 5, 0]"
NB201_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def main(capsys, monkeypatch, *args) -> tuple[int, str, str]:
    """The CLI in this process, as `python cli.py ARGS` runs it (cli.main's one-line errors)."""
    monkeypatch.setattr(sys, "argv", ["cli.py", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_arch_describes_a_mobilenetv2_design(capsys, monkeypatch):
    code, out, _ = main(capsys, monkeypatch, "arch", "mobilenetv2", GENIUS_329, "--json")
    report = json.loads(out)
    assert code == 0 and report["valid"] and report["error"] is None
    assert report["flops_m"] == pytest.approx(329.41, abs=0.01) and report["params_m"] == pytest.approx(6.97, abs=0.01)
    assert json.loads(report["canonical"])[:6] == [1, 1, 0, 0, 0, 0] and "224x224" in report["reference"]


def test_arch_reads_genius_s_stage_lines_from_a_file(capsys, monkeypatch, tmp_path):
    stages = json.loads(GENIUS_329)
    (tmp_path / "answer.txt").write_text("My design:\n" + "\n".join(
        f"Stage {s + 1} (Layer {2 + 6 * s} to Layer {7 + 6 * s}): {stages[6 * s:6 * s + 6]}" for s in range(5)))
    code, out, _ = main(capsys, monkeypatch, "arch", "mobilenetv2", str(tmp_path / "answer.txt"))
    assert code == 0 and "329.413" in out


def test_arch_gives_a_table_s_metrics(capsys, monkeypatch):
    code, out, _ = main(capsys, monkeypatch, "arch", "nb201", NB201_BEST, "--dataset", "cifar100", "--json")
    report = json.loads(out)
    assert code == 0 and report["rank"] == 1 and report["of"] == 15625 and report["test_acc"] == pytest.approx(73.51, abs=0.01)
    assert set(report) >= {"canonical", "valid", "error", "flops_m", "params_m", "val_acc", "test_acc"}


DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def test_a_published_genotype_pastes_in_whole(capsys, monkeypatch):
    """Longer than a file name may be: read as the architecture, not as a path (DARTS_V2: 3.35 M)."""
    code, out, _ = main(capsys, monkeypatch, "arch", "darts", DARTS_V2, "--dataset", "cifar10", "--json")
    assert code == 0 and json.loads(out)["params_m"] == pytest.approx(3.35, abs=0.005)


@pytest.mark.parametrize("space,arch,message", [
    ("mobilenetv2", GENIUS_329.replace(", 0]", "]"), "this one has 29"),
    ("mobilenetv2", GENIUS_329.replace("[1,", "[7,"), "operation id 7 at layer 2"),
    ("nas-bench-macro", "2221220", "not a nas-bench-macro architecture"),
])
def test_arch_of_an_invalid_architecture_is_one_line_and_exit_2(capsys, monkeypatch, space, arch, message):
    code, out, err = main(capsys, monkeypatch, "arch", space, arch)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err
    code, out, _ = main(capsys, monkeypatch, "arch", space, arch, "--json")
    assert code == 2 and json.loads(out)["valid"] is False and message in json.loads(out)["error"]


@pytest.mark.parametrize("make,flags,message", [
    (lambda root: tree(root, classes=("cat",)), [], "one class folder"),
    (lambda root: tree(root) and (root / "dog" / "0.jpg").write_bytes(b"\xff\xd8 cut"), [], "cannot read image"),
    (lambda root: tree(root, folder="train") and tree(root, classes=("cat", "fox"), folder="val"), [],
     "only in val: fox"),
    (lambda root: root.mkdir(), [], "is empty"),
    (lambda root: tree(root), ["--max-flops-m", "20"], "no mobilenetv2 architecture has at most 20 MFLOPs"),
    (lambda root: tree(root), ["--min-flops-m", "900"], "has at least 900 MFLOPs"),
    (lambda root: tree(root), ["--min-flops-m", "340", "--max-flops-m", "330"], "no architecture can meet"),
    (lambda root: tree(root), ["--dataset", "digits"], "drop --dataset digits"),
    (lambda root: tree(root), ["--space", "nb201"], "nb201 is a benchmark table"),
])
def test_bad_data_and_bounds_are_one_line_exit_2_and_no_run_folder(capsys, monkeypatch, tmp_path, make, flags, message):
    make(tmp_path / "data")
    runs = tmp_path / "runs"
    code, _, err = main(capsys, monkeypatch, "search", "--space", "mobilenetv2", "--data", str(tmp_path / "data"),
                        "--runs-dir", str(runs), *flags)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not runs.exists()  # not even the data cache: nothing was read


@pytest.mark.slow
def test_a_two_evaluation_search_on_generated_photos(capsys, monkeypatch, tmp_path):
    """GENIUS on the user's ImageFolder tree, as the README's command runs it (the designer scripted):
    both designs within the bound, trained for real in the sandbox, scored on val/ as the test set."""
    import graphs.run
    from agents.structured import Asker
    from tests.fakes import Scripted

    root = tree(tree(tmp_path / "photos", classes=("cat", "dog", "fox"), per_class=24, folder="train"),
                classes=("cat", "dog", "fox"), per_class=6, folder="val")
    first = json.loads(GENIUS_329)
    second = first[:24] + [5, 5, 5, 0, 0, 0]  # one block fewer in stage 5
    model = Scripted(answers=[{"rationale": "r", "architecture": {f"stage{s + 1}": ids[6 * s:6 * s + 6] for s in range(5)}}
                              for ids in (first, second)])
    monkeypatch.setattr(graphs.run, "make_askers", lambda settings, journal=None: {
        "designer": Asker(role="designer", label="scripted", model=model)})
    code, out, err = main(capsys, monkeypatch, "search", "--graph", "genius", "--designer", "genius", "--critic", "rules",
                          "--space", "mobilenetv2", "--data", str(root), "--budget", "2", "--max-flops-m", "330",
                          "--steps", "40",
                          "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert code == 0, err
    run = next(p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
    result = json.loads((run / "result.json").read_text())
    evaluations = [e for e in map(json.loads, (run / "events.jsonl").read_text().splitlines()) if e["kind"] == "evaluation"]
    assert [json.loads(e["data"]["arch"]) for e in evaluations] == [first, second]
    assert all(e["data"]["failure"] is None and e["data"]["flops_m"] <= 330 for e in evaluations)
    assert result["best"]["test_acc"] is not None and result["evaluations"] == 2
