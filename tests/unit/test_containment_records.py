"""The local JSON containment record store: conditional writes, atomic replace, newest first."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from trailhound.containment.errors import RecordConflictError, RecordNotFoundError
from trailhound.containment.models import ContainmentRecord, RecordStatus
from trailhound.containment.records import JsonFileRecordStore, store_from_env
from trailhound.errors import UserInputError


@pytest.fixture
def store(tmp_path):
    return JsonFileRecordStore(tmp_path / ".trailhound" / "containments.json")


def record(created: str, **kw) -> ContainmentRecord:
    return ContainmentRecord(action="deactivate_access_key", params={"user_name": "alice"},
                             created_at=dt.datetime.fromisoformat(created), **kw)


def test_save_get_and_update(store):
    r = record("2024-05-01T10:00:00+00:00", finding_id="f-1")
    store.save(r)
    assert r.version == 1
    r.before_state["status"] = "Active"
    r.status = RecordStatus.APPLIED
    store.save(r)
    got = store.get(r.id)
    assert got.version == 2 and got.before_state == {"status": "Active"} and got.status is RecordStatus.APPLIED
    assert got.finding_id == "f-1" and got.created_at == r.created_at


def test_create_is_conditional(store):
    r = record("2024-05-01T10:00:00+00:00")
    store.save(r)
    twin = r.model_copy(update={"version": 0})
    with pytest.raises(RecordConflictError, match=f"{r.id} already exists"):
        store.save(twin)
    assert twin.version == 0


def test_update_is_conditional_on_version(store):
    r = record("2024-05-01T10:00:00+00:00")
    store.save(r)
    stale = store.get(r.id)
    r.status = RecordStatus.ROLLED_BACK
    store.save(r)
    stale.status = RecordStatus.FAILED
    with pytest.raises(RecordConflictError, match="changed meanwhile"):
        store.save(stale)
    assert store.get(r.id).status is RecordStatus.ROLLED_BACK


def test_list_newest_first(store):
    ids = []
    for day in ("2024-05-02", "2024-05-01", "2024-05-03"):
        r = record(f"{day}T00:00:00+00:00")
        store.save(r)
        ids.append((day, r.id))
    assert [r.id for r in store.list()] == [i for _, i in sorted(ids, reverse=True)]


def test_missing_record_and_missing_file(store):
    assert store.list() == []
    with pytest.raises(RecordNotFoundError, match=f"no containment record 'ctn-x' in {store.path}"):
        store.get("ctn-x")


def test_write_is_atomic(store, monkeypatch):
    r = record("2024-05-01T10:00:00+00:00")
    store.save(r)
    before = store.path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", boom)
    r.status = RecordStatus.APPLIED
    with pytest.raises(OSError):
        store.save(r)
    assert store.path.read_text() == before
    assert [p.name for p in store.path.parent.iterdir()] == [store.path.name]  # no temp file left
    assert r.version == 1


def test_corrupt_file_names_the_path(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("[1, 2]")
    with pytest.raises(UserInputError, match=f"{store.path}: expected an object"):
        store.list()
    store.path.write_text("{not json")
    with pytest.raises(UserInputError, match="not a containment records file"):
        store.list()


def test_store_from_env_defaults_to_the_local_file(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTAINMENT_TABLE", raising=False)
    assert str(store_from_env().describe()) == ".trailhound/containments.json"
    monkeypatch.setenv("CONTAINMENT_TABLE", "records")
    assert store_from_env(path=tmp_path / "x.json").describe() == str(tmp_path / "x.json")


def test_checkpoint_persists_before_state(store):
    r = record("2024-05-01T10:00:00+00:00")
    store.save(r)
    r.bind_checkpoint(store.save)
    r.save_before_state(status="Active")
    assert store.get(r.id).before_state == {"status": "Active"}
