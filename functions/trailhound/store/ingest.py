"""Load CloudTrail files into the local store, exactly once per ``eventID``.

Accepted inputs (files, or directories searched recursively; ``.gz`` is decompressed):

* CloudTrail S3 delivery files: ``{"Records": [...]}``;
* JSON Lines, one record a line;
* the output of ``aws cloudtrail lookup-events`` (records inside each ``CloudTrailEvent`` string).

Shape of the load (it decides the speed): DuckDB reads every delivery file of a batch in
parallel as raw JSON, splits ``Records`` once, and parses each record exactly once with a single
``json_transform`` into the whole raw-record struct; maps come out as ``MAP(VARCHAR, VARCHAR)``
with Lake's semantics (scalars as text, nested objects as JSON text). Each batch is one
transaction: an interrupted ingest leaves the store as it was before that batch.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from trailhound.errors import UserInputError
from trailhound.store.schema import COLUMN_NAMES, EVENTS_TABLE

MAP = "MAP(VARCHAR, VARCHAR)"
_ISSUER = {k: "VARCHAR" for k in ("type", "principalId", "arn", "accountId", "userName")}
# One record as CloudTrail writes it (json_transform keys are case-sensitive: resources use ARN).
RAW_RECORD: dict[str, Any] = {
    "eventVersion": "VARCHAR",
    "userIdentity": {
        **{k: "VARCHAR" for k in ("type", "principalId", "arn", "accountId", "accessKeyId", "userName")},
        "sessionContext": {
            "attributes": {"creationDate": "VARCHAR", "mfaAuthenticated": "VARCHAR"},
            "sessionIssuer": _ISSUER,
            "webIdFederationData": {"federatedProvider": "VARCHAR", "attributes": MAP},
            "sourceIdentity": "VARCHAR",
            "ec2RoleDelivery": "VARCHAR",
            "ec2IssuedInVpc": "VARCHAR",
        },
        "onBehalfOf": {"userId": "VARCHAR", "identityStoreArn": "VARCHAR"},
        "inScopeOf": {k: "VARCHAR" for k in ("sourceArn", "sourceAccount", "issuerType", "credentialsIssuedTo")},
        "invokedBy": "VARCHAR",
        "identityProvider": "VARCHAR",
    },
    **{k: "VARCHAR" for k in ("eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                               "userAgent", "errorCode", "errorMessage", "requestID", "eventID",
                               "readOnly", "eventType", "apiVersion", "managementEvent",
                               "recipientAccountId", "sharedEventID", "annotation", "vpcEndpointId",
                               "vpcEndpointAccountId", "eventCategory", "sessionCredentialFromConsole")},
    **{k: MAP for k in ("requestParameters", "responseElements", "additionalEventData",
                        "serviceEventDetails", "addendum", "edgeDeviceDetails", "insightDetails")},
    "resources": [{"ARN": "VARCHAR", "accountId": "VARCHAR", "type": "VARCHAR", "arnPrefix": "VARCHAR"}],
    "tlsDetails": {"tlsVersion": "VARCHAR", "cipherSuite": "VARCHAR", "clientProvidedHostHeader": "VARCHAR"},
}

_TS = "TRY_CAST({} AS TIMESTAMPTZ)::TIMESTAMP"
# Expression for each Lake column from the transformed raw record ``r`` and its text ``j``.
_COLUMN_EXPR: dict[str, str] = {name: f'r."{name}"' for name in COLUMN_NAMES}
_COLUMN_EXPR.update({
    "eventTime": _TS.format('r."eventTime"'),
    "readOnly": 'TRY_CAST(r."readOnly" AS BOOLEAN)',
    "managementEvent": 'TRY_CAST(r."managementEvent" AS BOOLEAN)',
    "userIdentity": (
        "CASE WHEN r.userIdentity IS NULL THEN NULL ELSE struct_pack("
        "type := r.userIdentity.type, principalId := r.userIdentity.principalId, arn := r.userIdentity.arn, "
        "accountId := r.userIdentity.accountId, accessKeyId := r.userIdentity.accessKeyId, "
        "userName := r.userIdentity.userName, "
        "sessionContext := CASE WHEN r.userIdentity.sessionContext IS NULL THEN NULL ELSE struct_pack("
        "attributes := struct_pack(creationDate := "
        + _TS.format("r.userIdentity.sessionContext.attributes.creationDate")
        + ", mfaAuthenticated := r.userIdentity.sessionContext.attributes.mfaAuthenticated), "
        "sessionIssuer := r.userIdentity.sessionContext.sessionIssuer, "
        "webIdFederationData := r.userIdentity.sessionContext.webIdFederationData, "
        "sourceIdentity := r.userIdentity.sessionContext.sourceIdentity, "
        "ec2RoleDelivery := r.userIdentity.sessionContext.ec2RoleDelivery, "
        "ec2IssuedInVpc := r.userIdentity.sessionContext.ec2IssuedInVpc) END, "
        "onBehalfOf := r.userIdentity.onBehalfOf, inScopeOf := r.userIdentity.inScopeOf, "
        "invokedBy := r.userIdentity.invokedBy, identityProvider := r.userIdentity.identityProvider) END"
    ),
    "resources": (
        "list_transform(r.resources, lambda x: struct_pack(accountId := x.accountId, type := x.type, "
        "arn := x.\"ARN\", arnPrefix := x.arnPrefix))"
    ),
    "eventJson": "j::VARCHAR",
    "eventJsonChecksum": "NULL",
})
SELECT_COLUMNS = ",\n  ".join(f'{_COLUMN_EXPR[c]} AS "{c}"' for c in COLUMN_NAMES)

DELIVERY, JSONL, LOOKUP = "delivery", "jsonl", "lookup"
BATCH_FILES = 100
_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")


@dataclass
class Reject:
    file: str
    record: int | None  # index of the record in the file, None when the whole file is bad
    reason: str

    def __str__(self) -> str:
        where = self.file if self.record is None else f"{self.file}: record {self.record}"
        return f"{where}: {self.reason}"


@dataclass
class IngestSummary:
    files: int = 0
    records: int = 0  # records read (valid + rejected)
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "events_added": self.added,
            "duplicates_skipped": self.duplicates,
            "records_rejected": self.rejected,
            "rejects": [{"file": r.file, "record": r.record, "reason": r.reason} for r in self.rejects],
        }


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and directories (recursively) into a sorted list of candidate files."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(_SUFFIXES)))
        elif p.is_file():
            out.append(p)
        else:
            raise UserInputError(f"{p}: no such file or directory")
    return out


def _open(path: Path) -> Any:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


_LEADING_KEY = re.compile(rb'^\s*\{\s*"([A-Za-z]+)"')


def sniff(path: Path) -> str:
    """Which of the three input kinds a file holds, from its first bytes."""
    try:
        with _open(path) as fh:
            head = fh.read(4096)
    except (OSError, EOFError, zlib.error) as exc:
        raise _FileError(f"unreadable ({exc})") from exc
    m = _LEADING_KEY.match(head)
    if not m:
        if not head.strip():
            raise _FileError("empty file; expected CloudTrail JSON")
        raise _FileError("not JSON: expected a CloudTrail object or JSON Lines")
    key = m.group(1)
    if key == b"Records":
        return DELIVERY
    if key == b"Events":
        return LOOKUP
    return JSONL


class _FileError(Exception):
    pass


def _diagnose(path: Path, kind: str) -> str:
    """Explain why a file failed to load, with the record index where that can be told."""
    try:
        with _open(path) as fh:
            data = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        return f"unreadable or truncated compressed file ({exc})"
    text = data.decode("utf-8", errors="replace")
    if kind == DELIVERY:
        start = text.find("[")
        dec = json.JSONDecoder()
        i, n = start + 1, 0
        while True:
            while i < len(text) and text[i] in " \t\r\n,":
                i += 1
            if i >= len(text):
                return f"truncated after record {n - 1}: the Records array never closes" if n else "truncated"
            if text[i] == "]":
                break
            try:
                _, i = dec.raw_decode(text, i)
            except json.JSONDecodeError as exc:
                return f"record {n}: not valid JSON ({exc.msg} at char {exc.pos})"
            n += 1
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return f"not valid JSON after the Records array ({exc.msg} at char {exc.pos})"
        return "could not be read as a CloudTrail delivery file"
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at line {exc.lineno})"
    return "could not be read"


class Ingestor:
    """Ingest files into ``con``'s events table (the table must exist)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str = EVENTS_TABLE):
        self.con = con
        self.table = table
        self.schema_json = json.dumps(RAW_RECORD)

    def ingest(self, paths: Iterable[str | os.PathLike[str]],
               progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        files = find_files(paths)
        summary = IngestSummary(files=len(files))
        by_kind: dict[str, list[Path]] = {DELIVERY: [], JSONL: [], LOOKUP: []}
        for f in files:
            try:
                by_kind[sniff(f)].append(f)
            except _FileError as exc:
                summary.rejects.append(Reject(str(f), None, str(exc)))
        done = len(summary.rejects)
        if progress:
            progress(done, len(files))
        delivery = by_kind[DELIVERY]
        for i in range(0, len(delivery), BATCH_FILES):
            batch = delivery[i:i + BATCH_FILES]
            self._batch(summary, delivery_files=batch)
            done += len(batch)
            if progress:
                progress(done, len(files))
        for f in by_kind[JSONL] + by_kind[LOOKUP]:
            self._batch(summary, text_records=self._python_records(f, summary))
            done += 1
            if progress:
                progress(done, len(files))
        summary.rejected = sum(1 for _ in summary.rejects)
        return summary

    # -- sources -----------------------------------------------------------------------------
    def _python_records(self, path: Path, summary: IngestSummary) -> list[tuple[str, int, str]]:
        """(file, index, record JSON text) for JSON Lines and lookup-events files."""
        name = str(path)
        try:
            with _open(path) as fh:
                data = fh.read().decode("utf-8")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            summary.rejects.append(Reject(name, None, f"unreadable ({exc})"))
            return []
        out: list[tuple[str, int, str]] = []
        if sniff(path) == LOOKUP:
            try:
                doc = json.loads(data)
            except json.JSONDecodeError as exc:
                summary.rejects.append(Reject(name, None, f"not valid JSON ({exc.msg} at line {exc.lineno})"))
                return []
            events = doc.get("Events") if isinstance(doc, dict) else None
            if not isinstance(events, list):
                summary.rejects.append(Reject(name, None, "expected an 'Events' list (aws cloudtrail lookup-events output)"))
                return []
            for idx, ev in enumerate(events):
                raw = ev.get("CloudTrailEvent") if isinstance(ev, dict) else None
                if not isinstance(raw, str):
                    summary.records += 1
                    summary.rejects.append(Reject(name, idx, "missing field CloudTrailEvent (a JSON string)"))
                    continue
                out.append((name, idx, raw))
            return out
        for idx, line in enumerate(data.splitlines()):
            if not line.strip():
                continue
            out.append((name, idx, line))
        return out

    # -- one transaction ---------------------------------------------------------------------
    def _batch(self, summary: IngestSummary, *, delivery_files: list[Path] | None = None,
               text_records: list[tuple[str, int, str]] | None = None) -> None:
        con = self.con
        if delivery_files:
            good = self._stage_delivery(delivery_files, summary)
        elif text_records:
            good = self._stage_text(text_records, summary)
        else:
            return
        if not good:
            con.execute("DROP TABLE IF EXISTS _staging")
            return
        con.execute("BEGIN TRANSACTION")
        try:
            self._validate_and_insert(summary)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("DROP TABLE IF EXISTS _staging")

    def _stage_delivery(self, files: list[Path], summary: IngestSummary) -> bool:
        try:
            self._read_delivery([str(f) for f in files])
            return True
        except duckdb.Error:
            if len(files) == 1:
                summary.rejects.append(Reject(str(files[0]), None, _diagnose(files[0], DELIVERY)))
                return False
        # Find the bad files one by one; keep the good ones of the batch.
        good = []
        for f in files:
            try:
                self._read_delivery([str(f)])
                good.append(str(f))
            except duckdb.Error:
                summary.rejects.append(Reject(str(f), None, _diagnose(f, DELIVERY)))
        if not good:
            return False
        self._read_delivery(good)
        return True

    def _read_delivery(self, files: list[str]) -> None:
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _staging AS
            SELECT filename AS file, unnest(range(len(recs))) AS idx, unnest(recs) AS j
            FROM (
              SELECT filename, json_extract(json, '$.Records[*]') AS recs
              FROM read_json_objects(?, format = 'unstructured', filename = true,
                                     maximum_object_size = 1073741824)
            )
            """,
            [files],
        )

    def _stage_text(self, rows: list[tuple[str, int, str]], summary: IngestSummary) -> bool:
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE _staging (file VARCHAR, idx BIGINT, raw VARCHAR)")
        con.executemany("INSERT INTO _staging VALUES (?, ?, ?)", rows)
        bad = con.execute("SELECT file, idx FROM _staging WHERE NOT json_valid(raw) ORDER BY file, idx").fetchall()
        for file, idx in bad:
            summary.records += 1
            summary.rejects.append(Reject(file, int(idx), "not valid JSON"))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _staging AS SELECT file, idx, raw::JSON AS j FROM _staging WHERE json_valid(raw)"
        )
        return True

    def _validate_and_insert(self, summary: IngestSummary) -> None:
        con = self.con
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _parsed AS "
            "SELECT file, idx, j, CASE WHEN json_type(j) = 'OBJECT' THEN json_transform(j, ?) END AS r FROM _staging",
            [self.schema_json],
        )
        bad = con.execute(
            f"""
            SELECT file, idx,
              CASE WHEN r IS NULL THEN 'not a JSON object'
                   WHEN r.eventID IS NULL OR r.eventID = '' THEN 'missing field eventID'
                   WHEN r.eventTime IS NULL THEN 'missing field eventTime'
                   ELSE 'field eventTime ' || to_json(r.eventTime)::VARCHAR || ' is not an ISO-8601 time' END
            FROM _parsed
            WHERE r IS NULL OR r.eventID IS NULL OR r.eventID = '' OR {_TS.format('r."eventTime"')} IS NULL
            ORDER BY file, idx
            """
        ).fetchall()
        for file, idx, reason in bad:
            summary.rejects.append(Reject(file, int(idx), reason))
        total = con.execute("SELECT count(*) FROM _parsed").fetchone()
        summary.records += int(total[0]) if total else 0
        before = con.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        con.execute(
            f"""
            INSERT INTO {self.table}
            SELECT {SELECT_COLUMNS}
            FROM _parsed p
            WHERE r IS NOT NULL AND r.eventID IS NOT NULL AND r.eventID <> ''
              AND {_TS.format('r."eventTime"')} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.eventID = r.eventID)
            QUALIFY row_number() OVER (PARTITION BY r.eventID ORDER BY file, idx) = 1
            """
        )
        after = con.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        added = int(after[0]) - int(before[0]) if after and before else 0
        summary.added += added
        summary.duplicates += int(total[0]) - len(bad) - added if total else 0
        con.execute("DROP TABLE IF EXISTS _parsed")


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Python-side reader of one file's records (for tools and tests; the store uses DuckDB)."""
    kind = sniff(path)
    with _open(path) as fh:
        data = fh.read().decode("utf-8")
    if kind == DELIVERY:
        yield from json.loads(data)["Records"]
    elif kind == LOOKUP:
        for ev in json.loads(data)["Events"]:
            yield json.loads(ev["CloudTrailEvent"])
    else:
        for line in data.splitlines():
            if line.strip():
                yield json.loads(line)
