"""The warm sandbox (training/warm.py, training/zygote.py): what the zygote is (one thread, no
CUDA, no secret, nothing open), and that it is replaced when it dies, before a job, during one,
in the middle of a search, and when the search itself is killed with SIGKILL and resumed.
What a zygote's child may do is tests/training/test_hostile.py's (both paths)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from tests.training.test_sandbox import net
from training import sandbox, warm
from training.sandbox import TrainJob
from training.zygote import children

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # each test starts a zygote (an interpreter that imports torch)

TINY = {"epochs": 1, "train_subset": 512, "eval_subset": 64, "batch_size": 32}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from training import datasets

    return datasets.materialise("digits", tmp_path_factory.mktemp("data"))


def train(data, folder: Path, init: str = "pass", wall: float = 60.0):
    job = TrainJob(code=net(init=init), data=data, threads=1, train_subset=256, val_subset=64, test_subset=64)
    return sandbox.run(job, folder, wall, "warm")


def zygotes_of(pid: int) -> list[int]:
    """The zygote processes `pid` started (children running training/zygote.py)."""
    return [child for child in children(pid) if "zygote.py" in _cmdline(child)]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _in_thread(function, *args):
    """Run on a new thread (its own zygote) and return the result; the zygote ends with it."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(function(*args)))
    thread.start()
    thread.join()
    return out[0]


def test_the_zygote_has_one_thread_no_cuda_no_secret_and_nothing_open(data, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-zygote-secret")

    def check():
        assert train(data, tmp_path / "a").failure is None
        return warm.for_this_thread({}).status()

    status = _in_thread(check)
    assert status["threads"] == 1  # OpenMP's pool is not fork-safe: none may exist before a fork
    assert not status["cuda_initialized"] and not status["libcuda_mapped"]  # CUDA is the child's, after the fork
    assert status["environ"]["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"
    assert "OPENAI_API_KEY" not in status["environ"] and "sk-zygote-secret" not in json.dumps(status)
    open_files = set(status["fds"].values())
    # the label-free data folder's images, memory-mapped for the children (mmap keeps a descriptor;
    # a child closes it, the mapping stays), and nothing of the labelled dataset
    mapped = {t for t in open_files if t.endswith(".npy")}
    assert mapped and not any(Path(t).name in ("y_val.npy", "y_test.npy") for t in mapped), mapped
    assert {target for target in open_files - mapped if not target.startswith("socket:")} <= \
        {"/dev/null"} | {t for t in open_files if "(deleted)" in t}  # stdin, stdout; stderr: an unlinked log
    assert sum(t.startswith("socket:") for t in open_files) == 1  # its end of the socket to us


def test_the_child_gets_the_gpu_the_executor_gave_it_before_cuda_starts(data, tmp_path):
    """CUDA reads CUDA_VISIBLE_DEVICES when it initialises, which is in the child, after the fork."""
    code = "import os\n        assert os.environ.get('CUDA_VISIBLE_DEVICES') == '1', os.environ.get('CUDA_VISIBLE_DEVICES')"
    job = TrainJob(code=net(init=code), data=data, threads=1, train_subset=64, val_subset=16, test_subset=16, gpu=1)
    result = _in_thread(lambda: sandbox.run(job, tmp_path / "box", 60.0, "warm"))
    assert result.failure is None, result.detail


def test_a_zygote_that_died_between_jobs_is_replaced(data, tmp_path):
    def two_jobs():
        zygote = warm.for_this_thread({})
        first = train(data, tmp_path / "a")
        pid = zygote.pid
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        second = train(data, tmp_path / "b")
        return first, second, pid, zygote.pid, zygote.starts

    first, second, before, after, starts = _in_thread(two_jobs)
    assert first.failure is None and second.failure is None, second.detail
    assert second.val_acc == first.val_acc  # the same job, trained the same way
    assert before != after and starts == 2


def test_a_zygote_killed_during_a_job_is_replaced_and_the_job_runs_again(data, tmp_path):
    marker = tmp_path / "box" / "started.txt"
    slow = "open('started.txt', 'a').write('x')\n        import time; time.sleep(1)"

    def killed_mid_job():
        zygote = warm.for_this_thread({})
        assert train(data, tmp_path / "warm-up").failure is None
        pid, orphans = zygote.pid, []

        def kill_when_the_candidate_runs():
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            orphans.extend(children(pid))
            os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_when_the_candidate_runs)
        killer.start()
        result = train(data, tmp_path / "box", slow)
        killer.join()
        return result, pid, zygote.pid, zygote.starts, orphans

    result, before, after, starts, orphans = _in_thread(killed_mid_job)
    assert result.failure is None, result.detail
    assert marker.read_text() == "xx"  # started on the zygote that was killed, then again on its successor
    assert before != after and starts == 2
    assert len(orphans) == 1
    time.sleep(0.5)
    assert _state(orphans[0]) in ("", "Z"), "the child outlived its zygote"


def _state(pid: int) -> str:
    """A process's state letter ('' when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def test_a_zygote_ends_when_its_search_dies_between_jobs():
    """kill -9 of the search while its zygote waits for the next job: the zygote reads the end of
    its socket and exits (mid-job, the kill -9 test below covers it)."""
    script = ("import os, sys; from training import warm; "
              "zygote = warm.Zygote({}); print(zygote.status()['pid'], flush=True); os._exit(0)")  # no finaliser runs
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    zygote = int(done.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _state(zygote) not in ("", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _state(zygote) not in ("", "Z")
    if alive:
        os.kill(zygote, signal.SIGKILL)
    assert not alive, "the zygote outlived its search"


def test_a_forked_copy_of_the_search_leaves_the_zygote_to_the_original():
    """The benchmark grid forks its workers: a worker must start its own zygote, not talk to (or
    stop, or clean up after) the one of the process it was forked from."""
    zygote = warm.Zygote({})
    before = zygote.status()
    child = os.fork()
    if child == 0:
        os._exit(0 if zygote.status()["pid"] != before["pid"] else 1)  # the copy's own zygote
    assert os.waitpid(child, 0)[1] == 0
    after = zygote.status()
    assert after["pid"] == before["pid"] and zygote.starts == 1  # the original's still answers
    assert Path(after["environ"]["HOME"]).is_dir()  # and its folder was not cleaned up by the copy


def test_a_zygote_killed_in_the_middle_of_a_search_is_replaced_and_the_search_finishes(tmp_path):
    settings = load_settings(runs_dir=tmp_path, graph="random", space="torch-code", dataset="digits", budget=8,
                             training=TINY)
    run = RunDir.create(prepare(settings))
    reports = run.path / "sandbox"
    killed: list[int] = []
    seen: set[int] = set()

    def killer():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (run.path / "result.json").exists():
            for zygote in zygotes_of(os.getpid()):
                seen.add(zygote)
                done = len(list(reports.glob("*/report.json"))) if reports.exists() else 0
                if not killed and done >= 2 and children(zygote):  # it is running a child now
                    os.kill(zygote, signal.SIGKILL)
                    killed.append(zygote)
            time.sleep(0.01)

    watcher = threading.Thread(target=killer)
    watcher.start()
    result = execute(run, {})
    watcher.join()
    evaluations = [e.data for e in run.journal().events() if e.kind == "evaluation"]
    assert killed, "the search ended before a zygote could be killed mid-job"
    assert result["evaluations"] == 8 and all(e["failure"] is None for e in evaluations), \
        [e["detail"] for e in evaluations if e["failure"]]
    assert seen - set(killed), "no zygote replaced the one that was killed"


def test_kill_9_of_a_search_ends_its_zygotes_and_resume_repeats_no_training(tmp_path):
    env = {**os.environ, "ARCHAGENTS_TRAINING__TRAIN_SUBSET": "512", "ARCHAGENTS_TRAINING__EVAL_SUBSET": "64"}
    args = ["--graph", "random", "--space", "torch-code", "--dataset", "digits", "--budget", "10", "--runs-dir",
            str(tmp_path), "-q"]
    search = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "search", *args], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline, trained, zygotes = time.monotonic() + 300, [], []
    while time.monotonic() < deadline and len(trained) < 3 and search.poll() is None:
        time.sleep(0.05)
        trained = list(tmp_path.glob("*/sandbox/*/report.json"))
        zygotes = zygotes_of(search.pid) or zygotes
    os.killpg(search.pid, signal.SIGKILL)  # the search's group; the zygote has a session of its own
    search.wait()
    assert len(trained) >= 3 and zygotes, "the search did not train far enough before it was killed"
    finished = {path: (path.stat().st_mtime_ns, (path.parent / "sandbox" / "job.json").stat().st_mtime_ns)
                for path in tmp_path.glob("*/sandbox/*/report.json")}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{z}").exists() for z in zygotes):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{z}").exists() for z in zygotes), "a zygote outlived its search"
    (run_dir,) = [path for path in tmp_path.iterdir() if not path.name.startswith(".")]  # not .datasets
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "search", "--resume", run_dir.name, "--runs-dir",
                           str(tmp_path), "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for path, stamps in finished.items():  # trained before the kill: neither trained nor written again
        assert (path.stat().st_mtime_ns, (path.parent / "sandbox" / "job.json").stat().st_mtime_ns) == stamps
    steps = [json.loads(line)["step"] for line in (run_dir / "events.jsonl").open() if '"kind":"evaluation"' in line]
    assert len(steps) == len(set(steps)) == 10
    reports = [json.loads(p.read_text()) for p in run_dir.glob("sandbox/*/report.json")]
    assert all(r["sandbox"] == "warm" and r["failure"] is None for r in reports)
