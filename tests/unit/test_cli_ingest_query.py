"""``trailhound ingest`` and ``trailhound query`` as a user runs them: outputs, exit codes, errors.

Records: the Stratus-derived sample delivery file (``tests/unit/data/README.md``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trailhound.cli import main

SAMPLE = Path(__file__).parent / "data" / "stratus-sample.json"
RECORDS: list[dict[str, Any]] = json.loads(SAMPLE.read_text())["Records"]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.delenv("TRAILHOUND_DB", raising=False)
    monkeypatch.delenv("TRAILHOUND_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    time.tzset()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    root = tmp_path / "logs" / "AWSLogs" / "457448411975" / "CloudTrail"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    (root / "a" / "one.json.gz").write_bytes(gzip.compress(json.dumps({"Records": RECORDS[:3]}).encode()))
    (root / "b" / "two.json").write_text(json.dumps({"Records": RECORDS[3:]}))
    return tmp_path / "logs"


@pytest.fixture
def db(tmp_path: Path, logs: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "store" / "events.duckdb"
    assert main(["ingest", str(logs), "--db", str(path)]) == 0
    capsys.readouterr()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- ingest --------------------------------------------------------------------------------------
def test_ingest_json_summary_and_exactly_once(tmp_path: Path, logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.duckdb"
    code, out, err = run(capsys, "ingest", str(logs), "--db", str(db), "--format", "json")
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert {k: summary[k] for k in ("files", "events_added", "duplicates_skipped", "records_rejected")} == {
        "files": 2, "events_added": len(RECORDS), "duplicates_skipped": 0, "records_rejected": 0}
    assert summary["store"] == str(db) and summary["rejects"] == []
    code, out, _ = run(capsys, "ingest", str(logs), "--db", str(db), "--format", "json")
    again = json.loads(out)
    assert code == 0 and (again["events_added"], again["duplicates_skipped"]) == (0, len(RECORDS))


def test_ingest_text_summary_default_db_and_env(logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, "ingest", str(logs))
    assert code == 0 and err == ""
    assert out.startswith(f"2 files, {len(RECORDS)} events added, 0 duplicates skipped, 0 records rejected")
    assert (tmp_path / ".trailhound" / "events.duckdb").exists()
    monkeypatch.setenv("TRAILHOUND_DB", str(tmp_path / "env.duckdb"))
    code, out, _ = run(capsys, "ingest", str(logs))
    assert code == 0 and "env.duckdb" in out and (tmp_path / "env.duckdb").exists()


def test_ingest_rejects_exit_1_with_report_and_no_traceback(tmp_path: Path, logs: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "logs" / "bad"
    bad.mkdir()
    whole = gzip.compress(json.dumps({"Records": RECORDS * 5}).encode())
    (bad / "cut.json.gz").write_bytes(whole[: len(whole) // 2])
    no_id = {k: v for k, v in RECORDS[0].items() if k != "eventID"}
    (bad / "noid.json").write_text(json.dumps({"Records": [no_id]}))
    report = tmp_path / "rejects.json"
    code, out, err = run(capsys, "ingest", str(logs), "--db", str(tmp_path / "e.duckdb"), "--rejects", str(report))
    assert code == 1
    assert f"{len(RECORDS)} events added" in out and "2 records rejected" in out
    assert f"rejected: {bad / 'cut.json.gz'}: unreadable or truncated compressed file" in err
    assert f"rejected: {bad / 'noid.json'}: record 0: missing field eventID" in err
    assert "Traceback" not in err
    assert json.loads(report.read_text()) == [
        {"file": str(bad / "cut.json.gz"), "record": None, "reason": json.loads(report.read_text())[0]["reason"]},
        {"file": str(bad / "noid.json"), "record": 0, "reason": "missing field eventID"},
    ]
    code, out, _ = run(capsys, "ingest", str(bad), "--db", str(tmp_path / "e.duckdb"), "--format", "json")
    summary = json.loads(out)
    assert code == 1 and summary["records_rejected"] == 2 and len(summary["rejects"]) == 2


def test_many_rejects_are_capped_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "many.json").write_text(json.dumps({"Records": [{"eventName": "x"}] * 30}))
    code, _, err = run(capsys, "ingest", str(tmp_path / "many.json"), "--db", str(tmp_path / "e.duckdb"))
    assert code == 1
    assert err.count("missing field eventID") == 20 and "... and 10 more" in err


def test_missing_path_and_unopenable_db_are_one_line_errors(tmp_path: Path, logs: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    code, out, err = run(capsys, "ingest", str(tmp_path / "nope"), "--db", str(tmp_path / "e.duckdb"))
    assert code == 2 and out == ""
    assert err.strip() == f"trailhound: error: {tmp_path / 'nope'}: no such file or directory"
    assert not (tmp_path / "e.duckdb").exists()  # told before any store is made
    (tmp_path / "notadb.duckdb").write_text("this is not a database")
    code, _, err = run(capsys, "ingest", str(logs), "--db", str(tmp_path / "notadb.duckdb"))
    assert code == 2 and err.startswith("trailhound: error: ") and err.count("\n") == 1
    assert list((tmp_path / "tmp").iterdir()) == []  # the files it had begun to inflate are gone


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(tmp_path: Path, logs: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, "ingest", str(logs), "--db", str(tmp_path / "a.duckdb"))
    assert code == 0 and err == ""  # stderr is not a terminal here: no bar
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert main(["ingest", str(logs), "--db", str(tmp_path / "b.duckdb")]) == 0
    assert "ingesting" in tty.getvalue() and "files" in tty.getvalue()
    tty2 = _Tty()
    monkeypatch.setattr("sys.stderr", tty2)
    assert main(["ingest", str(logs), "--db", str(tmp_path / "c.duckdb"), "--format", "json"]) == 0
    assert tty2.getvalue() == ""  # json output: no bar even on a terminal


# -- query ---------------------------------------------------------------------------------------
SQL = "SELECT eventName, count(*) AS n FROM $EDS_ID WHERE readOnly GROUP BY eventName ORDER BY eventName"


def expected_read_only() -> list[tuple[str, int]]:
    names = sorted(r["eventName"] for r in RECORDS if r["readOnly"])
    return [(n, names.count(n)) for n in sorted(set(names))]


def test_query_json_csv_and_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "query", SQL, "--db", str(db), "--format", "json")
    assert code == 0 and err == ""
    assert [(r["eventName"], r["n"]) for r in json.loads(out)] == expected_read_only()
    code, out, _ = run(capsys, "query", SQL, "--db", str(db), "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["eventName", "n"] and [(a, int(b)) for a, b in rows[1:]] == expected_read_only()
    code, out, _ = run(capsys, "query", SQL, "--db", str(db))
    assert code == 0 and "eventName" in out and all(name in out for name, _ in expected_read_only())


def test_query_struct_map_and_time_columns_in_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = next(r for r in RECORDS if r["eventName"] == "AssumeRole")
    sql = ("SELECT eventTime, userIdentity.arn AS arn, element_at(requestParameters, 'roleArn') AS role, "
           "resources FROM $EDS_ID WHERE eventID = $ID")
    code, out, _ = run(capsys, "query", sql, "--db", str(db), "--param", f"ID={rec['eventID']}", "--format", "json")
    assert code == 0
    assert json.loads(out) == [{"eventTime": rec["eventTime"], "arn": rec["userIdentity"]["arn"],
                                "role": rec["requestParameters"]["roleArn"],
                                "resources": [{"accountId": "457448411975", "type": "AWS::IAM::Role",
                                               "arn": rec["resources"][0]["ARN"], "arnPrefix": None}]}]


def test_query_from_file_with_params(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("-- events of one source in a window\n"
                        "SELECT eventID FROM $EDS_ID WHERE eventSource = $SOURCE\n"
                        "  AND eventTime >= $START_TIME AND eventTime < $END_TIME ORDER BY eventID\n")
    code, out, _ = run(capsys, "query", "-f", str(sql_file), "--db", str(db), "--format", "json",
                       "--param", "SOURCE=ec2.amazonaws.com", "--param", "START_TIME=2024-07-30T00:00:00Z",
                       "--param", "END_TIME=2024-08-01T00:00:00Z")
    assert code == 0
    want = sorted(r["eventID"] for r in RECORDS if r["eventSource"] == "ec2.amazonaws.com"
                  and "2024-07-30" <= r["eventTime"] < "2024-08-01")
    assert [r["eventID"] for r in json.loads(out)] == want and want


def test_query_param_value_cannot_inject(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "query", "SELECT count(*) AS n FROM $EDS_ID WHERE eventName = $N", "--db", str(db),
                       "--param", "N=x' OR '1'='1", "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 0}]


def test_query_errors_are_one_line(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["query", "SELEC eventName FROM $EDS_ID", "--db", str(db)], "trailhound: error: "),
        (["query", "SELECT nosuchcolumn FROM $EDS_ID", "--db", str(db)], "trailhound: error: "),
        (["query", "SELECT 1 FROM $EDS_ID", "--db", str(tmp_path / "missing.duckdb")],
         f"trailhound: error: {tmp_path / 'missing.duckdb'}: no event store here"),
        (["query", "-f", str(tmp_path / "nope.sql"), "--db", str(db)], f"trailhound: error: {tmp_path / 'nope.sql'}"),
        (["query", "SELECT 1 FROM $EDS_ID WHERE eventName = $X", "--db", str(db), "--param", "X"],
         "trailhound: error: --param 'X': expected NAME=VALUE"),
        (["query", "SELECT 1 FROM $EDS_ID WHERE eventName = $MISSING", "--db", str(db)], "trailhound: error: "),
        (["query", "SELECT 1 FROM $EDS_ID WHERE eventTime > $START_TIME", "--db", str(db),
          "--param", "START_TIME=last tuesday"], "trailhound: error: --param START_TIME 'last tuesday'"),
    ]
    for argv, start in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        assert out == "" and err.startswith(start), (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "missing.duckdb").exists()  # a query never creates a store


def test_the_command_line_starts_without_loading_what_only_some_commands_use() -> None:
    """Building the parser imports no engine, model or AWS library: each command loads its own
    when it runs (duckdb, pydantic and yaml alone took ~0.3 s at every start)."""
    import subprocess
    import sys

    heavy = ("duckdb", "pydantic", "yaml", "boto3", "botocore", "rich", "sqlglot")
    code = ("import sys; from trailhound.cli import build_parser; build_parser(); "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(Path(__file__).parents[2] / "functions"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == ""
