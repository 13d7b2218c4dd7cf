"""``trailhound contain / containments / rollback`` through ``trailhound.cli.main``."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from trailhound.cli import main


@pytest.fixture
def alice(moto):
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    return iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]


@pytest.fixture
def records_file(tmp_path):
    return str(tmp_path / ".trailhound" / "containments.json")


def status(key):
    return boto3.client("iam").list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"]


def test_list_actions(capsys):
    assert main(["contain", "--list", "--format", "json"]) == 0
    actions = json.loads(capsys.readouterr().out)
    names = [a["name"] for a in actions]
    assert "quarantine_instance" in names and names == sorted(names)
    one = next(a for a in actions if a["name"] == "disable_console_access")
    assert one["reversibility"] == "partial" and one["permissions"]
    assert main(["contain", "--list"]) == 0
    assert "deactivate_access_key" in capsys.readouterr().out


def test_dry_run_then_apply_then_list_then_rollback(alice, records_file, capsys):
    base = ["contain", "deactivate_access_key", "--param", "user_name=alice", "-p", f"access_key_id={alice}",
            "--records", records_file]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert out.startswith("DRY RUN deactivate_access_key: nothing was changed")
    assert f"set access key {alice} of alice from Active to Inactive" in out
    assert status(alice) == "Active"

    assert main([*base, "--apply", "--finding-id", "f-42", "--format", "json"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["status"] == "applied" and applied["finding_id"] == "f-42"
    assert status(alice) == "Inactive"

    assert main([*base, "--apply"]) == 0
    assert capsys.readouterr().out.startswith("ALREADY CONTAINED deactivate_access_key")

    assert main(["containments", "list", "--format", "json", "--records", records_file]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 2 and listed[1]["id"] == applied["containment_id"]  # newest first
    assert listed[1]["status"] == "applied" and listed[0]["status"] == "already_contained"

    assert main(["containments", "show", applied["containment_id"], "--format", "json",
                 "--records", records_file]) == 0
    assert json.loads(capsys.readouterr().out)["before_state"] == {"status": "Active"}

    assert main(["rollback", applied["containment_id"], "--records", records_file]) == 0
    assert capsys.readouterr().out.startswith("ROLLED BACK deactivate_access_key")
    assert status(alice) == "Active"
    assert main(["rollback", applied["containment_id"], "--records", records_file, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "already_rolled_back"


@pytest.mark.parametrize(("argv", "message"), [
    (["contain", "nuke_account"], "unknown containment action 'nuke_account' (valid: block_public_bucket, "),
    (["contain", "deactivate_access_key", "-p", "user_name=alice"], "missing parameter 'access_key_id'"),
    (["contain", "deactivate_access_key", "-p", "user_name"], "--param 'user_name': expected KEY=VALUE"),
    (["contain", "quarantine_instance", "-p", "instance_id=web"], "parameter 'instance_id'='web' is malformed"),
    (["contain", "deny_all_user_policy", "-p", "user_name=ghost"], "IAM user 'ghost' does not exist (NoSuchEntity)"),
    (["contain"], "name an ACTION, or use --list"),
    (["rollback", "ctn-nope"], "no containment record 'ctn-nope'"),
])
def test_bad_input_is_one_line_no_traceback(moto, records_file, capsys, argv, message):
    assert main([*argv, "--records", records_file]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trailhound: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_protected_principal_refused(alice, records_file, capsys, monkeypatch):
    monkeypatch.setenv("TRAILHOUND_PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/alice")
    assert main(["contain", "deny_all_user_policy", "-p", "user_name=alice", "--apply",
                 "--records", records_file]) == 2
    assert "refused: arn:aws:iam::*:user/alice is a protected principal" in capsys.readouterr().err
    assert main(["contain", "deny_all_user_policy", "-p", "user_name=bob", "--apply", "--protect",
                 "arn:aws:iam::*:user/bob", "--records", records_file]) == 2
    assert "protected principal" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_against_a_local_aws_endpoint(records_file, capsys, monkeypatch):
    """AWS_ENDPOINT_URL points every client at a local emulator (moto's server): no mock_aws here."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        iam = boto3.client("iam")
        assert iam.meta.endpoint_url == f"http://127.0.0.1:{port}"
        iam.create_user(UserName="alice")
        key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
        assert main(["contain", "deactivate_access_key", "-p", "user_name=alice", "-p", f"access_key_id={key}",
                     "--apply", "--format", "json", "--records", records_file]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "applied"
        assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    finally:
        server.stop()
