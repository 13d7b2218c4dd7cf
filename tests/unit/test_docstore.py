"""The record stores' shared file plumbing: loading with a one-line error, atomic replace, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from trailhound import docstore
from trailhound.containment.records import JsonFileRecordStore
from trailhound.errors import UserInputError
from trailhound.investigation.records import JsonFileInvestigationStore
from trailhound.scheduler.state import LocalFileState


def corrupt(path: Path):
    return lambda exc: f"{path}: not a test file ({exc})"


def test_missing_file_gives_the_default_and_empty_file_is_corrupt_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    assert docstore.load_json(path, missing={"x": 1}, corrupt=corrupt(path)) == {"x": 1}
    path.write_text("")
    assert docstore.load_json(path, missing=None, empty={}, corrupt=corrupt(path)) == {}
    with pytest.raises(UserInputError, match="not a test file"):
        docstore.load_json(path, missing=None, corrupt=corrupt(path))
    path.write_text('{"a": [1, "é"]}', encoding="utf-8")
    assert docstore.load_json(path, missing=None, corrupt=corrupt(path)) == {"a": [1, "é"]}


@pytest.mark.parametrize("content", [b"{not json", b'{"a": 1', b"\xff\xfe{}", b" \n"])
def test_corrupt_file_is_a_one_line_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(content)
    with pytest.raises(UserInputError) as err:
        docstore.load_json(path, missing=None, corrupt=corrupt(path))
    message = str(err.value)
    assert message.startswith(f"{path}: not a test file (") and "\n" not in message
    assert err.value.__cause__ is not None  # the parser's error stays attached for debugging


def test_unreadable_path_is_the_same_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.mkdir()  # exists, but reading it fails with an OSError
    with pytest.raises(UserInputError, match=f"^{path}: not a test file \\(.*Is a directory"):
        docstore.load_json(path, missing=None, corrupt=corrupt(path))


@pytest.mark.parametrize("make, expected", [
    (lambda p: JsonFileRecordStore(p).list(), "not a containment records file"),
    (lambda p: JsonFileInvestigationStore(p).list(), "investigation records are not valid JSON"),
    (lambda p: LocalFileState(p).pending(), "scheduler state is not readable JSON"),
])
def test_every_store_names_its_corrupt_file_on_one_line(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "store.json"
    path.write_text("{not json")
    with pytest.raises(UserInputError) as err:
        make(path)
    assert str(err.value).startswith(f"{path}: {expected}") and "\n" not in str(err.value)


def test_write_replaces_the_file_with_the_requested_format(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "doc.json"
    docstore.write_json_atomic(path, {"b": "é", "a": 1}, indent=1, ensure_ascii=False, final_newline=True)
    assert path.read_text(encoding="utf-8") == '{\n "b": "é",\n "a": 1\n}\n'
    docstore.write_json_atomic(path, {"b": "é", "a": 1}, indent=1, sort_keys=True)
    assert path.read_text(encoding="utf-8") == '{\n "a": 1,\n "b": "\\u00e9"\n}'
    assert [p.name for p in path.parent.iterdir()] == ["doc.json"]


def test_write_leaves_the_old_file_intact_when_serialisation_fails(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    docstore.write_json_atomic(path, {"records": [1, 2]}, indent=2)
    before = path.read_bytes()
    # json.dump has already written part of the document when it reaches the object it cannot encode
    with pytest.raises(TypeError, match="not JSON serializable"):
        docstore.write_json_atomic(path, {"records": [1, 2, 3] * 1000 + [object()]}, indent=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]  # no temp file left behind


def test_write_leaves_the_old_file_intact_when_the_disk_fails(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "doc.json"
    docstore.write_json_atomic(path, {"v": 1})

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(docstore.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        docstore.write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_stored_version() -> None:
    assert docstore.stored_version(None) is None
    assert docstore.stored_version({}) is None
    assert docstore.stored_version({"id": "x"}) == 0
    assert docstore.stored_version({"version": "3"}) == 3


def test_aws_error_code_and_text_are_one_line() -> None:
    exc = ClientError({"Error": {"Code": "ValidationException", "Message": "bad\n  key\tschema"}}, "PutItem")
    assert docstore.aws_error_code(exc) == "ValidationException"
    assert docstore.aws_error_text(exc) == "ValidationException: bad key schema"
    assert not docstore.is_condition_failure(exc)
    cond = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "x"}}, "PutItem")
    assert docstore.is_condition_failure(cond)
    net = EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
    assert docstore.aws_error_code(net) == "EndpointConnectionError"
    assert docstore.aws_error_text(net).startswith("Could not connect to the endpoint URL")
