"""Hostile candidates that pass the static check and attack at run time (issue 16, item 6; the
zygote's, issue 25).

Every file in tests/training/hostile/ is a complete `Net(nn.Module)` that spaces/torch_code.py
accepts (when the static check learns to refuse one, move its name to STATICALLY_REFUSED: it
still runs through the sandbox, which must contain it anyway); its docstring says the attack
and what the sandbox must answer (`Expect: KIND`, or `Expect: ok` where the attack is harmless
by construction).  All of them run through the real path (training.jobs -> the sandboxed child)
on `digits` with a tiny recipe, two at a time, once per sandbox (warm: forked from a zygote;
cold: a fresh interpreter), and then nothing may have happened outside their sandbox folders: no
file written, read back or changed, no process left, no connection made.  After each of them an
honest network is trained on the same worker (the same zygote, on the warm path) and must score
exactly as on a fresh one; the zygotes must have survived, untraced, single-threaded and
without a secret.
"""

import hashlib
import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from settings import TrainingSettings
from spaces.torch_code import CodeError, canonical_form, check, vet
from tests.training.test_sandbox import net
from training import jobs, warm
from training.zygote import children

HOSTILE = Path(__file__).parent / "hostile"
NAMES = sorted(p.stem for p in HOSTILE.glob("*.py"))
SECRET = "sk-canary-4f1d9c"
TINY = {"epochs": 1, "train_subset": 256, "eval_subset": 64, "batch_size": 32, "workers": 2,
        "wall_seconds": 90.0, "cpu_seconds": 12, "memory_mb": 512}
WALL = {"sleep_forever": 20.0}  # the one sample that only a wall-clock limit stops
STATICALLY_REFUSED: set[str] = {
    "alarm", "atexit_hook", "busy_loop", "cheat_frames", "cheat_labels_file", "disk_fill", "forge_report",
    "fork_workers", "kill_parent", "leave_process", "network_tcp", "patch_training", "poison_shared_modules",
    "ptrace_parent", "read_parent_environ", "read_parent_memory", "read_secret", "shell", "signal_parent_pidfd",
    "sleep_forever", "subvert_hook", "threads", "write_native", "write_numpy"}
CHEATS = ("patch_training",)  # an "ok" sample that tries to inflate the accuracy
# `Needs: X.` in a sample: the guard it needs, as the child's confinement report names it.
GUARDS = {"landlock": "landlock ABI", "landlock signals": "no signal outside", "seccomp": "seccomp: no new process"}
SCORES = ("failure", "val_acc", "test_acc", "flops_m", "params_m", "width", "depth")
# On the cold path nothing in memory outlives a candidate (a fresh interpreter each), so the honest
# candidate follows only the samples aimed at what could: a process, a thread, the parent.
OUTLIVING = ("poison_shared_modules", "threads", "leave_process", "atexit_hook", "fork_workers", "kill_parent",
             "signal_parent_pidfd", "ptrace_parent")


def source(name: str, canary: Path = Path("/nonexistent"), port: int = 9) -> str:
    return (HOSTILE / f"{name}.py").read_text().replace("CANARY_DIR", str(canary)).replace("CANARY_PORT", str(port))


def expected(name: str) -> str:
    return re.search(r"^Expect: (\w+)", source(name), re.MULTILINE).group(1)


def needs(name: str) -> str | None:
    found = re.search(r"^Needs: ([\w ]+)\.", source(name), re.MULTILINE)
    return GUARDS[found.group(1)] if found else None


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_passes_the_static_check(name):
    """Else it would test the static check, not the sandbox."""
    if name in STATICALLY_REFUSED:
        with pytest.raises(CodeError):
            check(source(name))
    else:
        check(source(name))
    assert expected(name) in ("ok", "refused", "oom", "timeout", "crashed", "shape_error", "nan_loss")
    assert not re.search(r"^Needs:", source(name), re.MULTILINE) or needs(name)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def processes_inside(folder: Path) -> list[str]:
    """Processes whose working directory is under `folder` (every child starts in its sandbox)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd.startswith(str(folder)):
            found.append(pid)
    return found


class Outcome:
    def __init__(self, **fields):
        self.__dict__.update(fields)


@pytest.fixture(scope="module", params=["warm", "cold"])
def outcome(request, tmp_path_factory):
    """Run the whole catalogue once per sandbox (two workers, each its own zygote on the warm
    path), each sample followed on its worker by an honest network, with a listening socket for
    the network attacks and a canary folder holding a secret."""
    sandbox = request.param
    root = tmp_path_factory.mktemp(f"hostile-{sandbox}")
    canary, home = root / "canary", root / "home"
    canary.mkdir()
    home.mkdir()
    (canary / "secret.txt").write_text(SECRET)
    (canary / "data.bin").write_bytes(bytes(range(256)))
    before = snapshot(canary)
    earlier = set(children(os.getpid()))  # what earlier tests of the session left is theirs to answer for
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    honest = vet(net())  # a linear network: it learns digits well in one tiny epoch

    def train(code: str, canonical: str, workdir: Path, wall: float = TINY["wall_seconds"]) -> dict:
        training = TrainingSettings(**{**TINY, "wall_seconds": wall, "sandbox": sandbox}).model_dump(mode="json")
        return jobs.train_here(code, canonical, "digits", 0, str(workdir), str(root / "data"), training, threads=1)

    def attack(name: str) -> tuple[dict, dict, tuple | None]:
        code = source(name, canary, port)  # not vetted: the sandbox must hold on its own
        report = train(code, canonical_form(code), root / "sandbox", WALL.get(name, TINY["wall_seconds"]))
        after = train(*honest, root / "after" / name) \
            if sandbox == "warm" or name in OUTLIVING else None  # the next candidate on this worker (and zygote)
        zygote = warm.for_this_thread({}) if sandbox == "warm" else None
        return report, after, (zygote.pid, zygote.starts) if zygote else None

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("HOSTILE_TEST_API_KEY", SECRET)
        fresh = ThreadPoolExecutor(1)
        reference = fresh.submit(train, *honest, root / "reference").result()  # on a zygote of its own
        fresh.shutdown()
        pool = ThreadPoolExecutor(TINY["workers"])
        done = {name: future.result() for name, future in {name: pool.submit(attack, name) for name in NAMES}.items()}
        zygotes = {z for _, _, z in done.values() if z}
        alive = {pid: _proc_status(pid) for pid, _ in zygotes}
        environ = {pid: _environ(pid) for pid, _ in zygotes}
        pool.shutdown()  # the workers' threads end, and their zygotes with them
    accepted = 0
    try:
        while listener.accept():
            accepted += 1
    except (socket.timeout, BlockingIOError):
        pass
    listener.close()
    return Outcome(sandbox=sandbox, reports={n: r for n, (r, _, _) in done.items()},
                   after={n: a for n, (_, a, _) in done.items()}, reference=reference, zygotes=zygotes,
                   alive=alive, environ=environ, root=root, canary=canary, home=home, before=before,
                   accepted=accepted, earlier=earlier)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_hostile_sample_is_contained_with_a_typed_result(outcome, name):
    report = outcome.reports[name]
    guard = needs(name)
    if guard and guard not in report["confinement"]:
        pytest.skip(f"this kernel lacks what contains this attack ({report['confinement']}): training/sandbox.py "
                    "says what is covered without it")
    want = expected(name)
    assert report["failure"] == (None if want == "ok" else want), (name, report["failure"], report["detail"])
    assert report["sandbox"] == outcome.sandbox
    if want == "ok":
        assert report["val_acc"] is not None and report["test_acc"] is not None
    if name in CHEATS:  # an honest linear network reaches ~70% here; chance is ~10%
        assert report["val_acc"] < 30 and report["test_acc"] < 30, report
    assert SECRET not in str(report)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_next_candidate_scores_as_on_a_fresh_sandbox(outcome, name):
    """What a sample changed in its process (modules patched, the preloaded arrays overwritten, a
    thread left running, its parent signalled) must not reach the candidate trained after it."""
    after, reference = outcome.after[name], outcome.reference
    if after is None:
        pytest.skip("on the cold path only the samples aimed at what outlives a candidate are followed")
    assert reference["failure"] is None and reference["val_acc"] > 30, reference  # it learns: a real comparison
    assert {k: after[k] for k in SCORES} == {k: reference[k] for k in SCORES}, name


@pytest.mark.slow
def test_the_zygotes_survive_untraced_single_threaded_and_without_secrets(outcome):
    if outcome.sandbox == "cold":
        pytest.skip("the cold path has no zygote")
    assert len(outcome.zygotes) == TINY["workers"]  # one per worker
    assert all(starts == 1 for _, starts in outcome.zygotes), outcome.zygotes  # none was killed and replaced
    for pid, status in outcome.alive.items():
        assert status["State"][0] in "RS", status  # alive, not stopped by a tracer or a signal
        assert status["TracerPid"] == "0" and status["Threads"] == "1", status
        assert SECRET not in outcome.environ[pid] and "HOSTILE_TEST_API_KEY" not in outcome.environ[pid]


@pytest.mark.slow
def test_no_side_effect_outside_the_sandbox_folders(outcome):
    assert snapshot(outcome.canary) == outcome.before  # nothing written, changed or removed
    assert not any(outcome.home.iterdir())
    sandbox = outcome.root / "sandbox"
    for path in sandbox.rglob("*"):
        inside = path.relative_to(sandbox).parts
        # <key>/report.json and <key>/.lock are the parent's; all the child wrote is under <key>/sandbox/
        assert len(inside) == 1 or inside[1] == "sandbox" or inside[1:] in (("report.json",), (".lock",)), path
    for report in sandbox.glob("*/report.json"):
        assert SECRET not in report.read_text()
    assert outcome.accepted == 0  # no connection reached the listening socket
    assert processes_inside(outcome.root) == []  # no child, thread group or grandchild left running
    ours = {pid for pid, _ in outcome.zygotes}
    assert not any(_proc_status(pid) for pid in ours)  # the workers' zygotes ended with their threads
    main_zygote = warm.for_this_thread({}).pid  # the reference's (this thread's), if any
    left = [pid for pid in children(os.getpid()) if pid != main_zygote and pid not in outcome.earlier]
    assert left == [], [_cmdline(pid) for pid in left]


def _proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(ended)"


def _environ(pid: int) -> str:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().decode(errors="replace")
