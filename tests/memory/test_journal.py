from memory.archive import AddStatus, Archive
from memory.journal import Journal


def test_journal_appends_and_reopens(tmp_path):
    path = tmp_path / "events.jsonl"
    journal = Journal(path)
    journal.append(1, "prompt", role="designer", model="m", data={"x": 1})
    journal.append(1, "evaluation", data={"arch": "a", "val_acc": 90.0})
    reopened = Journal(path)
    event = reopened.append(2, "evaluation", data={"arch": "b"})
    assert event.seq == 2
    assert [e.kind for e in reopened.events()] == ["prompt", "evaluation", "evaluation"]
    assert reopened.find("evaluation", 1).data["arch"] == "a"
    assert reopened.find("evaluation", 3) is None


def test_journal_skips_a_line_cut_by_a_crash(tmp_path):
    path = tmp_path / "events.jsonl"
    Journal(path).append(0, "run")
    with path.open("a") as f:
        f.write('{"seq": 1, "step": 0, "ki')
    assert len(list(Journal(path).events())) == 1


def test_archive_keeps_the_better_elite_per_niche():
    archive = Archive()
    assert archive.insert("n1", "a", 80.0, 1) is AddStatus.NEW
    assert archive.insert("n1", "b", 79.0, 2) is AddStatus.NOT_ADDED
    assert archive.insert("n1", "b", 80.0, 2) is AddStatus.NOT_ADDED  # ties keep the incumbent
    assert archive.insert("n1", "c", 85.0, 3) is AddStatus.IMPROVE_EXISTING
    assert archive.insert("n2", "d", 70.0, 4) is AddStatus.NEW
    assert archive.elites["n1"].arch == "c" and archive.best().arch == "c"
