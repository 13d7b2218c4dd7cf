"""Load CloudTrail files into the local store, exactly once per ``eventID``.

Accepted inputs (files, or directories searched recursively; gzip is recognised by its magic
bytes, whatever the file is called):

* CloudTrail S3 delivery files: ``{"Records": [...]}``;
* JSON Lines, one record a line (or one JSON document: a record or a list of records);
* the output of ``aws cloudtrail lookup-events`` (records inside each ``CloudTrailEvent`` string).

Shape of the load (it decides the speed, see ``docs/store.md``). Delivery files go in batches of
about equal size (``inputs.plan_batches``), each in one transaction:

1. Python threads inflate each file (zlib-ng, GIL released) and write its records to a
   temporary directory, one a line when CloudTrail laid the file out, else its bare ``Records``
   array (``store/inputs.py``: ``_array_copy``, ``_copy_lines``, ``_Inflater``); the next
   batch is inflated while DuckDB loads this one;
2. the direct load, when none of the files' first eventIDs is stored (and no earlier batch of the
   run failed its check): one ``INSERT`` with no ``WHERE`` (``_insert_files``): DuckDB's
   threads get the records (their texts as delivered: ``eventJson``) from files one a line
   split at their line breaks (``read_text``, one branch a thread), or from arrays by
   ``read_json_objects``; one ``json_transform`` a record, struct casts onto the Lake
   columns. Then one check of what it added (``_DIRECT_CHECK``): every row has an eventID and
   an eventTime, no eventID twice, none stored before. A batch that fails is rolled back and
   loaded the careful way;
3. the careful load: ``_raw``, one narrow pass (``read_text`` + a ``json_transform`` to each
   record's ``eventID`` and ``eventTime``), gives per record its file, index, ``eventID``,
   ``eventTime`` and the reason it is rejected (NULL when it is good); counts and rejects; what
   must not load (rejected records, eventIDs already stored, later repeats of an eventID inside
   the batch: the first by file, index is kept) is cut out of the files, each an array again
   (``Ingestor._cut``), files with nothing left are not read again; then the same ``INSERT``
   as the direct load.

An interrupted ingest (Ctrl-C, a crash) rolls back the batch it was in: earlier batches stay.
JSON Lines and lookup-events files are split in Python into record texts (``_raw`` holds the
texts) and inserted with one ``json_transform`` a record, one ``UNION ALL`` branch per thread,
leaving out ``_skip`` (already stored, later repeats) by file and index.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from trailhound.errors import StoreError
from trailhound.store.inputs import (
    BATCH_BYTES,
    MAX_OBJECT,
    MAX_THREADS,
    FileError,
    Prefetch,
    Reject,
    _array_elements,
    _diagnose,
    _document_records,
    _Ready,
    array_of,
    as_array,
    one_a_line,
)
from trailhound.store.schema import COLUMN_NAMES, EVENTS_TABLE, RESOURCES, USER_IDENTITY

MAP = "MAP(VARCHAR, VARCHAR)"
_ISSUER = {k: "VARCHAR" for k in ("type", "principalId", "arn", "accountId", "userName")}
# One record as CloudTrail writes it (json_transform keys are case-sensitive: resources use ARN).
RAW_RECORD: dict[str, Any] = {
    "eventVersion": "VARCHAR",
    "userIdentity": {
        **{k: "VARCHAR" for k in ("type", "principalId", "arn", "accountId", "accessKeyId", "userName")},
        "sessionContext": {
            "attributes": {"creationDate": "TIMESTAMPTZ", "mfaAuthenticated": "VARCHAR"},
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
    **{k: "VARCHAR" for k in ("eventSource", "eventName", "awsRegion", "sourceIPAddress",
                               "userAgent", "errorCode", "errorMessage", "requestID",
                               "eventType", "apiVersion",
                               "recipientAccountId", "sharedEventID", "annotation", "vpcEndpointId",
                               "vpcEndpointAccountId", "eventCategory", "sessionCredentialFromConsole")},
    **{k: MAP for k in ("requestParameters", "responseElements", "additionalEventData",
                        "serviceEventDetails", "addendum", "edgeDeviceDetails", "insightDetails")},
    "readOnly": "BOOLEAN",  # true/false, or their text; anything else is NULL
    "managementEvent": "BOOLEAN",
    "resources": [{"ARN": "VARCHAR", "accountId": "VARCHAR", "type": "VARCHAR", "arnPrefix": "VARCHAR"}],
    "tlsDetails": {"tlsVersion": "VARCHAR", "cipherSuite": "VARCHAR", "clientProvidedHostHeader": "VARCHAR"},
}
RAW_RECORD_JSON = json.dumps(RAW_RECORD)

# ISO-8601 text -> UTC TIMESTAMP (Lake's type), NULL when it is not a time; independent of the
# session time zone.
_TS = "timezone('UTC', TRY_CAST({} AS TIMESTAMPTZ))"
# Expression for each Lake column from the transformed raw record ``r``, the record's text ``j``,
# its eventID ``id`` and its eventTime ``ts`` (both computed when the batch is read).
_COLUMN_EXPR: dict[str, str] = {name: f'r."{name}"' for name in COLUMN_NAMES}
_COLUMN_EXPR.update({
    "eventID": "id",
    "eventTime": "ts",
    # Struct casts match fields by name, case-insensitively: ``ARN`` lands in ``arn``, and the
    # session's UTC turns creationDate (TIMESTAMPTZ, any offset) into Lake's UTC TIMESTAMP.
    "userIdentity": f"CAST(r.userIdentity AS {USER_IDENTITY})",
    "resources": f"CAST(r.resources AS {RESOURCES})",
    "eventJson": "j",
    # Lake's checksum is computed by the service over its own serialisation; we cannot
    # reproduce it, and a made-up value would be worse than none.
    "eventJsonChecksum": "NULL",
})
SELECT_COLUMNS = ",\n  ".join(f'{_COLUMN_EXPR[c]} AS "{c}"' for c in COLUMN_NAMES)

# Why a record is rejected (NULL: the record is good), from the columns its source gives:
# ``bad`` (the file's ``Records`` is not a list: one placeholder row), ``obj`` (the record is a
# JSON object), ``id``, ``t`` (eventID and eventTime as text) and ``ts`` (the time parsed).
_REASON = (
    "CASE WHEN bad THEN 'expected {\"Records\": [...]} (a CloudTrail delivery file)'"
    " WHEN NOT obj THEN 'not a JSON object'"
    " WHEN id IS NULL OR id = '' THEN 'missing field eventID'"
    " WHEN t IS NULL THEN 'missing field eventTime'"
    " WHEN ts IS NULL THEN 'field eventTime is not an ISO-8601 time: ' || left(t, 80)"
    " END"
)
MISSING_ID = "missing field eventID"
NOT_OBJECT = "not a JSON object"
# ``_raw`` from a source of (file, idx, [j,] id, t, bad, obj). SQL text here is assembled from
# this module's constants only (expressions, types, the table name); file names and records are
# parameters.
_RAW_FROM = (
    "CREATE OR REPLACE TEMP TABLE _raw AS "  # noqa: S608 - constant SQL fragments, no values
    f"SELECT *, {_REASON} AS reason FROM (SELECT *, " + _TS.format("t") + " AS ts FROM (<source>))"
)
# Record texts split in Python (JSON Lines, lookup-events output): three lists as parameters.
_TEXT_SOURCE = (
    "SELECT file, idx, j, k[1] AS id, k[2] AS t, false AS bad, starts_with(j, '{') AS obj FROM ("
    "  SELECT file, idx, j::VARCHAR AS j, json_extract_string(j, ['$.eventID', '$.eventTime']) AS k FROM ("
    "    SELECT unnest(?) AS file, unnest(?) AS idx, json(unnest(?)) AS j))"
)
# Delivery files reach DuckDB one record a line, or as the bare ``Records`` array
# (``_array_copy``). A file's text as the array it came from (a file one record a line starts
# with ``{``, and its every line break took the place of a comma):
_AS_ARRAY = "CASE WHEN starts_with(content, '[') THEN content ELSE '[' || replace(content, chr(10), ',') || ']' END"
# Narrow pass: each record's eventID and eventTime, from one json_transform a file. A record that
# is not an object comes out as a struct of NULLs (a JSON null as NULL): ``Ingestor._sort_out``
# tells those from objects without the two fields.
_KEYS_TYPE = json.dumps([{"eventID": "VARCHAR", "eventTime": "VARCHAR"}])
_DELIVERY_KEYS = (
    "SELECT file, idx, k.eventID AS id, k.eventTime AS t, bad, k IS NOT NULL AS obj FROM ("  # noqa: S608 - constants
    "  SELECT filename AS file, recs IS NULL AS bad,"
    "    unnest(CASE WHEN recs IS NULL THEN [NULL] ELSE range(len(recs)) END) AS idx,"
    "    unnest(CASE WHEN recs IS NULL THEN [NULL] ELSE recs END) AS k"
    "  FROM (SELECT filename, json_transform(<as_array>, ?) AS recs FROM read_text(?)))"
).replace("<as_array>", _AS_ARRAY)
# Some records of a file, by index (``Ingestor._name_non_objects``).
_NTH_RECORDS = "SELECT json_extract(<as_array>, ?) FROM read_text(?)".replace("<as_array>", _AS_ARRAY)
_RECORD = json.dumps({**RAW_RECORD, "eventID": "VARCHAR", "eventTime": "VARCHAR"})
# The insert: ``read_json_objects`` hands DuckDB's threads the records of the files (their texts
# as written: ``eventJson``), each parsed once into the raw-record struct. What must not be
# loaded (rejected, already stored, later copies) was cut out of the files before
# (``Ingestor._cut``).
_RECORD_ROWS = (
    "SELECT r, j, r.eventID AS id, "  # noqa: S608 - constant SQL fragments, no values
    + _TS.format("r.eventTime") + " AS ts FROM ("
    "  SELECT json_transform(json, ?) AS r, json::VARCHAR AS j"
    "  FROM read_json_objects(?, format = 'array', maximum_object_size = <max>))"
)
# The same rows from files one record a line: each file's text split at its line breaks, so that
# each record is parsed once, by json_transform (``read_json_objects`` parses every line to find
# its end, then json_transform parses it again: ~10% more instructions for reading and
# transforming). ``read_text`` hands all of a branch's files to one thread: one branch a thread.
_LINE_ROWS = (
    "SELECT r, j, r.eventID AS id, "  # noqa: S608 - constant SQL fragments, no values
    + _TS.format("r.eventTime") + " AS ts FROM ("
    "  SELECT json_transform(j, ?) AS r, j FROM ("
    "    SELECT unnest(string_split(content, chr(10))) AS j FROM read_text(?)))"
)
# Later copies of an eventID a batch repeats (not one already stored): every (file, index) but
# the first by the batch's file order (the parameter) and index.
_LATER_COPIES = (
    "SELECT file, idx FROM ("
    "  SELECT file, idx, row_number() OVER (PARTITION BY id ORDER BY list_position(?, file), idx) AS n"
    "  FROM _raw WHERE reason IS NULL AND id NOT IN (SELECT id FROM _stored) AND id IN ("
    "    SELECT id FROM _raw WHERE reason IS NULL GROUP BY id HAVING count(*) > 1)"
    ") WHERE n > 1"
)
# After a batch was loaded directly (``Ingestor._direct_transaction``): true when what it added
# (rows from the parameter's rowid on) is as the careful load would have made it: every row has
# an eventID and an eventTime, no eventID twice, none stored before the batch.
_DIRECT_CHECK = (
    "SELECT count(*) FILTER (eventID IS NULL OR eventID = '' OR eventTime IS NULL) = 0"  # noqa: S608
    "   AND count(*) = count(DISTINCT eventID)"
    "   AND NOT EXISTS (SELECT 1 FROM <table> s WHERE s.rowid < $first AND s.eventID IN ("
    "     SELECT eventID FROM <table> WHERE rowid >= $first))"
    " FROM <table> WHERE rowid >= $first"
)
_SKIP = " NOT EXISTS (SELECT 1 FROM _skip s WHERE s.file = w.file AND s.idx = w.idx)"


# A large load allocates and frees gigabytes of DuckDB blocks. Its block allocator keeps up to this
# much for reuse instead of handing it back to the OS and faulting it in again: the 1M benchmark
# went from 0.72M to 0.38M page faults (a fault costs ~4 us on this machine). The memory stays
# with the database instance until it closes; DuckDB cannot lower the setting.
BLOCK_MEMORY = "512MiB"
FLUSH_SECONDS = 0.25  # how often a large load flushes the store file (``_Flusher``)
ORDERED_BYTES = 16 * 1024 * 1024  # a batch this small keeps the files' order (see Ingestor.ingest)
PARALLEL_MIN_RECORDS = 20_000  # below this, one branch: planning the insert twice costs more than it saves
_DATA_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException)


@dataclass
class IngestSummary:
    files: int = 0
    records: int = 0  # records read (good + rejected)
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
            "rejects": [r.as_dict() for r in self.rejects],
        }


class _Unclean(Exception):
    """A batch loaded directly failed its check (``_DIRECT_CHECK``): roll it back."""


def _no_progress(done: int, total: int) -> None:
    pass


class Ingestor:
    """Ingest files into ``con``'s events table (the table must exist).

    ``progress(done_files, total_files)`` is called once before the first batch and then after
    each batch's rows are written, just before that batch commits.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str = EVENTS_TABLE, *,
                 batch_bytes: int = BATCH_BYTES, parallel_min_records: int = PARALLEL_MIN_RECORDS):
        self.con = con
        self.table = table
        self.batch_bytes = batch_bytes
        self.parallel_min_records = parallel_min_records
        con.execute("SET TimeZone = 'UTC'")  # the store's session zone; time casts below rely on it
        con.execute("SET write_buffer_row_group_count = 1")  # write each full row group at once: bounded memory
        row = con.execute("SELECT current_setting('threads')").fetchone()
        self.parallel = max(1, min(MAX_THREADS, int(row[0]) if row else 1))
        self._ordered = True  # preserve_insertion_order as last set (read again by ingest)
        self._direct = True  # load batches directly (see _delivery_batch); reset by each ingest

    def ingest(self, paths: Iterable[str | os.PathLike[str]] | Prefetch,
               progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        """Load ``paths`` (or a ``Prefetch`` of them, which is then used up: its batch size holds);
        the summary of what was added, skipped and rejected.

        While a large batch loads, ``preserve_insertion_order`` is off, so each DuckDB thread
        appends and compresses its own rows. With it on (DuckDB's default) the threads hand their
        rows to one ordered writer: the 1M-event benchmark's insert took 34.8 s of CPU for 21.4 s
        of wall time that way, and 28.3 s for 16.2 s without it. Rows have no order in the store
        (Lake has none either; every query that cares says ORDER BY); a small batch
        (``ORDERED_BYTES``) keeps the files' order all the same, so that a small store is built
        alike every time. The setting is global to the database, so it is put back at the end.
        """
        row = self.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        self._ordered = before = bool(row[0]) if row else True
        self._direct = True
        try:
            return self._ingest(paths, progress)
        finally:
            self._keep_order(before)

    def _keep_order(self, keep: bool) -> None:
        """Set ``preserve_insertion_order`` (outside a transaction: a failed statement aborts it)."""
        if keep != self._ordered:
            self.con.execute(f"SET preserve_insertion_order = {str(keep).lower()}")
            self._ordered = keep

    def _ingest(self, paths: Iterable[str | os.PathLike[str]] | Prefetch,
                progress: Callable[[int, int], None] | None) -> IngestSummary:
        with (contextlib.nullcontext(paths) if isinstance(paths, Prefetch)
              else Prefetch(paths, batch_bytes=self.batch_bytes, threads=self.parallel)) as inputs:
            return self._load(inputs, progress)

    def _load(self, inputs: Prefetch, progress: Callable[[int, int], None] | None) -> IngestSummary:
        summary = IngestSummary(files=len(inputs.files), rejects=list(inputs.rejects))
        large = sum(size for _, _, size in inputs.delivery) >= self.batch_bytes
        if large:
            self._keep_blocks()
        total = len(inputs.files)
        done = len(summary.rejects)
        report: Callable[[int, int], None] = progress or _no_progress
        report(done, total)
        with _Flusher(self._store_file() if large else None):
            def ahead(direct: bool) -> None:
                """How this batch loads is known: start on the next. The careful way reads
                arrays, and a run with stored events or bad records likely goes on so (a
                re-ingest): the batches not started yet are then written as arrays."""
                if not direct:
                    inputs.lines = False
                inputs.ahead()

            # The next batch is inflated while DuckDB loads this one (zlib releases the GIL).
            for batch, current in inputs.batches():
                upto = done + len(batch)
                with current:
                    self._delivery_batch(current.result(summary.rejects), summary, partial(report, upto, total),
                                         ahead)
                done = upto
        documents = inputs.documents
        pending: list[tuple[str, int, str]] = []
        pending_files = pending_bytes = 0
        for i, f in enumerate(documents):
            try:
                recs, rejects = _document_records(f)
            except FileError as exc:
                summary.rejects.append(Reject(str(f), None, str(exc)))
                recs, rejects = [], []
            summary.rejects.extend(rejects)
            summary.records += len(rejects)
            pending.extend((str(f), idx, text) for idx, text in recs)
            pending_files += 1
            pending_bytes += sum(len(text) for _, text in recs)
            if pending_bytes >= self.batch_bytes or i == len(documents) - 1:
                upto = done + pending_files
                self._text_batch(pending, summary, partial(report, upto, total))
                done = upto
                pending, pending_files, pending_bytes = [], 0, 0
        summary.rejects.sort(key=lambda r: (r.file, -1 if r.record is None else r.record))
        summary.rejected = len(summary.rejects)
        return summary

    def _store_file(self) -> str | None:
        """The file of the store's database; None when it is in memory."""
        row = self.con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
        return str(row[0]) if row and row[0] else None

    def _keep_blocks(self) -> None:
        """Have DuckDB keep ``BLOCK_MEMORY`` of freed blocks for reuse (unless it keeps more)."""
        try:
            self.con.execute(f"SET block_allocator_memory = '{BLOCK_MEMORY}'")
        except duckdb.InvalidInputException:  # set higher before: it cannot be lowered, and need not be
            pass

    # -- one transaction per batch -------------------------------------------------------------
    def _delivery_batch(self, plain: list[_Ready], summary: IngestSummary, written: Callable[[], None],
                        ahead: Callable[[bool], None]) -> None:
        """Load a batch of delivery files. ``ahead(direct)`` is called as soon as it is known
        whether the batch goes the direct way, and again if that turns out wrong."""
        if not plain:
            written()
            return
        try:
            direct = self._direct and not self._stored_any([f.first_id for f in plain if f.first_id])
            ahead(direct)
            if direct:
                if self._direct_transaction(plain, summary, written):
                    return
                self._direct = False  # this run repeats events or holds bad records: read the rest with care
                ahead(False)
            self._delivery_transaction(plain, summary, written)
            return
        except _DATA_ERRORS:
            ahead(False)
        # Some file of the batch is bad: find it (each file read alone), keep the good ones. Read
        # as arrays from here on: a record nesting the separator would break its file's lines.
        for item in plain:
            as_array(Path(item.read))
        good = []
        for item in plain:
            try:
                self.con.execute(f"SELECT count(*) FROM ({_DELIVERY_KEYS})",  # noqa: S608 - constant SQL
                                 [_KEYS_TYPE, [item.read]]).fetchall()
                good.append(item)
            except _DATA_ERRORS:
                summary.rejects.append(Reject(str(item.path), None, _diagnose(item.path)))
            except duckdb.InterruptException:
                raise KeyboardInterrupt from None
        if not good:
            written()
            return
        try:
            self._delivery_transaction(good, summary, written)
        except _DATA_ERRORS as exc:
            raise StoreError(f"{good[0].path} (batch of {len(good)} files): {str(exc).splitlines()[0]}") from exc

    def _stored_any(self, event_ids: list[str]) -> bool:
        """Whether any of these eventIDs is stored (a cheap guess at whether a batch repeats)."""
        row = self.con.execute(f"SELECT count(*) FROM {self.table} WHERE eventID IN "  # noqa: S608 - constant name
                               "(SELECT unnest(?::VARCHAR[]))", [event_ids]).fetchone() if event_ids else None
        return bool(row and row[0])

    def _insert_files(self, files: list[_Ready], keep: list[str]) -> int:
        """INSERT every record of the files ``keep`` (some of ``files``: one record a line, or
        arrays); the rows added."""
        if not keep:
            return 0
        lines: list[str] = []
        arrays: list[str] = []
        for read in keep:
            (lines if one_a_line(read) else arrays).append(read)
        sources: list[str] = []
        params: list[Any] = []
        for k in range(min(self.parallel, len(lines))):
            sources.append(_LINE_ROWS)
            params += [_RECORD, lines[k::self.parallel]]
        if arrays:
            largest = min(MAX_OBJECT, max(f.size for f in files) + 1024)
            sources.append(_RECORD_ROWS.replace("<max>", str(largest)))
            params += [_RECORD, arrays]
        records = " UNION ALL ".join(sources)
        # No WHERE: DuckDB would push a filter on the transformed record below the projection
        # and run json_transform twice (50% more CPU); what must not load is cut out before.
        return self._append(f"INSERT INTO {self.table} SELECT {SELECT_COLUMNS} FROM ({records})",  # noqa: S608
                            params)

    def _direct_transaction(self, files: list[_Ready], summary: IngestSummary,
                            written: Callable[[], None]) -> bool:
        """Load a batch with one INSERT of all its records, then check what it added
        (``_DIRECT_CHECK``). False, with nothing kept, when the check fails: the batch holds a
        record without eventID or eventTime, repeats an eventID, or repeats a stored one; the
        careful load then names and skips those.
        """
        table = self.table  # a validated constant of this module, not a value
        try:
            with self._batch_transaction(sum(f.size for f in files)):
                row = self.con.execute(f"SELECT coalesce(max(rowid) + 1, 0) FROM {table}").fetchone()  # noqa: S608
                first = int(row[0]) if row else 0
                added = self._insert_files(files, [f.read for f in files])
                row = self.con.execute(_DIRECT_CHECK.replace("<table>", table), {"first": first}).fetchone()
                if not (row and row[0]):
                    raise _Unclean
                written()
        except _Unclean:
            return False
        summary.records += added
        summary.added += added
        return True

    def _delivery_transaction(self, files: list[_Ready], summary: IngestSummary,
                              written: Callable[[], None]) -> None:
        reads = [f.read for f in files]

        def load(valid: int, distinct: int) -> int:
            keep, expected = self._cut(reads, later=distinct < valid)
            added = self._insert_files(files, keep)
            if added != expected:  # the narrow pass and the insert disagree on what is good: a bug
                raise StoreError(f"ingest failed: expected to add {expected} records, added {added}")
            return added

        # read_text hands all its files to one thread in one chunk: one branch per thread.
        parts = [reads[k::self.parallel] for k in range(min(self.parallel, len(reads)))]
        keys = " UNION ALL ".join(f"SELECT * FROM ({_DELIVERY_KEYS})" for _ in parts)  # noqa: S608 - constant SQL
        self._transaction((keys, [x for part in parts for x in (_KEYS_TYPE, part)]), load, summary, written,
                          {f.read: str(f.path) for f in files}, delivery=True, size=sum(f.size for f in files))

    def _text_batch(self, rows: list[tuple[str, int, str]], summary: IngestSummary,
                    written: Callable[[], None]) -> None:
        if not rows:
            written()
            return
        params = [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]]
        table = self.table
        order = list(dict.fromkeys(r[0] for r in rows))  # the batch's files: the first copy of an eventID wins

        def load(valid: int, distinct: int) -> int:
            skip = self._skip_records(order, later=distinct < valid)
            # DuckDB splits a table scan by row groups (122,880 rows): a batch of one or two row
            # groups would be parsed by one thread. One branch per thread, each taking every n-th
            # record, keeps all cores on the expensive part (parse, transform, compress).
            parts = self.parallel if valid >= self.parallel_min_records else 1
            branches = " UNION ALL ".join(
                "SELECT j, id, ts, json_transform(j, ?) AS r FROM _raw w WHERE reason IS NULL"  # noqa: S608
                + (f" AND{_SKIP}" if skip else "")
                + (f" AND idx % {parts} = {k}" if parts > 1 else "")  # constants and ints only
                for k in range(parts)
            )
            return self._append(f"INSERT INTO {table} SELECT {SELECT_COLUMNS} FROM ({branches})",  # noqa: S608
                                [RAW_RECORD_JSON] * parts)

        try:
            self._transaction((_TEXT_SOURCE, params), load, summary, written, {}, delivery=False,
                              size=sum(len(r[2]) for r in rows))
        except _DATA_ERRORS as exc:
            raise StoreError(f"{rows[0][0]}: {str(exc).splitlines()[0]}") from exc

    def _append(self, sql: str, params: list[Any]) -> int:
        """Run an ``INSERT`` (or a ``CREATE TABLE AS``); the rows it wrote."""
        written = self.con.execute(sql, params).fetchone()
        return int(written[0]) if written else 0

    def _transaction(self, raw: tuple[str, list[Any]], load: Callable[[int, int], int],
                     summary: IngestSummary, written: Callable[[], None], names: dict[str, str], *,
                     delivery: bool, size: int) -> None:
        """One batch: ``_raw`` from the narrow pass ``raw`` (SQL, parameters), its rejects named,
        ``_stored`` made, then ``load(valid, distinct)`` inserts the good, new records (``valid``
        good records, ``distinct`` eventIDs among them) and returns how many it added."""
        with self._batch_transaction(size):
            self._append(_RAW_FROM.replace("<source>", raw[0]), raw[1])
            total, valid, distinct, rejects = self._sort_out(names, delivery)
            added = load(valid, distinct) if valid else 0
            written()
        summary.records += total
        summary.added += added
        summary.duplicates += valid - added
        summary.rejects.extend(rejects)

    @contextlib.contextmanager
    def _batch_transaction(self, size: int) -> Iterator[None]:
        """One batch's transaction: committed when the block ends, rolled back when it raises.

        DuckDB errors that are not about the data become StoreError, an interrupt
        KeyboardInterrupt; the scratch tables go either way.
        """
        con = self.con
        self._keep_order(size < ORDERED_BYTES)
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, duckdb.InterruptException):
                raise KeyboardInterrupt from None
            if isinstance(exc, duckdb.Error) and not isinstance(exc, _DATA_ERRORS):
                raise StoreError(f"ingest failed: {str(exc).splitlines()[0]}") from exc
            raise
        finally:
            for scratch in ("_raw", "_stored", "_skip"):
                con.execute(f"DROP TABLE IF EXISTS {scratch}")

    def _sort_out(self, names: dict[str, str], delivery: bool) -> tuple[int, int, int, list[Reject]]:
        """Counts of ``_raw`` (records, good ones, distinct eventIDs among the good), its rejects,
        and ``_stored``: the good records' eventIDs the store already holds (one hash join).

        ``names`` maps a file as read to the file the user gave, where they differ.
        """
        con = self.con
        row = con.execute(
            "SELECT count(*), count(*) FILTER (reason IS NULL), count(DISTINCT id) FILTER (reason IS NULL) FROM _raw"
        ).fetchone()
        total, valid, distinct = (int(x) for x in row) if row else (0, 0, 0)
        rejects: list[Reject] = []
        if valid < total:
            unsure: dict[str, list[int]] = {}  # delivery: records with neither field, objects or not
            for file, idx, reason, neither in con.execute(
                "SELECT file, idx, reason, t IS NULL FROM _raw WHERE reason IS NOT NULL ORDER BY file, idx"
            ).fetchall():
                rejects.append(Reject(names.get(file, file), None if idx is None else int(idx), reason))
                if delivery and reason == MISSING_ID and neither:
                    unsure.setdefault(file, []).append(int(idx))
            self._name_non_objects(unsure, names, rejects)
        if valid:
            table = self.table  # a validated constant of this module, not a value
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _stored AS SELECT DISTINCT id FROM _raw w "  # noqa: S608 - constant name
                f"WHERE reason IS NULL AND EXISTS (SELECT 1 FROM {table} e WHERE e.eventID = w.id)"
            )
        return total, valid, distinct, rejects

    def _skip_records(self, order: list[str], *, later: bool) -> bool:
        """``_skip``: the records of a batch of texts not to insert, by file and index: those
        already stored and (``later``) later copies of an eventID repeated in the batch (the
        first by ``order`` of files, then index, is kept). Whether there are any."""
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE _skip AS SELECT file, idx FROM _raw "
                    "WHERE reason IS NULL AND id IN (SELECT id FROM _stored)")
        if later:
            con.execute(f"INSERT INTO _skip {_LATER_COPIES}", [order])
        row = con.execute("SELECT count(*) FROM _skip").fetchone()
        return bool(row and row[0])

    def _cut(self, order: list[str], *, later: bool) -> tuple[list[str], int]:
        """Cut what must not be loaded out of the batch's arrays: rejected records, records already
        stored and (``later``) later copies of an eventID repeated in the batch (the first by
        file, index stays). The files left to load, and how many records they hold.

        A file with nothing left is not read again (a whole re-ingest reads each file once); a
        file with some records cut is rewritten from its own texts, every kept record's text as
        it was; a file one record a line is turned back into its array. Only the inflated
        copies are rewritten.
        """
        con = self.con
        if later:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _skip AS {_LATER_COPIES}", [order])
        repeated = " UNION SELECT file, idx FROM _skip" if later else ""
        keep: list[str] = []
        expected = 0
        for file, n, bad, dropped, idxs in con.execute(
            "WITH cut AS (SELECT file, idx FROM _raw WHERE idx IS NOT NULL AND (reason IS NOT NULL"  # noqa: S608
            f"              OR id IN (SELECT id FROM _stored)){repeated}),"
            "     per AS (SELECT file, count(*) AS n, list(idx) AS idxs FROM cut GROUP BY file),"
            "     tot AS (SELECT file, count(idx) AS n, bool_or(idx IS NULL) AS bad FROM _raw GROUP BY file)"
            " SELECT tot.file, tot.n, tot.bad, coalesce(per.n, 0),"
            "        CASE WHEN coalesce(per.n, 0) BETWEEN 1 AND tot.n - 1 THEN per.idxs END"
            " FROM tot LEFT JOIN per USING (file) ORDER BY tot.file"
        ).fetchall():
            if bad or dropped >= n:
                continue
            path = Path(file)
            # The careful load reads arrays: a line cut inside a record would fail the insert after
            # this cut, and a second try would see the files cut (not what they held).
            if idxs:
                drop = set(idxs)
                texts = _array_elements(array_of(path.read_bytes()).decode("utf-8"))
                path.write_text("[" + ",".join(t for i, t in enumerate(texts) if i not in drop) + "]",
                                encoding="utf-8")
            else:
                as_array(path)
            keep.append(file)
            expected += n - dropped
        return keep, expected

    def _name_non_objects(self, unsure: dict[str, list[int]], names: dict[str, str],
                          rejects: list[Reject]) -> None:
        """Give records of delivery files that are not JSON objects (a string, a number, a list)
        their own reason: the narrow pass sees them as objects without eventID and eventTime."""
        for file, idxs in unsure.items():
            row = self.con.execute(_NTH_RECORDS, [[f"$[{i}]" for i in idxs], file]).fetchone()
            texts = row[0] if row else []
            not_objects = {i for i, text in zip(idxs, texts, strict=True)
                           if not str(text).lstrip().startswith("{")}
            name = names.get(file, file)
            for k, r in enumerate(rejects):
                if r.file == name and r.record in not_objects:
                    rejects[k] = Reject(name, r.record, NOT_OBJECT)


class _Flusher:
    """While a large load runs, a thread hands the store file's written pages to the disk every
    ``FLUSH_SECONDS``.

    DuckDB writes a batch's row groups to the file as it goes, and its COMMIT waits until the disk
    has them (fsync): ~0.1 s with both cores idle at each batch of the 1M benchmark, as the page
    cache held the whole batch's ~70 MB. Flushed as they come, the COMMIT takes ~0.02 s. A flush
    that fails only ends the flushing: the COMMIT still syncs.
    """

    def __init__(self, path: str | None):
        self._path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Flusher:
        if self._path:
            try:
                fd = os.open(self._path, os.O_RDONLY)
            except OSError:
                return self
            self._thread = threading.Thread(target=self._run, args=(fd,), name="trailhound-flush", daemon=True)
            self._thread.start()
        return self

    def _run(self, fd: int) -> None:
        sync = getattr(os, "fdatasync", os.fsync)
        try:
            while not self._stop.wait(FLUSH_SECONDS):
                sync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


