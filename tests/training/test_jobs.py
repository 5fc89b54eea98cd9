"""One training job: identical jobs at once train once (issue 16: twins shared a sandbox folder)."""

import threading
import time

from settings import TrainingSettings
from spaces.torch_code import SEED_NETWORK, vet
from training import jobs, sandbox


def test_twin_jobs_at_once_train_once_and_share_the_report(tmp_path, monkeypatch):
    runs = []

    def fake_run(job, folder, wall_seconds, mode="warm"):
        runs.append(folder)
        time.sleep(0.3)  # long enough for the twin to arrive while this one trains
        return sandbox.SandboxResult(val_acc=50.0, test_acc=40.0, flops=2, params=1, width=1, depth=1)

    monkeypatch.setattr(sandbox, "run", fake_run)
    code, canonical = vet(SEED_NETWORK)
    training = TrainingSettings(train_subset=8, eval_subset=8).model_dump(mode="json")
    reports, start = [], threading.Barrier(4)

    def twin():
        start.wait()
        reports.append(jobs.train_here(code, canonical, "digits", workdir=str(tmp_path / "sandbox"),
                                       data_dir=str(tmp_path / "data"), training=training))

    threads = [threading.Thread(target=twin) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1 and len(reports) == 4
    assert all(r == reports[0] for r in reports) and reports[0]["val_acc"] == 50.0
