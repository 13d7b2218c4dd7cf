"""The detection header model and loader: a malformed file names its path and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from trailhound.detections.model import Severity, load_detection, load_detections, parse_detection
from trailhound.errors import DetectionFormatError, UserInputError

HEADER = """/*
id: {id}
title: Something happened
description: A principal did something worth a look.
severity: {severity}
attack: [T1562.008]
techniques: [{technique}]
schedule: {schedule}
lookback: 1h
dedup_key: [actor_arn, target]
threshold: {threshold}
response: {response}
false_positives: [Planned work]
runbook: notebooks/tampering_and_exposure.ipynb
*/
"""
SQL = """SELECT ARRAY[eventID] AS event_ids FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME {extra}"""


def write(tmp_path: Path, *, id: str = "sample_detection", name: str | None = None, severity: str = "high",
          technique: str = "aws.defense-evasion.cloudtrail-stop", schedule: str = "15m",
          threshold: str = "null", response: str = "{action: restore_cloudtrail_logging, params: {trail: target}}",
          extra: str = "") -> Path:
    p = tmp_path / f"{name or id}.sql"
    p.write_text(HEADER.format(id=id, severity=severity, technique=technique, schedule=schedule,
                               threshold=threshold, response=response) + SQL.format(extra=extra))
    return p


def test_valid_file_loads_into_frozen_model(tmp_path: Path) -> None:
    det = load_detection(write(tmp_path))
    assert det.id == "sample_detection"
    assert det.severity is Severity.HIGH
    assert det.header.schedule_delta.total_seconds() == 900
    assert det.header.response and det.header.response.params == {"trail": "target"}
    with pytest.raises(Exception, match="frozen"):
        det.header.title = "x"  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"severity": "urgent"}, "field severity"),
    ({"schedule": "15 minutes"}, "field schedule"),
    ({"technique": "aws.made-up.thing"}, "field techniques"),
    ({"response": "{action: delete_everything, params: {}}"}, "field response"),
    ({"response": "{action: restore_cloudtrail_logging, params: {bucket: target}}"}, "field response"),
    ({"name": "other_name"}, "field id"),
    ({"id": "Bad-Id"}, "field id"),
    ({"extra": "AND eventName = $EVENT"}, "field sql"),
    ({"threshold": "{column: n_errors, min: 20}"}, "field sql"),  # threshold set but $THRESHOLD unused
    ({"extra": "AND count(*) >= $THRESHOLD"}, "field sql"),  # $THRESHOLD used without a threshold
])
def test_malformed_header_names_path_and_field(tmp_path: Path, kwargs: dict, field: str) -> None:
    path = write(tmp_path, **kwargs)
    with pytest.raises(DetectionFormatError) as err:
        load_detection(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_missing_header_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(DetectionFormatError, match="leading /\\* YAML header"):
        parse_detection("SELECT 1", tmp_path / "x_y_z.sql")
    with pytest.raises(DetectionFormatError, match="not valid YAML"):
        parse_detection("/*\nid: [unclosed\n*/\nSELECT 1", tmp_path / "x_y_z.sql")
    with pytest.raises(DetectionFormatError, match="field title"):
        parse_detection(HEADER.replace("title: Something happened\n", "").format(
            id="x_y_z", severity="low", technique="aws.defense-evasion.cloudtrail-stop", schedule="1h",
            threshold="null", response="null") + SQL.format(extra=""), tmp_path / "x_y_z.sql")


def test_sql_must_parse_as_one_select(tmp_path: Path) -> None:
    path = write(tmp_path, extra="AND (")
    with pytest.raises(DetectionFormatError, match="field sql"):
        load_detection(path)


def test_a_pack_parsed_elsewhere_loads_without_parsing_its_sql(tmp_path: Path) -> None:
    # The detect Lambda's cold start: the SQL was parsed at synth; header and placeholders still count.
    write(tmp_path, id="unparsed_sql", extra="AND (")
    [det] = load_detections(tmp_path, parse_sql=False)
    assert det.id == "unparsed_sql" and det.sql.endswith("AND (")
    with pytest.raises(DetectionFormatError, match="field sql"):
        load_detections(tmp_path)
    with pytest.raises(DetectionFormatError, match="field sql.*missing \\$THRESHOLD"):
        load_detection(write(tmp_path, id="wants_threshold", threshold="{column: n, min: 2}"), parse_sql=False)
    with pytest.raises(DetectionFormatError, match="field severity"):
        load_detection(write(tmp_path, id="bad_severity", severity="urgent"), parse_sql=False)


def test_select_by_id_and_unknown_id(tmp_path: Path) -> None:
    write(tmp_path, id="first_one")
    write(tmp_path, id="second_one")
    assert [d.id for d in load_detections(tmp_path)] == ["first_one", "second_one"]
    assert [d.id for d in load_detections(tmp_path, ids=["second_one"])] == ["second_one"]
    with pytest.raises(UserInputError, match="no_such"):
        load_detections(tmp_path, ids=["no_such"])


def test_sql_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "detections").mkdir()
    write(tmp_path / "detections", id="from_env")
    monkeypatch.setenv("TRAILHOUND_SQL_DIR", str(tmp_path))
    assert [d.id for d in load_detections()] == ["from_env"]
