import json
import subprocess
import sys
from pathlib import Path

import pytest

from spaces.torch_code import SEED_NETWORK

ROOT = Path(__file__).resolve().parent.parent


def evaluate(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", ["warm", "cold"])
def test_evaluate_trains_a_file_and_prints_the_typed_result(tmp_path, sandbox):
    (tmp_path / "net.py").write_text(SEED_NETWORK)
    (tmp_path / "archagents.toml").write_text("[training]\ntrain_subset = 256\neval_subset = 128\n")
    done = evaluate("--space", "torch-code", "net.py", "--epochs", "1", "--sandbox", sandbox, "--runs-dir", "runs",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["failure"] is None and 0 <= report["val_acc"] <= 100 and report["dataset"] == "mnist"
    assert report["sandbox"] == sandbox
    assert report["epochs"] == 1 and report["flops_m"] == pytest.approx(0.013312)


def test_a_failing_candidate_is_a_result_with_exit_1_that_does_not_echo_the_code(tmp_path):
    (tmp_path / "evil.py").write_text("import socket\n" + SEED_NETWORK)
    done = evaluate("evil.py", "--runs-dir", "runs", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["failure"] == "import_refused" and "import socket" not in done.stdout


@pytest.mark.parametrize("content,message", [(b"root:x:0:0:root:/root:/bin/bash\n", "not Python"),
                                             (b"\x7fELF\x02\x01\x01\x00\xff\xfe", "not UTF-8")])
def test_a_file_that_is_not_python_is_refused_without_echoing_it(tmp_path, content, message):
    (tmp_path / "passwd").write_bytes(content)
    done = evaluate("passwd", "--runs-dir", "runs", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "root:x" not in done.stderr + done.stdout
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["missing.py"], "no such file"),
    (["net.py", "--space", "nb201"], "benchmark table"),
    (["net.py", "--dataset", "imagenet16"], "unknown dataset"),
    (["net.py", "--dataset", "cifar10"], "CIFAR-10 not found"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "net.py").write_text(SEED_NETWORK)
    done = evaluate(*args, "--runs-dir", "runs", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, \
        done.stderr


@pytest.mark.parametrize("args,message", [
    (["--executor", "nope"], "training.executor"),
    (["--workers", "0"], "training.workers"),
    (["--sandbox", "tepid"], "training.sandbox"),
    (["--dataset", "cifar10"], "CIFAR-10 not found"),
])
def test_search_training_flags_are_checked(tmp_path, args, message):
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "search", "--space", "torch-code", *args,
                           "--runs-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and message in done.stderr, done.stderr
