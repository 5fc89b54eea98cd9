"""Hostile candidates that pass the static check and attack at run time (issue 16, item 6).

Every file in tests/training/hostile/ is a complete `Net(nn.Module)` that spaces/torch_code.py
accepts (when the static check learns to refuse one, move its name to STATICALLY_REFUSED: it
still runs through the sandbox, which must contain it anyway); its docstring says the attack
and what the sandbox must answer (`Expect: KIND`, or `Expect: ok` where the attack is harmless
by construction).  All of them run together through the real path (training.jobs -> local
executor -> the sandboxed child) on `digits` with a tiny recipe, two at a time, and then nothing
may have happened outside their sandbox folders: no file written, read back or changed, no
process left, no connection made.
"""

import hashlib
import os
import re
import socket
from pathlib import Path

import pytest

from settings import TrainingSettings
from spaces.torch_code import CodeError, canonical_form, check
from training import jobs

HOSTILE = Path(__file__).parent / "hostile"
NAMES = sorted(p.stem for p in HOSTILE.glob("*.py"))
SECRET = "sk-canary-4f1d9c"
TINY = {"epochs": 1, "train_subset": 256, "eval_subset": 64, "batch_size": 32, "workers": 2,
        "wall_seconds": 90.0, "cpu_seconds": 12, "memory_mb": 512}
WALL = {"sleep_forever": 20.0}  # the one sample that only a wall-clock limit stops
STATICALLY_REFUSED: set[str] = {
    "alarm", "atexit_hook", "busy_loop", "cheat_frames", "cheat_labels_file", "disk_fill", "forge_report",
    "fork_workers", "kill_parent", "network_tcp", "patch_training", "read_parent_environ", "read_secret", "shell",
    "sleep_forever", "subvert_hook", "threads", "write_native", "write_numpy"}
CHEATS = ("patch_training",)  # an "ok" sample that tries to inflate the accuracy


def source(name: str, canary: Path = Path("/nonexistent"), port: int = 9) -> str:
    return (HOSTILE / f"{name}.py").read_text().replace("CANARY_DIR", str(canary)).replace("CANARY_PORT", str(port))


def expected(name: str) -> str:
    return re.search(r"^Expect: (\w+)", source(name), re.MULTILINE).group(1)


def needs_landlock(name: str) -> bool:
    return "Needs: landlock." in source(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_passes_the_static_check(name):
    """Else it would test the static check, not the sandbox."""
    if name in STATICALLY_REFUSED:
        with pytest.raises(CodeError):
            check(source(name))
    else:
        check(source(name))
    assert expected(name) in ("ok", "refused", "oom", "timeout", "crashed", "shape_error", "nan_loss")


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
    def __init__(self, reports, root, canary, home, before, accepted):
        self.reports, self.root, self.canary, self.home = reports, root, canary, home
        self.before, self.accepted = before, accepted


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """Run the whole catalogue once (two children at a time), with a listening socket for the
    network attacks and a canary folder holding a secret."""
    root = tmp_path_factory.mktemp("hostile")
    canary, home = root / "canary", root / "home"
    canary.mkdir()
    home.mkdir()
    (canary / "secret.txt").write_text(SECRET)
    (canary / "data.bin").write_bytes(bytes(range(256)))
    before = snapshot(canary)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("HOSTILE_TEST_API_KEY", SECRET)
        futures = {}
        for name in NAMES:
            code = source(name, canary, port)  # not vetted: the sandbox must hold on its own
            canonical = canonical_form(code)
            training = TrainingSettings(**{**TINY, "wall_seconds": WALL.get(name, TINY["wall_seconds"])})
            futures[name] = jobs.submit(code, canonical, "digits", training, 0, str(root / "sandbox"),
                                        str(root / "data"), threads=1)
        reports = {name: future.result() for name, future in futures.items()}
    accepted = 0
    try:
        while listener.accept():
            accepted += 1
    except (socket.timeout, BlockingIOError):
        pass
    listener.close()
    return Outcome(reports, root, canary, home, before, accepted)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_hostile_sample_is_contained_with_a_typed_result(outcome, name):
    report = outcome.reports[name]
    if needs_landlock(name) and "landlock ABI" not in report["confinement"]:
        pytest.skip(f"Landlock is not available here ({report['confinement']}): this attack is not contained "
                    "(training/sandbox.py says what is covered without it)")
    want = expected(name)
    assert report["failure"] == (None if want == "ok" else want), (name, report["failure"], report["detail"])
    if want == "ok":
        assert report["val_acc"] is not None and report["test_acc"] is not None
    if name in CHEATS:  # an honest linear network reaches ~70% here; chance is ~10%
        assert report["val_acc"] < 30 and report["test_acc"] < 30, report
    assert SECRET not in str(report)


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
    children = [pid for pid in filter(str.isdigit, os.listdir("/proc"))
                if _parent_of(pid) == os.getpid()]
    assert children == []


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
