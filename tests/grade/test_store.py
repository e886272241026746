"""gradlab/grade/store.py: atomic writes leave the old file or the new one, never a part."""

from __future__ import annotations

import json
import os

import pytest

from gradlab.grade import store


def test_a_write_replaces_the_file_whole(tmp_path):
    path = store.write_json(tmp_path / "sub" / "a.json", {"score": 1})
    assert json.loads(path.read_text()) == {"score": 1}
    store.write_json(path, {"score": 2})
    assert json.loads(path.read_text()) == {"score": 2} and os.listdir(path.parent) == ["a.json"]


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = store.atomic_write(tmp_path / "a.json", "old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.atomic_write(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.json"]


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    records = tmp_path / store.RECORDS
    records.mkdir()
    for name in (".a.json.x1.tmp", "a.json"):
        (records / name).write_text("")
    (tmp_path / ".grades.csv.y.tmp").write_text("")
    removed = store.remove_stale(tmp_path)
    assert sorted(p.name for p in removed) == [".a.json.x1.tmp", ".grades.csv.y.tmp"]
    assert os.listdir(records) == ["a.json"]


def test_unreadable_records_read_as_missing(tmp_path):
    assert store.read_record(tmp_path, "nobody") is None
    store.atomic_write(store.record_path(tmp_path, "half"), '{"score": ')
    assert store.read_record(tmp_path, "half") is None
    store.write_json(store.record_path(tmp_path, "ok"), {"score": 3})
    assert store.read_record(tmp_path, "ok") == {"score": 3}
